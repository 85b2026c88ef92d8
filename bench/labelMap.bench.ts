// The mask editor's hot paths on a 4000x3000 label map: flood fill, one brush segment plus its dirty-rect
// redraw, and a 200-segment stroke recorded as one undo step. Medians of several runs.
// Run: node bench/run.mjs bench/labelMap.bench.ts
import { LabelHistory } from '../src/shared/labelHistory';
import {
  floodFill,
  paintSegment,
  paletteLut,
  renderRect,
  segmentBounds,
  type PaintTarget,
} from '../src/shared/labelMap';
import { vocColormap } from '../src/shared/voc';
import { median, timeRuns } from './stats';
import { rng } from '../src/shared/random';

const WIDTH = 4000;
const HEIGHT = 3000;
const RUNS = 9;

/** Background with a few random object rectangles, like a VOC label at a large size. */
function makeMap(rand: () => number): PaintTarget {
  const indices = new Uint8Array(WIDTH * HEIGHT);
  for (let k = 0; k < 12; k++) {
    const w = 100 + Math.floor(rand() * 800);
    const h = 100 + Math.floor(rand() * 600);
    const x = Math.floor(rand() * (WIDTH - w));
    const y = Math.floor(rand() * (HEIGHT - h));
    const v = 1 + Math.floor(rand() * 20);
    for (let yy = y; yy < y + h; yy++) indices.fill(v, yy * WIDTH + x, yy * WIDTH + x + w);
  }
  return { width: WIDTH, height: HEIGHT, indices };
}

const ms = (v: number) => v.toFixed(v < 1 ? 3 : 1);

export async function main(): Promise<void> {
  const rand = rng(42);
  const t = makeMap(rand);
  const rgba32 = new Uint32Array(WIDTH * HEIGHT);
  const lut = paletteLut(vocColormap(), 128, true);

  // Flood fill of the background: each run fills the same region, alternating 0 -> 21 -> 0, so the map
  // needs no reset between runs (the seed pixel is never covered by an object).
  let seedX = 0;
  const seedY = 0;
  while (t.indices[seedY * WIDTH + seedX] !== 0) seedX++;
  const fill = () => {
    const v = t.indices[seedY * WIDTH + seedX] === 0 ? 21 : 0;
    return floodFill(t, seedX, seedY, v, 'all');
  };
  const fillTimes = await timeRuns(RUNS, fill);
  const region = t.indices.reduce((n, v) => n + (v === 0 || v === 21 ? 1 : 0), 0);
  console.log(
    `flood fill ${WIDTH}x${HEIGHT} (${(region / 1e6).toFixed(1)} M px changed): median ${ms(median(fillTimes))} ms (${RUNS} runs)`,
  );

  // The same fill as an undoable step: touch the whole map (its extent is unknown beforehand), fill, commit.
  const history = new LabelHistory(t);
  const fillStepTimes = await timeRuns(RUNS, () => {
    history.begin();
    history.touch({ x: 0, y: 0, width: WIDTH, height: HEIGHT });
    fill();
    history.commit();
  });
  console.log(
    `flood fill as an undo step (touch map + fill + commit): median ${ms(median(fillStepTimes))} ms (${RUNS} runs)`,
  );

  // One brush segment 40 px long at radius 10, then its dirty rect redrawn; batches of 1000 time it above
  // the timer's resolution.
  const BATCH = 1000;
  const segs = new Float64Array(BATCH * 4);
  for (let i = 0; i < BATCH; i++) {
    const x = 50 + rand() * (WIDTH - 100);
    const y = 50 + rand() * (HEIGHT - 100);
    const a = rand() * 2 * Math.PI;
    segs.set([x, y, x + 40 * Math.cos(a), y + 40 * Math.sin(a)], i * 4);
  }
  let value = 1;
  const segTimes = await timeRuns(RUNS, () => {
    value = value === 1 ? 2 : 1;
    for (let i = 0; i < BATCH; i++) {
      const r = paintSegment(
        t,
        segs[i * 4]!,
        segs[i * 4 + 1]!,
        segs[i * 4 + 2]!,
        segs[i * 4 + 3]!,
        10,
        value,
        'all',
      );
      renderRect(t, r, lut, rgba32);
    }
  });
  console.log(
    `paint segment 40 px r=10 + renderRect: median ${ms(median(segTimes) / BATCH)} ms per segment (${RUNS} runs of ${BATCH})`,
  );

  // A 200-segment stroke (a random walk of 25 px steps at radius 10) through the history, redrawn as it goes.
  const stroke = new Float64Array(201 * 2);
  let x = WIDTH / 2;
  let y = HEIGHT / 2;
  for (let i = 0; i <= 200; i++) {
    stroke[2 * i] = x;
    stroke[2 * i + 1] = y;
    const a = rand() * 2 * Math.PI;
    x = Math.min(WIDTH - 20, Math.max(20, x + 25 * Math.cos(a)));
    y = Math.min(HEIGHT - 20, Math.max(20, y + 25 * Math.sin(a)));
  }
  let patchPixels = 0;
  const strokeTimes = await timeRuns(RUNS, () => {
    value = value === 3 ? 4 : 3;
    history.begin();
    for (let i = 0; i < 200; i++) {
      const x0 = stroke[2 * i]!;
      const y0 = stroke[2 * i + 1]!;
      const x1 = stroke[2 * i + 2]!;
      const y1 = stroke[2 * i + 3]!;
      history.touch(segmentBounds(t, x0, y0, x1, y1, 10));
      renderRect(t, paintSegment(t, x0, y0, x1, y1, 10, value, 'all'), lut, rgba32);
    }
    const patch = history.commit();
    patchPixels = patch ? patch.rect.width * patch.rect.height : 0;
  });
  console.log(
    `200-segment stroke through LabelHistory (patch ${(patchPixels / 1e6).toFixed(2)} M px): median ${ms(median(strokeTimes))} ms (${RUNS} runs)`,
  );
}
