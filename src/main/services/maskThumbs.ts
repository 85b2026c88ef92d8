// Thumbnails of label masks for the image list: the class colours at the size of the image thumbnails,
// scaled without smoothing so that no colour appears that is not a class. Cached in the workspace and
// rebuilt when the label is newer. Plain Node, main process.
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../common/atomicFile';
import { loadSharp, THUMB_SIZE } from './imageFiles';
import { decodeLabelFile } from './labels';

const inFlight = new Map<string, Promise<string>>();

/**
 * Makes (or reuses) the thumbnail of the label at `label`, drawn with `palette` (256 RGB triplets, the
 * dataset's class colours); resolves to the cached PNG's path.
 */
export function maskThumbnail(label: string, cache: string, palette: Uint8Array): Promise<string> {
  let job = inFlight.get(cache);
  if (!job) {
    job = make(label, cache, palette).finally(() => inFlight.delete(cache));
    inFlight.set(cache, job);
  }
  return job;
}

async function make(label: string, cache: string, palette: Uint8Array): Promise<string> {
  const [source, cached] = await Promise.all([stat(label), stat(cache).catch(() => null)]);
  if (cached && cached.mtimeMs >= source.mtimeMs) return cache;
  const map = await decodeLabelFile(label, palette);
  const rgb = Buffer.alloc(map.width * map.height * 3);
  for (let i = 0; i < map.indices.length; i++) {
    const c = map.indices[i]! * 3;
    rgb[i * 3] = palette[c]!;
    rgb[i * 3 + 1] = palette[c + 1]!;
    rgb[i * 3 + 2] = palette[c + 2]!;
  }
  const sharp = await loadSharp();
  const bytes = await sharp(rgb, { raw: { width: map.width, height: map.height, channels: 3 } })
    .resize(THUMB_SIZE, THUMB_SIZE, { fit: 'inside', withoutEnlargement: true, kernel: 'nearest' })
    .png()
    .toBuffer();
  await mkdir(dirname(cache), { recursive: true });
  await writeFileAtomic(cache, bytes);
  return cache;
}
