// Runs tfjs's wasm backend on every core in Node. tfjs 4.22 disables its threaded SIMD build there
// (tfjs#3830): the build starts its pthreads as workers from `blob:` URLs, which Node's worker_threads
// refuses, and its worker evaluates the factory's source, which refers to names the package's bundler
// gave Node's modules. This module turns those blobs into temporary files, defines the names, and
// asks XNNPACK for one thread per core. Engine process; call before the wasm backend first starts.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setThreadsCount } from '@tensorflow/tfjs-backend-wasm';

/** The threaded factory's source begins so; the shim writes that blob to a file the workers import. */
const FACTORY_PREFIX = 'var WasmBackendModuleThreadedSimd';

/**
 * Names the factory's source uses that exist only in tfjs-backend-wasm's Node bundle (4.22): rollup's
 * renamed `require`s of fs, path, perf_hooks and os, and its global object.
 */
const BUNDLE_GLOBALS =
  "var require$$0 = require('fs'), require$$1 = require('path'), require$$3 = require('perf_hooks'), " +
  "require$$4 = require('os'), commonjsGlobal = globalThis;\n";

/**
 * The most threads: the module starts a pool of 8 pthread workers, and a thread beyond the pool would wait
 * for a worker that loads only once the (then blocked) main thread yields.
 */
export const MAX_WASM_THREADS = 8;

/** How many threads the wasm backend should use: `SEGSCOPE_WASM_THREADS`, else every logical core (≤ 8). */
export function wasmThreadCount(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SEGSCOPE_WASM_THREADS;
  if (raw == null || raw === '') return Math.min(MAX_WASM_THREADS, os.availableParallelism());
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_WASM_THREADS) {
    throw new Error(
      `SEGSCOPE_WASM_THREADS must be an integer from 1 to ${MAX_WASM_THREADS}; got ${JSON.stringify(raw)}`,
    );
  }
  return n;
}

let installed: number | null = null;

/**
 * Makes the next start of the wasm backend use its threaded SIMD build with `threads` threads (1 keeps
 * the single-threaded build). Only the first call counts: the backend starts once per process.
 * @returns a function to call once the backend has started, which undoes the core count shown to it
 */
export function enableWasmThreads(threads: number): () => void {
  const nothing = () => {};
  if (installed != null) return nothing;
  installed = threads;
  if (threads <= 1) return nothing;
  const dir = mkdtempSync(join(os.tmpdir(), 'segscope-wasm-'));
  const texts = new WeakMap<Blob, string>();
  let factoryPath: string | null = null;
  const NativeBlob = globalThis.Blob;
  // Remembers the text of blobs made from strings, which tfjs's wasm init is the only one to make here.
  class TextBlob extends NativeBlob {
    constructor(...[parts, options]: ConstructorParameters<typeof Blob>) {
      super(parts, options);
      if (parts && parts.every((p) => typeof p === 'string')) {
        const text = parts.join('');
        texts.set(this, text);
        if (text.startsWith(FACTORY_PREFIX)) {
          factoryPath = join(dir, 'factory.js');
          writeFileSync(factoryPath, BUNDLE_GLOBALS + text);
        }
      }
    }
  }
  globalThis.Blob = TextBlob as typeof Blob;
  const createObjectURL = URL.createObjectURL.bind(URL);
  const workerFiles = new Map<string, string>();
  URL.createObjectURL = (blob: Blob): string => {
    const text = texts.get(blob);
    if (text == null || factoryPath == null) return createObjectURL(blob);
    // The pthread worker script, written once: each of the pool's workers asks for it, and rewriting the
    // file while an earlier worker reads it would hand that worker a truncated script.
    let path = workerFiles.get(text);
    if (path == null) {
      path = join(dir, `worker${workerFiles.size}.js`);
      writeFileSync(
        path,
        `URL.createObjectURL = () => ${JSON.stringify(factoryPath)}; URL.revokeObjectURL = () => {};\n${text}`,
      );
      workerFiles.set(text, path);
    }
    return path;
  };
  // XNNPACK caps its pool at half the logical cores the module sees (os.cpus() in Node): show it twice
  // the threads wanted while the backend starts.
  const cpus = os.cpus;
  (os as { cpus: typeof os.cpus }).cpus = () => {
    const real = cpus();
    return Array.from({ length: 2 * threads }, (_, i) => real[i % real.length]!);
  };
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  setThreadsCount(threads);
  return () => {
    (os as { cpus: typeof os.cpus }).cpus = cpus;
  };
}

interface PthreadWorker {
  unref(): void;
}

/**
 * Lets the process exit while the wasm backend's threads wait for work: Emscripten keeps each running
 * pthread's worker referenced, so a script or command that has finished would otherwise never end.
 * @param backend `tf.backend()` once the wasm backend has started
 */
export function unrefWasmThreads(backend: unknown): void {
  const pthreads = (backend as { wasm?: { PThread?: { runningWorkers?: PthreadWorker[] } } }).wasm?.PThread;
  for (const worker of pthreads?.runningWorkers ?? []) worker.unref();
}
