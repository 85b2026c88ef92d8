// Downloads the Keras applications ImageNet weights (no top) where the machine has internet: plain fetch,
// progress from content-length, an MD5 check against Keras's own hash, and an atomic write (a temporary
// file renamed over `dest`). Offline it fails with a message that says how to get the file by hand.
// Main process (services).
import { createHash } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export type KerasWeightsKind = 'vgg16' | 'resnet50';

/** The files `keras.applications` downloads, with the MD5 it checks them against. */
export const KERAS_WEIGHTS: Readonly<Record<KerasWeightsKind, { url: string; file: string; md5: string }>> = {
  vgg16: {
    url: 'https://storage.googleapis.com/tensorflow/keras-applications/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5',
    file: 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5',
    md5: '6d6bbae143d832006294945121d1f1fc',
  },
  resnet50: {
    url: 'https://storage.googleapis.com/tensorflow/keras-applications/resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5',
    file: 'resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5',
    md5: '4d473c1dd8becc155b73f8504c6f6626',
  },
};

export interface DownloadProgress {
  received: number;
  /** From content-length; null when the server does not say. */
  total: number | null;
}

export interface DownloadOptions {
  /** Give up when no response, or no data, arrives for this long (default 30 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** A mirror instead of Keras's URL. */
  url?: string;
  /** The expected MD5 (default Keras's for the kind); null skips the check, e.g. for a mirror. */
  md5?: string | null;
}

/** The network error's own code or message, e.g. `ENOTFOUND` or `ECONNREFUSED`. */
function cause(err: unknown): string {
  const c = (err as { cause?: { code?: string; message?: string } }).cause;
  return c?.code ?? c?.message ?? (err as Error).message ?? String(err);
}

/**
 * Downloads Keras's ImageNet weights of `kind` to `dest`, reporting progress. `dest` appears only once
 * the whole file has arrived and matched its MD5.
 *
 * @throws an Error naming the URL and the problem: offline, timed out, HTTP status, short or corrupt file
 */
export async function downloadKerasWeights(
  kind: KerasWeightsKind,
  dest: string,
  onProgress: (p: DownloadProgress) => void = () => undefined,
  options: DownloadOptions = {},
): Promise<{ path: string; bytes: number }> {
  const spec = KERAS_WEIGHTS[kind];
  const url = options.url ?? spec.url;
  const md5 = options.md5 === undefined ? spec.md5 : options.md5;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const fail = (problem: string, err?: unknown): Error =>
    new Error(
      `cannot download the ${kind} weights from ${url}: ${problem}. Without internet, download ${spec.file} ` +
        'on another machine and choose it under "Backbone weights"',
      err === undefined ? undefined : { cause: err },
    );

  const controller = new AbortController();
  let timedOut = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
  };
  const onAbort = (): void => controller.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const temp = join(dirname(dest), `.${basename(dest)}.${process.pid}.${Date.now()}.part`);
  const why = (err: unknown): string =>
    timedOut
      ? `no answer within ${(timeoutMs / 1000).toFixed(1)} s (offline?)`
      : options.signal?.aborted
        ? 'cancelled'
        : `network error (${cause(err)}; offline?)`;

  arm();
  try {
    let response: Response;
    try {
      response = await fetch(url, { signal: controller.signal, redirect: 'follow' });
    } catch (err) {
      throw fail(why(err), err);
    }
    if (!response.ok || !response.body) throw fail(`HTTP ${response.status} ${response.statusText}`.trim());
    const length = Number(response.headers.get('content-length'));
    const total = Number.isFinite(length) && length > 0 ? length : null;
    const hash = createHash('md5');
    let received = 0;
    await mkdir(dirname(dest), { recursive: true });
    const handle = await open(temp, 'w');
    try {
      const reader = response.body.getReader();
      for (;;) {
        arm();
        const chunk = await reader.read().catch((err: unknown) => {
          throw fail(why(err), err);
        });
        if (chunk.done) break;
        await handle.write(chunk.value);
        hash.update(chunk.value);
        received += chunk.value.byteLength;
        onProgress({ received, total });
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (total !== null && received !== total)
      throw fail(`the file arrived short (${received} of ${total} bytes)`);
    const digest = hash.digest('hex');
    if (md5 && digest !== md5) throw fail(`the file's MD5 is ${digest}, not ${md5} (damaged in transit?)`);
    await rename(temp, dest);
    return { path: dest, bytes: received };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    await rm(temp, { force: true });
  }
}
