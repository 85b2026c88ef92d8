// Segscope's Grad-CAM, Grad-CAM++ and HiResCAM against the same maps computed in PyTorch on the twin with
// the same weights, by pytorch-grad-cam's definitions for segmentation (the target for class c: the class-c
// logits summed over the pixels predicted as c): for models of every family (narrowed, tinyModels.ts), a
// real VOC image, each class the model predicts, the model's default CAM layer and its first conv layer.
// The maps the user sees (0..1 at the image's size) agree to 1e-3; so do the raw maps at the layer's
// resolution, relative to their largest value. Then, at the default layer, two classes give different
// maps on both sides: the class picker changes the map. The Python side is Debian's python3-torch.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAM_METHODS, type CamMethod } from '../../../../../src/shared/camMethods';
import { activationsAndGradients } from '../../../../../src/main/engine/cam/base';
import { camLayers, camMethod, defaultCamLayer } from '../../../../../src/main/engine/cam/index';
import { predictionMask, SegmentationTarget } from '../../../../../src/main/engine/cam/target';
import { saveCheckpoint } from '../../../../../src/main/engine/io/checkpoint';
import { MODELS, normalizeInput, type ModelId } from '../../../../../src/main/engine/models/registry';
import { VOC_MINI } from '../../../../helpers/data';
import { use } from '../helpers';
import { tinyModel } from '../tinyModels';
import { runPython } from './pythonEnv';

const CLASSES = 4;
const IDS: ModelId[] = [
  'unet-small',
  'unet-vgg16',
  'fcn8s',
  'deconvnet',
  'deeplabv3-resnet18',
  'fcn-resnet18',
];

interface TorchCam {
  class: number;
  layer: string;
  method: CamMethod;
  pixels: number;
  raw: number[];
  cam: number[];
  dimmed: number;
}

let dir: string;
beforeAll(async () => {
  await use('wasm');
  dir = await mkdtemp(join(tmpdir(), 'segscope-cam-parity-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** 2007_000032 squashed to `size`², RGB bytes: square, so no letterbox comes between the two sides. */
async function image(size: number): Promise<{ width: number; height: number; data: Uint8Array }> {
  const data = await sharp(join(VOC_MINI, 'JPEGImages', '2007_000032.jpg'))
    .resize(size, size, { fit: 'fill' })
    .removeAlpha()
    .raw()
    .toBuffer();
  return { width: size, height: size, data: new Uint8Array(data) };
}

/** max |a − b| / max |b|. */
function relMax(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return den > 0 ? num / den : num;
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('Grad-CAM in Segscope equals Grad-CAM in PyTorch on the twin', () => {
  for (const id of IDS) {
    it(
      id,
      async () => {
        const size = MODELS[id].sizeMultiple * 2;
        const model = tinyModel(id, CLASSES, size);
        const checkpoint = join(dir, id);
        await saveCheckpoint(model, checkpoint);
        const picture = await image(size);
        const normalization = MODELS[id].normalization;
        const x = tf.tidy(() =>
          normalizeInput(tf.tensor4d(Float32Array.from(picture.data), [1, size, size, 3]), normalization),
        );
        // The classes the model predicts on the image, most pixels first.
        const labels = (await tf
          .tidy(() => tf.argMax(model.apply(x) as tf.Tensor4D, -1))
          .data()) as Int32Array;
        const counts = new Map<number, number>();
        for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
        const classes = [...counts]
          .sort((a, b) => b[1] - a[1])
          .map(([c]) => c)
          .slice(0, 2);
        const layers = [...new Set([defaultCamLayer(model, id), camLayers(model)[0]!])];

        const xFile = join(dir, `${id}.x.bin`);
        await writeFile(xFile, Buffer.from((await x.data()).buffer));
        const spec = join(dir, `${id}.json`);
        await writeFile(
          spec,
          JSON.stringify({
            checkpoint,
            x: xFile,
            shape: [1, size, size, 3],
            layers,
            classes,
            methods: CAM_METHODS,
          }),
        );
        const { stdout } = await runPython('segscope_torch.gradcam', [spec]);
        const torchCams = (JSON.parse(stdout.trim().split('\n').pop()!) as { cams: TorchCam[] }).cams;

        const p = { model, inputSize: size, normalization };
        let worstShown = 0;
        let worstRaw = 0;
        let compared = 0;
        let flat = 0;
        for (const cls of classes) {
          for (const method of CAM_METHODS) {
            const shown = await camMethod(method).compute(p, picture, { classIndex: cls, layers });
            // The raw maps, from Segscope's own gathering and combination.
            const area = tf.ones([1, size, size]) as tf.Tensor3D;
            const gathered = activationsAndGradients(model, x, layers, (logits) => {
              const { mask, labels } = predictionMask(logits, cls, area);
              labels.dispose();
              return new SegmentationTarget(cls, mask).score(logits);
            });
            area.dispose();
            for (let i = 0; i < layers.length; i++) {
              const t = torchCams.find(
                (c) => c.class === cls && c.layer === layers[i] && c.method === method,
              );
              expect(t, `${method} ${layers[i]} class ${cls}`).toBeDefined();
              const raw = tf.tidy(() =>
                camMethod(method).combine(gathered.activations[i]!, gathered.gradients[i]!),
              );
              const rawValues = await raw.data();
              raw.dispose();
              expect(shown[i]!.classPixels).toBe(t!.pixels);
              expect(shown[i]!.empty).toBe(!t!.raw.some((v) => v > 0));
              worstRaw = Math.max(worstRaw, relMax(rawValues, t!.raw));
              // A map that is nearly flat (its range a sliver of its size, or nothing positive) is float
              // noise once scaled to 0..1, on either side: its raw values are compared, not its picture.
              const hi = Math.max(...t!.raw);
              const lo = Math.min(...t!.raw);
              if (!(hi > 0) || hi - lo < 1e-2 * hi) {
                flat++;
                continue;
              }
              // Segscope scales each map to exactly 0..1; pytorch-grad-cam divides by the range plus
              // 1e-7, which dims maps whose range is small (a tiny model's gradients): undone here.
              const torchShown = t!.cam.map((v) => v / t!.dimmed);
              compared++;
              worstShown = Math.max(worstShown, maxAbs(shown[i]!.cam, torchShown));
            }
            tf.dispose([...gathered.activations, ...gathered.gradients]);
          }
        }
        console.log(
          `[cam parity] ${id} at ${size}², classes ${classes.join(', ')}, layers ${layers.join(', ')}: ` +
            `${compared} maps compared, max |Δ| ${worstShown.toExponential(2)}; raw maps max rel ` +
            `${worstRaw.toExponential(2)} (${flat} of them flat or empty)`,
        );
        expect(worstRaw).toBeLessThan(5e-3);
        expect(worstShown).toBeLessThan(1e-3);
        expect(compared).toBeGreaterThan(0);

        // The class picker: where two classes' Grad-CAM maps are not empty, they differ. At the default
        // layer a map may be empty for every class (nothing there raises the score), in PyTorch too.
        if (classes.length === 2) {
          for (const layer of layers) {
            const at = (cls: number) =>
              torchCams.find((c) => c.class === cls && c.layer === layer && c.method === 'gradcam')!;
            const [a, b] = [at(classes[0]!), at(classes[1]!)];
            const empty = (c: TorchCam) => !(Math.max(...c.raw) > 0);
            if (empty(a) || empty(b)) {
              console.log(
                `[cam parity] ${id}: Grad-CAM at ${layer} is empty for class ${empty(a) ? a.class : b.class}, in PyTorch too`,
              );
              continue;
            }
            const between = maxAbs(a.cam, b.cam);
            console.log(
              `[cam parity] ${id}: Grad-CAM at ${layer}, class ${a.class} vs ${b.class}: max |Δ| ${between.toFixed(3)}`,
            );
            expect(between).toBeGreaterThan(0.05);
          }
        }
        x.dispose();
        model.dispose();
      },
      120_000,
    );
  }
});
