// Confinement: every file Segscope touches under a dataset or a run folder is read, written, renamed,
// deleted and listed through here, so no link planted in that folder (a shared drive, a downloaded
// archive) leads a read, a write or a delete outside the root it belongs to. Plain Node; runs in main,
// the engine and the CLI.
import { constants as fsConstants } from 'node:fs';
import {
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  readlink,
  realpath,
  rename,
  rmdir,
  stat,
  unlink,
} from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { WorkbenchError } from '../../shared/errors';
import { writeError, writeFileAtomic, writeJsonAtomic } from './atomicFile';

/** Whether `path` is `root` or lies under it, lexically. */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && rel.split(sep)[0] !== '..');
}

/** Joins `parts` under `root`; throws `outside-root` when the result would leave it. */
export function resolveInside(root: string, ...parts: string[]): string {
  const path = resolve(root, ...parts);
  if (!isInside(root, path)) {
    throw new WorkbenchError('outside-root', `${parts.join('/')}: resolves outside the dataset (${root})`);
  }
  return path;
}

/** More links than this in one path is a loop (Linux's own limit is 40). */
const MAX_LINKS = 40;

/**
 * Where `path` really leads: every link on the way followed, dangling ones included (a dangling link
 * that an append or a mkdir would follow leads wherever it names, even though nothing is there yet).
 */
async function realTarget(path: string, links = 0): Promise<string> {
  if (links > MAX_LINKS) throw new WorkbenchError('bad-file', `${path}: too many levels of links`);
  try {
    return await realpath(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
  }
  const info = await lstat(path).catch(() => null);
  if (info?.isSymbolicLink()) return realTarget(resolve(dirname(path), await readlink(path)), links + 1);
  const parent = dirname(path);
  if (parent === path) return path;
  return join(await realTarget(parent, links), basename(path));
}

/**
 * Follows links and checks that the real file is still inside the real root: any component of `path`
 * that is a link leading outside is refused with `outside-root`, naming `path`. A path that does not
 * exist yet is checked through its nearest existing parent (and any dangling link on the way).
 * `what` names the root in the message ("the dataset", "the run").
 */
export async function assertRealInside(root: string, path: string, what = 'the dataset'): Promise<void> {
  const realRoot = await realpath(root);
  const real = await realTarget(path);
  if (!isInside(realRoot, real)) {
    throw new WorkbenchError('outside-root', `${path}: leads outside ${what} (to ${real})`);
  }
}

/** An image id as it may appear in a request: one path segment, no separators, not `.` or `..`. */
export const ID_PATTERN = /^(?!\.\.?$)[^/\\\0]{1,255}$/;

/** `O_NOFOLLOW` where the platform has it: the last component is never followed when it is a link. */
const NOFOLLOW = fsConstants.O_NOFOLLOW ?? 0;

/**
 * A root (a dataset, a run folder) and the file operations that stay inside it. Each checks the path
 * just before it acts: lexically (no `..` out of the root) and physically (no link leading out).
 */
export class Confined {
  /** `what` names the root in refusals: "the dataset", "the run". */
  constructor(
    readonly root: string,
    readonly what = 'the dataset',
  ) {}

  /** `path` (absolute, or relative to the root) after both checks. */
  async check(path: string): Promise<string> {
    const full = resolve(this.root, path);
    if (!isInside(resolve(this.root), full)) {
      throw new WorkbenchError('outside-root', `${path}: resolves outside ${this.what} (${this.root})`);
    }
    await assertRealInside(this.root, full, this.what);
    return full;
  }

  async readFile(path: string): Promise<Buffer>;
  async readFile(path: string, encoding: 'utf8'): Promise<string>;
  async readFile(path: string, encoding?: 'utf8'): Promise<Buffer | string> {
    const full = await this.check(path);
    return encoding ? readFile(full, encoding) : readFile(full);
  }

  /** The file's stat, or null when it is missing; a link out is refused like any other access. */
  async stat(path: string): Promise<Awaited<ReturnType<typeof stat>> | null> {
    const full = await this.check(path);
    return stat(full).catch(() => null);
  }

  async exists(path: string): Promise<boolean> {
    return (await this.stat(path)) !== null;
  }

  /** Makes `path` and its missing parents, each one checked: a link planted on the way is refused. */
  async mkdir(path: string): Promise<string> {
    const full = await this.check(path);
    try {
      await mkdir(full, { recursive: true });
    } catch (err) {
      throw writeError(full, err);
    }
    // A link swapped in while the folders were made would show now, before anything is written there.
    await this.check(full);
    return full;
  }

  /** Writes `data` to `path` atomically (exclusive temp file in its folder, fsync, rename). */
  async writeFile(path: string, data: Uint8Array | string): Promise<string> {
    const full = await this.check(path);
    await writeFileAtomic(full, data);
    return full;
  }

  async writeJson(path: string, value: unknown): Promise<string> {
    const full = await this.check(path);
    await writeJsonAtomic(full, value);
    return full;
  }

  /** Appends `text` to `path`, never through a link at the file itself. */
  async appendFile(path: string, text: string): Promise<void> {
    const full = await this.check(path);
    try {
      const handle = await open(
        full,
        fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT | NOFOLLOW,
        0o644,
      );
      try {
        await handle.writeFile(text);
      } finally {
        await handle.close();
      }
    } catch (err) {
      throw writeError(full, err);
    }
  }

  async rename(from: string, to: string): Promise<void> {
    const [a, b] = [await this.check(from), await this.check(to)];
    await rename(a, b);
  }

  /** The names in folder `path`; [] when it is missing. A linked folder that leads out is refused. */
  async list(path: string): Promise<string[]> {
    const full = await this.check(path);
    return readdir(full).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return [];
      throw err;
    });
  }

  /**
   * Deletes `path`, a file or a whole folder, never crossing a link: a link inside is unlinked, not
   * followed, and `path` itself being a link removes only the link. Missing is not an error.
   */
  async remove(path: string): Promise<void> {
    const full = resolve(this.root, path);
    if (full === resolve(this.root)) throw new WorkbenchError('outside-root', `${path}: is the root itself`);
    if (!isInside(resolve(this.root), full))
      throw new WorkbenchError('outside-root', `${path}: resolves outside ${this.what} (${this.root})`);
    // Only the folder it is in must lead nowhere outside: a link at `path` is removed, not followed.
    await this.check(dirname(full)).catch((err: unknown) => {
      if (!(err instanceof WorkbenchError) || err.code !== 'outside-root') throw err;
      throw new WorkbenchError('outside-root', `${full}: leads outside ${this.what} (${err.message})`);
    });
    await removeTree(full);
  }
}

/** Deletes `path` without following any link in it. */
export async function removeTree(path: string): Promise<void> {
  const info = await lstat(path).catch(() => null);
  if (!info) return;
  if (!info.isDirectory()) {
    await unlink(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    return;
  }
  for (const name of await readdir(path).catch(() => [] as string[])) await removeTree(join(path, name));
  await rmdir(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}
