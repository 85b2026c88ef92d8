// Test helpers for the engine: deterministic data, error measures, and running one computation per backend.
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../../../src/main/engine/backend';

/** Deterministic values in [-1, 1) from a linear congruential generator. */
export function seeded(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** ‖a − b‖₂ / ‖b‖₂, with b the reference. */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    num += d * d;
    den += (b[i] ?? 0) ** 2;
  }
  return Math.sqrt(num / den);
}

/**
 * max |a − b| over all of a model's weights, over max |b|: the error relative to the model's scale (a conv
 * bias ahead of batch norm has a true gradient of exactly zero, so its own scale is rounding noise).
 */
export function modelRelErr(a: Float32Array[], b: Float32Array[]): number {
  let num = 0;
  let den = 0;
  b.forEach((w, i) => {
    for (let k = 0; k < w.length; k++) {
      num = Math.max(num, Math.abs(a[i]![k]! - w[k]!));
      den = Math.max(den, Math.abs(w[k]!));
    }
  });
  return num / den;
}

/** Activates `name` through the engine's own selector, so Segscope's kernels are registered. */
export async function use(name: 'cpu' | 'wasm'): Promise<void> {
  const choice = await selectBackend(name);
  if (choice.name !== name || tf.getBackend() !== name) throw new Error(`could not activate ${name}`);
}

/** Runs `fn` on each backend and returns its outputs' values per backend. */
export async function onBackends<K extends string>(
  names: readonly ('cpu' | 'wasm')[],
  fn: () => Record<K, tf.Tensor>,
): Promise<Record<'cpu' | 'wasm', Record<K, Float32Array>>> {
  const result = {} as Record<'cpu' | 'wasm', Record<K, Float32Array>>;
  for (const name of names) {
    await use(name);
    const outs = tf.tidy(fn);
    const values = {} as Record<K, Float32Array>;
    for (const key of Object.keys(outs) as K[]) {
      const t = outs[key];
      values[key] = Float32Array.from(t.dataSync());
      t.dispose();
    }
    result[name] = values;
  }
  return result;
}

/** Backend data buffers, which also count a kernel's leaked intermediates (tf.memory() counts tensors). */
export function backendDataIds(): number {
  return tf.engine().backend.numDataIds();
}
