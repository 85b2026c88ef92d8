// The PyTorch twin of every registry model against Segscope's engine: from the same checkpoint, on the same
// batch, one training step (momentum SGD on cross-entropy with class weights and void pixels, soft Dice and
// the L2 penalty; dropout off) gives the same loss (1e-4 relative) and the same weights after the step,
// batch-norm moving statistics included (1e-3 of the model's scale). Models are narrowed (tinyModels.ts);
// their layers, strides, paddings, dilations, poolings and upsamplings are the full models'. The Python
// side is Debian's python3-torch, really run.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, saveCheckpoint } from '../../../../../src/main/engine/io/checkpoint';
import { MODEL_IDS, MODELS, type ModelId } from '../../../../../src/main/engine/models/registry';
import { trainingLoss } from '../../../../../src/main/engine/train';
import { modelRelErr, seeded, use } from '../helpers';
import { tinyModel } from '../tinyModels';
import { runPython } from './pythonEnv';

const CLASSES = 3;
const BATCH = 2;
const SETTINGS = { optimizer: 'sgd', lr: 0.01, momentum: 0.9, dice: true, weightDecay: 1e-3 };
const CLASS_WEIGHTS = [0.5, 1, 2];

let dir: string;
beforeAll(async () => {
  await use('wasm');
  dir = await mkdtemp(join(tmpdir(), 'segscope-parity-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** One step of Segscope's engine: the loss and every weight after it, by name. */
async function engineStep(size: number, init: string, x: Float32Array, y: Int32Array) {
  const { model } = await loadCheckpoint(init);
  try {
    for (const l of model.layers)
      if (l.getClassName() === 'Dropout') (l as unknown as { rate: number }).rate = 0;
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const kernels = vars.filter((v) => /kernel/.test(v.name));
    const batch = {
      x: tf.tensor4d(x, [BATCH, size, size, 3]),
      y: tf.tensor3d(y, [BATCH, size, size], 'int32'),
    };
    const weights = tf.tensor1d(CLASS_WEIGHTS);
    const opt = tf.train.momentum(SETTINGS.lr, SETTINGS.momentum);
    const cost = opt.minimize(
      () => trainingLoss(model, batch, { weights, dice: true, weightDecay: SETTINGS.weightDecay, kernels }),
      true,
      vars,
    )!;
    const loss = (await cost.data())[0]!;
    tf.dispose([batch.x, batch.y, weights, cost]);
    opt.dispose();
    return { loss, weights: named(model.weights) };
  } finally {
    model.dispose();
  }
}

function named(weights: { originalName: string; read(): tf.Tensor }[]): Map<string, Float32Array> {
  return new Map(weights.map((w) => [w.originalName, Float32Array.from(w.read().dataSync())]));
}

// deconvnet-4096 narrows to the same graph as deconvnet (tinyModels.ts: only its fc width differs), so
// its twin is checked there.
const IDS = MODEL_IDS.filter((m) => m !== 'deconvnet-4096');
const inputs = new Map<
  ModelId,
  { size: number; x: Float32Array; y: Int32Array; trainable: number; total: number }
>();
/** What the PyTorch process printed for each model. */
const torchSide = new Map<ModelId, { losses: number[]; params: number; weights: number }>();

describe('one training step of the PyTorch twin equals Segscope’s engine', () => {
  // One Python process for every model: torch takes seconds to import.
  beforeAll(async () => {
    const specs: string[] = [];
    for (const id of IDS) {
      const size = MODELS[id].sizeMultiple * 2;
      const built = tinyModel(id, CLASSES, size);
      const trainable = built.trainableWeights.reduce((n, w) => n + w.read().size, 0);
      const total = built.countParams();
      await saveCheckpoint(built, join(dir, id, 'init'), {});
      built.dispose();
      const x = seeded(BATCH * size * size * 3, 21);
      // Classes 0..2, and void where the generator's value is high.
      const y = Int32Array.from(seeded(BATCH * size * size, 22), (v) =>
        v > 0.8 ? 255 : Math.floor((v + 1) * 1.5),
      );
      inputs.set(id, { size, x, y, trainable, total });
      await writeFile(join(dir, id, 'x.bin'), new Uint8Array(x.buffer));
      await writeFile(join(dir, id, 'y.bin'), new Uint8Array(y.buffer));
      const spec = {
        ...SETTINGS,
        checkpoint: join(dir, id, 'init'),
        out: join(dir, id, 'after'),
        x: join(dir, id, 'x.bin'),
        y: join(dir, id, 'y.bin'),
        shape: [BATCH, size, size, 3],
        classWeights: CLASS_WEIGHTS,
      };
      await writeFile(join(dir, id, 'spec.json'), JSON.stringify(spec));
      specs.push(join(dir, id, 'spec.json'));
    }
    const { stdout } = await runPython('segscope_torch.step', specs);
    stdout
      .trim()
      .split('\n')
      .forEach((line, i) => torchSide.set(IDS[i]!, JSON.parse(line)));
  }, 120_000);

  for (const id of IDS) {
    it(
      id,
      async () => {
        const { size, x, y, trainable, total } = inputs.get(id)!;
        const side = torchSide.get(id)!;
        const torchLoss = side.losses[0]!;
        const engine = await engineStep(size, join(dir, id, 'init'), x, y);
        const { model: after } = await loadCheckpoint(join(dir, id, 'after'));
        const torchWeights = named(after.weights);
        after.dispose();
        const names = [...engine.weights.keys()];
        expect([...torchWeights.keys()].sort()).toEqual([...names].sort());
        const err = modelRelErr(
          names.map((n) => torchWeights.get(n)!),
          names.map((n) => engine.weights.get(n)!),
        );
        const rel = Math.abs(torchLoss - engine.loss) / Math.abs(engine.loss);
        console.log(
          `[torch parity] ${id} at ${size}²: ${trainable} trainable of ${total} weights; loss ${engine.loss.toFixed(6)} ` +
            `(torch ${torchLoss.toFixed(6)}, rel ${rel.toExponential(2)}); weights after, max rel ${err.toExponential(2)}`,
        );
        expect(side.params).toBe(trainable);
        expect(side.weights).toBe(total);
        expect(rel).toBeLessThan(1e-4);
        expect(err).toBeLessThan(1e-3);
      },
      60_000,
    );
  }
});
