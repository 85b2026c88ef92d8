// Reading and saving label maps: exact indices in, exact palette PNGs out, atomic writes, a backup of
// every original before its first overwrite, and no silent overwrite of a file changed on disk.
// Plain Node, main process.
import { open, readFile, stat, utimes } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import type { LabelData, SaveResult } from '../../shared/api';
import {
  encodeLabelPng,
  isBinaryMask,
  labelHistogram,
  LabelFormatError,
  pngSize,
  type DecodedLabel,
} from '../../shared/labelPng';
import { WorkbenchError } from '../../shared/errors';
import { copyFileAtomic, writeFileAtomic } from '../common/atomicFile';
import { invalidateDraftScores } from './draftCache';
import type { Dataset } from './dataset';
import { imageSize } from './imageFiles';
import { decodeLabel, LabelDecodeError } from './labelDecoder';
import { describePixelLimit, MAX_IMAGE_PIXELS } from '../../shared/imageLimits';
import { assertRealInside } from '../common/confine';

/**
 * Identifies one state of a file on disk; a save names the version it was based on. Each atomic save
 * renames a new file into place, so the inode changes too.
 */
function versionOf(info: Stats): string {
  return `${info.mtimeMs}-${info.size}-${info.ino}`;
}

/** Saves in progress, per label file: a save waits for the one before it. */
const saving = new Map<string, Promise<unknown>>();

/**
 * Runs `work` after every earlier save of `path` has finished, so that the version check and the
 * write of one save are never interleaved with another's (both transports call in this process).
 */
function serialised<T>(path: string, work: () => Promise<T>): Promise<T> {
  const before = saving.get(path) ?? Promise.resolve();
  const run = before.then(work, work);
  const tail = run.catch(() => undefined);
  saving.set(path, tail);
  void tail.then(() => {
    if (saving.get(path) === tail) saving.delete(path);
  });
  return run;
}

async function statOrNull(path: string): Promise<Stats | null> {
  try {
    return await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new WorkbenchError('bad-file', `${path}: cannot be read (${(err as NodeJS.ErrnoException).code})`);
  }
}

/**
 * Reads and decodes a label file; every failure names the file and what is wrong with it. The size in
 * its header is checked first, against the pixel limit and against `expected` (its image's size), so a
 * header that claims a huge image is refused before anything is inflated.
 */
export async function decodeLabelFile(
  path: string,
  colormap: Uint8Array,
  expected?: { width: number; height: number; image: string },
): Promise<DecodedLabel> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new WorkbenchError('bad-file', `${path}: cannot be read (${(err as NodeJS.ErrnoException).code})`);
  }
  try {
    const { width, height } = pngSize(bytes);
    if (width * height > MAX_IMAGE_PIXELS) {
      throw new WorkbenchError(
        'bad-file',
        `${path}: the header declares ${width}×${height}; ${describePixelLimit()}`,
      );
    }
    if (expected && (width !== expected.width || height !== expected.height)) {
      throw new WorkbenchError(
        'bad-file',
        `${path}: the label is ${width}×${height} but its image ${expected.image} is ${expected.width}×${expected.height}`,
      );
    }
    return await decodeLabel(bytes, colormap);
  } catch (err) {
    if (err instanceof LabelFormatError || (err instanceof LabelDecodeError && err.format))
      throw new WorkbenchError('bad-file', `${path}: ${err.message}`);
    throw err;
  }
}

/** The size a label file's header declares, or null when the file has no readable PNG header. */
export async function labelHeaderSize(path: string): Promise<{ width: number; height: number } | null> {
  const handle = await open(path, 'r').catch(() => null);
  if (!handle) return null;
  try {
    const head = new Uint8Array(33);
    const { bytesRead } = await handle.read(head, 0, 33, 0);
    return pngSize(head.subarray(0, bytesRead));
  } catch {
    return null; // decoding it reports what is wrong
  } finally {
    await handle.close();
  }
}

/**
 * The label of image `id`. An image without a label gets an all-background map of its size, so the
 * editor can create one.
 */
export async function readLabel(ds: Dataset, id: string): Promise<LabelData> {
  const imagePath = ds.imagePath(id);
  const path = ds.labelPath(id);
  await assertRealInside(ds.root, imagePath);
  await assertRealInside(ds.root, path);
  const [size, info] = await Promise.all([imageSize(imagePath), statOrNull(path)]);
  if (!info) {
    return {
      id,
      ...size,
      indices: new Uint8Array(size.width * size.height),
      palette: ds.newLabelPalette(),
      source: 'palette',
      exists: false,
      version: null,
      warnings: [],
    };
  }
  const label = await decodeLabelFile(path, ds.newLabelPalette(), { ...size, image: imagePath });
  const warnings = isBinaryMask(labelHistogram(label.indices))
    ? [`${path}: holds only 0 and 255, a binary mask rather than class indices`]
    : [];
  return { id, ...label, exists: true, version: versionOf(info), warnings };
}

export interface SaveRequest {
  id: string;
  width: number;
  height: number;
  indices: Uint8Array;
  /** The version the edit started from (null for a new label); a mismatch means someone else wrote it. */
  baseVersion: string | null;
  /** Overwrite even when the file changed on disk since `baseVersion`. */
  force?: boolean;
}

/**
 * Saves a label map as an 8-bit palette PNG, keeping the file's own palette. Two saves based on the
 * same version: the first wins, the second gets `conflict`.
 */
export async function saveLabel(ds: Dataset, req: SaveRequest): Promise<SaveResult> {
  const path = ds.labelPath(req.id);
  return serialised(path, () => saveNow(ds, req, path));
}

async function saveNow(ds: Dataset, req: SaveRequest, path: string): Promise<SaveResult> {
  const imagePath = ds.imagePath(req.id);
  await assertRealInside(ds.root, path);
  if (req.indices.length !== req.width * req.height) {
    throw new WorkbenchError(
      'bad-request',
      `${path}: ${req.indices.length} indices do not make a ${req.width}×${req.height} label map`,
    );
  }
  const size = await imageSize(imagePath);
  if (size.width !== req.width || size.height !== req.height) {
    throw new WorkbenchError(
      'bad-request',
      `${path}: a ${req.width}×${req.height} label does not fit its image ${imagePath}, which is ${size.width}×${size.height}`,
    );
  }

  const current = await statOrNull(path);
  const currentVersion = current ? versionOf(current) : null;
  if (!req.force && currentVersion !== req.baseVersion) {
    throw new WorkbenchError(
      'conflict',
      current
        ? `${path}: changed on disk since it was opened; reload it or save anyway`
        : `${path}: was deleted on disk since it was opened; save anyway to recreate it`,
    );
  }

  // Keep the file's own palette; a file that cannot be decoded is being repaired, so it gets the default.
  let palette = ds.newLabelPalette();
  if (current) {
    const existing = await decodeLabelFile(path, palette).catch(() => null);
    if (existing?.source === 'palette') palette = existing.palette;
  }
  const bytes = encodeLabelPng({ width: req.width, height: req.height, indices: req.indices }, palette);

  let backup: string | null = null;
  if (current && !ds.workspace.wasCreated(req.id)) {
    const target = await ds.workspace.inside(ds.workspace.backupPath(ds.labelDir, req.id));
    if (!(await statOrNull(target))) await copyFileAtomic(path, target);
    backup = target;
  }
  await writeFileAtomic(path, bytes);
  if (!current) {
    await ds.workspace.markCreated(req.id);
    ds.noteLabelWritten(req.id);
  }
  // Cached drafts compared this image with the old label; their scores must be worked out again.
  await invalidateDraftScores(ds.root, req.id);
  let written = await stat(path);
  if (versionOf(written) === currentVersion) {
    // File times tick in coarse steps and inodes are reused, so a quick second save can look like the
    // first; move the time on so every save yields a new version.
    const later = new Date(written.mtimeMs + 1);
    await utimes(path, later, later);
    written = await stat(path);
  }
  return { version: versionOf(written), backup, created: !current };
}
