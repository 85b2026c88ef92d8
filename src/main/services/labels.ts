// Reading and saving label maps: exact indices in, exact palette PNGs out, atomic writes, a backup of
// every original before its first overwrite, and no silent overwrite of a file changed on disk.
// Plain Node, main process.
import { readFile, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import type { LabelData, SaveResult } from '../../shared/api';
import {
  decodeLabelPng,
  encodeLabelPng,
  isBinaryMask,
  labelHistogram,
  LabelFormatError,
  type DecodedLabel,
} from '../../shared/labelPng';
import { WorkbenchError } from '../../shared/errors';
import { copyFileAtomic, writeFileAtomic } from './atomicFile';
import { invalidateDraftScores } from './draftCache';
import type { Dataset } from './dataset';
import { imageSize } from './imageFiles';
import { assertRealInside } from './safePath';

/** Identifies one state of a file on disk; a save names the version it was based on. */
function versionOf(info: Stats): string {
  return `${info.mtimeMs}-${info.size}`;
}

async function statOrNull(path: string): Promise<Stats | null> {
  try {
    return await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new WorkbenchError('bad-file', `${path}: cannot be read (${(err as NodeJS.ErrnoException).code})`);
  }
}

/** Reads and decodes a label file; every failure names the file and what is wrong with it. */
export async function decodeLabelFile(path: string, colormap: Uint8Array): Promise<DecodedLabel> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new WorkbenchError('bad-file', `${path}: cannot be read (${(err as NodeJS.ErrnoException).code})`);
  }
  try {
    return decodeLabelPng(bytes, { colormap });
  } catch (err) {
    if (err instanceof LabelFormatError) throw new WorkbenchError('bad-file', `${path}: ${err.message}`);
    throw err;
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
  const label = await decodeLabelFile(path, ds.newLabelPalette());
  if (label.width !== size.width || label.height !== size.height) {
    throw new WorkbenchError(
      'bad-file',
      `${path}: the label is ${label.width}×${label.height} but its image ${imagePath} is ${size.width}×${size.height}`,
    );
  }
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

/** Saves a label map as an 8-bit palette PNG, keeping the file's own palette. */
export async function saveLabel(ds: Dataset, req: SaveRequest): Promise<SaveResult> {
  const path = ds.labelPath(req.id);
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
    const target = ds.workspace.backupPath(ds.labelDir, req.id);
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
  const written = await stat(path);
  return { version: versionOf(written), backup, created: !current };
}
