// The model registry: output shapes, parameter counts against independent formulas, layer names, the FCN
// bilinear initialisation and input normalisation.
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bilinearKernel, bilinearWeights1d } from '../../../../src/main/engine/models/bilinear';
import { buildFcn, type FcnVariant } from '../../../../src/main/engine/models/fcn';
import {
  convLayerNames,
  getModelSpec,
  MODEL_IDS,
  MODELS,
  normalizeInput,
} from '../../../../src/main/engine/models/registry';
import { buildUNet } from '../../../../src/main/engine/models/unet';
import { buildUNetVgg16 } from '../../../../src/main/engine/models/unetVgg16';
import { use } from './helpers';

const C = 21;

/** Parameters of a k×k conv from `cin` to `cout` channels. */
const conv = (k: number, cin: number, cout: number, bias = true) => k * k * cin * cout + (bias ? cout : 0);

/** VGG16's 13 convs: 64, 64 | 128, 128 | 256 ×3 | 512 ×3 | 512 ×3. */
function vgg16Params(): number {
  const widths = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512];
  let cin = 3;
  let total = 0;
  for (const w of widths) {
    total += conv(3, cin, w);
    cin = w;
  }
  return total;
}

function unetParams(classes: number, base: number, depth: number): number {
  let total = 0;
  let cin = 3;
  for (let l = 1; l <= depth; l++) {
    const f = base * 2 ** (l - 1);
    total += conv(3, cin, f) + conv(3, f, f);
    cin = f;
  }
  const bottom = base * 2 ** depth;
  total += conv(3, cin, bottom) + conv(3, bottom, bottom);
  let prev = bottom;
  for (let l = depth; l >= 1; l--) {
    const f = base * 2 ** (l - 1);
    total += conv(2, prev, f) + conv(3, 2 * f, f) + conv(3, f, f);
    prev = f;
  }
  return total + conv(1, base, classes);
}

function unetVgg16Params(classes: number): number {
  // dec4: upsampled block5_conv3 (512) ++ block4_conv3 (512); dec3: 512 ++ 256; dec2: 256 ++ 128; dec1: 128 ++ 64.
  const decoder =
    conv(3, 1024, 512) +
    conv(3, 512, 512) +
    conv(3, 768, 256) +
    conv(3, 256, 256) +
    conv(3, 384, 128) +
    conv(3, 128, 128) +
    conv(3, 192, 64) +
    conv(3, 64, 64);
  return vgg16Params() + decoder + conv(1, 64, classes);
}

function fcnParams(variant: FcnVariant, classes: number, fcWidth: number): number {
  const head = conv(7, 512, fcWidth) + conv(1, fcWidth, fcWidth) + conv(1, fcWidth, classes);
  const up = (stride: number) => conv(2 * stride, classes, classes, false);
  const extra =
    variant === 32
      ? up(32)
      : variant === 16
        ? up(2) + conv(1, 512, classes) + up(16)
        : up(2) + conv(1, 512, classes) + up(2) + conv(1, 256, classes) + up(8);
  return vgg16Params() + head + extra;
}

const built: tfl.LayersModel[] = [];
function keep(m: tfl.LayersModel): tfl.LayersModel {
  built.push(m);
  return m;
}

function outputShape(model: tfl.LayersModel, h: number, w: number): number[] {
  return tf.tidy(() => (model.predict(tf.zeros([1, h, w, 3])) as tf.Tensor).shape);
}

function layerNames(model: tfl.LayersModel): string[] {
  return model.layers.map((l) => l.name);
}

beforeAll(async () => {
  await use('wasm');
});

afterEach(() => {
  for (const m of built.splice(0)) m.dispose();
});

describe('parameter formulas', () => {
  it('agree with the published figures', () => {
    expect(vgg16Params()).toBe(14_714_688);
    expect(unetVgg16Params(21)).toBe(24_892_437);
    expect(unetParams(21, 64, 4)).toBe(31_033_045);
    // Caffe's FCN-8s for VOC has 134.5M parameters.
    expect(fcnParams(8, 21, 4096)).toBe(134_489_759);
    expect(fcnParams(16, 21, 4096)).toBe(134_815_994);
    expect(fcnParams(32, 21, 4096)).toBe(136_152_917);
  });
});

describe('unet', () => {
  it('is the 2015 U-Net: 31.0M parameters for 21 classes, logits at the input size', () => {
    const m = keep(MODELS.unet.build({ numClasses: C, inputSize: 32 }));
    expect(m.countParams()).toBe(unetParams(C, 64, 4));
    expect(outputShape(m, 32, 32)).toEqual([1, 32, 32, C]);
    const names = layerNames(m);
    for (const n of [
      'down1_conv1',
      'down4_pool',
      'bottom_conv2',
      'up4_deconv',
      'up1_concat',
      'up1_conv2',
      'logits',
    ]) {
      expect(names).toContain(n);
    }
    expect(m.getLayer('up4_deconv').getClassName()).toBe('Conv2DTranspose');
    expect(m.getLayer('bottom_conv2').outputShape).toEqual([null, 2, 2, 1024]);
  });

  it('takes other sizes, non-square inputs, widths and depths', () => {
    const small = keep(buildUNet({ numClasses: 5, inputSize: 64, baseFilters: 8 }));
    expect(small.countParams()).toBe(unetParams(5, 8, 4));
    expect(outputShape(small, 64, 64)).toEqual([1, 64, 64, 5]);
    const wide = keep(buildUNet({ numClasses: 5, inputSize: [32, 48], baseFilters: 8 }));
    expect(outputShape(wide, 32, 48)).toEqual([1, 32, 48, 5]);
    const shallow = keep(buildUNet({ numClasses: 3, inputSize: 24, baseFilters: 4, depth: 3 }));
    expect(shallow.countParams()).toBe(unetParams(3, 4, 3));
    expect(outputShape(shallow, 24, 24)).toEqual([1, 24, 24, 3]);
    expect(layerNames(shallow)).not.toContain('down4_conv1');
  });

  it('refuses sizes the poolings cannot halve', () => {
    expect(() => buildUNet({ numClasses: 2, inputSize: 40, baseFilters: 4 })).toThrow(/divisible by 16/);
  });
});

describe('unet-vgg16', () => {
  it('has exactly 24,892,437 parameters for 21 classes and Keras VGG16 names', () => {
    const m = keep(MODELS['unet-vgg16'].build({ numClasses: C, inputSize: 32 }));
    expect(m.countParams()).toBe(unetVgg16Params(C));
    expect(m.countParams()).toBe(24_892_437);
    expect(outputShape(m, 32, 32)).toEqual([1, 32, 32, C]);
    expect(convLayerNames(m)).toEqual([
      'block1_conv1',
      'block1_conv2',
      'block2_conv1',
      'block2_conv2',
      'block3_conv1',
      'block3_conv2',
      'block3_conv3',
      'block4_conv1',
      'block4_conv2',
      'block4_conv3',
      'block5_conv1',
      'block5_conv2',
      'block5_conv3',
      'dec4_conv1',
      'dec4_conv2',
      'dec3_conv1',
      'dec3_conv2',
      'dec2_conv1',
      'dec2_conv2',
      'dec1_conv1',
      'dec1_conv2',
      'logits',
    ]);
    const names = layerNames(m);
    for (const n of ['block1_pool', 'block4_pool', 'dec4_upsample', 'dec4_concat', 'dec1_concat']) {
      expect(names).toContain(n);
    }
    expect(names).not.toContain('block5_pool');
    expect(m.getLayer('dec4_concat').outputShape).toEqual([null, 4, 4, 1024]);
    expect(m.getLayer('dec1_concat').outputShape).toEqual([null, 32, 32, 192]);
    expect(m.getLayer('dec2_upsample').getConfig()).toMatchObject({
      interpolation: 'bilinear',
      size: [2, 2],
    });
  });

  it('takes a non-square input', () => {
    const m = keep(buildUNetVgg16({ numClasses: 4, inputSize: [16, 48] }));
    expect(m.countParams()).toBe(unetVgg16Params(4));
    expect(outputShape(m, 16, 48)).toEqual([1, 16, 48, 4]);
    expect(() => buildUNetVgg16({ numClasses: 4, inputSize: [16, 40] })).toThrow(/divisible by 16/);
  });
});

describe('fcn32s, fcn16s, fcn8s', () => {
  const fcWidth = 16;
  const variants: FcnVariant[] = [32, 16, 8];
  const upscores: Record<FcnVariant, [string, number][]> = {
    32: [['upscore', 32]],
    16: [
      ['upscore2', 2],
      ['upscore16', 16],
    ],
    8: [
      ['upscore2', 2],
      ['upscore_pool4', 2],
      ['upscore8', 8],
    ],
  };

  it.each(variants)('fcn%ss: logits at the input size for 32, 64 and 32×96', (v) => {
    for (const [h, w] of [
      [32, 32],
      [64, 64],
      [32, 96],
    ] as const) {
      const m = keep(buildFcn(v, { numClasses: C, inputSize: [h, w], fcWidth }));
      expect(outputShape(m, h, w)).toEqual([1, h, w, C]);
      expect(m.countParams()).toBe(fcnParams(v, C, fcWidth));
    }
    const other = keep(buildFcn(v, { numClasses: 3, inputSize: 32, fcWidth: 8 }));
    expect(other.countParams()).toBe(fcnParams(v, 3, 8));
  });

  it.each(variants)('fcn%ss: names, trainable bilinear upsampling, zero-initialised pool scorers', (v) => {
    const m = keep(buildFcn(v, { numClasses: 3, inputSize: 32, fcWidth }));
    const names = layerNames(m);
    for (const n of ['block5_pool', 'fc6', 'drop6', 'fc7', 'drop7', 'score_fr']) expect(names).toContain(n);
    expect(m.name).toBe(`fcn${v}s`);
    for (const [name, stride] of upscores[v]) {
      const layer = m.getLayer(name);
      expect(layer.trainable).toBe(true);
      expect(layer.trainableWeights).toHaveLength(1);
      const [kernel] = layer.getWeights();
      const want = bilinearKernel(2 * stride, 3);
      expect(kernel?.shape).toEqual([2 * stride, 2 * stride, 3, 3]);
      expect(Array.from(kernel?.dataSync() ?? [])).toEqual(Array.from(want.dataSync()));
      want.dispose();
    }
    const scorers = v === 32 ? [] : v === 16 ? ['score_pool4'] : ['score_pool4', 'score_pool3'];
    for (const name of scorers) {
      for (const w of m.getLayer(name).getWeights()) expect(tf.max(tf.abs(w)).dataSync()[0]).toBe(0);
    }
    expect(convLayerNames(m)).toContain('fc6');
    expect(convLayerNames(m)).toContain(upscores[v].at(-1)?.[0]);
    expect(convLayerNames(m)).not.toContain('block5_pool');
  });

  it('refuses sizes not divisible by 32', () => {
    expect(() => buildFcn(8, { numClasses: 2, inputSize: 48, fcWidth })).toThrow(/divisible by 32/);
  });
});

describe('bilinearKernel', () => {
  it('has the 1-D weights of upsample_filt', () => {
    expect(Array.from(bilinearWeights1d(4))).toEqual([0.25, 0.75, 0.75, 0.25]);
    expect(Array.from(bilinearWeights1d(3))).toEqual([0.5, 1, 0.5]);
    expect(Array.from(bilinearWeights1d(1))).toEqual([1]);
  });

  it('is the outer product on the channel diagonal and zero off it', () => {
    const k = bilinearKernel(4, 2);
    expect(k.shape).toEqual([4, 4, 2, 2]);
    const v = k.arraySync();
    expect(v[1]?.[2]?.[0]?.[0]).toBeCloseTo(0.75 * 0.75, 7);
    expect(v[0]?.[3]?.[1]?.[1]).toBeCloseTo(0.25 * 0.25, 7);
    expect(v[1]?.[2]?.[0]?.[1]).toBe(0);
    expect(v[1]?.[2]?.[1]?.[0]).toBe(0);
    k.dispose();
  });

  it('upsamples a ramp to the half-pixel-centred ramp away from the borders', () => {
    tf.tidy(() => {
      const n = 6;
      const ramp = tf.tensor4d(
        Array.from({ length: n * n }, (_, i) => i % n),
        [1, n, n, 1],
      );
      for (const stride of [2, 8]) {
        const y = tf.conv2dTranspose(
          ramp,
          bilinearKernel(2 * stride, 1),
          [1, n * stride, n * stride, 1],
          stride,
          'same',
        );
        const rows = y.arraySync()[0] ?? [];
        // Output pixel i sits at input coordinate (i + 0.5) / stride − 0.5.
        for (let i = stride; i < (n - 1) * stride; i++) {
          expect(rows[n * stride - 1 - i]?.[i]?.[0]).toBeCloseTo((i + 0.5) / stride - 0.5, 5);
        }
      }
    });
  });
});

describe('registry', () => {
  it('lists the seed architectures by id', () => {
    expect(MODEL_IDS).toEqual([
      'unet',
      'unet-small',
      'unet-vgg16',
      'fcn32s',
      'fcn16s',
      'fcn8s',
      'deconvnet',
      'deconvnet-4096',
      'deeplabv3',
      'deeplabv3-resnet18',
      'fcn-resnet18',
    ]);
    for (const id of MODEL_IDS) {
      expect(MODELS[id].id).toBe(id);
      expect(getModelSpec(id)).toBe(MODELS[id]);
      expect(MODELS[id].title.length).toBeGreaterThan(0);
    }
    expect(MODELS.unet.normalization).toBe('zero-one');
    expect(MODELS['unet-vgg16'].normalization).toBe('imagenet-caffe');
    expect(MODELS.fcn8s.sizeMultiple).toBe(32);
    expect(MODELS.deconvnet).toMatchObject({
      sizeMultiple: 32,
      normalization: 'imagenet-caffe',
      camLayer: 'block5_conv3',
    });
    expect(MODELS.deeplabv3).toMatchObject({
      sizeMultiple: 16,
      normalization: 'imagenet-caffe',
      camLayer: 'conv5_block3_3_conv',
    });
    expect(MODELS['deeplabv3-resnet18']).toMatchObject({
      sizeMultiple: 16,
      normalization: 'imagenet-caffe',
      camLayer: 'conv5_block2_2_conv',
    });
    expect(MODELS['fcn-resnet18']).toMatchObject({
      sizeMultiple: 32,
      normalization: 'imagenet-caffe',
      camLayer: 'conv5_block2_2_conv',
    });
    expect(() => getModelSpec('segnet')).toThrow(
      /Unknown model 'segnet'; known models: unet, unet-small, unet-vgg16/,
    );
  });

  it('offers unet-small: the same U-Net with 8 base filters, 0.49M parameters for 21 classes', () => {
    const m = keep(MODELS['unet-small'].build({ numClasses: 21, inputSize: 32 }));
    expect(m.countParams()).toBe(unetParams(21, 8, 4));
    expect(m.countParams()).toBeGreaterThan(480_000);
    expect(m.countParams()).toBeLessThan(500_000);
  });

  it('gives every layer a unique name', () => {
    const m = keep(buildFcn(8, { numClasses: 2, inputSize: 32, fcWidth: 8 }));
    const names = layerNames(m);
    expect(new Set(names).size).toBe(names.length);
  });

  it('normalises RGB 0..255 as each model expects', () => {
    tf.tidy(() => {
      const rgb = tf.tensor4d([10, 20, 30], [1, 1, 1, 3], 'int32');
      const zeroOne = normalizeInput(rgb, 'zero-one').dataSync();
      expect(Array.from(zeroOne)).toEqual([10 / 255, 20 / 255, 30 / 255].map(Math.fround));
      const caffe = Array.from(normalizeInput(rgb, 'imagenet-caffe').dataSync());
      const want = [30 - 103.939, 20 - 116.779, 10 - 123.68];
      caffe.forEach((v, i) => expect(v).toBeCloseTo(want[i] ?? NaN, 4));
    });
  });
});
