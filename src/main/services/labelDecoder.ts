// Decodes label PNGs in a worker thread when the shell has said where the worker's bundle is (the
// server does), so one large label never stalls the requests of other clients; elsewhere (the CLI's
// one-shot commands, tests that run the sources) it decodes in the calling thread. Plain Node.
import { Worker } from 'node:worker_threads';
import { decodeLabelPng, LabelFormatError, type DecodedLabel } from '../../shared/labelPng';

export interface DecodeRequest {
  id: number;
  bytes: Uint8Array;
  colormap: Uint8Array;
}
export type DecodeReply =
  { id: number; ok: true; label: DecodedLabel } | { id: number; ok: false; format: boolean; message: string };

/** A decoding failure; `format` when the bytes are not a label PNG Segscope can read. */
export class LabelDecodeError extends Error {
  constructor(
    message: string,
    readonly format: boolean,
  ) {
    super(message);
    this.name = 'LabelDecodeError';
  }
}

let entry: string | null = null;
let worker: Worker | null = null;
let nextId = 1;
const pending = new Map<number, { resolve(l: DecodedLabel): void; reject(e: Error): void }>();

/** Tells where the worker bundle is (null: decode in the calling thread). */
export function useLabelDecodeWorker(path: string | null): void {
  entry = path;
}

function failAll(message: string): void {
  for (const p of pending.values()) p.reject(new LabelDecodeError(message, false));
  pending.clear();
}

function getWorker(path: string): Worker {
  if (worker) return worker;
  const w = new Worker(path);
  // Idle between requests, it must not keep the process alive.
  w.unref();
  w.on('message', (reply: DecodeReply) => {
    const p = pending.get(reply.id);
    pending.delete(reply.id);
    if (!p) return;
    if (reply.ok) p.resolve(reply.label);
    else p.reject(new LabelDecodeError(reply.message, reply.format));
    if (pending.size === 0) w.unref();
  });
  // A worker that dies (out of memory on a huge file) fails its requests; the next one starts afresh.
  w.on('error', (err) => {
    if (worker === w) worker = null;
    failAll(`the label decoder failed: ${err.message}`);
  });
  w.on('exit', (code) => {
    if (worker === w) worker = null;
    failAll(`the label decoder stopped (exit code ${code})`);
  });
  worker = w;
  return w;
}

/** Decodes a label PNG, off the event loop when a worker is configured. */
export function decodeLabel(bytes: Uint8Array, colormap: Uint8Array): Promise<DecodedLabel> {
  if (!entry) {
    try {
      return Promise.resolve(decodeLabelPng(bytes, { colormap }));
    } catch (err) {
      const format = err instanceof LabelFormatError;
      return Promise.reject(new LabelDecodeError(err instanceof Error ? err.message : String(err), format));
    }
  }
  const w = getWorker(entry);
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    w.ref();
    w.postMessage({ id, bytes, colormap } satisfies DecodeRequest);
  });
}
