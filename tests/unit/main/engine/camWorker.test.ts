// The engine process's viewer requests, through the real forked worker (bundled from source) on a tiny run
// trained here: `segment` (through ONNX Runtime), `camLayers`, `cam` and `camSweep` give what the same code
// gives in-process on tfjs, the typed arrays arrive intact, and a checkpoint rewritten on disk is loaded
// (and exported) again rather than served stale.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../../../src/main/engine/backend';
import { ClassNotPredictedError, computeCam, computeCamSweep } from '../../../../src/main/engine/cam';
import { readRgb, type RgbImage } from '../../../../src/main/engine/data/samples';
import { segment, type Predictor } from '../../../../src/main/engine/infer';
import { loadCheckpoint, saveCheckpoint } from '../../../../src/main/engine/io/checkpoint';
import { EngineHost, forkSpawner } from '../../../../src/main/services/engineHost';
import { train } from '../../../../src/main/engine/train';
import { VOC_CLASS_NAMES } from '../../../../src/shared/voc';
import { bundleForNode } from '../../../helpers/bundle';
import { tempDir, VOC_MINI, VOC_MINI_IDS } from '../../../helpers/data';
import { vocMiniJob } from '../../../helpers/runs';

const IMAGE = join(VOC_MINI, 'JPEGImages', `${VOC_MINI_IDS[1]}.jpg`);
let host: EngineHost;
let runDir: string;
let image: RgbImage;
let p: Predictor;
let present: number[];
let absent: number;

beforeAll(async () => {
  const entry = await bundleForNode('src/main/engine/worker.ts');
  await selectBackend('wasm');
  runDir = join(tempDir(), 'run');
  await train(vocMiniJob({ epochs: 5 }, runDir), {
    progress: () => {},
    cancelled: () => false,
    backend: 'wasm',
  });
  image = await readRgb(IMAGE);
  p = {
    model: (await loadCheckpoint(join(runDir, 'checkpoints', 'best'))).model,
    inputSize: 64,
    normalization: 'zero-one',
  };
  // A class the tiny run does not predict for the image: its error lists those it does.
  for (absent = 20; absent >= 0; absent--) {
    const err = await computeCam(p, image, { classIndex: absent, method: 'gradcam' }).then(
      () => null,
      (e: unknown) => e,
    );
    if (err instanceof ClassNotPredictedError) {
      present = err.present;
      break;
    }
    if (err) throw err;
  }
  if (absent < 0) throw new Error('the tiny run predicts every class for the image');
  host = new EngineHost(forkSpawner(entry));
  await host.start('wasm');
}, 180_000);

afterAll(() => {
  host?.kill('test finished');
  p?.model.dispose();
});

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('engine viewer requests', () => {
  it('segments an image as infer.ts does, with the classes present and their pixel counts', async () => {
    const r = await host.request({ type: 'segment', runDir, checkpoint: 'best', image: IMAGE });
    const local = await segment(p, image);
    expect([r.width, r.height]).toEqual([image.width, image.height]);
    expect(r.labels).toBeInstanceOf(Uint8Array);
    expect(r.confidence).toBeInstanceOf(Float32Array);
    // The worker segments through ONNX Runtime (its export cached beside the checkpoint); in-process
    // `segment` and Grad-CAM's mask use the tfjs model: their argmax must agree pixel for pixel.
    expect(existsSync(join(runDir, 'checkpoints', 'best', 'model.onnx'))).toBe(true);
    expect(Array.from(r.labels)).toEqual(Array.from(local.labels));
    expect(maxAbsDiff(r.confidence, local.confidence)).toBeLessThan(1e-4);
    expect(r.classes.reduce((s, c) => s + c.pixels, 0)).toBe(image.width * image.height);
    for (const c of r.classes) expect(c.pixels).toBe(local.labels.filter((l) => l === c.index).length);
    expect(r.classes.map((c) => c.index)).toEqual([...new Set(local.labels)].sort((a, b) => a - b));
  }, 60_000);

  it('lists the conv layers with the default, and gives the in-process CAM at the image size', async () => {
    const { layers, defaultLayer } = await host.request({ type: 'camLayers', runDir, checkpoint: 'best' });
    expect(defaultLayer).toBe('bottom_conv2');
    expect(layers).toContain('down1_conv1');
    expect(layers).toContain('logits');
    const c = present[0]!;
    for (const method of ['gradcam', 'gradcampp', 'hirescam'] as const) {
      const r = await host.request({
        type: 'cam',
        runDir,
        checkpoint: 'best',
        image: IMAGE,
        classIndex: c,
        method,
      });
      expect(r.layer).toBe('bottom_conv2');
      expect([r.width, r.height]).toEqual([image.width, image.height]);
      expect(r.cam).toBeInstanceOf(Float32Array);
      const local = await computeCam(p, image, { classIndex: c, method, layer: 'bottom_conv2' });
      expect(maxAbsDiff(r.cam, local.cam), method).toBeLessThan(1e-6);
      expect(r.cam.reduce((m, v) => Math.max(m, v), 0)).toBe(1);
    }
    await expect(
      host.request({
        type: 'cam',
        runDir,
        checkpoint: 'best',
        image: IMAGE,
        classIndex: absent,
        method: 'gradcam',
      }),
    ).rejects.toThrow(
      `class ${absent} (${VOC_CLASS_NAMES[absent]}) is not in the prediction for this image; classes present: ` +
        present.map((i) => VOC_CLASS_NAMES[i]).join(', '),
    );
    await expect(
      host.request({
        type: 'cam',
        runDir,
        checkpoint: 'best',
        image: IMAGE,
        classIndex: c,
        layer: 'x',
        method: 'gradcam',
      }),
    ).rejects.toThrow("unknown layer 'x' for Grad-CAM; conv layers: down1_conv1");
  }, 60_000);

  it('sweeps layers in one request, each map at most maxSide on its longer side', async () => {
    const layers = ['down1_conv2', 'down2_conv2', 'down3_conv2', 'down4_conv2', 'bottom_conv2'];
    const c = present[0]!;
    const maps = await host.request({
      type: 'camSweep',
      runDir,
      checkpoint: 'best',
      image: IMAGE,
      classIndex: c,
      method: 'gradcam',
      layers,
      maxSide: 160,
    });
    expect(maps.map((m) => m.layer)).toEqual(layers);
    const side = Math.max(image.width, image.height);
    const expected = [Math.round((image.width * 160) / side), Math.round((image.height * 160) / side)];
    const local = await computeCamSweep(p, image, { classIndex: c, method: 'gradcam', layers, maxSide: 160 });
    for (const [i, m] of maps.entries()) {
      expect([m.width, m.height]).toEqual(expected);
      expect(m.cam).toHaveLength(m.width * m.height);
      expect(maxAbsDiff(m.cam, local[i]!.cam), m.layer).toBeLessThan(1e-6);
    }
    // The maps differ from layer to layer: each is its own layer's.
    expect(maxAbsDiff(maps[0]!.cam, maps[4]!.cam)).toBeGreaterThan(0.05);
  }, 60_000);

  it('loads a checkpoint again when it changes on disk, rather than serving the cached model', async () => {
    const req = {
      type: 'cam',
      runDir,
      checkpoint: 'best',
      image: IMAGE,
      classIndex: absent,
      method: 'gradcam',
    } as const;
    await expect(host.request(req)).rejects.toThrow(`class ${absent} (${VOC_CLASS_NAMES[absent]}) is not in`);
    // Rewrite `best` with the absent class's logit raised by 100: now it is everywhere.
    const dir = join(runDir, 'checkpoints', 'best');
    const { model } = await loadCheckpoint(dir);
    const head = model.getLayer('logits');
    const [kernel, bias] = head.getWeights();
    const values = Float32Array.from(bias!.dataSync());
    values[absent]! += 100;
    const raised = tf.tensor1d(values);
    head.setWeights([kernel!, raised]);
    raised.dispose();
    await saveCheckpoint(model, dir);
    const after = await host.request(req);
    // The viewer's segmentation (ONNX Runtime) exports the rewritten checkpoint again: the class is everywhere.
    const seg = await host.request({ type: 'segment', runDir, checkpoint: 'best', image: IMAGE });
    expect(seg.classes.map((c) => c.index)).toEqual([absent]);
    const local = await computeCam({ ...p, model }, image, { classIndex: absent, method: 'gradcam' });
    model.dispose();
    expect(maxAbsDiff(after.cam, local.cam)).toBeLessThan(1e-6);
    expect(local.classPixels).toBe(64 * Math.round((64 * image.height) / image.width));
  }, 60_000);
});
