// ImageNet backbone weights from the Keras applications `.h5` files (VGG16, ResNet50), read with h5wasm
// and set on a tfjs model layer by layer, by name. Nothing is set unless the whole file fits the model's
// backbone. Engine process.
import { open } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { BACKBONES, RESNET_BOTTLENECK_LAYER, type BackboneId } from '../../../shared/modelCatalog';

/** One weight of a layer as stored in the file. */
export interface KerasWeight {
  /** The name as the file gives it, e.g. `block1_conv1/kernel:0` or `block1_conv1_W_1:0`. */
  name: string;
  /** The canonical role: `kernel`, `bias`, `gamma`, `beta`, `moving_mean`, `moving_variance`, or the name. */
  role: string;
  shape: number[];
  values: Float32Array;
}

/** Which Keras naming the model's backbone follows. ResNet18 has no Keras file but shares ResNet's names. */
export type KerasBackbone = BackboneId;

export interface LoadKerasOptions {
  /** The model's backbone; inferred from the model's layer names when left out. */
  backbone?: KerasBackbone;
}

export interface LoadKerasResult {
  /** Model layers whose weights now come from the file, in the file's order. */
  loaded: string[];
  /** Layers of the file with weights that the model lacks (a full VGG16's fc1, fc2, predictions…). */
  ignored: string[];
}

/** Layer names a Keras file sets on each backbone (the model facts' `kerasLayer`). */
function backbonePattern(backbone: KerasBackbone): RegExp {
  return BACKBONES[backbone].kerasLayer;
}

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** True when the file starts with the HDF5 signature (at 0, or after a user block of 512·2ⁿ bytes). */
async function hasHdf5Signature(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const buf = new Uint8Array(8);
    for (let offset = 0; offset + 8 <= size; offset = offset === 0 ? 512 : offset * 2) {
      const { bytesRead } = await handle.read(buf, 0, 8, offset);
      if (bytesRead === 8 && HDF5_SIGNATURE.every((b, i) => buf[i] === b)) return true;
      if (offset >= 1 << 20) break;
    }
    return false;
  } finally {
    await handle.close();
  }
}

/** The deepest line of an HDF5 error stack, e.g. `truncated file: eof = 3000, …`. */
function hdf5Reason(err: unknown): string {
  const text = String((err as Error)?.message ?? err);
  const truncated = /truncated file: eof = (\d+).*?stored_eof = (\d+)/.exec(text);
  if (truncated) return `the file is truncated (${truncated[1]} of ${truncated[2]} bytes); download it again`;
  const lines = text.split('\n').filter((l) => /#\d+:/.test(l));
  const last = lines[lines.length - 1];
  const reason = last ? last.replace(/^.*\):\s*/, '') : text.split('\n')[0];
  return reason?.trim() || 'unknown HDF5 error';
}

/** A string attribute's values: fixed-length byte strings are decoded and their NUL padding dropped. */
export function decodeNames(value: unknown): string[] {
  const one = (v: unknown): string => {
    if (typeof v === 'string') return v.replace(/\0+$/, '');
    if (v instanceof Uint8Array) return new TextDecoder().decode(v).replace(/\0+$/, '');
    throw new Error(`expected a string, got ${typeof v}`);
  };
  if (value === null || value === undefined) return [];
  if (typeof value === 'string' || value instanceof Uint8Array) return [one(value)];
  // An empty list is saved by Keras as an empty float array.
  if (ArrayBuffer.isView(value)) {
    if ((value as unknown as ArrayLike<number>).length === 0) return [];
    throw new Error('expected strings, got numbers');
  }
  if (Array.isArray(value)) return value.flat(Infinity).map(one);
  throw new Error(`expected strings, got ${typeof value}`);
}

/**
 * The role of a weight from its name in the file: `kernel`, `bias`, `gamma`, `beta`, `moving_mean`,
 * `moving_variance`, `depthwise_kernel` or `pointwise_kernel`, for Keras 2 names
 * (`conv1_bn/moving_mean:0`) and Keras 1 names (`block1_conv1_W_1:0`, `bn_conv1_running_std:0`); else the
 * name without its path and `:0`.
 */
export function weightRole(layer: string, name: string): string {
  const base = (name.split('/').pop() ?? name).replace(/:\d+$/, '');
  const roles = [
    'kernel',
    'bias',
    'gamma',
    'beta',
    'moving_mean',
    'moving_variance',
    'depthwise_kernel',
    'pointwise_kernel',
  ];
  const plain = base.replace(/_\d+$/, '');
  if (roles.includes(base)) return base;
  if (roles.includes(plain)) return plain;
  // Keras 1: `<layer>_W_1`, `<layer>_b_1`, `<layer>_running_mean_1` …
  const suffix = base.startsWith(`${layer}_`) ? base.slice(layer.length + 1).replace(/_\d+$/, '') : plain;
  const keras1: Record<string, string> = {
    W: 'kernel',
    b: 'bias',
    gamma: 'gamma',
    beta: 'beta',
    running_mean: 'moving_mean',
    running_std: 'moving_variance',
  };
  return keras1[suffix] ?? base;
}

/** The layer a weight belongs to: the path segment before its own name, else the group it sits in. */
function owningLayer(group: string, name: string): string {
  const parts = name.split('/');
  return parts.length >= 2 ? parts[parts.length - 2]! : group;
}

type H5 = typeof import('h5wasm/node').default;
type H5Group = InstanceType<H5['Group']>;
type H5Dataset = InstanceType<H5['Dataset']>;

let h5Ready: Promise<H5> | null = null;

/** h5wasm, loaded on first use, with HDF5 errors thrown as exceptions rather than printed. */
function h5wasm(): Promise<H5> {
  h5Ready ??= import('h5wasm/node').then(async ({ default: h5 }) => {
    const module = await h5.ready;
    module.activate_throwing_error_handler();
    return h5;
  });
  return h5Ready;
}

/** A string-list attribute, joining Keras's chunks `name0`, `name1`, … when it was too long for one. */
function namesAttr(node: H5Group, name: string): string[] | null {
  const attrs = node.attrs;
  if (attrs[name]) return decodeNames(attrs[name].value);
  if (!attrs[`${name}0`]) return null;
  const out: string[] = [];
  for (let i = 0; attrs[`${name}${i}`]; i++) out.push(...decodeNames(attrs[`${name}${i}`]!.value));
  return out;
}

function toFloat32(value: unknown): Float32Array | null {
  if (value instanceof Float32Array) return value;
  if (value instanceof Float64Array) return Float32Array.from(value);
  return null;
}

function readDataset(
  h5: H5,
  file: string,
  node: unknown,
  where: string,
): { shape: number[]; values: Float32Array } {
  if (!(node instanceof h5.Dataset)) throw new Error(`${file}: ${where} is missing or not a dataset`);
  const dataset = node as H5Dataset;
  const shape = dataset.shape ?? [];
  const values = toFloat32(dataset.value);
  if (!values) throw new Error(`${file}: ${where} holds ${String(dataset.dtype)}, not float32 or float64`);
  return { shape, values };
}

/** The Keras 2 layout (`layer_names` / `weight_names` attributes), flat or under `model_weights`. */
function readLegacyLayout(h5: H5, file: string, root: H5Group, out: Map<string, KerasWeight[]>): void {
  const layers = namesAttr(root, 'layer_names') ?? [];
  for (const layer of layers) {
    const group = root.get(layer);
    if (!(group instanceof h5.Group)) throw new Error(`${file}: layer ${layer} is listed but has no group`);
    for (const name of namesAttr(group, 'weight_names') ?? []) {
      const { shape, values } = readDataset(h5, file, group.get(name), `layer ${layer} weight ${name}`);
      const owner = owningLayer(layer, name);
      const list = out.get(owner) ?? [];
      list.push({ name, role: weightRole(owner, name), shape, values });
      out.set(owner, list);
    }
  }
}

/** The Keras 3 `.weights.h5` layout: `layers/<name>/vars/0, 1, …`, nested models under their own `layers`. */
function readKeras3Layout(h5: H5, file: string, layers: H5Group, out: Map<string, KerasWeight[]>): void {
  for (const layer of layers.keys()) {
    const group = layers.get(layer);
    if (!(group instanceof h5.Group)) continue;
    const vars = group.get('vars');
    if (vars instanceof h5.Group) {
      const keys = vars.keys().sort((a, b) => Number(a) - Number(b));
      if (keys.length) {
        out.set(
          layer,
          keys.map((k) => ({
            name: `${layer}/vars/${k}`,
            role: k,
            ...readDataset(h5, file, vars.get(k), `layer ${layer} variable ${k}`),
          })),
        );
      }
    }
    const nested = group.get('layers');
    if (nested instanceof h5.Group) readKeras3Layout(h5, file, nested, out);
  }
}

/**
 * Reads the weights of a Keras `.h5` file: layer name → its weights in the file's order, for layers that
 * have weights. Handles the weights-only layout of the `*_notop.h5` files (`layer_names` at the root), a
 * full model file (the same under `model_weights`), and Keras 3's `.weights.h5`.
 *
 * @throws an Error naming the file: missing, not HDF5, truncated, or not laid out as Keras weights
 */
export async function readKerasWeights(path: string): Promise<Map<string, KerasWeight[]>> {
  let isHdf5: boolean;
  try {
    isHdf5 = await hasHdf5Signature(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why: Record<string, string> = {
      ENOENT: 'no such file',
      EACCES: 'permission denied',
      EISDIR: 'a folder, not a file',
    };
    throw new Error(`${path}: cannot open (${(code && why[code]) ?? code ?? (err as Error).message})`, {
      cause: err,
    });
  }
  if (!isHdf5) throw new Error(`${path}: not an HDF5 file`);
  const h5 = await h5wasm();
  let file: InstanceType<H5['File']>;
  try {
    file = new h5.File(path, 'r');
  } catch (err) {
    throw new Error(`${path}: cannot read the HDF5 file: ${hdf5Reason(err)}`, { cause: err });
  }
  try {
    const out = new Map<string, KerasWeight[]>();
    const modelWeights = file.get('model_weights');
    const keras3 = file.get('layers');
    if (namesAttr(file, 'layer_names')) readLegacyLayout(h5, path, file, out);
    else if (modelWeights instanceof h5.Group && namesAttr(modelWeights, 'layer_names'))
      readLegacyLayout(h5, path, modelWeights, out);
    else if (keras3 instanceof h5.Group) readKeras3Layout(h5, path, keras3, out);
    else
      throw new Error(
        `${path}: not a Keras weights file (no layer_names attribute at the root or in model_weights, no layers group)`,
      );
    return out;
  } catch (err) {
    if ((err as Error).message?.startsWith(`${path}: `)) throw err;
    throw new Error(`${path}: cannot read the HDF5 file: ${hdf5Reason(err)}`, { cause: err });
  } finally {
    file.close();
  }
}

/** Every layer of the model, sub-models' layers included, by name. */
function layersByName(model: tfl.LayersModel): Map<string, tfl.layers.Layer> {
  const out = new Map<string, tfl.layers.Layer>();
  const walk = (layers: tfl.layers.Layer[]): void => {
    for (const layer of layers) {
      const nested = (layer as unknown as { layers?: tfl.layers.Layer[] }).layers;
      if (Array.isArray(nested)) walk(nested);
      else out.set(layer.name, layer);
    }
  };
  walk(model.layers);
  return out;
}

/**
 * The backbone whose Keras names the model's layers follow, or null. A ResNet without bottleneck blocks
 * (no `convN_blockM_3_conv`) is taken for a ResNet-18.
 */
export function inferBackbone(layerNames: readonly string[]): KerasBackbone | null {
  if (layerNames.some((n) => BACKBONES.vgg16.kerasLayer.test(n))) return 'vgg16';
  if (layerNames.some((n) => BACKBONES.resnet50.kerasLayer.test(n)))
    return layerNames.some((n) => RESNET_BOTTLENECK_LAYER.test(n)) ? 'resnet50' : 'resnet18';
  return null;
}

/** Keras publishes ImageNet weights for ResNet-50 but not ResNet-18, whose blocks differ. */
const RESNET18_HINT =
  ' (Keras publishes no ResNet-18 ImageNet weights; its ResNet50 file fits only ResNet-50 models)';

/** Model-side name of a weight: `kernel`, `bias`, `gamma`, … (tfjs scopes variables `<layer>/<name>`). */
function modelRole(variable: tfl.LayerVariable): string {
  const name = (variable as unknown as { originalName?: string }).originalName ?? variable.name;
  return (name.split('/').pop() ?? name).replace(/_\d+$/, '');
}

const fmt = (shape: readonly (number | null)[]) => `[${shape.join(',')}]`;

function list(names: readonly string[], max = 8): string {
  return names.length > max
    ? `${names.slice(0, max).join(', ')}, … (${names.length} in all)`
    : names.join(', ') || 'none';
}

/**
 * The file's weights for one model layer in the model's order: by role when every role of the model's
 * weights appears once in the file, else in the file's order (Keras 3 files name weights by index).
 */
function orderFor(file: string, layer: tfl.layers.Layer, weights: KerasWeight[], hint = ''): KerasWeight[] {
  const params = layer.weights;
  const roles = params.map((p) => modelRole(p));
  if (weights.length !== params.length) {
    throw new Error(
      `${file}: layer ${layer.name} has ${weights.length} weights in the file (${weights.map((w) => w.role).join(', ')}) ` +
        `but ${params.length} in the model (${roles.join(', ')})${hint}`,
    );
  }
  const byRole = new Map(weights.map((w) => [w.role, w]));
  const ordered =
    byRole.size === weights.length && roles.every((r) => byRole.has(r))
      ? roles.map((r) => byRole.get(r)!)
      : weights;
  ordered.forEach((w, i) => {
    const expected = params[i]!.shape;
    if (w.shape.length !== expected.length || w.shape.some((d, k) => d !== expected[k])) {
      throw new Error(
        `${file}: layer ${layer.name} ${roles[i]} is ${fmt(w.shape)} in the file but ${fmt(expected)} in the model${hint}`,
      );
    }
  });
  return ordered;
}

/**
 * Sets the model's layers from a Keras weights file, by layer name. Every layer of the file that the
 * model has must match it in number, order and shape of weights, and the file must hold every backbone
 * layer of the model (VGG16's `block1_conv1` … `block5_conv3`; ResNet's `conv1_conv`, `conv1_bn`,
 * `convN_blockM_K_conv/bn`). All checks run before any weight is set, so on error the model is unchanged.
 *
 * @throws an Error that names the file and the problem
 */
export async function loadKerasWeights(
  model: tfl.LayersModel,
  path: string,
  options: LoadKerasOptions = {},
): Promise<LoadKerasResult> {
  const fileWeights = await readKerasWeights(path);
  const layers = layersByName(model);
  const withWeights = [...layers.values()].filter((l) => l.weights.length > 0).map((l) => l.name);
  const backbone = options.backbone ?? inferBackbone(withWeights);
  const backboneLayers = backbone ? withWeights.filter((n) => backbonePattern(backbone).test(n)) : [];
  if (options.backbone && backboneLayers.length === 0) {
    throw new Error(
      `${path}: the model has no ${options.backbone} layers named as Keras names them (model: ${list(withWeights)})`,
    );
  }

  const fileLayers = [...fileWeights.keys()];
  const matched = fileLayers.filter((n) => layers.get(n)?.weights.length);
  if (matched.length === 0) {
    throw new Error(
      `${path}: no layer of this file matches the model's backbone ` +
        `(file layers: ${list(fileLayers)}; model: ${list(backboneLayers.length ? backboneLayers : withWeights)})`,
    );
  }
  const missing = backboneLayers.filter((n) => !fileWeights.has(n));
  if (missing.length) {
    throw new Error(
      `${path}: the file lacks ${missing.length} of the model's ${backboneLayers.length} ${backbone} backbone layers: ` +
        `${list(missing)}`,
    );
  }

  const plan = matched.map((name) => {
    const layer = layers.get(name)!;
    return {
      layer,
      weights: orderFor(path, layer, fileWeights.get(name)!, backbone === 'resnet18' ? RESNET18_HINT : ''),
    };
  });
  for (const { layer, weights } of plan) {
    const tensors = weights.map((w) => tf.tensor(w.values, w.shape, 'float32'));
    try {
      layer.setWeights(tensors);
    } finally {
      tf.dispose(tensors);
    }
  }
  return { loaded: matched, ignored: fileLayers.filter((n) => !layers.get(n)?.weights.length) };
}
