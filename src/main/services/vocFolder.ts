// Finds the dataset root inside the folder a user picked, and indexes its images, labels and splits.
// Plain Node, main process.
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { WorkbenchError } from '../../shared/errors';
import { assertRealInside } from '../common/confine';

/** Image file extensions a VOC-layout dataset may use, lower case. */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png'] as const;
/** Label folders, in order of preference. */
export const LABEL_DIRS = ['SegmentationClass', 'SegmentationClassAug'] as const;
export type LabelDir = (typeof LABEL_DIRS)[number];
export const SPLIT_DIR = join('ImageSets', 'Segmentation');

/** What the picked folder turned out to be. */
export type FoundRoot = { kind: 'root'; root: string } | { kind: 'devkit'; folder: string; years: string[] };

/** A dataset root as indexed on disk. */
export interface VocIndex {
  root: string;
  name: string;
  labelDir: LabelDir;
  /** Image id to file name in `JPEGImages/`, sorted by id. */
  images: Map<string, string>;
  /** Ids whose label PNG exists. */
  labels: Set<string>;
  /** Split name to the ids listed in `ImageSets/Segmentation/<name>.txt`, in file order. */
  splits: Map<string, string[]>;
}

async function isDir(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (err) {
    throw new WorkbenchError(
      'bad-file',
      `${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? err})`,
    );
  }
}

/** Whether `path` is a dataset root: JPEGImages/ plus a label folder. */
export async function isVocRoot(path: string): Promise<boolean> {
  if (!(await isDir(join(path, 'JPEGImages')))) return false;
  for (const dir of LABEL_DIRS) if (await isDir(join(path, dir))) return true;
  return false;
}

/**
 * Resolves the picked folder: a dataset root itself (JPEGImages/ plus a label folder), or a folder
 * such as `VOCdevkit` holding one or more dataset roots, from which the user chooses.
 */
export async function findVocRoot(picked: string): Promise<FoundRoot> {
  if (!picked.trim()) throw new WorkbenchError('bad-request', 'type or choose the folder of a dataset first');
  const path = resolve(picked);
  const info = await stat(path).catch(() => null);
  if (info && !info.isDirectory())
    throw new WorkbenchError('not-voc', `${path}: is a file; choose the folder that holds JPEGImages/`);
  if (!info) throw new WorkbenchError('not-found', `${path}: no such folder`);
  if (await isVocRoot(path)) return { kind: 'root', root: path };
  const entries = (await listDir(path)).sort();
  if (entries.length === 0)
    throw new WorkbenchError('not-voc', `${path}: the folder is empty, not a VOC dataset`);
  const years: string[] = [];
  for (const entry of entries) if (await isVocRoot(join(path, entry))) years.push(entry);
  if (years.length === 1) return { kind: 'root', root: join(path, years[0]!) };
  if (years.length > 1) return { kind: 'devkit', folder: path, years };
  const hint = (await isDir(join(path, 'JPEGImages')))
    ? 'it has JPEGImages/ but no SegmentationClass/ (create an empty one to start labelling)'
    : 'no JPEGImages/ with SegmentationClass/ here or in a folder below';
  throw new WorkbenchError('not-voc', `${path}: not a VOC dataset: ${hint}`);
}

function byId(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Indexes a dataset root. Listing only: nothing is decoded, so a 17k-image folder opens fast. */
export async function indexVocRoot(root: string): Promise<VocIndex> {
  const images = new Map<string, string>();
  const names = (await listDir(join(root, 'JPEGImages'))).sort(byId);
  for (const file of names) {
    const dot = file.lastIndexOf('.');
    if (dot <= 0) continue;
    const ext = file.slice(dot).toLowerCase();
    if ((IMAGE_EXTENSIONS as readonly string[]).includes(ext) && !images.has(file.slice(0, dot))) {
      images.set(file.slice(0, dot), file);
    }
  }
  const sorted = new Map([...images].sort(([a], [b]) => byId(a, b)));

  let labelDir: LabelDir = LABEL_DIRS[0];
  for (const dir of LABEL_DIRS) {
    if (await isDir(join(root, dir))) {
      labelDir = dir;
      break;
    }
  }
  const labels = new Set<string>();
  if (await isDir(join(root, labelDir))) {
    for (const file of await listDir(join(root, labelDir))) {
      if (file.endsWith('.png') && images.has(file.slice(0, -4))) labels.add(file.slice(0, -4));
    }
  }

  const splits = new Map<string, string[]>();
  const splitDir = join(root, SPLIT_DIR);
  if (await isDir(splitDir)) {
    await assertRealInside(root, splitDir);
    for (const file of (await listDir(splitDir)).filter((f) => f.endsWith('.txt')).sort()) {
      // A split file linked to a file elsewhere would show that file's lines in answers.
      await assertRealInside(root, join(splitDir, file));
      const text = await readFile(join(splitDir, file), 'utf8').catch((err: NodeJS.ErrnoException) => {
        throw new WorkbenchError('bad-file', `${join(splitDir, file)}: cannot be read (${err.code})`);
      });
      // A line is an id, optionally followed by a flag column (as in the VOC classification lists).
      const ids = text
        .split(/\r?\n/)
        .map((line) => line.trim().split(/\s+/)[0] ?? '')
        .filter((id) => id.length > 0);
      splits.set(file.slice(0, -4), ids);
    }
  }
  return { root, name: basename(root), labelDir, images: sorted, labels, splits };
}
