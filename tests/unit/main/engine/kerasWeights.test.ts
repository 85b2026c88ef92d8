// Keras `.h5` backbone weights: files in the Keras layouts written by h5py (/usr/bin/python3) with random
// values and a raw copy of them, imported into unet-vgg16 and into small VGG- and ResNet-named models and
// compared bitwise; the errors (wrong shapes, another backbone, a partial, truncated or non-HDF5 file)
// name the file and leave the model as it was. Also the offline error of the weights download.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeNames,
  inferBackbone,
  loadKerasWeights,
  readKerasWeights,
  weightRole,
} from '../../../../src/main/engine/io/kerasWeights';
import { loadCheckpoint } from '../../../../src/main/engine/io/checkpoint';
import { getModelSpec, MODEL_IDS } from '../../../../src/main/engine/models/registry';
import { train } from '../../../../src/main/engine/train';
import type { RunState } from '../../../../src/shared/training';
import { vocMiniJob } from '../../../helpers/runs';
import { trainCommand } from '../../../../src/main/cli/commands/train';
import { downloadKerasWeights, KERAS_WEIGHTS } from '../../../../src/main/services/kerasDownload';
import { use } from './helpers';

const PYTHON = '/usr/bin/python3';
const hasH5py = (() => {
  try {
    execFileSync(PYTHON, ['-c', 'import h5py, numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Writes the file a spec describes in one of the Keras layouts, and the values, float32, to `raw`. */
const WRITER = String.raw`
import json, sys
import h5py, numpy as np
spec = json.load(open(sys.argv[1]))
rng = np.random.default_rng(spec['seed'])
raw = open(spec['raw'], 'wb')
def names(values):
    return np.array([v.encode('utf8') for v in values], dtype='S') if values else np.array([])
def set_names(node, key, values, chunks):
    if chunks > 1:
        size = -(-len(values) // chunks)
        for i in range(chunks):
            node.attrs['%s%d' % (key, i)] = names(values[i * size:(i + 1) * size])
    else:
        node.attrs[key] = names(values)
with h5py.File(spec['path'], 'w') as f:
    layout = spec['layout']
    if layout == 'keras3':
        root = f.create_group('layers')
        for layer in spec['layers']:
            g = root.create_group(layer['name']).create_group('vars')
            for i, w in enumerate(layer['weights']):
                v = rng.standard_normal(w['shape']).astype(w.get('dtype', 'f4'))
                g.create_dataset(str(i), data=v)
                raw.write(v.astype('<f4').tobytes())
    else:
        root = f.create_group('model_weights') if layout == 'model_weights' else f
        if layout == 'model_weights':
            f.attrs['model_config'] = b'{}'
        root.attrs['backend'] = b'tensorflow'
        root.attrs['keras_version'] = b'2.2.4'
        set_names(root, 'layer_names', [l['name'] for l in spec['layers']], spec.get('chunks', 1))
        for layer in spec['layers']:
            g = root.create_group(layer['name'])
            set_names(g, 'weight_names', [w['name'] for w in layer['weights']], 1)
            for w in layer['weights']:
                v = rng.standard_normal(w['shape']).astype(w.get('dtype', 'f4'))
                g.create_dataset(w['name'], data=v)
                raw.write(v.astype('<f4').tobytes())
raw.close()
`;

interface WeightSpec {
  name: string;
  shape: number[];
  dtype?: 'f4' | 'f8';
}
interface LayerSpec {
  name: string;
  weights: WeightSpec[];
}
type Layout = 'flat' | 'model_weights' | 'keras3';

let dir: string;

/**
 * Writes a Keras weights file and returns its path with the values of each weight in file order, as
 * float32 read back from the raw copy (so the check does not go through h5wasm).
 */
async function writeKeras(
  file: string,
  layers: LayerSpec[],
  opts: { layout?: Layout; seed?: number; chunks?: number } = {},
): Promise<{ path: string; values: Map<string, Float32Array[]> }> {
  const path = join(dir, file);
  const raw = `${path}.raw`;
  const specPath = `${path}.json`;
  const spec = {
    path,
    raw,
    layers,
    layout: opts.layout ?? 'flat',
    seed: opts.seed ?? 1,
    chunks: opts.chunks ?? 1,
  };
  await writeFile(specPath, JSON.stringify(spec));
  await writeFile(join(dir, 'writer.py'), WRITER);
  execFileSync(PYTHON, [join(dir, 'writer.py'), specPath], { stdio: 'inherit' });
  const bytes = await readFile(raw);
  const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const values = new Map<string, Float32Array[]>();
  let offset = 0;
  for (const layer of layers) {
    values.set(
      layer.name,
      layer.weights.map((w) => {
        const n = w.shape.reduce((a, b) => a * b, 1);
        const v = all.slice(offset, offset + n);
        offset += n;
        return v;
      }),
    );
  }
  await rm(raw);
  return { path, values };
}

/** A layer's weights as copies, in tfjs order. */
function weightsOf(model: tfl.LayersModel, name: string): Float32Array[] {
  return model
    .getLayer(name)
    .getWeights()
    .map((w) => Float32Array.from(w.dataSync()));
}

/** Bitwise equality of two float arrays. */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

const VGG_RE = /^block\d_conv\d$/;

/** A layer spec per conv of `model` named like `block1_conv1`, with `names(layer)` for its two weights. */
function vggSpec(model: tfl.LayersModel, names: (layer: string) => [string, string]): LayerSpec[] {
  const out: LayerSpec[] = [{ name: 'input_1', weights: [] }];
  for (const layer of model.layers) {
    if (VGG_RE.test(layer.name)) {
      const [kernel, bias] = layer.getWeights().map((w) => w.shape as number[]);
      const [kn, bn] = names(layer.name);
      out.push({
        name: layer.name,
        weights: [
          { name: kn, shape: kernel! },
          { name: bn, shape: bias! },
        ],
      });
    } else if (/_pool$/.test(layer.name)) out.push({ name: layer.name, weights: [] });
  }
  return out;
}

/** A VGG16-named model with the real structure but `width` filters in every conv. */
function tinyVgg(width = 4): tfl.LayersModel {
  const input = tfl.input({ shape: [8, 8, 3] });
  let x = input as tfl.SymbolicTensor;
  [2, 2, 3, 3, 3].forEach((convs, b) => {
    for (let c = 1; c <= convs; c++) {
      x = tfl.layers
        .conv2d({ name: `block${b + 1}_conv${c}`, filters: width, kernelSize: 3, padding: 'same' })
        .apply(x) as tfl.SymbolicTensor;
    }
  });
  const head = tfl.layers.conv2d({ name: 'head', filters: 2, kernelSize: 1 }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: head });
}

/** A ResNet-named stem and first block: conv1_conv/bn, conv2_block1_0/1_conv/bn. */
function tinyResnet(): tfl.LayersModel {
  const input = tfl.input({ shape: [8, 8, 3] });
  const conv = (name: string, filters: number, k: number, x: tfl.SymbolicTensor) =>
    tfl.layers.conv2d({ name, filters, kernelSize: k, padding: 'same' }).apply(x) as tfl.SymbolicTensor;
  const bn = (name: string, x: tfl.SymbolicTensor) =>
    tfl.layers.batchNormalization({ name, axis: -1, epsilon: 1.001e-5 }).apply(x) as tfl.SymbolicTensor;
  const stem = bn('conv1_bn', conv('conv1_conv', 4, 3, input));
  const short = bn('conv2_block1_0_bn', conv('conv2_block1_0_conv', 6, 1, stem));
  const main = bn('conv2_block1_1_bn', conv('conv2_block1_1_conv', 6, 1, stem));
  const out = tfl.layers.add({ name: 'conv2_block1_add' }).apply([short, main]) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

/** Keras 2 layer specs for every conv/BN of `model`, BN weights listed in `bnOrder`. */
function resnetSpec(model: tfl.LayersModel, bnOrder: string[]): LayerSpec[] {
  const out: LayerSpec[] = [];
  for (const layer of model.layers) {
    const ws = layer.weights;
    if (!ws.length) continue;
    const byRole = new Map(ws.map((w) => [w.originalName.split('/').pop()!, w.shape as number[]]));
    const roles = layer.getClassName() === 'BatchNormalization' ? bnOrder : [...byRole.keys()];
    out.push({
      name: layer.name,
      weights: roles.map((r) => ({ name: `${layer.name}/${r}:0`, shape: byRole.get(r)! })),
    });
  }
  return out;
}

beforeAll(async () => {
  await use('cpu');
  dir = await mkdtemp(join(tmpdir(), 'segscope-keras-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('weight names', () => {
  it('maps Keras 2 and Keras 1 weight names to tfjs roles', () => {
    expect(weightRole('block1_conv1', 'block1_conv1/kernel:0')).toBe('kernel');
    expect(weightRole('block1_conv1', 'block1_conv1/bias:0')).toBe('bias');
    expect(weightRole('block1_conv1', 'block1_conv1_W_1:0')).toBe('kernel');
    expect(weightRole('block1_conv1', 'block1_conv1_b_1:0')).toBe('bias');
    expect(weightRole('conv1_bn', 'conv1_bn/gamma:0')).toBe('gamma');
    expect(weightRole('conv1_bn', 'conv1_bn/beta:0')).toBe('beta');
    expect(weightRole('conv1_bn', 'conv1_bn/moving_mean:0')).toBe('moving_mean');
    expect(weightRole('conv1_bn', 'conv1_bn/moving_variance:0')).toBe('moving_variance');
    expect(weightRole('conv2_block1_1_conv', 'model/conv2_block1_1_conv/kernel_1:0')).toBe('kernel');
    expect(weightRole('bn_conv1', 'bn_conv1_running_mean:0')).toBe('moving_mean');
    expect(weightRole('bn_conv1', 'bn_conv1_running_std:0')).toBe('moving_variance');
  });

  it('decodes fixed-length byte strings without their NUL padding', () => {
    expect(decodeNames(['block1_conv1\0\0', 'fc1'])).toEqual(['block1_conv1', 'fc1']);
    expect(decodeNames(new TextEncoder().encode('conv1_conv\0'))).toEqual(['conv1_conv']);
    expect(decodeNames(new Float64Array(0))).toEqual([]);
  });

  it('recognises the backbone from Keras layer names', () => {
    expect(inferBackbone(['input', 'block1_conv1', 'logits'])).toBe('vgg16');
    expect(inferBackbone(['conv1_conv', 'conv2_block1_1_conv', 'conv2_block1_3_conv', 'aspp'])).toBe(
      'resnet50',
    );
    expect(inferBackbone(['conv1_conv', 'conv1_bn', 'conv2_block1_1_conv', 'conv2_block1_2_conv'])).toBe(
      'resnet18',
    );
    expect(inferBackbone(['enc1_conv1', 'logits'])).toBeNull();
  });
});

describe.skipIf(!hasH5py)('Keras weights into unet-vgg16 (needs /usr/bin/python3 with h5py)', () => {
  let model: tfl.LayersModel;
  beforeAll(() => {
    model = getModelSpec('unet-vgg16').build({ numClasses: 3, inputSize: 32, seed: 1 });
  });
  afterAll(() => model?.dispose());

  it('loads the VGG16 notop layout (block1_conv1_W_1:0 …) and holds exactly the file values', async () => {
    const layers = vggSpec(model, (n) => [`${n}_W_1:0`, `${n}_b_1:0`]);
    const { path, values } = await writeKeras('vgg16_notop.h5', layers);
    const decoder = weightsOf(model, 'dec4_conv1');
    const result = await loadKerasWeights(model, path);
    expect(result.loaded).toHaveLength(13);
    expect(result.loaded[0]).toBe('block1_conv1');
    expect(result.loaded[12]).toBe('block5_conv3');
    expect(result.ignored).toEqual([]);
    for (const name of result.loaded) {
      const got = weightsOf(model, name);
      const want = values.get(name)!;
      expect(got).toHaveLength(2);
      got.forEach((g, i) => expect(sameBits(g, want[i]!), `${name} weight ${i}`).toBe(true));
    }
    weightsOf(model, 'dec4_conv1').forEach((w, i) => expect(sameBits(w, decoder[i]!)).toBe(true));
    await rm(path);
  });

  it('rejects a file whose shapes differ, naming the layer, and leaves the model unchanged', async () => {
    const narrow = tinyVgg(4);
    const { path } = await writeKeras(
      'narrow.h5',
      vggSpec(narrow, (n) => [`${n}/kernel:0`, `${n}/bias:0`]),
    );
    narrow.dispose();
    const before = weightsOf(model, 'block1_conv1');
    await expect(loadKerasWeights(model, path)).rejects.toThrow(
      `${path}: layer block1_conv1 kernel is [3,3,3,4] in the file but [3,3,3,64] in the model`,
    );
    weightsOf(model, 'block1_conv1').forEach((w, i) => expect(sameBits(w, before[i]!)).toBe(true));
  });

  it('rejects a ResNet file for a VGG model, listing both sides', async () => {
    const resnet = tinyResnet();
    const layers = resnetSpec(resnet, ['gamma', 'beta', 'moving_mean', 'moving_variance']);
    const { path } = await writeKeras('resnet.h5', layers);
    resnet.dispose();
    const before = weightsOf(model, 'block1_conv1');
    expect(layers.map((l) => l.name).slice(0, 2)).toEqual(['conv1_conv', 'conv1_bn']);
    await expect(loadKerasWeights(model, path)).rejects.toThrow(
      `${path}: no layer of this file matches the model's backbone (file layers: ${layers.map((l) => l.name).join(', ')}; ` +
        'model: block1_conv1, block1_conv2, block2_conv1, block2_conv2, block3_conv1, block3_conv2, block3_conv3, ' +
        'block4_conv1, … (13 in all))',
    );
    weightsOf(model, 'block1_conv1').forEach((w, i) => expect(sameBits(w, before[i]!)).toBe(true));
  });

  it('rejects a file that is not HDF5, a truncated one and a missing one', async () => {
    const before = weightsOf(model, 'block1_conv1');
    const notHdf5 = join(dir, 'model.json.h5');
    await writeFile(notHdf5, '{"format": "layers-model"}');
    await expect(loadKerasWeights(model, notHdf5)).rejects.toThrow(`${notHdf5}: not an HDF5 file`);

    const narrow = tinyVgg(4);
    const { path: whole } = await writeKeras(
      'whole.h5',
      vggSpec(narrow, (n) => [`${n}/kernel:0`, `${n}/bias:0`]),
    );
    narrow.dispose();
    const bytes = await readFile(whole);
    const truncated = join(dir, 'truncated.h5');
    await writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expect(loadKerasWeights(model, truncated)).rejects.toThrow(
      `${truncated}: cannot read the HDF5 file: the file is truncated (${Math.floor(bytes.length / 2)} of ${bytes.length} bytes); download it again`,
    );

    const missing = join(dir, 'nowhere.h5');
    await expect(loadKerasWeights(model, missing)).rejects.toThrow(`${missing}: cannot open (no such file)`);
    await expect(loadKerasWeights(model, dir)).rejects.toThrow(`${dir}: cannot open (a folder, not a file)`);
    weightsOf(model, 'block1_conv1').forEach((w, i) => expect(sameBits(w, before[i]!)).toBe(true));
  });
});

describe.skipIf(!hasH5py)('Keras layouts and partial files (needs /usr/bin/python3 with h5py)', () => {
  it('reads a full model file (model_weights), ignoring the top layers the model lacks', async () => {
    const model = tinyVgg(4);
    const layers = [
      ...vggSpec(model, (n) => [`${n}/kernel:0`, `${n}/bias:0`]),
      { name: 'flatten', weights: [] },
      {
        name: 'fc1',
        weights: [
          { name: 'fc1/kernel:0', shape: [4, 3] },
          { name: 'fc1/bias:0', shape: [3] },
        ],
      },
    ];
    const { path, values } = await writeKeras('full.h5', layers, { layout: 'model_weights' });
    const result = await loadKerasWeights(model, path);
    expect(result.loaded).toHaveLength(13);
    expect(result.ignored).toEqual(['fc1']);
    for (const name of result.loaded)
      weightsOf(model, name).forEach((w, i) => expect(sameBits(w, values.get(name)![i]!)).toBe(true));
    model.dispose();
  });

  it('joins chunked layer_names attributes and reads float64 datasets', async () => {
    const model = tinyVgg(4);
    const layers = vggSpec(model, (n) => [`${n}/kernel:0`, `${n}/bias:0`]).map((l) => ({
      ...l,
      weights: l.weights.map((w) => ({ ...w, dtype: 'f8' as const })),
    }));
    const { path, values } = await writeKeras('chunked.h5', layers, { chunks: 3 });
    const read = await readKerasWeights(path);
    expect([...read.keys()]).toHaveLength(13);
    const result = await loadKerasWeights(model, path);
    expect(result.loaded).toHaveLength(13);
    for (const name of result.loaded)
      weightsOf(model, name).forEach((w, i) => expect(sameBits(w, values.get(name)![i]!)).toBe(true));
    model.dispose();
  });

  it("reads Keras 3's .weights.h5 layout (layers/<name>/vars/0, 1)", async () => {
    const model = tinyVgg(4);
    const layers = vggSpec(model, () => ['0', '1']).filter((l) => l.weights.length);
    const { path, values } = await writeKeras('keras3.weights.h5', layers, { layout: 'keras3' });
    const result = await loadKerasWeights(model, path);
    expect(result.loaded).toHaveLength(13);
    for (const name of result.loaded)
      weightsOf(model, name).forEach((w, i) => expect(sameBits(w, values.get(name)![i]!)).toBe(true));
    model.dispose();
  });

  it('rejects a file that lacks some backbone layers, naming them, and sets nothing', async () => {
    const model = tinyVgg(4);
    const layers = vggSpec(model, (n) => [`${n}/kernel:0`, `${n}/bias:0`]).filter(
      (l) => !l.name.startsWith('block5'),
    );
    const { path } = await writeKeras('partial.h5', layers);
    const before = weightsOf(model, 'block1_conv1');
    await expect(loadKerasWeights(model, path)).rejects.toThrow(
      `${path}: the file lacks 3 of the model's 13 vgg16 backbone layers: block5_conv1, block5_conv2, block5_conv3`,
    );
    weightsOf(model, 'block1_conv1').forEach((w, i) => expect(sameBits(w, before[i]!)).toBe(true));
    model.dispose();
  });

  it('rejects a layer with a different number of weights, and a backbone the model lacks', async () => {
    const model = tinyVgg(4);
    const layers = vggSpec(model, (n) => [`${n}/kernel:0`, `${n}/bias:0`]).map((l) =>
      l.name === 'block2_conv1' ? { ...l, weights: l.weights.slice(0, 1) } : l,
    );
    const { path } = await writeKeras('nobias.h5', layers);
    await expect(loadKerasWeights(model, path)).rejects.toThrow(
      `${path}: layer block2_conv1 has 1 weights in the file (kernel) but 2 in the model (kernel, bias)`,
    );
    await expect(loadKerasWeights(model, path, { backbone: 'resnet50' })).rejects.toThrow(
      `${path}: the model has no resnet50 layers named as Keras names them`,
    );
    model.dispose();
  });

  it('loads ResNet conv and BatchNorm weights by name whatever their order in the file', async () => {
    const model = tinyResnet();
    const order = ['moving_variance', 'gamma', 'moving_mean', 'beta'];
    const layers = resnetSpec(model, order);
    const { path, values } = await writeKeras('resnet_shuffled.h5', layers, { seed: 7 });
    const result = await loadKerasWeights(model, path, { backbone: 'resnet50' });
    expect(result.loaded.sort()).toEqual(layers.map((l) => l.name).sort());
    // tfjs keeps BatchNormalization weights as gamma, beta, moving_mean, moving_variance.
    const bn = weightsOf(model, 'conv1_bn');
    const file = values.get('conv1_bn')!;
    ['gamma', 'beta', 'moving_mean', 'moving_variance'].forEach((role, i) =>
      expect(sameBits(bn[i]!, file[order.indexOf(role)]!), role).toBe(true),
    );
    const conv = weightsOf(model, 'conv2_block1_1_conv');
    conv.forEach((w, i) => expect(sameBits(w, values.get('conv2_block1_1_conv')![i]!)).toBe(true));

    // A ResNet-50 bottleneck's shapes in a model without bottlenecks (taken for a ResNet-18).
    const bottleneck = layers.map((l) =>
      l.name === 'conv2_block1_1_conv'
        ? { ...l, weights: [{ ...l.weights[0]!, shape: [3, 3, 4, 6] }, l.weights[1]!] }
        : l,
    );
    const { path: r50 } = await writeKeras('resnet50_like.h5', bottleneck);
    await expect(loadKerasWeights(model, r50)).rejects.toThrow(
      `${r50}: layer conv2_block1_1_conv kernel is [3,3,4,6] in the file but [1,1,4,6] in the model ` +
        '(Keras publishes no ResNet-18 ImageNet weights; its ResNet50 file fits only ResNet-50 models)',
    );
    model.dispose();
  });

  const resnetIds = MODEL_IDS.filter((id) => /resnet|deeplabv3/.test(id));
  it.skipIf(resnetIds.length === 0)('loads a ResNet-named file into the registry ResNet models', async () => {
    for (const id of resnetIds) {
      const spec = getModelSpec(id);
      const model = spec.build({ numClasses: 3, inputSize: spec.sizeMultiple * 2, seed: 1 });
      try {
        const backbone = model.layers.filter(
          (l) => /^conv1_(conv|bn)$|^conv[2-5]_block\d+_[0-3]_(conv|bn)$/.test(l.name) && l.weights.length,
        );
        const layers = resnetSpec(model, ['gamma', 'beta', 'moving_mean', 'moving_variance']).filter((l) =>
          backbone.some((b) => b.name === l.name),
        );
        const { path, values } = await writeKeras(`${id}.h5`, layers, { seed: 3 });
        const result = await loadKerasWeights(model, path);
        expect(result.loaded.length).toBe(backbone.length);
        for (const name of result.loaded)
          weightsOf(model, name).forEach((w, i) => expect(sameBits(w, values.get(name)![i]!)).toBe(true));
        await rm(path);
      } finally {
        model.dispose();
      }
    }
  });
});

describe.skipIf(!hasH5py)('train() with backboneWeights (needs /usr/bin/python3 with h5py)', () => {
  const settings = {
    model: 'unet-vgg16',
    inputSize: 32,
    epochs: 1,
    batchSize: 5,
    valSplit: null,
    backend: 'cpu',
  } as const;

  it('sets the backbone before the first checkpoint', async () => {
    const built = getModelSpec('unet-vgg16').build({ numClasses: 21, inputSize: 32, seed: 1 });
    const layers = vggSpec(built, (n) => [`${n}_W_1:0`, `${n}_b_1:0`]);
    built.dispose();
    const { path, values } = await writeKeras('train_vgg16.h5', layers, { seed: 5 });
    const job = vocMiniJob({ ...settings, backboneWeights: path }, join(dir, 'run-ok'));
    // Cancelled before the first batch: `last` is the epoch-0 checkpoint.
    const outcome = await train(job, { progress: () => {}, cancelled: () => true, backend: 'cpu' });
    expect(outcome.status).toBe('cancelled');
    const { model } = await loadCheckpoint(join(job.runDir, 'checkpoints', 'last'));
    for (const name of ['block1_conv1', 'block5_conv3'])
      weightsOf(model, name).forEach((w, i) => expect(sameBits(w, values.get(name)![i]!), name).toBe(true));
    model.dispose();
    await rm(path);
  }, 60_000);

  it('fails the run with the error in state.json when the file does not fit', async () => {
    const narrow = tinyVgg(4);
    const { path } = await writeKeras(
      'train_narrow.h5',
      vggSpec(narrow, (n) => [`${n}/kernel:0`, `${n}/bias:0`]),
    );
    narrow.dispose();
    const job = vocMiniJob({ ...settings, backboneWeights: path }, join(dir, 'run-bad'));
    const message = `${path}: layer block1_conv1 kernel is [3,3,3,4] in the file but [3,3,3,64] in the model`;
    await expect(train(job, { progress: () => {}, cancelled: () => false, backend: 'cpu' })).rejects.toThrow(
      message,
    );
    const state = JSON.parse(await readFile(join(job.runDir, 'state.json'), 'utf8')) as RunState;
    expect(state).toMatchObject({ status: 'failed', error: message });
    expect(existsSync(join(job.runDir, 'checkpoints', 'last', 'model.json'))).toBe(false);

    const relative = vocMiniJob({ ...settings, backboneWeights: 'weights.h5' }, join(dir, 'run-relative'));
    await expect(
      train(relative, { progress: () => {}, cancelled: () => false, backend: 'cpu' }),
    ).rejects.toThrow("backbone weights must be given as the absolute path of a .h5 file; got 'weights.h5'");
  }, 60_000);
});

describe('segscope train --backbone-weights', () => {
  it('refuses a missing file and --resume before starting an engine', async () => {
    const missing = join(dir, 'missing.h5');
    await expect(
      trainCommand(['--dataset', dir, '--model', 'unet-vgg16', '--backbone-weights', missing]),
    ).rejects.toThrow(`--backbone-weights: ${missing} is not a file`);
    await expect(trainCommand(['--resume', dir, '--backbone-weights', missing])).rejects.toThrow(
      '--backbone-weights applies to a new run, not to --resume',
    );
  });
});

describe('downloadKerasWeights', () => {
  it('knows the official URLs', () => {
    expect(KERAS_WEIGHTS.vgg16.url).toBe(
      'https://storage.googleapis.com/tensorflow/keras-applications/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5',
    );
    expect(KERAS_WEIGHTS.resnet50.url).toBe(
      'https://storage.googleapis.com/tensorflow/keras-applications/resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5',
    );
  });

  it('fails offline with a clear message and leaves no file', async () => {
    const dest = join(dir, 'dl', 'vgg16.h5');
    await expect(downloadKerasWeights('vgg16', dest, () => undefined, { timeoutMs: 3000 })).rejects.toThrow(
      /^cannot download the vgg16 weights from https:\/\/storage\.googleapis\.com\/tensorflow\/keras-applications\/vgg16\/vgg16_weights_tf_dim_ordering_tf_kernels_notop\.h5: (network error|no answer).*offline\?\)\. Without internet, download vgg16_weights_tf_dim_ordering_tf_kernels_notop\.h5 on another machine/,
    );
    expect(existsSync(dest)).toBe(false);
  });

  describe('from a local server', () => {
    const body = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7) % 256));
    let server: Server;
    let base: string;
    beforeAll(async () => {
      server = createServer((req, res) => {
        if (req.url === '/short') {
          res.writeHead(200, { 'content-length': String(body.length) });
          res.write(body.subarray(0, 1000), () => res.destroy());
          return;
        }
        res.writeHead(200, { 'content-length': String(body.length) });
        res.end(body);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('reports progress and writes the file whole', async () => {
      const dest = join(dir, 'dl2', 'weights.h5');
      const seen: { received: number; total: number | null }[] = [];
      const md5 = createHash('md5').update(body).digest('hex');
      const result = await downloadKerasWeights('vgg16', dest, (p) => seen.push(p), {
        url: `${base}/ok`,
        md5,
      });
      expect(result).toEqual({ path: dest, bytes: body.length });
      expect((await readFile(dest)).equals(body)).toBe(true);
      expect(seen.at(-1)).toEqual({ received: body.length, total: body.length });
      expect(seen.every((p, i) => i === 0 || p.received >= seen[i - 1]!.received)).toBe(true);
      expect(await readdir(join(dir, 'dl2'))).toEqual(['weights.h5']);
    });

    it('rejects a wrong MD5 and a short transfer without leaving a file', async () => {
      const dest = join(dir, 'dl3', 'weights.h5');
      await expect(downloadKerasWeights('resnet50', dest, undefined, { url: `${base}/ok` })).rejects.toThrow(
        `not ${KERAS_WEIGHTS.resnet50.md5} (damaged in transit?)`,
      );
      await expect(
        downloadKerasWeights('resnet50', dest, undefined, {
          url: `${base}/short`,
          md5: null,
          timeoutMs: 3000,
        }),
      ).rejects.toThrow(/cannot download the resnet50 weights from http:\/\/127\.0\.0\.1:\d+\/short: /);
      expect(await readdir(join(dir, 'dl3'))).toEqual([]);
    });
  });
});
