// `segscope cam` on a tiny run trained here on voc-mini, through the real engine process (the worker
// bundled from source, injected in place of the built out/main/engine.js): the overlay at the image's size,
// the 16-bit raw map, the --json shape, and the exit statuses for an absent class, a bad class and a bad layer.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode } from 'fast-png';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { captureConsole } from '../../../helpers/console';
import { selectBackend } from '../../../../src/main/engine/backend';
import { ClassNotPredictedError, computeCam } from '../../../../src/main/engine/cam';
import { readRgb } from '../../../../src/main/engine/data/samples';
import { loadCheckpoint } from '../../../../src/main/engine/io/checkpoint';
import { getModelSpec } from '../../../../src/main/engine/models/registry';
import { train } from '../../../../src/main/engine/train';
import type { TrainJob } from '../../../../src/shared/training';
import { VOC_CLASS_NAMES } from '../../../../src/shared/voc';
import { bundleForNode } from '../../../helpers/bundle';
import { cliWithEngine } from '../../../helpers/cliEngine';
import { tempDir, VOC_MINI, VOC_MINI_IDS } from '../../../helpers/data';
import { vocMiniJob } from '../../../helpers/runs';

const IMAGE = join(VOC_MINI, 'JPEGImages', `${VOC_MINI_IDS[0]}.jpg`);
let entry: string;
let runDir: string;
/** Classes in the run's prediction for IMAGE, and one that is not. */
let present: number[];
let absent: number;

beforeAll(async () => {
  entry = await bundleForNode('src/main/engine/worker.ts');
  await selectBackend('wasm');
  runDir = join(tempDir(), 'run');
  const job: TrainJob = vocMiniJob({ epochs: 5 }, runDir);
  await train(job, { progress: () => {}, cancelled: () => false, backend: 'wasm' });
  // Ask for a class that cannot be there (its logits are untrained): the error lists those that are.
  const { model } = await loadCheckpoint(join(runDir, 'checkpoints', 'best'));
  const p = { model, inputSize: 64, normalization: getModelSpec('unet-small').normalization };
  const image = await readRgb(IMAGE);
  present = [];
  absent = -1;
  for (let c = 20; c >= 0 && absent < 0; c--) {
    try {
      await computeCam(p, image, { classIndex: c, method: 'gradcam' });
    } catch (err) {
      if (!(err instanceof ClassNotPredictedError)) throw err;
      absent = c;
      present = err.present;
    }
  }
  model.dispose();
}, 180_000);

const capture = captureConsole;
afterEach(() => vi.restoreAllMocks());

const cli = (argv: string[]) => cliWithEngine(entry, argv);

const base = () => ['cam', '--run', runDir, '--image', IMAGE, '--backend', 'wasm'];

describe('segscope cam', () => {
  it('has a present and an absent class to work with', () => {
    expect(absent).toBeGreaterThanOrEqual(0);
    expect(present.length).toBeGreaterThan(0);
    expect(present).not.toContain(absent);
  });

  it('writes the jet overlay at the image size and prints the --json shape', async () => {
    const { out } = capture();
    const png = join(tempDir(), 'sub', 'overlay.png');
    const c = present[0]!;
    expect(await cli([...base(), '--class', VOC_CLASS_NAMES[c]!.toUpperCase(), '--out', png, '--json'])).toBe(
      0,
    );
    expect(JSON.parse(out.join('\n'))).toEqual({
      out: png,
      layer: 'bottom_conv2',
      method: 'gradcam',
      class: { index: c, name: VOC_CLASS_NAMES[c] },
      width: 500,
      height: 281,
    });
    const decoded = decode(readFileSync(png));
    expect([decoded.width, decoded.height, decoded.channels, decoded.depth]).toEqual([500, 281, 3, 8]);
    // An overlay, not the photo: the blend moves pixels away from the image, and not all alike.
    const { data: photo } = await sharp(IMAGE).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    let moved = 0;
    for (let i = 0; i < photo.length; i++) if (Math.abs(decoded.data[i]! - photo[i]!) > 8) moved++;
    expect(moved / photo.length).toBeGreaterThan(0.3);
  }, 60_000);

  it('writes the raw map as a 16-bit grayscale PNG spanning 0..65535, at another layer and method', async () => {
    const { out } = capture();
    const png = join(tempDir(), 'raw.png');
    const c = present[0]!;
    const argv = [...base(), '--class', String(c), '--layer', 'down4_conv2', '--method', 'hirescam', '--raw'];
    expect(await cli([...argv, '--out', png])).toBe(0);
    expect(out.join('\n')).toContain(
      `hirescam of class ${c} (${VOC_CLASS_NAMES[c]}) at down4_conv2, 500×281`,
    );
    const decoded = decode(readFileSync(png));
    expect([decoded.width, decoded.height, decoded.channels, decoded.depth]).toEqual([500, 281, 1, 16]);
    const values = decoded.data as Uint16Array;
    expect(values.reduce((m, v) => Math.min(m, v), 65535)).toBe(0);
    expect(values.reduce((m, v) => Math.max(m, v), 0)).toBe(65535);
    expect(new Set(values).size).toBeGreaterThan(100);
  }, 60_000);

  it('exits 1 for a class absent from the prediction, saying which classes are there', async () => {
    const { err } = capture();
    const png = join(tempDir(), 'absent.png');
    expect(await cli([...base(), '--class', String(absent), '--out', png])).toBe(1);
    const names = present.map((i) => VOC_CLASS_NAMES[i]).join(', ');
    expect(err.join('\n')).toContain(
      `class ${absent} (${VOC_CLASS_NAMES[absent]}) is not in the prediction for this image; classes present: ${names}`,
    );
  }, 60_000);

  it('exits 2 naming the choices for a bad class, layer or method, before or without running a CAM', async () => {
    const { err } = capture();
    const png = join(tempDir(), 'bad.png');
    let run = cli([...base(), '--class', 'dgo', '--out', png]);
    expect(await run).toBe(2);
    expect(run.engines()).toBe(0);
    expect(err.at(-1)).toMatch(
      /--class "dgo" is not a class of this run; classes: 0 background, 1 aeroplane, .*20 tvmonitor/,
    );
    run = cli([...base(), '--class', '21', '--out', png]);
    expect(await run).toBe(2);
    expect(err.at(-1)).toContain('--class 21: the run has 21 classes, 0 to 20');
    expect(await cli([...base(), '--class', '0', '--method', 'scorecam', '--out', png])).toBe(2);
    expect(err.at(-1)).toContain('--method must be one of gradcam, gradcampp, hirescam');
    expect(await cli([...base(), '--class', '0'])).toBe(2);
    expect(err.at(-1)).toContain('cam needs --out PNG');
    expect(
      await cli(['cam', '--run', join(runDir, 'nope'), '--image', IMAGE, '--class', '0', '--out', png]),
    ).toBe(2);
    expect(err.at(-1)).toContain('not a Segscope run');
    run = cli([...base(), '--class', '0', '--layer', 'block5_conv3', '--out', png]);
    expect(await run).toBe(2);
    expect(run.engines()).toBe(1);
    expect(err.at(-1)).toMatch(
      /--layer block5_conv3: not a conv layer of unet-small; layers: down1_conv1, .*bottom_conv2, .*logits/,
    );
  }, 60_000);
});
