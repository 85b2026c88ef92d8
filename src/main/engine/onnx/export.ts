// Converts a Segscope tfjs-layers model (every registry architecture, custom layers included) into an
// ONNX graph: NHWC input and output as the tfjs model has them, one Transpose after the input and one
// before the output, and NCHW inside, the layout ONNX Runtime's CPU kernels (MLAS) run fastest. Engine
// process.
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  DataType,
  encodeModel,
  type AttrValue,
  type OnnxInitializer,
  type OnnxModel,
  type OnnxNode,
} from './protobuf';

/** ONNX opset written: 17 is the newest that Debian's onnx 1.12 checker and ONNX Runtime 1.30 both know. */
export const ONNX_OPSET = 17;

/** Names of the graph's input and output. */
export const ONNX_INPUT = 'input';
export const ONNX_OUTPUT = 'logits';

interface LayerConfig {
  name: string;
  className: string;
  config: Record<string, unknown>;
  inboundNodes: [string, number, number, unknown][][];
}

interface ModelConfig {
  layers: LayerConfig[];
  inputLayers: [string, number, number][];
  outputLayers: [string, number, number][];
}

/**
 * A tfjs tensor as it lives in the ONNX graph: `nchw` for feature maps, `vector` for the `[N, C]` output
 * of global pooling, kept as `[N, C, 1, 1]` so that reshaping it to Keras's `[N, 1, 1, C]` costs nothing.
 */
interface Value {
  name: string;
  layout: 'nchw' | 'vector';
  /** The Keras shape without the batch: `[H, W, C]` or `[C]`. */
  shape: number[];
}

const ints = (value: readonly number[]): AttrValue => ({ kind: 'ints', value });
const int = (value: number): AttrValue => ({ kind: 'int', value });
const float = (value: number): AttrValue => ({ kind: 'float', value });
const str = (value: string): AttrValue => ({ kind: 'string', value });

function pair(v: unknown, what: string): [number, number] {
  const a = Array.isArray(v) ? v : [v, v];
  const [x, y] = a as number[];
  if (!Number.isInteger(x) || !Number.isInteger(y)) throw new Error(`${what}: expected two integers`);
  return [x!, y!];
}

/** TensorFlow's 'same' padding of one axis: [before, after]. */
function samePad(size: number, kernel: number, stride: number, dilation = 1): [number, number] {
  const eff = (kernel - 1) * dilation + 1;
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + eff - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** Values of `t` with its axes permuted by `perm` (a plain transpose on the host, done once at export). */
function permute(values: Float32Array, shape: number[], perm: number[]): Float32Array {
  const out = new Float32Array(values.length);
  const outShape = perm.map((p) => shape[p]!);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const permStrides = perm.map((p) => strides[p]!);
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let k = 0; k < rank; k++) src += idx[k]! * permStrides[k]!;
    out[o] = values[src]!;
    for (let k = rank - 1; k >= 0; k--) {
      if (++idx[k]! < outShape[k]!) break;
      idx[k] = 0;
    }
  }
  return out;
}

function floatBytes(values: Float32Array): Uint8Array {
  // Little-endian hosts only (every platform Node and ONNX Runtime ship for).
  return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
}

function int64Bytes(values: readonly number[]): Uint8Array {
  const out = new BigInt64Array(values.map((v) => BigInt(v)));
  return new Uint8Array(out.buffer);
}

/** What goes into the file's `metadata_props` besides the graph. */
export interface ExportMetadata {
  [key: string]: string;
}

class Builder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxInitializer[] = [];
  private counter = 0;

  unique(base: string): string {
    return `${base}__${this.counter++}`;
  }

  node(
    op: string,
    name: string,
    inputs: string[],
    attrs?: Record<string, AttrValue>,
    output?: string,
  ): string {
    const out = output ?? this.unique(`${name}_${op}`);
    this.nodes.push({ op, name: this.unique(name), inputs, outputs: [out], attrs });
    return out;
  }

  floatInit(name: string, dims: number[], values: Float32Array): string {
    this.initializers.push({ name, dims, dataType: DataType.FLOAT, raw: floatBytes(values) });
    return name;
  }

  int64Init(name: string, values: number[]): string {
    this.initializers.push({
      name,
      dims: [values.length],
      dataType: DataType.INT64,
      raw: int64Bytes(values),
    });
    return name;
  }
}

/** The layer's weights as host arrays, in the layer's own order (kernel, bias; gamma, beta, mean, var). */
function weightsOf(model: tfl.LayersModel, layer: string): { shape: number[]; values: Float32Array }[] {
  return model
    .getLayer(layer)
    .getWeights()
    .map((w) => ({
      shape: w.shape,
      values: w.dataSync() as Float32Array,
    }));
}

function activation(b: Builder, layer: string, name: unknown, x: string): string {
  switch (name ?? 'linear') {
    case 'linear':
      return x;
    case 'relu':
      return b.node('Relu', `${layer}_relu`, [x]);
    case 'sigmoid':
      return b.node('Sigmoid', `${layer}_sigmoid`, [x]);
    case 'tanh':
      return b.node('Tanh', `${layer}_tanh`, [x]);
    default:
      throw new Error(`ONNX export: layer ${layer} has activation '${String(name)}', which is not supported`);
  }
}

/** What a converter gets for one layer: the graph so far, the layer, and its converted inputs. */
interface LayerContext {
  b: Builder;
  model: tfl.LayersModel;
  name: string;
  className: string;
  /** The layer's Keras config. */
  c: Record<string, unknown>;
  /** Its inputs, converted. */
  ins: Value[];
  /** The first input. */
  x: Value | undefined;
  /** Records the layer's output `index`. */
  out: (v: Value, index?: number) => void;
  /** `v` when it is a feature map; throws naming the layer otherwise. */
  map: (v: Value | undefined) => Value;
  /** The first input's Keras height, width and channels. */
  h: number | undefined;
  w: number | undefined;
  ch: number | undefined;
  /** The model input's `[H, W, C]`. */
  inputShape: number[];
}

/** Adds one layer of a class to the graph. */
type Converter = (ctx: LayerContext) => void;

/** The graph input, NHWC, turned NCHW once. */
function convertInput(ctx: LayerContext): void {
  const { b, out, inputShape } = ctx;
  const t = b.node('Transpose', 'input_to_nchw', [ONNX_INPUT], { perm: ints([0, 3, 1, 2]) });
  out({ name: t, layout: 'nchw', shape: inputShape });
}

/** Conv2D, AtrousConv2D and Conv2DTranspose: Conv or ConvTranspose with TensorFlow's padding made explicit. */
function convertConv(ctx: LayerContext): void {
  const { b, model, name, className, c, x, out, map, h, w } = ctx;
  const v = map(x);
  const transposed = className === 'Conv2DTranspose';
  const [kh, kw] =
    className === 'AtrousConv2D'
      ? [c.kernelSize as number, c.kernelSize as number]
      : pair(c.kernelSize, `${name}.kernelSize`);
  const [sh, sw] = className === 'AtrousConv2D' ? [1, 1] : pair(c.strides, `${name}.strides`);
  const [dh, dw] =
    className === 'AtrousConv2D'
      ? [c.dilationRate as number, c.dilationRate as number]
      : pair(c.dilationRate ?? 1, `${name}.dilationRate`);
  const padding = className === 'AtrousConv2D' ? 'same' : (c.padding as string);
  if ((c.dataFormat ?? 'channelsLast') !== 'channelsLast') {
    throw new Error(`ONNX export: layer ${name} is not channels-last`);
  }
  const [kernel, bias] = weightsOf(model, name);
  if (!kernel) throw new Error(`ONNX export: layer ${name} has no kernel`);
  const filters = c.filters as number;
  let pads: number[];
  let outH: number;
  let outW: number;
  if (!transposed) {
    const [pt, pb] = padding === 'same' ? samePad(h!, kh, sh, dh) : [0, 0];
    const [pl, pr] = padding === 'same' ? samePad(w!, kw, sw, dw) : [0, 0];
    pads = [pt, pl, pb, pr];
    outH = Math.floor((h! + pt + pb - ((kh - 1) * dh + 1)) / sh) + 1;
    outW = Math.floor((w! + pl + pr - ((kw - 1) * dw + 1)) / sw) + 1;
  } else {
    if (dh !== 1 || dw !== 1) throw new Error(`ONNX export: ${name} is a dilated transposed conv`);
    // tfjs's transposed conv is the gradient of a conv from the larger map: 'same' makes it
    // size·stride with that conv's 'same' padding, 'valid' (size−1)·stride + kernel with none.
    outH = padding === 'same' ? h! * sh : (h! - 1) * sh + kh;
    outW = padding === 'same' ? w! * sw : (w! - 1) * sw + kw;
    const [pt, pb] = padding === 'same' ? samePad(outH, kh, sh) : [0, 0];
    const [pl, pr] = padding === 'same' ? samePad(outW, kw, sw) : [0, 0];
    pads = [pt, pl, pb, pr];
    const natural = [(h! - 1) * sh + kh - pt - pb, (w! - 1) * sw + kw - pl - pr];
    if (natural[0] !== outH || natural[1] !== outW) {
      throw new Error(`ONNX export: ${name}: kernel smaller than the stride is not supported`);
    }
  }
  // tfjs kernels: conv [kh, kw, in, out] → ONNX [out, in, kh, kw]; transposed conv [kh, kw, out, in]
  // → ONNX [in, out, kh, kw].
  const weight = b.floatInit(
    `${name}/kernel`,
    [kernel.shape[3]!, kernel.shape[2]!, kh, kw],
    permute(kernel.values, kernel.shape, [3, 2, 0, 1]),
  );
  const inputs = [v.name, weight];
  if (bias) inputs.push(b.floatInit(`${name}/bias`, [filters], bias.values));
  const attrs: Record<string, AttrValue> = {
    kernel_shape: ints([kh, kw]),
    strides: ints([sh, sw]),
    pads: ints(pads),
  };
  if (!transposed) attrs.dilations = ints([dh, dw]);
  const y = b.node(transposed ? 'ConvTranspose' : 'Conv', name, inputs, attrs);
  out({ name: activation(b, name, c.activation, y), layout: 'nchw', shape: [outH, outW, filters] });
}

/** BatchNormalization at inference: the moving statistics. */
function convertBatchNormalization(ctx: LayerContext): void {
  const { b, model, name, c, x, out, map, ch } = ctx;
  const v = map(x);
  const axis = c.axis as number;
  if (axis !== -1 && axis !== 3) throw new Error(`ONNX export: ${name} normalises axis ${axis}`);
  const weights = weightsOf(model, name);
  const n = ch!;
  const scale = c.scale !== false;
  const center = c.center !== false;
  // tfjs orders them gamma (with `scale`), beta (with `center`), moving mean, moving variance.
  const rest = [...weights];
  const gamma = scale ? rest.shift()!.values : new Float32Array(n).fill(1);
  const beta = center ? rest.shift()!.values : new Float32Array(n);
  const [mean, variance] = rest.map((w) => w.values);
  if (!mean || !variance) throw new Error(`ONNX export: ${name} lacks its moving statistics`);
  const y = b.node(
    'BatchNormalization',
    name,
    [
      v.name,
      b.floatInit(`${name}/gamma`, [n], gamma),
      b.floatInit(`${name}/beta`, [n], beta),
      b.floatInit(`${name}/moving_mean`, [n], mean),
      b.floatInit(`${name}/moving_variance`, [n], variance),
    ],
    { epsilon: float(c.epsilon as number) },
  );
  out({ ...v, name: y });
}

/** A standalone activation. */
function convertActivation(ctx: LayerContext): void {
  const { b, name, c, x, out } = ctx;
  out({ ...x!, name: activation(b, name, c.activation, x!.name) });
}

/** An uncapped ReLU layer. */
function convertReLU(ctx: LayerContext): void {
  const { b, name, c, x, out } = ctx;
  if (c.maxValue != null) throw new Error(`ONNX export: ${name} is a capped ReLU`);
  out({ ...x!, name: b.node('Relu', name, [x!.name]) });
}

/** Dropout: the identity at inference. */
function convertDropout(ctx: LayerContext): void {
  const { x, out } = ctx;
  // Inference only: dropout is the identity.
  out(x!);
}

/** Add of two or more maps. */
function convertAdd(ctx: LayerContext): void {
  const { b, name, ins, out } = ctx;
  let acc = ins[0]!.name;
  for (const other of ins.slice(1)) acc = b.node('Add', name, [acc, other.name]);
  out({ ...ins[0]!, name: acc });
}

/** Concatenation on the channel axis (1 in NCHW). */
function convertConcatenate(ctx: LayerContext): void {
  const { b, name, c, ins, out, map, h, w } = ctx;
  const axis = c.axis as number;
  if (axis !== -1 && axis !== 3) throw new Error(`ONNX export: ${name} concatenates axis ${axis}`);
  ins.forEach(map);
  const y = b.node(
    'Concat',
    name,
    ins.map((i) => i.name),
    { axis: int(1) },
  );
  const total = ins.reduce((s, i) => s + i.shape[2]!, 0);
  out({ name: y, layout: 'nchw', shape: [h!, w!, total] });
}

/** Max and average pooling. */
function convertPooling(ctx: LayerContext): void {
  const { b, name, className, c, x, out, map, h, w, ch } = ctx;
  const v = map(x);
  const [kh, kw] = pair(c.poolSize, `${name}.poolSize`);
  const [sh, sw] = pair(c.strides ?? c.poolSize, `${name}.strides`);
  const same = c.padding === 'same';
  const [pt, pb] = same ? samePad(h!, kh, sh) : [0, 0];
  const [pl, pr] = same ? samePad(w!, kw, sw) : [0, 0];
  const attrs: Record<string, AttrValue> = {
    kernel_shape: ints([kh, kw]),
    strides: ints([sh, sw]),
    pads: ints([pt, pl, pb, pr]),
  };
  // tfjs's average pool divides by the number of real (unpadded) values.
  if (className === 'AveragePooling2D') attrs.count_include_pad = int(0);
  const y = b.node(className === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool', name, [v.name], attrs);
  const oh = Math.floor((h! + pt + pb - kh) / sh) + 1;
  const ow = Math.floor((w! + pl + pr - kw) / sw) + 1;
  out({ name: y, layout: 'nchw', shape: [oh, ow, ch!] });
}

/** Zero padding of height and width. */
function convertZeroPadding2D(ctx: LayerContext): void {
  const { b, name, c, x, out, map, h, w, ch } = ctx;
  const v = map(x);
  const p = c.padding as number[][] | number[] | number;
  const [[t, bt], [l, r]] = (typeof p === 'number'
    ? [
        [p, p],
        [p, p],
      ]
    : Array.isArray(p[0])
      ? p
      : [
          [p[0], p[0]],
          [p[1], p[1]],
        ]) as number[][] as [[number, number], [number, number]];
  const pads = b.int64Init(`${name}/pads`, [0, 0, t, l, 0, 0, bt, r]);
  const y = b.node('Pad', name, [v.name, pads], { mode: str('constant') });
  out({ name: y, layout: 'nchw', shape: [h! + t + bt, w! + l + r, ch!] });
}

/** Nearest or bilinear upsampling by whole factors, as tfjs-layers resizes. */
function convertUpSampling2D(ctx: LayerContext): void {
  const { b, name, c, x, out, map, h, w, ch } = ctx;
  const v = map(x);
  const [fh, fw] = pair(c.size, `${name}.size`);
  const mode = (c.interpolation as string | undefined) ?? 'nearest';
  const scales = b.floatInit(`${name}/scales`, [4], Float32Array.from([1, 1, fh, fw]));
  // tfjs-layers resizes with alignCorners and halfPixelCenters false: source = output / scale.
  const attrs: Record<string, AttrValue> =
    mode === 'bilinear'
      ? { mode: str('linear'), coordinate_transformation_mode: str('asymmetric') }
      : {
          mode: str('nearest'),
          coordinate_transformation_mode: str('asymmetric'),
          nearest_mode: str('floor'),
        };
  const y = b.node('Resize', name, [v.name, '', scales], attrs);
  out({ name: y, layout: 'nchw', shape: [h! * fh, w! * fw, ch!] });
}

/** Global average pooling, kept `[N, C, 1, 1]` (a `vector`). */
function convertGlobalAveragePooling2D(ctx: LayerContext): void {
  const { b, name, c, x, out, map, ch } = ctx;
  const v = map(x);
  if (c.keepDims === true) throw new Error(`ONNX export: ${name} keeps dims`);
  out({ name: b.node('GlobalAveragePool', name, [v.name]), layout: 'vector', shape: [ch!] });
}

/** The one reshape the models use: a pooled vector back to `[1, 1, C]`. */
function convertReshape(ctx: LayerContext): void {
  const { name, c, x, out } = ctx;
  const target = c.targetShape as number[];
  const src = x!;
  const flatTo11 =
    src.layout === 'vector' &&
    target.length === 3 &&
    target[0] === 1 &&
    target[1] === 1 &&
    (target[2] === src.shape[0] || target[2] === -1);
  if (!flatTo11) {
    throw new Error(`ONNX export: ${name} reshapes [${src.shape}] to [${target}], not supported`);
  }
  // [N, C] kept as [N, C, 1, 1] is already Keras's [N, 1, 1, C] in NCHW.
  out({ name: src.name, layout: 'nchw', shape: [1, 1, src.shape[0]!] });
}

/** DeconvNet's pooling that records where each maximum was. */
function convertMaxPoolingWithSwitches2D(ctx: LayerContext): void {
  const { b, name, x, out, map, h, w, ch } = ctx;
  const v = map(x);
  // MaxPool's second output is the flat index of each window's maximum, the first in row-major
  // order on ties, as the switches record it; MaxUnpool puts values back at those indices.
  const pooled = b.unique(`${name}_pooled`);
  const indices = b.unique(`${name}_indices`);
  b.nodes.push({
    op: 'MaxPool',
    name: b.unique(name),
    inputs: [v.name],
    outputs: [pooled, indices],
    attrs: { kernel_shape: ints([2, 2]), strides: ints([2, 2]) },
  });
  out({ name: pooled, layout: 'nchw', shape: [h! / 2, w! / 2, ch!] });
  out({ name: indices, layout: 'nchw', shape: [h!, w!, ch!] }, 1);
}

/** DeconvNet's unpooling to the recorded positions. */
function convertMaxUnpooling2D(ctx: LayerContext): void {
  const { b, name, ins, out, map } = ctx;
  const [vals, where] = [map(ins[0]), map(ins[1])];
  const y = b.node('MaxUnpool', name, [vals.name, where.name], {
    kernel_shape: ints([2, 2]),
    strides: ints([2, 2]),
  });
  out({ name: y, layout: 'nchw', shape: [where.shape[0]!, where.shape[1]!, vals.shape[2]!] });
}

/** One converter per layer class the registry's models use; a class missing here cannot be exported. */
const CONVERTERS: Readonly<Record<string, Converter>> = {
  InputLayer: convertInput,
  Conv2D: convertConv,
  AtrousConv2D: convertConv,
  Conv2DTranspose: convertConv,
  BatchNormalization: convertBatchNormalization,
  Activation: convertActivation,
  ReLU: convertReLU,
  Dropout: convertDropout,
  Add: convertAdd,
  Concatenate: convertConcatenate,
  MaxPooling2D: convertPooling,
  AveragePooling2D: convertPooling,
  ZeroPadding2D: convertZeroPadding2D,
  UpSampling2D: convertUpSampling2D,
  GlobalAveragePooling2D: convertGlobalAveragePooling2D,
  Reshape: convertReshape,
  MaxPoolingWithSwitches2D: convertMaxPoolingWithSwitches2D,
  MaxUnpooling2D: convertMaxUnpooling2D,
};

/**
 * The ONNX model of `model`, a Segscope model mapping `[N, H, W, 3]` to logits `[N, H, W, classes]`.
 * The batch is dynamic (`N`); height and width are the model's own, since its upsampling sizes are fixed.
 * Throws naming the layer when a layer or setting has no translation.
 */
export function exportOnnx(
  model: tfl.LayersModel,
  opts: { producerVersion: string; metadata: ExportMetadata; docString?: string },
): Uint8Array {
  return encodeModel(buildOnnxModel(model, opts));
}

export function buildOnnxModel(
  model: tfl.LayersModel,
  opts: { producerVersion: string; metadata: ExportMetadata; docString?: string },
): OnnxModel {
  const config = model.getConfig() as unknown as ModelConfig;
  if (config.inputLayers.length !== 1 || config.outputLayers.length !== 1) {
    throw new Error('ONNX export: the model must have one input and one output');
  }
  const b = new Builder();
  const values = new Map<string, Value>();
  const key = (layer: string, node: number, index: number) => `${layer}:${node}:${index}`;

  const inputShape = model.inputs[0]!.shape.slice(1) as number[];
  if (inputShape.length !== 3 || inputShape.some((d) => d == null)) {
    throw new Error(`ONNX export: the input must be [batch, height, width, channels]; got [${inputShape}]`);
  }

  for (const layer of config.layers) {
    const { name, className, config: c } = layer;
    const inbound = layer.inboundNodes;
    if (inbound.length > 1) throw new Error(`ONNX export: layer ${name} is applied more than once`);
    const ins = (inbound[0] ?? []).map(([l, n, i]) => {
      const v = values.get(key(l, n, i));
      if (!v) throw new Error(`ONNX export: layer ${name} reads ${l}, which was not converted`);
      return v;
    });
    const x = ins[0];
    const out = (v: Value, index = 0) => values.set(key(name, 0, index), v);
    const map = (v: Value | undefined): Value => {
      if (!v || v.layout !== 'nchw') throw new Error(`ONNX export: layer ${name} expects a feature map`);
      return v;
    };
    const [h, w, ch] = x?.shape ?? [];

    const convert = Object.hasOwn(CONVERTERS, className) ? CONVERTERS[className] : undefined;
    if (!convert) throw new Error(`ONNX export: layer ${name} (${className}) has no ONNX translation`);
    convert({ b, model, name, className, c, ins, x, out, map, h, w, ch, inputShape });
  }

  const [outLayer, outNode, outIndex] = config.outputLayers[0]!;
  const result = values.get(key(outLayer, outNode, outIndex));
  if (!result || result.layout !== 'nchw') throw new Error('ONNX export: the output is not a feature map');
  b.node('Transpose', 'logits_to_nhwc', [result.name], { perm: ints([0, 2, 3, 1]) }, ONNX_OUTPUT);
  const [oh, ow, classes] = result.shape;
  return {
    opset: ONNX_OPSET,
    producerVersion: opts.producerVersion,
    graphName: model.name,
    nodes: b.nodes,
    initializers: b.initializers,
    inputs: [{ name: ONNX_INPUT, dims: ['N', ...inputShape] }],
    outputs: [{ name: ONNX_OUTPUT, dims: ['N', oh!, ow!, classes!] }],
    metadata: opts.metadata,
    docString: opts.docString,
  };
}
