// The small ONNX graphs that compute one convolution, its filter gradient or its input gradient for
// ONNX Runtime, on tfjs's layouts (NHWC activations, [FH, FW, Ci, Co] filters), so that tensors go in and
// out of the wasm heap untouched. Engine process.
import type * as tf from '@tensorflow/tfjs-core';
import { DataType, encodeModel, type AttrValue, type OnnxInitializer, type OnnxNode } from '../onnx/protobuf';

/** The geometry of one 2-D convolution, as tfjs's computeConv2DInfo gives it (NHWC). */
export interface ConvGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  top: number;
  left: number;
  bottom: number;
  right: number;
}

export function geometryOf(info: tf.backend_util.Conv2DInfo): ConvGeometry {
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight,
    dilationWidth: info.dilationWidth,
    top: info.padInfo.top,
    left: info.padInfo.left,
    bottom: info.padInfo.bottom,
    right: info.padInfo.right,
  };
}

/** Activation fused after the bias, as FusedConv2D names it; the graphs compute these two. */
export type FusedActivation = 'linear' | 'relu';

const ints = (value: readonly number[]): AttrValue => ({ kind: 'ints', value });
const int = (value: number): AttrValue => ({ kind: 'int', value });

class Graph {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxInitializer[] = [];
  private next = 0;

  op(op: string, inputs: string[], attrs?: Record<string, AttrValue>): string {
    const out = `v${this.next++}`;
    this.nodes.push({ op, inputs, outputs: [out], name: `${op}_${out}`, attrs });
    return out;
  }

  /** An int64 constant, as Reshape, Pad and Slice take their shapes. */
  int64(values: readonly number[]): string {
    const name = `c${this.next++}`;
    const raw = new Uint8Array(values.length * 8);
    const view = new DataView(raw.buffer);
    values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
    this.initializers.push({ name, dims: [values.length], dataType: DataType.INT64, raw });
    return name;
  }

  /** Renames the value `from` to the graph output `to` (an Identity the optimizer removes). */
  output(from: string, to: string): void {
    this.nodes.push({ op: 'Identity', inputs: [from], outputs: [to], name: `out_${to}` });
  }

  encode(
    inputs: { name: string; dims: number[] }[],
    outputs: { name: string; dims: number[] }[],
  ): Uint8Array {
    return encodeModel({
      opset: 17,
      producerVersion: 'kernel',
      graphName: 'conv',
      nodes: this.nodes,
      initializers: this.initializers,
      inputs,
      outputs,
      metadata: {},
    });
  }
}

const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];
/** [FH, FW, Ci, Co] → [Co, Ci, FH, FW], ONNX Conv's weight layout. */
const HWIO_TO_OIHW = [3, 2, 0, 1];

function isPointwise(g: ConvGeometry): boolean {
  return (
    g.filterHeight === 1 &&
    g.filterWidth === 1 &&
    g.strideHeight === 1 &&
    g.strideWidth === 1 &&
    g.top + g.bottom + g.left + g.right === 0
  );
}

const xDims = (g: ConvGeometry) => [g.batch, g.inHeight, g.inWidth, g.inChannels];
const yDims = (g: ConvGeometry) => [g.batch, g.outHeight, g.outWidth, g.outChannels];
const wDims = (g: ConvGeometry) => [g.filterHeight, g.filterWidth, g.inChannels, g.outChannels];

/**
 * y = act(conv(x, w) + b) with inputs `x` (NHWC), `w` ([FH, FW, Ci, Co]) and optional `b` ([Co]), output
 * `y` (NHWC). A 1×1 conv is one matrix product on the NHWC data; any other goes through ONNX's NCHW Conv,
 * which ONNX Runtime runs on its blocked-layout kernels.
 */
export function forwardGraph(g: ConvGeometry, bias: boolean, activation: FusedActivation): Uint8Array {
  const gr = new Graph();
  let y: string;
  if (isPointwise(g)) {
    const w2 = gr.op('Reshape', ['w', gr.int64([g.inChannels, g.outChannels])]);
    y = gr.op('MatMul', ['x', w2]);
    if (bias) y = gr.op('Add', [y, 'b']);
  } else {
    const xt = gr.op('Transpose', ['x'], { perm: ints(NHWC_TO_NCHW) });
    const wt = gr.op('Transpose', ['w'], { perm: ints(HWIO_TO_OIHW) });
    const yt = gr.op('Conv', bias ? [xt, wt, 'b'] : [xt, wt], {
      kernel_shape: ints([g.filterHeight, g.filterWidth]),
      strides: ints([g.strideHeight, g.strideWidth]),
      dilations: ints([g.dilationHeight, g.dilationWidth]),
      pads: ints([g.top, g.left, g.bottom, g.right]),
    });
    y = gr.op('Transpose', [yt], { perm: ints(NCHW_TO_NHWC) });
  }
  if (activation === 'relu') y = gr.op('Relu', [y]);
  gr.output(y, 'y');
  const inputs = [
    { name: 'x', dims: xDims(g) },
    { name: 'w', dims: wDims(g) },
  ];
  if (bias) inputs.push({ name: 'b', dims: [g.outChannels] });
  return gr.encode(inputs, [{ name: 'y', dims: yDims(g) }]);
}

/**
 * dW with inputs `x` (NHWC) and `dy` (NHWC), output `dw` ([FH, FW, Ci, Co]). Each filter tap's block is
 * one product X(tap)ᵀ · dy, where X(tap) is the padded input shifted by the tap and subsampled by the
 * stride, flattened to [N·OH·OW, Ci]. One tap at a time rather than a whole im2col matrix, so that the
 * scratch is a few copies of the input, not FH·FW of them; the blocks stack in the filter's own order.
 */
export function filterGradGraph(g: ConvGeometry): Uint8Array {
  const gr = new Graph();
  const rows = g.batch * g.outHeight * g.outWidth;
  const dy2 = gr.op('Reshape', ['dy', gr.int64([rows, g.outChannels])]);
  const flat = gr.int64([rows, g.inChannels]);
  let dw: string;
  if (isPointwise(g)) {
    dw = gr.op('Gemm', [gr.op('Reshape', ['x', flat]), dy2], { transA: int(1) });
  } else {
    // Padding after the input only as far as some tap reads; rows no tap reads are never sliced.
    const spanH = (g.outHeight - 1) * g.strideHeight + (g.filterHeight - 1) * g.dilationHeight + 1;
    const spanW = (g.outWidth - 1) * g.strideWidth + (g.filterWidth - 1) * g.dilationWidth + 1;
    const bottom = Math.max(0, spanH - g.top - g.inHeight);
    const right = Math.max(0, spanW - g.left - g.inWidth);
    let xp = 'x';
    if (g.top + g.left + bottom + right > 0) {
      xp = gr.op('Pad', ['x', gr.int64([0, g.top, g.left, 0, 0, bottom, right, 0])]);
    }
    const axes = gr.int64([1, 2]);
    const steps = gr.int64([g.strideHeight, g.strideWidth]);
    const blocks: string[] = [];
    for (let a = 0; a < g.filterHeight; a++) {
      for (let b = 0; b < g.filterWidth; b++) {
        const h0 = a * g.dilationHeight;
        const w0 = b * g.dilationWidth;
        const starts = gr.int64([h0, w0]);
        const ends = gr.int64([
          h0 + (g.outHeight - 1) * g.strideHeight + 1,
          w0 + (g.outWidth - 1) * g.strideWidth + 1,
        ]);
        const shifted = gr.op('Reshape', [gr.op('Slice', [xp, starts, ends, axes, steps]), flat]);
        blocks.push(gr.op('Gemm', [shifted, dy2], { transA: int(1) }));
      }
    }
    dw = blocks.length === 1 ? blocks[0]! : gr.op('Concat', blocks, { axis: int(0) });
  }
  gr.output(gr.op('Reshape', [dw, gr.int64(wDims(g))]), 'dw');
  return gr.encode(
    [
      { name: 'x', dims: xDims(g) },
      { name: 'dy', dims: yDims(g) },
    ],
    [{ name: 'dw', dims: wDims(g) }],
  );
}

/** Whether `inputGradGraph` covers `g` (else the wasm kernel does). */
export function inputGradSupported(g: ConvGeometry): boolean {
  if (isPointwise(g)) return true;
  if (g.strideHeight === 1 && g.strideWidth === 1) {
    const p = flippedPads(g);
    return p.every((v) => v >= 0);
  }
  const [oph, opw] = outputPadding(g);
  return oph >= 0 && opw >= 0 && oph < g.strideHeight && opw < g.strideWidth;
}

/**
 * Pads of the stride-1 conv of dy with the flipped filter that equals the input gradient: before, the
 * dilated filter's reach less the forward's front pad; after, whatever makes the output the input's size.
 */
function flippedPads(g: ConvGeometry): [number, number, number, number] {
  const reachH = (g.filterHeight - 1) * g.dilationHeight;
  const reachW = (g.filterWidth - 1) * g.dilationWidth;
  const top = reachH - g.top;
  const left = reachW - g.left;
  return [top, left, g.inHeight - g.outHeight - top + reachH, g.inWidth - g.outWidth - left + reachW];
}

/** ConvTranspose's output_padding that makes its output exactly the forward input's size. */
function outputPadding(g: ConvGeometry): [number, number] {
  const h =
    g.inHeight -
    ((g.outHeight - 1) * g.strideHeight + (g.filterHeight - 1) * g.dilationHeight + 1 - g.top - g.bottom);
  const w =
    g.inWidth -
    ((g.outWidth - 1) * g.strideWidth + (g.filterWidth - 1) * g.dilationWidth + 1 - g.left - g.right);
  return [h, w];
}

/**
 * dx with inputs `dy` (NHWC) and `w` ([FH, FW, Ci, Co]), output `dx` (NHWC, the forward input's shape).
 * Stride 1: a conv of dy with the filter flipped in space and its channel axes swapped, which ONNX Runtime
 * runs on the same fast kernels as the forward pass. Strided: ONNX's ConvTranspose. 1×1: dy · wᵀ.
 */
export function inputGradGraph(g: ConvGeometry): Uint8Array {
  const gr = new Graph();
  let dx: string;
  if (isPointwise(g)) {
    const w2 = gr.op('Reshape', ['w', gr.int64([g.inChannels, g.outChannels])]);
    const wt = gr.op('Transpose', [w2], { perm: ints([1, 0]) });
    dx = gr.op('MatMul', ['dy', wt]);
  } else {
    const dyt = gr.op('Transpose', ['dy'], { perm: ints(NHWC_TO_NCHW) });
    const spatial = {
      kernel_shape: ints([g.filterHeight, g.filterWidth]),
      dilations: ints([g.dilationHeight, g.dilationWidth]),
    };
    let dxt: string;
    if (g.strideHeight === 1 && g.strideWidth === 1) {
      const big = -(2 ** 62);
      const flipped = gr.op('Slice', [
        'w',
        gr.int64([-1, -1]),
        gr.int64([big, big]),
        gr.int64([0, 1]),
        gr.int64([-1, -1]),
      ]);
      // [FH, FW, Ci, Co] → [Ci, Co, FH, FW]: the gradient conv maps Co channels to Ci.
      const wt = gr.op('Transpose', [flipped], { perm: ints([2, 3, 0, 1]) });
      dxt = gr.op('Conv', [dyt, wt], { ...spatial, pads: ints(flippedPads(g)) });
    } else {
      // ConvTranspose's weight is [C_in, C_out, FH, FW] with C_in = dy's channels (Co).
      const wt = gr.op('Transpose', ['w'], { perm: ints(HWIO_TO_OIHW) });
      dxt = gr.op('ConvTranspose', [dyt, wt], {
        ...spatial,
        strides: ints([g.strideHeight, g.strideWidth]),
        pads: ints([g.top, g.left, g.bottom, g.right]),
        output_padding: ints(outputPadding(g)),
      });
    }
    dx = gr.op('Transpose', [dxt], { perm: ints(NCHW_TO_NHWC) });
  }
  gr.output(dx, 'dx');
  return gr.encode(
    [
      { name: 'dy', dims: yDims(g) },
      { name: 'w', dims: wDims(g) },
    ],
    [{ name: 'dx', dims: xDims(g) }],
  );
}
