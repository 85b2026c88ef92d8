// ONNX export of every registry architecture: ONNX Runtime's logits equal the tfjs model's within 1e-4
// relative, and Debian's python3-onnx checker (with shape inference) accepts each file. The models are
// built by the registry's own builders at the smallest input and, where the builder allows, narrow
// widths, with every weight (batch-norm statistics and zero-initialised scorers included) set to random
// values so that no layer can hide behind zeros or ones.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { MODEL_IDS, MODELS } from '../../../../src/main/engine/models/registry';
import { exportOnnx } from '../../../../src/main/engine/onnx/export';
import { tempDir } from '../../../helpers/data';
import { seeded, use } from './helpers';
import { tinyModel } from './tinyModels';

const CLASSES = 3;

/** Random weights of a sensible scale: kernels ~ 1/√fan-in, positive variances, gammas near 1. */
function randomizeWeights(model: tfl.LayersModel, seed: number): void {
  let s = seed;
  for (const layer of model.layers) {
    const weights = layer.weights;
    if (weights.length === 0) continue;
    const values = weights.map((w) => {
      const shape = w.shape as number[];
      const n = shape.reduce((a, b) => a * b, 1);
      const r = seeded(n, s++);
      const name = w.originalName;
      if (name.endsWith('moving_variance') || name.endsWith('gamma'))
        r.forEach((v, i) => (r[i] = 1 + 0.5 * v));
      else if (name.endsWith('kernel')) {
        const fanIn = shape.length === 4 ? shape[0]! * shape[1]! * shape[2]! : shape[0]!;
        r.forEach((v, i) => (r[i] = v * Math.sqrt(3 / fanIn)));
      } else r.forEach((v, i) => (r[i] = 0.1 * v));
      return tf.tensor(r, shape);
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}

let dir: string;
const written: string[] = [];

beforeAll(async () => {
  await use('cpu');
  dir = tempDir('segscope-onnx-');
});

describe('ONNX export', () => {
  for (const id of MODEL_IDS) {
    it(`${id}: ONNX Runtime's logits equal tfjs's within 1e-4 relative`, async () => {
      const size = MODELS[id].sizeMultiple * 2;
      const model = tinyModel(id, CLASSES, size);
      try {
        randomizeWeights(model, 17);
        const bytes = exportOnnx(model, { producerVersion: 'test', metadata: { model: id } });
        const path = join(dir, `${id}.onnx`);
        writeFileSync(path, bytes);
        written.push(path);
        const batch = 2;
        const input = seeded(batch * size * size * 3, 5);
        const x = tf.tensor4d(input, [batch, size, size, 3]);
        const ref = tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array);
        x.dispose();
        const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
        const out = await session.run({ input: new ort.Tensor('float32', input, [batch, size, size, 3]) });
        await session.release();
        const logits = out.logits!;
        expect(logits.dims).toEqual([batch, size, size, CLASSES]);
        const got = logits.data as Float32Array;
        const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        const err = got.reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i]!)), 0);
        // Relative to the largest logit: the outputs are not all near zero, so this measures the graph.
        expect(scale).toBeGreaterThan(1e-3);
        expect(err / scale, `${id}: max |Δ| ${err} against max |logit| ${scale}`).toBeLessThan(1e-4);
      } finally {
        model.dispose();
      }
    }, 60_000);
  }

  it("passes Debian's python3-onnx checker with full shape inference, at opset 17", () => {
    expect(written).toHaveLength(MODEL_IDS.length);
    const script = [
      'import sys, onnx',
      'for path in sys.argv[1:]:',
      '    m = onnx.load(path)',
      '    onnx.checker.check_model(m, full_check=True)',
      '    print(path.rsplit("/", 1)[-1], m.opset_import[0].version, m.ir_version)',
    ].join('\n');
    const out = execFileSync('/usr/bin/python3', ['-c', script, ...written], { encoding: 'utf8' });
    const lines = out.trim().split('\n');
    expect(lines).toEqual(MODEL_IDS.map((id) => `${id}.onnx 17 8`));
  }, 60_000);
});
