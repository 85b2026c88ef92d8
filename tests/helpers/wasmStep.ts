// A child-process entry for the wasm thread tests: one Adam training step of a small U-Net on a fixed
// batch, on the wasm backend with as many threads as SEGSCOPE_WASM_THREADS says (the backend starts once
// per process, so each thread count needs its own process). Writes the loss, the backend's description and
// every updated weight to the file named by argv[2].
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { selectBackend } from '../../src/main/engine/backend';
import { maskedCrossEntropy } from '../../src/main/engine/loss';
import { buildUNet } from '../../src/main/engine/models/unet';

const out = process.argv[2];
if (!out) throw new Error('usage: node wasmStep.mjs OUT.json');
const choice = await selectBackend('wasm');
const size = 32;
const batch = 2;
const model = buildUNet({ numClasses: 4, inputSize: size, baseFilters: 8, seed: 3 });
const x = tf.randomNormal([batch, size, size, 3], 0, 1, 'float32', 1);
const y = tf.randomUniform([batch, size, size], 0, 4, 'int32', 2);
const optimizer = tf.train.adam(1e-3);
const losses: number[] = [];
for (let step = 0; step < 2; step++) {
  const loss = optimizer.minimize(
    () => maskedCrossEntropy(model.apply(x, { training: true }) as tf.Tensor4D, y as tf.Tensor3D),
    true,
  );
  losses.push(loss!.dataSync()[0]!);
  loss!.dispose();
}
const weights = model.getWeights().map((w) => Array.from(w.dataSync()));
writeFileSync(out, JSON.stringify({ reason: choice.reason, threads: getThreadsCount(), losses, weights }));
// No process.exit: the process must end by itself, its wasm threads notwithstanding.
