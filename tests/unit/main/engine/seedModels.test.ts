// DeconvNet, DeepLabv3 (ResNet-50 and ResNet-18) and the d2l FCN on ResNet-18: parameter counts against
// independent formulas and against torchvision, output shapes, Keras layer names, the atrous and
// unpooling layers in place, a training step on wasm, Grad-CAM, and a checkpoint round trip. Full-size
// models are built only to count; everything that runs uses narrow widths and small inputs.
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  activationsAndGradients,
  computeCam,
  computeCamSweep,
  defaultCamLayer,
} from '../../../../src/main/engine/cam';
import type { RgbImage } from '../../../../src/main/engine/data/samples';
import { segment, type Predictor } from '../../../../src/main/engine/infer';
import { loadCheckpoint, saveCheckpoint } from '../../../../src/main/engine/io/checkpoint';
import { loadKerasWeights } from '../../../../src/main/engine/io/kerasWeights';
import { maskedCrossEntropy } from '../../../../src/main/engine/loss';
import { bilinearKernel } from '../../../../src/main/engine/models/bilinear';
import {
  AtrousConv2D,
  MaxPoolingWithSwitches2D,
  MaxUnpooling2D,
} from '../../../../src/main/engine/models/customLayers';
import { buildDeconvNet } from '../../../../src/main/engine/models/deconvnet';
import { buildDeepLabV3 } from '../../../../src/main/engine/models/deeplabv3';
import { buildFcnResNet18 } from '../../../../src/main/engine/models/fcnResnet';
import {
  convLayerNames,
  DECONVNET_FC_WIDTH,
  MODELS,
  type ModelId,
} from '../../../../src/main/engine/models/registry';
import { tempDir } from '../../../helpers/data';
import { PYTHON, torchAbsentReason, torchReference, type TorchProbe } from '../../../helpers/torch';
import { relL2, seeded, use } from './helpers';

// ---------------------------------------------------------------------------------------------------------
// Independent parameter formulas. `all` is what tfjs's countParams reports (batch norm: γ, β, moving mean
// and variance); `trainable` is what PyTorch's parameters() counts (batch norm: γ, β).
// ---------------------------------------------------------------------------------------------------------

interface Count {
  all: number;
  trainable: number;
}

class Counter implements Count {
  all = 0;
  trainable = 0;
  /** A k×k conv (or transposed conv) from cin to cout channels. */
  conv(k: number, cin: number, cout: number, bias: boolean): this {
    const p = k * k * cin * cout + (bias ? cout : 0);
    this.all += p;
    this.trainable += p;
    return this;
  }
  bn(c: number): this {
    this.all += 4 * c;
    this.trainable += 2 * c;
    return this;
  }
  convBn(k: number, cin: number, cout: number, bias: boolean): this {
    return this.conv(k, cin, cout, bias).bn(cout);
  }
}

const STAGES: Record<18 | 50, number[]> = { 18: [2, 2, 2, 2], 50: [3, 4, 6, 3] };

/** The ResNet trunk without pooling and fc; returns the counter and conv5's channels. */
function resnetCount(c: Counter, depth: 18 | 50, base: number, bias: boolean): number {
  c.convBn(7, 3, base, bias);
  let cin = base;
  STAGES[depth].forEach((blocks, s) => {
    const f = base * 2 ** s;
    for (let b = 0; b < blocks; b++) {
      if (depth === 50) {
        if (b === 0) c.convBn(1, cin, 4 * f, bias);
        c.convBn(1, cin, f, bias)
          .convBn(3, f, f, bias)
          .convBn(1, f, 4 * f, bias);
        cin = 4 * f;
      } else {
        if (b === 0 && s > 0) c.convBn(1, cin, f, bias);
        c.convBn(3, cin, f, bias).convBn(3, f, f, bias);
        cin = f;
      }
    }
  });
  return cin;
}

/** torchvision's DeepLabHead: ASPP (1×1, three 3×3, pooling 1×1, projection), a 3×3 conv, the classifier. */
function deeplabCount(depth: 18 | 50, classes: number, base = 64, aspp = 256, backboneBias = true): Count {
  const c = new Counter();
  const cin = resnetCount(c, depth, base, backboneBias);
  c.convBn(1, cin, aspp, false);
  for (let i = 0; i < 3; i++) c.convBn(3, cin, aspp, false);
  c.convBn(1, cin, aspp, false);
  c.convBn(1, 5 * aspp, aspp, false);
  c.convBn(3, aspp, aspp, false);
  c.conv(1, aspp, classes, true);
  return c;
}

/** d2l's FCN: ResNet-18 trunk, a 1×1 conv to the classes, ConvTranspose2d(classes, classes, 64) with bias. */
function fcnResnet18Count(classes: number, base = 64, backboneBias = true): Count {
  const c = new Counter();
  const cin = resnetCount(c, 18, base, backboneBias);
  return c.conv(1, cin, classes, true).conv(64, classes, classes, true);
}

/** Conv biases of a ResNet trunk: one per output channel of every conv. */
function resnetConvBiases(depth: 18 | 50, base = 64): number {
  const withBias = new Counter();
  const without = new Counter();
  resnetCount(withBias, depth, base, true);
  resnetCount(without, depth, base, false);
  return withBias.trainable - without.trainable;
}

/** DeconvNet: VGG16 convs with BN, fc6 (7×7), fc7 (1×1) with BN, deconv6 (7×7), the mirrored decoder, score. */
function deconvnetCount(classes: number, fcWidth: number, base = 64): Count {
  const blocks = [2, 2, 3, 3, 3];
  const widths = [1, 2, 4, 8, 8].map((m) => base * m);
  const c = new Counter();
  let cin = 3;
  blocks.forEach((n, b) => {
    for (let i = 0; i < n; i++) {
      c.convBn(3, cin, widths[b]!, true);
      cin = widths[b]!;
    }
  });
  c.convBn(7, cin, fcWidth, true).convBn(1, fcWidth, fcWidth, true).convBn(7, fcWidth, widths[4]!, true);
  cin = widths[4]!;
  for (let b = 4; b >= 0; b--) {
    for (let i = 0; i < blocks[b]!; i++) {
      const cout = i < blocks[b]! - 1 ? widths[b]! : widths[Math.max(b - 1, 0)]!;
      c.convBn(3, cin, cout, true);
      cin = cout;
    }
  }
  return c.conv(1, cin, classes, true);
}

function trainableCount(model: tfl.LayersModel): number {
  return model.trainableWeights.reduce((s, w) => s + w.shape.reduce<number>((a, b) => a * (b ?? 1), 1), 0);
}

// ---------------------------------------------------------------------------------------------------------

/** The probe of the ×32 transposed conv compared with PyTorch: 2×3 pixels, 3 classes. */
const PROBE: TorchProbe = { shape: [2, 3, 3], values: Array.from(seeded(18, 77)) };
const torch = await torchReference(PROBE);
const torchNote = torch ? '' : ` (skipped: ${torchAbsentReason})`;

const built: tfl.LayersModel[] = [];
function keep(m: tfl.LayersModel): tfl.LayersModel {
  built.push(m);
  return m;
}
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

beforeAll(async () => {
  await use('wasm');
});

afterEach(() => {
  for (const m of built.splice(0)) m.dispose();
});

function outputShape(model: tfl.LayersModel, h: number, w: number): number[] {
  return tf.tidy(() => (model.predict(tf.zeros([1, h, w, 3])) as tf.Tensor).shape);
}

const names = (model: tfl.LayersModel) => model.layers.map((l) => l.name);

/** Narrow versions of the four registry models, for everything that runs. */
const NARROW: Record<
  'deconvnet' | 'deeplabv3' | 'deeplabv3-resnet18' | 'fcn-resnet18',
  (classes: number, size: number | [number, number], seed?: number) => tfl.LayersModel
> = {
  deconvnet: (numClasses, inputSize, seed) =>
    buildDeconvNet({ numClasses, inputSize, fcWidth: 16, baseFilters: 8, seed }),
  deeplabv3: (numClasses, inputSize, seed) =>
    buildDeepLabV3({ numClasses, inputSize, backbone: 50, baseFilters: 4, asppFilters: 16, seed }),
  'deeplabv3-resnet18': (numClasses, inputSize, seed) =>
    buildDeepLabV3({ numClasses, inputSize, backbone: 18, baseFilters: 8, asppFilters: 16, seed }),
  'fcn-resnet18': (numClasses, inputSize, seed) =>
    buildFcnResNet18({ numClasses, inputSize, baseFilters: 8, seed }),
};
const NEW_IDS = Object.keys(NARROW) as (keyof typeof NARROW)[];

describe('parameter counts', () => {
  it('DeconvNet as published: 251.8M parameters for 21 classes with fc6/fc7 4096 wide', () => {
    const full = deconvnetCount(21, 4096);
    expect(full.all).toBe(251_839_061);
    expect(full.trainable).toBe(251_805_653);
    // The registry's narrower fc6/fc7.
    expect(deconvnetCount(21, DECONVNET_FC_WIDTH).all).toBe(42_413_141);
  });

  it('DeepLabv3-ResNet50: the formula is torchvision’s architecture plus Keras’s 26,560 backbone conv biases', () => {
    expect(deeplabCount(50, 21, 64, 256, false).trainable + resnetConvBiases(50)).toBe(
      deeplabCount(50, 21).trainable,
    );
    expect(resnetConvBiases(50)).toBe(26_560);
  });

  it.skipIf(torch == null)(
    `DeepLabv3-ResNet50 has torchvision's deeplabv3_resnet50 parameters but for those biases${torchNote}`,
    () => {
      expect(torch!.deeplabv3Resnet50Params).toBe(deeplabCount(50, 21, 64, 256, false).trainable);
      expect(torch!.deeplabv3Resnet50Params).toBe(39_638_869);
      expect(deeplabCount(50, 21).trainable - torch!.deeplabv3Resnet50Params).toBe(resnetConvBiases(50));
    },
  );

  it.skipIf(torch == null)(
    `d2l's FCN on ResNet-18 equals its PyTorch build but for the conv biases${torchNote}`,
    () => {
      expect(torch!.fcnResnet18Params).toBe(fcnResnet18Count(21, 64, false).trainable);
      expect(torch!.fcnResnet18Params).toBe(12_993_642);
      expect(resnetConvBiases(18)).toBe(4_800);
      expect(torch!.fcnResnet18OutputShape).toEqual([1, 21, 320, 480]);
    },
  );

  it('the registry builds each full-size model with exactly the formula’s parameters', () => {
    const want: Record<(typeof NEW_IDS)[number], Count> = {
      deconvnet: deconvnetCount(21, DECONVNET_FC_WIDTH),
      deeplabv3: deeplabCount(50, 21),
      'deeplabv3-resnet18': deeplabCount(18, 21),
      'fcn-resnet18': fcnResnet18Count(21),
    };
    for (const id of NEW_IDS) {
      const spec = MODELS[id];
      const m = spec.build({ numClasses: 21, inputSize: spec.sizeMultiple });
      try {
        expect(m.countParams(), id).toBe(want[id].all);
        expect(trainableCount(m), id).toBe(want[id].trainable);
      } finally {
        m.dispose();
      }
    }
    expect(deeplabCount(50, 21).all).toBe(39_722_133);
    expect(deeplabCount(18, 21).all).toBe(15_922_069);
    expect(fcnResnet18Count(21).all).toBe(13_008_042);
  }, 60_000);

  it('narrow variants match the formulas too', () => {
    expect(keep(NARROW.deconvnet(5, 32)).countParams()).toBe(deconvnetCount(5, 16, 8).all);
    expect(keep(NARROW.deeplabv3(5, 32)).countParams()).toBe(deeplabCount(50, 5, 4, 16).all);
    expect(keep(NARROW['deeplabv3-resnet18'](5, 32)).countParams()).toBe(deeplabCount(18, 5, 8, 16).all);
    expect(keep(NARROW['fcn-resnet18'](5, 32)).countParams()).toBe(fcnResnet18Count(5, 8).all);
  });
});

describe('shapes', () => {
  const sizes: Record<(typeof NEW_IDS)[number], [number, number][]> = {
    deconvnet: [
      [32, 32],
      [32, 64],
    ],
    deeplabv3: [
      [16, 48],
      [32, 32],
    ],
    'deeplabv3-resnet18': [
      [48, 32],
      [16, 16],
    ],
    'fcn-resnet18': [
      [64, 32],
      [32, 32],
    ],
  };
  it.each(NEW_IDS)('%s: logits [1, H, W, classes] at two sizes, and refuses sizes off the multiple', (id) => {
    for (const [h, w] of sizes[id]) {
      expect(outputShape(keep(NARROW[id](3, [h, w])), h, w)).toEqual([1, h, w, 3]);
    }
    const m = MODELS[id].sizeMultiple;
    expect(() => NARROW[id](3, [m, m + m / 2])).toThrow(new RegExp(`divisible by ${m}`));
  });
});

describe('deconvnet', () => {
  it('has VGG16 names with batch norm, pools with switches and unpoolings that mirror them', () => {
    const m = keep(NARROW.deconvnet(4, 64));
    const all = names(m);
    for (const n of [
      'block1_conv1',
      'block1_bn1',
      'block1_relu1',
      'block5_conv3',
      'block5_bn3',
      'fc6',
      'fc6_bn',
    ]) {
      expect(all).toContain(n);
    }
    for (let b = 1; b <= 5; b++) {
      expect(m.getLayer(`block${b}_pool`)).toBeInstanceOf(MaxPoolingWithSwitches2D);
      expect(m.getLayer(`unpool${b}`)).toBeInstanceOf(MaxUnpooling2D);
      // unpoolN takes blockN_pool's switches, at blockN's resolution.
      const [, switches] = m.getLayer(`unpool${b}`).inboundNodes[0]!.inputTensors;
      expect(switches!.sourceLayer.name).toBe(`block${b}_pool`);
      expect(m.getLayer(`unpool${b}`).outputShape).toEqual([
        null,
        64 / 2 ** (b - 1),
        64 / 2 ** (b - 1),
        [8, 16, 32, 64, 64][b - 1],
      ]);
    }
    expect(m.getLayer('block5_conv3').getClassName()).toBe('Conv2D');
    expect(m.getLayer('deconv6').getClassName()).toBe('Conv2DTranspose');
    expect(m.getLayer('deconv1_2').outputShape).toEqual([null, 64, 64, 8]);
    const convs = convLayerNames(m);
    expect(convs).toContain(MODELS.deconvnet.camLayer);
    expect(convs.slice(0, 3)).toEqual(['block1_conv1', 'block1_conv2', 'block2_conv1']);
    expect(convs.at(-1)).toBe('score');
    expect(new Set(all).size).toBe(all.length);
  });
});

describe('resnet backbones', () => {
  const KERAS_RESNET = /^conv1_(?:conv|bn)$|^conv[2-5]_block\d+_[0-3]_(?:conv|bn)$/;

  it('deeplabv3: Keras ResNet50 names, output stride 16 with dilation 2 in conv5, ASPP rates 6/12/18', () => {
    const m = keep(NARROW.deeplabv3(3, 64));
    const all = names(m);
    for (const n of ['conv1_pad', 'conv1_conv', 'conv1_bn', 'conv1_relu', 'pool1_pad', 'pool1_pool']) {
      expect(all).toContain(n);
    }
    for (const n of [
      'conv2_block1_0_conv',
      'conv2_block1_0_bn',
      'conv2_block1_3_bn',
      'conv2_block1_add',
      'conv5_block3_out',
    ]) {
      expect(all).toContain(n);
    }
    // The layers Keras's resnet50 notop file holds: 53 convs and 53 batch norms, weights as Keras has them.
    const keras = m.layers.filter((l) => KERAS_RESNET.test(l.name));
    expect(keras).toHaveLength(106);
    for (const l of keras) {
      const roles = l.weights.map((w) => w.originalName.split('/').pop());
      expect(roles, l.name).toEqual(
        l.name.endsWith('_bn') ? ['gamma', 'beta', 'moving_mean', 'moving_variance'] : ['kernel', 'bias'],
      );
    }
    expect(all).not.toContain('conv2_block4_out');
    expect(all).not.toContain('conv4_block7_out');
    expect(m.getLayer('conv2_block3_out').outputShape).toEqual([null, 16, 16, 16]);
    expect(m.getLayer('conv3_block4_out').outputShape).toEqual([null, 8, 8, 32]);
    expect(m.getLayer('conv4_block6_out').outputShape).toEqual([null, 4, 4, 64]);
    expect(m.getLayer('conv5_block3_out').outputShape).toEqual([null, 4, 4, 128]);
    for (let b = 1; b <= 3; b++) {
      const layer = m.getLayer(`conv5_block${b}_2_conv`);
      expect(layer).toBeInstanceOf(AtrousConv2D);
      expect((layer as AtrousConv2D).dilationRate).toBe(2);
    }
    expect(m.getLayer('conv4_block1_2_conv').getClassName()).toBe('Conv2D');
    for (const rate of [6, 12, 18]) {
      expect((m.getLayer(`aspp_rate${rate}_conv`) as AtrousConv2D).dilationRate).toBe(rate);
    }
    expect(m.getLayer('aspp_concat').outputShape).toEqual([null, 4, 4, 80]);
    expect(m.getLayer('aspp_pool_upsample').outputShape).toEqual([null, 4, 4, 16]);
    const convs = convLayerNames(m);
    expect(convs).toContain('conv5_block3_2_conv'); // the atrous ones are conv layers for Grad-CAM
    expect(convs).toContain('aspp_rate18_conv');
    expect(convs).toContain(MODELS.deeplabv3.camLayer);
    expect(MODELS.deeplabv3.camLayer).toBe('conv5_block3_3_conv');
    expect(new Set(all).size).toBe(all.length);
  });

  it('deeplabv3-resnet18: basic blocks, the conv that had the stride undilated, the rest dilated', () => {
    const m = keep(NARROW['deeplabv3-resnet18'](3, 64));
    expect(m.getLayer('conv5_block2_out').outputShape).toEqual([null, 4, 4, 64]);
    expect(names(m)).not.toContain('conv2_block1_0_conv'); // 8 → 8 channels: an identity shortcut
    expect(names(m)).toContain('conv3_block1_1_pad'); // the strided 3×3 pads as torchvision does
    expect(m.getLayer('conv5_block1_1_conv').getClassName()).toBe('Conv2D');
    expect(m.getLayer('conv5_block1_1_conv').getConfig()).toMatchObject({ strides: [1, 1] });
    for (const n of ['conv5_block1_2_conv', 'conv5_block2_1_conv', 'conv5_block2_2_conv']) {
      expect((m.getLayer(n) as AtrousConv2D).dilationRate, n).toBe(2);
    }
    expect(convLayerNames(m)).toContain(MODELS['deeplabv3-resnet18'].camLayer);
    expect(MODELS['deeplabv3-resnet18'].camLayer).toBe('conv5_block2_2_conv');
  });

  it('fcn-resnet18: stride 32, final_conv, and a ×32 transposed conv set to bilinear upsampling', () => {
    const m = keep(NARROW['fcn-resnet18'](3, [64, 96]));
    expect(m.getLayer('conv5_block2_out').outputShape).toEqual([null, 2, 3, 64]);
    expect(m.getLayer('conv5_block2_2_conv').getClassName()).toBe('Conv2D');
    expect(m.getLayer('final_conv').outputShape).toEqual([null, 2, 3, 3]);
    const up = m.getLayer('transpose_conv');
    expect(up.getConfig()).toMatchObject({
      kernelSize: [64, 64],
      strides: [32, 32],
      padding: 'same',
      useBias: true,
    });
    const [kernel, bias] = up.getWeights();
    const want = bilinearKernel(64, 3);
    expect(Array.from(kernel!.dataSync())).toEqual(Array.from(want.dataSync()));
    expect(Array.from(bias!.dataSync())).toEqual([0, 0, 0]);
    want.dispose();
    expect(MODELS['fcn-resnet18'].camLayer).toBe('conv5_block2_2_conv');
  });

  it("fcn-resnet18: tfjs's 'same' transposed conv is PyTorch's padding 16: out[o] = Σ x[i]·w[o + 16 − 32i]", () => {
    const m = keep(NARROW['fcn-resnet18'](1, [64, 32]));
    const up = m.getLayer('transpose_conv');
    const w = Array.from(seeded(64 * 64, 5));
    const kernel = tf.tensor4d(w, [64, 64, 1, 1]);
    const zero = tf.zeros([1]);
    up.setWeights([kernel, zero]);
    tf.dispose([kernel, zero]);
    tf.tidy(() => {
      const x = [1.5, -2]; // a 2×1 map of scores
      const y = up.apply(tf.tensor4d(x, [1, 2, 1, 1])) as tf.Tensor;
      expect(y.shape).toEqual([1, 64, 32, 1]);
      const got = y.dataSync();
      const want = new Float32Array(64 * 32);
      for (let oy = 0; oy < 64; oy++) {
        for (let ox = 0; ox < 32; ox++) {
          let s = 0;
          for (let i = 0; i < 2; i++) {
            const ky = oy + 16 - 32 * i;
            const kx = ox + 16;
            if (ky >= 0 && ky < 64) s += (x[i] ?? 0) * (w[ky * 64 + kx] ?? 0);
          }
          want[oy * 32 + ox] = s;
        }
      }
      expect(relL2(got, want)).toBeLessThan(1e-6);
    });
  });

  it.skipIf(torch == null)(
    `fcn-resnet18: the transposed conv gives PyTorch's output on a probe${torchNote}`,
    () => {
      const [h, w, c] = PROBE.shape;
      const m = keep(NARROW['fcn-resnet18'](c, [32 * h, 32 * w]));
      tf.tidy(() => {
        const y = m.getLayer('transpose_conv').apply(tf.tensor4d(PROBE.values, [1, h, w, c])) as tf.Tensor;
        expect(y.shape).toEqual([1, 32 * h, 32 * w, c]);
        expect(relL2(y.dataSync(), torch!.transposeOfProbe)).toBeLessThan(1e-6);
      });
    },
  );
});

/** Writes a Keras 2 weights file (`layer_names`, `weight_names`, `<layer>/<weight>:0`), each weight constant. */
const H5_WRITER = String.raw`
import json, sys
import h5py, numpy as np
spec = json.load(open(sys.argv[1]))
with h5py.File(spec['path'], 'w') as f:
    f.attrs['layer_names'] = np.array([l['name'].encode() for l in spec['layers']], dtype='S')
    for layer in spec['layers']:
        g = f.create_group(layer['name'])
        g.attrs['weight_names'] = np.array([w['name'].encode() for w in layer['weights']], dtype='S')
        for w in layer['weights']:
            g.create_dataset(w['name'], data=np.full(w['shape'], w['value'], dtype='f4'))
`;
const hasH5py = (() => {
  try {
    execFileSync(PYTHON, ['-c', 'import h5py, numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('Keras ImageNet weights by layer name', () => {
  /** A file with the Keras names and shapes of `model`'s layers that `pattern` selects; value = index. */
  function kerasFile(model: tfl.LayersModel, pattern: RegExp): { path: string; layers: string[] } {
    const dir = tempDir('segscope-h5-');
    dirs.push(dir);
    let value = 0;
    const layers = model.layers
      .filter((l) => pattern.test(l.name))
      .map((l) => ({
        name: l.name,
        weights: l.weights.map((w) => ({
          name: `${l.name}/${w.originalName.split('/').pop()}:0`,
          shape: w.shape,
          value: (value += 1),
        })),
      }));
    const path = join(dir, 'weights.h5');
    writeFileSync(join(dir, 'spec.json'), JSON.stringify({ path, layers }));
    writeFileSync(join(dir, 'writer.py'), H5_WRITER);
    execFileSync(PYTHON, [join(dir, 'writer.py'), join(dir, 'spec.json')]);
    return { path, layers: layers.map((l) => l.name) };
  }

  it.skipIf(!hasH5py)(
    `a ResNet50-layout file loads onto deeplabv3, atrous convs included, and a VGG16 one onto deconvnet${hasH5py ? '' : ' (skipped: python3-h5py is absent)'}`,
    async () => {
      const deeplab = keep(NARROW.deeplabv3(3, 32));
      const resnet = kerasFile(deeplab, /^conv1_(?:conv|bn)$|^conv[2-5]_block\d+_[0-3]_(?:conv|bn)$/);
      expect(resnet.layers).toHaveLength(106);
      const loaded = await loadKerasWeights(deeplab, resnet.path);
      expect(loaded.loaded).toEqual(resnet.layers);
      const atrous = deeplab.getLayer('conv5_block2_2_conv');
      expect(atrous).toBeInstanceOf(AtrousConv2D);
      const [kernel, bias] = atrous.getWeights();
      expect(new Set(kernel!.dataSync()).size).toBe(1);
      expect(bias!.dataSync()[0]).toBe(kernel!.dataSync()[0]! + 1);

      const deconv = keep(NARROW.deconvnet(3, 32));
      const vgg = kerasFile(deconv, /^block[1-5]_conv[1-3]$/);
      expect((await loadKerasWeights(deconv, vgg.path)).loaded).toEqual(vgg.layers);
      expect(deconv.getLayer('block5_conv3').getWeights()[1]!.dataSync()[0]).toBe(26);
    },
  );
});

/** Labels from the input (argmax of its first `classes` channels, modulo) with a void border. */
function batch(
  n: number,
  h: number,
  w: number,
  classes: number,
  seed: number,
): { x: tf.Tensor4D; y: tf.Tensor3D } {
  return tf.tidy(() => {
    const x = tf.randomNormal([n, h, w, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
    const cls = tf.mod(tf.cast(tf.argMax(x, -1), 'int32'), classes);
    const inside = tf.pad(tf.ones([n, h - 4, w - 4], 'int32'), [
      [0, 0],
      [2, 2],
      [2, 2],
    ]);
    const y = tf.add(tf.mul(cls, inside), tf.mul(tf.sub(1, inside), 255)) as tf.Tensor3D;
    return { x, y };
  });
}

describe('training on wasm, Grad-CAM and checkpoints', () => {
  const SIZE: Record<(typeof NEW_IDS)[number], number> = {
    deconvnet: 32,
    deeplabv3: 32,
    'deeplabv3-resnet18': 32,
    'fcn-resnet18': 32,
  };

  it.each(NEW_IDS)('%s: Adam steps with finite losses; every weight gets a finite gradient', async (id) => {
    await use('wasm');
    const size = SIZE[id];
    const model = keep(NARROW[id](3, size, 1));
    const { x, y } = batch(2, size, size, 3, 2);
    const optimizer = tf.train.adam(1e-3);
    try {
      const { value, grads } = tf.variableGrads(() =>
        maskedCrossEntropy(model.apply(x, { training: true }) as tf.Tensor4D, y),
      );
      expect(Object.keys(grads).length).toBe(model.trainableWeights.length);
      let nonZero = 0;
      for (const [name, g] of Object.entries(grads)) {
        const v = g.dataSync();
        expect(v.every(Number.isFinite), name).toBe(true);
        if (v.some((e) => e !== 0)) nonZero++;
      }
      // Every weight learns (the classifier's bias included).
      expect(nonZero).toBe(model.trainableWeights.length);
      tf.dispose([value, ...Object.values(grads)]);
      const losses: number[] = [];
      for (let step = 0; step < 2; step++) {
        const loss = optimizer.minimize(
          () => maskedCrossEntropy(model.apply(x, { training: true }) as tf.Tensor4D, y),
          true,
        );
        losses.push(loss!.dataSync()[0]!);
        loss!.dispose();
      }
      for (const l of losses) expect(Number.isFinite(l)).toBe(true);
      expect(losses[0]).toBeGreaterThan(0);
    } finally {
      optimizer.dispose();
      tf.dispose([x, y]);
    }
  });

  /** The ResNet convs the viewer's sweep should list: conv1_conv and the second conv of every block. */
  const SWEEP = /^(block\d+_conv\d+|down\d+_conv\d+|bottom_conv\d+|conv1_conv|conv[2-5]_block\d+_2_conv)$/;

  it.each(NEW_IDS)(
    '%s: Grad-CAM at the registry layer and a layer sweep, after a checkpoint round trip',
    async (id) => {
      await use('wasm');
      const size = SIZE[id];
      const model = keep(NARROW[id](3, size, 3));
      // One training step so that the batch norms' moving statistics are no longer their initial values.
      const { x, y } = batch(2, size, size, 3, 4);
      const optimizer = tf.train.adam(1e-3);
      tf.dispose(
        optimizer.minimize(
          () => maskedCrossEntropy(model.apply(x, { training: true }) as tf.Tensor4D, y),
          true,
        ) ?? [],
      );
      optimizer.dispose();
      tf.dispose([x, y]);

      const dir = tempDir('segscope-ckpt-');
      dirs.push(dir);
      await saveCheckpoint(model, dir, { id });
      const { model: loaded, meta } = await loadCheckpoint(dir);
      keep(loaded);
      expect(meta).toEqual({ id });
      expect(convLayerNames(loaded)).toEqual(convLayerNames(model));
      expect(loaded.layers.map((l) => l.getClassName())).toEqual(model.layers.map((l) => l.getClassName()));
      tf.tidy(() => {
        const probe = tf.randomNormal([2, size, size, 3], 0, 1, 'float32', 9);
        const a = (model.predict(probe) as tf.Tensor).dataSync();
        const b = (loaded.predict(probe) as tf.Tensor).dataSync();
        expect(Array.from(b)).toEqual(Array.from(a));
      });

      const spec = MODELS[id as ModelId];
      expect(defaultCamLayer(loaded, id)).toBe(spec.camLayer);
      expect(defaultCamLayer(loaded)).toBe(spec.camLayer);
      const image: RgbImage = {
        width: size,
        height: size,
        data: Uint8Array.from(seeded(size * size * 3, 12), (v) => Math.round((v + 1) * 127.5)),
      };
      const p: Predictor = { model: loaded, inputSize: size, normalization: spec.normalization };
      const { labels } = await segment(p, image);
      const counts = [0, 0, 0];
      for (const l of labels) counts[l] = (counts[l] ?? 0) + 1;
      const cls = counts.indexOf(Math.max(...counts));
      const before = tf.memory().numTensors;
      const cam = await computeCam(p, image, { classIndex: cls, method: 'gradcam' });
      expect(cam.layer).toBe(spec.camLayer);
      expect(cam.cam).toHaveLength(size * size);
      expect(cam.cam.every((v) => Number.isFinite(v) && v >= 0 && v <= 1)).toBe(true);
      const layers = convLayerNames(loaded).filter((n) => SWEEP.test(n));
      // conv1_conv and one conv per residual block (ResNet-50: 16, ResNet-18: 8); VGG16's 13 convs.
      expect(layers).toHaveLength(id === 'deeplabv3' ? 17 : id === 'deconvnet' ? 13 : 9);
      const sweep = await computeCamSweep(p, image, {
        classIndex: cls,
        method: 'gradcam',
        layers,
        maxSide: 16,
      });
      expect(sweep.map((s) => s.layer)).toEqual(layers);
      expect(tf.memory().numTensors).toBe(before);
      // The target's gradient reaches the chosen layer through the decoder (unpooling, ASPP, upsampling).
      tf.tidy(() => {
        const input = tf.randomNormal([1, size, size, 3], 0, 1, 'float32', 13) as tf.Tensor4D;
        const { gradients, activations } = activationsAndGradients(loaded, input, [spec.camLayer], (logits) =>
          tf.sum(tf.slice(logits, [0, 0, 0, cls], [1, size, size, 1])),
        );
        expect(gradients[0]!.dataSync().some((v) => v !== 0)).toBe(true);
        expect(gradients[0]!.shape).toEqual(activations[0]!.shape);
      });
    },
  );
});
