// The draft refinement on a real voc-mini image and its label: probabilities made from the label at a
// model's resolution (as a perfect 64² model would give them) and upsampled plainly put the boundary
// some pixels off the true edge; refined against the image they sit closer, and planted islands are gone.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  boxMean,
  draftUncertainty,
  mergeFragments,
  refineDraft,
  regionsOf,
  type ClassProbabilities,
  type RgbPixels,
} from '../../../src/shared/draftRefine';
import { decodeLabelPng } from '../../../src/shared/labelPng';
import { letterbox } from '../../../src/shared/letterbox';
import { VOID_INDEX } from '../../../src/shared/voc';
import { VOC_MINI, VOC_MINI_IDS } from '../../helpers/data';

const ID = '2007_000032';
let image: RgbPixels;
let label: Uint8Array;

async function load(id: string) {
  const { data, info } = await sharp(join(VOC_MINI, 'JPEGImages', `${id}.jpg`))
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  image = { width: info.width, height: info.height, data: new Uint8Array(data) };
  label = decodeLabelPng(readFileSync(join(VOC_MINI, 'SegmentationClass', `${id}.png`))).indices;
}

/** The label's class shares per cell at the letterbox's size for a 64² model (void left out). */
function probsFromLabel(blur: number, classes = 21): ClassProbabilities {
  const box = letterbox(image.width, image.height, 64);
  const data = new Float32Array(box.width * box.height * classes);
  const counts = new Float32Array(box.width * box.height);
  for (let y = 0; y < image.height; y++)
    for (let x = 0; x < image.width; x++) {
      const l = label[y * image.width + x]!;
      if (l === VOID_INDEX) continue;
      const cx = Math.min(box.width - 1, Math.floor((x * box.width) / image.width));
      const cy = Math.min(box.height - 1, Math.floor((y * box.height) / image.height));
      const cell = cy * box.width + cx;
      data[cell * classes + l] = data[cell * classes + l]! + 1;
      counts[cell] = counts[cell]! + 1;
    }
  for (let i = 0; i < counts.length; i++)
    for (let c = 0; c < classes; c++)
      data[i * classes + c] = counts[i] ? data[i * classes + c]! / counts[i]! : c === 0 ? 1 : 0;
  // A trained model is less sure near edges than the exact shares: blur them over (2·blur+1)² cells.
  const n = box.width * box.height;
  const one = new Float32Array(n);
  const out = new Float32Array(n);
  const tmp = new Float32Array(n);
  for (let c = 0; c < classes; c++) {
    for (let i = 0; i < n; i++) one[i] = data[i * classes + c]!;
    boxMean(one, box.width, box.height, blur, out, tmp);
    for (let i = 0; i < n; i++) data[i * classes + c] = out[i]!;
  }
  return { width: box.width, height: box.height, classes, data };
}

/**
 * Distance in pixels (chessboard) from every pixel to the true edge. VOC draws a void band about 5 px
 * wide along each object's outline; the edge is its middle, so each void pixel first takes the class
 * of the nearest labelled pixel, and the edge is where that filled label changes class.
 */
function edgeDistance(): Int32Array {
  const { width: w, height: h } = image;
  const spread = (seed: (i: number) => boolean, visit: (from: number, to: number) => void) => {
    const d = new Int32Array(w * h).fill(-1);
    let frontier: number[] = [];
    for (let i = 0; i < w * h; i++)
      if (seed(i)) {
        d[i] = 0;
        frontier.push(i);
      }
    for (let k = 1; frontier.length; k++) {
      const next: number[] = [];
      for (const i of frontier) {
        const x = i % w;
        const y = (i - x) / w;
        for (let dy = -1; dy <= 1; dy++)
          for (let dx = -1; dx <= 1; dx++) {
            const nx = x + dx;
            const ny = y + dy;
            if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
            const j = ny * w + nx;
            if (d[j] === -1) {
              d[j] = k;
              visit(i, j);
              next.push(j);
            }
          }
      }
      frontier = next;
    }
    return d;
  };
  const filled = Uint8Array.from(label);
  spread(
    (i) => label[i] !== VOID_INDEX,
    (from, to) => (filled[to] = filled[from]!),
  );
  return spread(
    (i) => {
      const x = i % w;
      return (x + 1 < w && filled[i + 1] !== filled[i]) || (i + w < w * h && filled[i + w] !== filled[i]);
    },
    () => {},
  );
}

/** Mean distance to the true edge over the draft's boundary pixels. */
function boundaryError(labels: Uint8Array, dist: Int32Array): number {
  const { width: w, height: h } = image;
  let sum = 0;
  let n = 0;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const b = (x + 1 < w && labels[i + 1] !== labels[i]) || (y + 1 < h && labels[i + w] !== labels[i]);
      if (b) {
        sum += dist[i]!;
        n++;
      }
    }
  return sum / n;
}

describe('refineDraft', () => {
  it('puts the boundary closer to the true edge than the plain upsample, on real images', async () => {
    const plain: number[] = [];
    const guided: number[] = [];
    for (const id of VOC_MINI_IDS) {
      await load(id);
      const probs = probsFromLabel(2);
      const dist = edgeDistance();
      const none = refineDraft(image, probs, { method: 'none', minRegion: 0, sliverConfidence: 0 });
      const refined = refineDraft(image, probs, { minRegion: 0, sliverConfidence: 0 });
      plain.push(boundaryError(none.labels, dist));
      guided.push(boundaryError(refined.labels, dist));
      expect(refined.labels.length).toBe(image.width * image.height);
      expect(refined.meanEntropy).toBeGreaterThan(0);
      expect(refined.meanEntropy).toBeLessThan(1);
    }
    const mean = (v: number[]) => v.reduce((x, y) => x + y, 0) / v.length;
    console.log(
      `boundary to true edge, mean px per image: plain ${plain.map((v) => v.toFixed(2)).join(' ')}, ` +
        `refined ${guided.map((v) => v.toFixed(2)).join(' ')}`,
    );
    expect(mean(guided)).toBeLessThan(mean(plain));
    expect(guided.filter((g, i) => g < plain[i]!).length).toBeGreaterThanOrEqual(4);
  }, 60_000);

  it('merges islands under the size away, and keeps larger regions', async () => {
    await load(ID);
    const probs = probsFromLabel(2);
    // Plant a one-cell island of class 15 in the background's top-left corner (about 8×8 px at the
    // image's size) and a 6×6-cell block (about 47² px) below it.
    const plant = (cx: number, cy: number, side: number) => {
      for (let y = cy; y < cy + side; y++)
        for (let x = cx; x < cx + side; x++)
          for (let c = 0; c < probs.classes; c++)
            probs.data[(y * probs.width + x) * probs.classes + c] = c === 15 ? 1 : 0;
    };
    plant(2, 2, 1);
    plant(2, 30, 6);
    const count15 = (labels: Uint8Array, x0: number, y0: number, x1: number, y1: number) => {
      let n = 0;
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (labels[y * image.width + x] === 15) n++;
      return n;
    };
    const plain = refineDraft(image, probs, { method: 'none', minRegion: 0, sliverConfidence: 0 });
    expect(count15(plain.labels, 0, 0, 40, 40)).toBeGreaterThan(16);
    const refined = refineDraft(image, probs, { method: 'guided', minRegion: 0.002 });
    expect(count15(refined.labels, 0, 0, 40, 40)).toBe(0);
    expect(count15(refined.labels, 0, 200, 120, 320)).toBeGreaterThan(1000);
    // No region of the refined draft is under the size.
    const reg = regionsOf(refined.labels, image.width, image.height);
    expect(Math.min(...reg.area)).toBeGreaterThanOrEqual(Math.round(0.002 * image.width * image.height));
  });
});

describe('mergeFragments', () => {
  it('gives a thin low-confidence sliver to the label it borders most, and 1 − confidence', () => {
    const w = 20;
    const h = 10;
    const labels = new Uint8Array(w * h).fill(1);
    const conf = new Float32Array(w * h).fill(0.9);
    for (let x = 0; x < w; x++) {
      labels[4 * w + x] = 2; // a 1-px line across, 20 px: thin
      conf[4 * w + x] = 0.4;
    }
    const changed = mergeFragments(labels, conf, w, h, 16, 0.7);
    expect(changed).toBe(20);
    expect([...labels].every((l) => l === 1)).toBe(true);
    expect(conf[4 * w]).toBeCloseTo(0.6);
  });
});

describe('boxMean', () => {
  it('averages over the window clipped at the border', () => {
    const src = Float32Array.from([1, 2, 3, 4, 5, 6]); // 3×2
    const out = boxMean(src, 3, 2, 1, new Float32Array(6), new Float32Array(6));
    expect(out[0]).toBeCloseTo((1 + 2 + 4 + 5) / 4);
    expect(out[1]).toBeCloseTo(21 / 6);
  });
});

describe('draftUncertainty', () => {
  it('marks low-confidence pixels and thin regions', () => {
    const w = 30;
    const h = 20;
    const labels = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) labels[y * w + 10] = 3; // a 1-px wide column between two wide regions
    const conf = new Float32Array(w * h).fill(0.95);
    conf[0] = 0.2;
    const u = draftUncertainty(labels, conf, w, h);
    expect(u.regions).toBe(3);
    expect(u.mask[10]).toBe(1);
    expect(u.mask[0]).toBe(1);
    expect(u.mask[1]).toBe(0);
    expect(u.lowConfidence).toBeCloseTo(1 / 600);
    expect(u.thin).toBeCloseTo(20 / 600);
    expect(u.fraction).toBeCloseTo(21 / 600);
  });
});
