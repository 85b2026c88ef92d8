// The GPU bench: unet-vgg16 at 512², batch 4 and 8, on every GPU backend present (tensorflow-gpu,
// webgpu on a hardware adapter): ms per training step, images/s, inference images/s, ms per Grad-CAM,
// peak GPU memory, and the share of the GPU's FP32 peak the step reaches, from the model's FLOPs.
// Where there is no GPU it says so; --software runs a tiny sanity size on the software adapter.
// Runs in a plain Node process:
//   node bench/run.mjs bench/engine/gpu.ts [--size 512] [--batches 4,8] [--steps 5] [--model unet-vgg16]
//        [--peak-tflops X] [--software [--size 64 --batches 1]]
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { selectBackend, type BackendChoice } from '../../src/main/engine/backend';
import { computeCam } from '../../src/main/engine/cam';
import { gpuSession } from '../../src/main/engine/gpu';
import { segment } from '../../src/main/engine/infer';
import { maskedCrossEntropy } from '../../src/main/engine/loss';
import { getModelSpec } from '../../src/main/engine/models/registry';
import { describeAdapter } from '../../src/shared/training';
import { median } from '../stats';

interface Options {
  model: string;
  size: number;
  batches: number[];
  steps: number;
  classes: number;
  software: boolean;
  peakTflops: number | null;
}

function parse(args: string[]): Options {
  const o: Options = {
    model: 'unet-vgg16',
    size: 512,
    batches: [4, 8],
    steps: 5,
    classes: 21,
    software: false,
    peakTflops: null,
  };
  for (let i = 0; i < args.length; i++) {
    const [a, v] = [args[i], args[i + 1]];
    if (a === '--software') o.software = true;
    else if (v === undefined) throw new Error(`${a} needs a value`);
    else if (a === '--model') o.model = v;
    else if (a === '--size') o.size = Number(v);
    else if (a === '--batches') o.batches = v.split(',').map(Number);
    else if (a === '--steps') o.steps = Number(v);
    else if (a === '--classes') o.classes = Number(v);
    else if (a === '--peak-tflops') o.peakTflops = Number(v);
    else throw new Error(`unknown argument ${a}`);
    if (a !== '--software') i++;
  }
  return o;
}

/**
 * FP32 peaks (TFLOP/s, dense, boost clock) from the vendors' data sheets, matched against the adapter's
 * name. Anything else needs --peak-tflops.
 */
const FP32_PEAK_TFLOPS: [RegExp, number][] = [
  [/H200/i, 67],
  [/H100.*PCIe/i, 51],
  [/H100/i, 67],
  [/A100/i, 19.5],
  [/L40S/i, 91.6],
  [/L4\b/i, 30.3],
  [/A10\b/i, 31.2],
  [/RTX 4090/i, 82.6],
  [/RTX 3090/i, 35.6],
  [/T4\b/i, 8.1],
];

/**
 * Multiply-adds ×2 of one forward pass for one image, from the conv and dense layers' output shapes
 * (the elementwise layers are a rounding error beside them).
 */
export function forwardFlops(model: tfl.LayersModel): number {
  let flops = 0;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const out = layer.outputShape as number[];
    const inp = (layer as unknown as { inputShape: number[] }).inputShape;
    const kernel = layer.getWeights()[0]?.shape;
    if (!kernel) continue;
    if (cls === 'Conv2D' || cls === 'AtrousConv2D') {
      const [kh, kw, cin, cout] = kernel as number[];
      flops += 2 * kh! * kw! * cin! * cout! * out[1]! * out[2]!;
    } else if (cls === 'Conv2DTranspose') {
      const [kh, kw, cout, cin] = kernel as number[];
      flops += 2 * kh! * kw! * cin! * cout! * inp[1]! * inp[2]!;
    } else if (cls === 'Dense') {
      const [cin, cout] = kernel as number[];
      flops += 2 * cin! * cout! * out.slice(1, -1).reduce((a, b) => a * b, 1);
    }
  }
  return flops;
}

function gpuBytes(): number | null {
  const m = tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number };
  return typeof m.numBytesAllocatedInGPU === 'number' ? m.numBytesAllocatedInGPU : null;
}

const GB = 1024 ** 3;

async function benchOne(
  choice: BackendChoice,
  o: Options,
  batch: number,
  peak: number | null,
): Promise<void> {
  const spec = getModelSpec(o.model);
  const model = spec.build({ numClasses: o.classes, inputSize: o.size, seed: 1 });
  const x = tf.randomNormal([batch, o.size, o.size, 3], 0, 50, 'float32', 1) as tf.Tensor4D;
  const y = tf.randomUniform([batch, o.size, o.size], 0, o.classes, 'int32', 2) as tf.Tensor3D;
  const optimizer = tf.train.adam(1e-4);
  let peakBytes = 0;
  const sample = () => (peakBytes = Math.max(peakBytes, gpuBytes() ?? tf.memory().numBytes));
  const step = async (): Promise<number> => {
    const t0 = performance.now();
    const loss = optimizer.minimize(
      () => maskedCrossEntropy(model.apply(x, { training: true }) as tf.Tensor4D, y),
      true,
    )!;
    await loss.data();
    loss.dispose();
    sample();
    const fault = gpuSession()?.fault;
    if (fault) throw fault;
    return performance.now() - t0;
  };
  const infer = async (): Promise<number> => {
    const t0 = performance.now();
    const out = model.predict(x) as tf.Tensor;
    await out.data();
    out.dispose();
    sample();
    return performance.now() - t0;
  };
  const label = `${choice.name} ${o.model} ${o.size}², batch ${batch}`;
  try {
    const first = await step();
    const steps: number[] = [];
    for (let i = 0; i < o.steps; i++) steps.push(await step());
    await infer();
    const inferences: number[] = [];
    for (let i = 0; i < o.steps; i++) inferences.push(await infer());
    // Grad-CAM on one image, as the viewer asks for it: the class most pixels were given.
    const image = {
      width: o.size,
      height: o.size,
      data: Uint8Array.from({ length: o.size * o.size * 3 }, (_, i) => (i * 37) % 256),
    };
    const p = { model, inputSize: o.size, normalization: spec.normalization };
    const seg = await segment(p, image);
    const counts = new Map<number, number>();
    for (const l of seg.labels) counts.set(l, (counts.get(l) ?? 0) + 1);
    const top = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
    const cam = async (): Promise<number> => {
      const t0 = performance.now();
      await computeCam(p, image, { classIndex: top, layer: spec.camLayer, method: 'gradcam' });
      return performance.now() - t0;
    };
    await cam();
    const cams = [await cam(), await cam(), await cam()];
    sample();

    const ms = median(steps);
    const trainFlops = 3 * forwardFlops(model) * batch;
    const tflops = trainFlops / (ms / 1000) / 1e12;
    console.log(`${label}:`);
    console.log(`  first step (shader compilation): ${first.toFixed(0)} ms`);
    console.log(
      `  train: median ${ms.toFixed(0)} ms/step of ${steps.length} [${steps.map((t) => t.toFixed(0)).join(', ')}], ${(batch / (ms / 1000)).toFixed(2)} images/s`,
    );
    console.log(
      `  inference: median ${median(inferences).toFixed(0)} ms per batch, ${(batch / (median(inferences) / 1000)).toFixed(2)} images/s`,
    );
    console.log(`  Grad-CAM (${spec.camLayer}, one image): median ${median(cams).toFixed(0)} ms`);
    const bytesKind = gpuBytes() !== null ? 'GPU buffers allocated' : 'tensor bytes';
    console.log(`  peak memory (${bytesKind}): ${(peakBytes / GB).toFixed(2)} GiB`);
    console.log(
      `  ${(trainFlops / 1e9).toFixed(0)} GFLOP per step (3× forward) → ${tflops.toFixed(2)} TFLOP/s` +
        (peak
          ? `, ${((100 * tflops) / peak).toFixed(1)}% of the ${peak} TFLOP/s FP32 peak`
          : ', FP32 peak unknown (--peak-tflops)'),
    );
  } catch (err) {
    console.log(`${label}: failed: ${(err as Error).message}`);
  } finally {
    optimizer.dispose();
    model.dispose();
    tf.dispose([x, y]);
  }
}

export async function main(args: string[]): Promise<void> {
  const o = parse(args);
  const reasons: string[] = [];
  let ran = 0;
  for (const name of o.software ? (['webgpu'] as const) : (['tensorflow-gpu', 'webgpu'] as const)) {
    let choice: BackendChoice;
    try {
      choice = await selectBackend(name, { webgpuAdapter: o.software ? 'software' : 'any' });
    } catch (err) {
      reasons.push((err as Error).message);
      continue;
    }
    if (choice.adapter?.software && !o.software) {
      reasons.push(`webgpu: only a software adapter (${describeAdapter(choice.adapter)})`);
      continue;
    }
    ran++;
    console.log(`${choice.name}: ${choice.reason}`);
    const adapter = choice.adapter;
    const adapterName = adapter ? `${adapter.device} ${adapter.description}` : '';
    const peak = o.peakTflops ?? FP32_PEAK_TFLOPS.find(([re]) => re.test(adapterName))?.[1] ?? null;
    for (const batch of o.batches) await benchOne(choice, o, batch, peak);
  }
  if (ran === 0) {
    console.log('No GPU here, so no GPU figures:');
    for (const r of reasons) console.log(`  ${r}`);
    console.log('Run with --software for a tiny sanity run on the software adapter (not a speed figure).');
  }
}
