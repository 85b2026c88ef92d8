// Finds the dataset root inside a folder the user picked and lists its images. Plain Node, main process.
import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { WorkbenchError } from '../../shared/errors';

/** Image file extensions a VOC-layout dataset may use, lower case. */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png'] as const;

/** What a dataset root holds, as found on disk. */
export interface VocFolder {
  root: string;
  name: string;
  /** Image ids, sorted, each mapped to its file name in `JPEGImages/`. */
  images: Map<string, string>;
  /** Ids that have a label PNG. */
  labels: Set<string>;
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
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

/**
 * Resolves the folder a user picked to a dataset root: the folder itself when it holds `JPEGImages/`,
 * or the single `VOC*` year inside a `VOCdevkit`.
 */
export async function findVocRoot(picked: string): Promise<string> {
  const path = resolve(picked);
  if (!(await isDir(path))) throw new WorkbenchError('not-found', `${path}: no such folder`);
  if (await isDir(join(path, 'JPEGImages'))) return path;
  const entries = await listDir(path);
  const years: string[] = [];
  for (const entry of entries.sort()) {
    if ((await isDir(join(path, entry))) && (await isDir(join(path, entry, 'JPEGImages')))) years.push(entry);
  }
  if (years.length === 1) return join(path, years[0]!);
  if (years.length > 1) {
    throw new WorkbenchError(
      'not-voc',
      `${path}: holds several datasets (${years.join(', ')}); open one of them`,
    );
  }
  throw new WorkbenchError(
    'not-voc',
    `${path}: not a VOC dataset (no JPEGImages/ folder here or in a VOC year folder below it)`,
  );
}

/** Lists the images and labels under a dataset root. */
export async function scanVocFolder(root: string): Promise<VocFolder> {
  const images = new Map<string, string>();
  for (const file of await listDir(join(root, 'JPEGImages'))) {
    const dot = file.lastIndexOf('.');
    if (dot <= 0) continue;
    const ext = file.slice(dot).toLowerCase();
    if ((IMAGE_EXTENSIONS as readonly string[]).includes(ext)) images.set(file.slice(0, dot), file);
  }
  const labels = new Set<string>();
  const labelDir = join(root, 'SegmentationClass');
  if (await isDir(labelDir)) {
    for (const file of await listDir(labelDir)) {
      if (file.toLowerCase().endsWith('.png')) {
        const id = file.slice(0, -4);
        if (images.has(id)) labels.add(id);
      }
    }
  }
  const sorted = new Map([...images.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { root, name: basename(root), images: sorted, labels };
}
