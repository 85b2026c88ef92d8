// Image sizes and thumbnails, through sharp. Thumbnails are cached in the workspace and rebuilt when
// the image is newer. Plain Node, main process.
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type Sharp from 'sharp';
import { WorkbenchError } from '../../shared/errors';
import { writeFileAtomic } from '../common/atomicFile';
import { describePixelLimit, MAX_IMAGE_PIXELS } from '../../shared/imageLimits';

export const THUMB_SIZE = 160;

/**
 * sharp, loaded on first use: its native binding costs a CLI command that never decodes an image (`info`)
 * about 0.3 s at start.
 */
export async function loadSharp(): Promise<typeof Sharp> {
  return (await import('sharp')).default;
}

/** Width and height of an image, read from its header only; an image over the pixel limit is refused. */
export async function imageSize(path: string): Promise<{ width: number; height: number }> {
  let size: { width: number; height: number };
  try {
    // sharp's own limit would refuse a huge header with a vaguer message; ours is checked below.
    const sharp = await loadSharp();
    const meta = await sharp(path, { limitInputPixels: false }).metadata();
    if (!meta.width || !meta.height) throw new Error('no size in the header');
    size = { width: meta.width, height: meta.height };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code ? `cannot be read (${code})` : `is not a readable image (${(err as Error).message})`;
    throw new WorkbenchError('bad-file', `${path}: ${why}`);
  }
  if (size.width * size.height > MAX_IMAGE_PIXELS) {
    throw new WorkbenchError('bad-file', `${path}: is ${size.width}×${size.height}, ${describePixelLimit()}`);
  }
  return size;
}

const inFlight = new Map<string, Promise<string>>();

/** Makes (or reuses) the cached thumbnail of `image` at `cache`; resolves to the cache path. */
export function thumbnail(image: string, cache: string): Promise<string> {
  let job = inFlight.get(cache);
  if (!job) {
    job = makeThumbnail(image, cache).finally(() => inFlight.delete(cache));
    inFlight.set(cache, job);
  }
  return job;
}

async function makeThumbnail(image: string, cache: string): Promise<string> {
  const [source, cached] = await Promise.all([stat(image), stat(cache).catch(() => null)]);
  if (cached && cached.mtimeMs >= source.mtimeMs) return cache;
  await mkdir(dirname(cache), { recursive: true });
  let bytes: Buffer;
  try {
    const sharp = await loadSharp();
    bytes = await sharp(image)
      .resize(THUMB_SIZE, THUMB_SIZE, { fit: 'inside', withoutEnlargement: true })
      .jpeg({ quality: 78 })
      .toBuffer();
  } catch (err) {
    throw new WorkbenchError('bad-file', `${image}: is not a readable image (${(err as Error).message})`);
  }
  await writeFileAtomic(cache, bytes);
  return cache;
}
