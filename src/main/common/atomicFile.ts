// Crash-safe file writes, the one writer of the engine, the services and the CLI: the bytes go to a
// temporary file created exclusively in the target's own folder (never through a link planted at its
// name), are fsynced, then renamed over the target, and the folder is fsynced, so a reader sees the
// whole old file or the whole new one. A failure names the file in plain words. Plain Node; any process.
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { copyFile, lstat, mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Suffix of in-flight temporary files; a crash can leave one behind, and the next open sweeps it. */
export const TEMP_SUFFIX = '.segscope-tmp';

/** `path: cannot be written (ENOSPC: the disk is full)`, for a failed write or folder creation. */
export function writeError(path: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  // Already said in these words (a nested write named its file): keep the first, most precise message.
  if (e instanceof Error && / cannot be written \(/.test(e.message)) return e;
  const why =
    e.code === 'ENOSPC'
      ? 'the disk is full'
      : e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS'
        ? 'no permission to write there (or a read-only disk)'
        : e.code === 'ELOOP'
          ? 'it is a link, which Segscope does not write through'
          : (e.message ?? String(err));
  const out = new Error(`${path}: cannot be written (${e.code ? `${e.code}: ` : ''}${why})`, {
    cause: err,
  }) as NodeJS.ErrnoException;
  // Callers that tell errors apart by code (EEXIST, ENOENT) still can.
  if (e.code) out.code = e.code;
  return out;
}

function tempPathFor(target: string): string {
  return join(
    dirname(target),
    `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`,
  );
}

async function syncDir(dir: string): Promise<void> {
  // Makes the rename durable. Some platforms (Windows) cannot open a folder; the rename still stands.
  const handle = await open(dir, 'r').catch(() => null);
  if (!handle) return;
  try {
    await handle.sync();
  } catch {
    // fsync on a directory is not supported everywhere; nothing more can be done.
  } finally {
    await handle.close();
  }
}

/** The mode to give the new file: the old file's, when there is one and it is a plain file. */
async function keptMode(target: string): Promise<number> {
  const info = await lstat(target).catch(() => null);
  return info?.isFile() ? info.mode & 0o777 : 0o644;
}

/** Makes folder `dir` and its parents; a failure names it. */
export async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw writeError(dir, err);
  }
}

/**
 * Writes `data` to `target` atomically, creating the folder when needed. The temporary file is opened
 * with `wx` (O_CREAT|O_EXCL), which fails on any existing name, a link included, so nothing is written
 * through a link; the rename then replaces `target` itself, never what a link there points to.
 */
export async function writeFileAtomic(target: string, data: Uint8Array | string): Promise<void> {
  await makeDir(dirname(target));
  const mode = await keptMode(target);
  const temp = tempPathFor(target);
  let made = false;
  try {
    const handle = await open(temp, 'wx', mode);
    made = true;
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (err) {
    // A failed write (a full disk) must not leave its temporary file to keep the disk full. Only one
    // this call made: a name that was taken (a planted link) is not ours to remove.
    if (made) await rm(temp, { force: true }).catch(() => undefined);
    throw writeError(target, err);
  }
  await syncDir(dirname(target));
}

/** Writes a small JSON state file atomically. */
export function writeJsonAtomic(target: string, value: unknown): Promise<void> {
  return writeFileAtomic(target, JSON.stringify(value, null, 2) + '\n');
}

/** Copies `source` to `target` atomically (used for backups, which must never be half-written). */
export async function copyFileAtomic(source: string, target: string): Promise<void> {
  await makeDir(dirname(target));
  const temp = tempPathFor(target);
  let made = false;
  try {
    await copyFile(source, temp, fsConstants.COPYFILE_EXCL);
    made = true;
    const handle = await open(temp, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (err) {
    // A copy cut short removes its part; a name that was taken (EEXIST: a planted link) is not ours.
    if (made || (err as NodeJS.ErrnoException).code !== 'EEXIST')
      await rm(temp, { force: true }).catch(() => undefined);
    throw writeError(target, err);
  }
  await syncDir(dirname(target));
}

/** Removes temporary files a crashed save left in `dir` that are older than `minAgeMs`. */
export async function sweepTempFiles(dir: string, minAgeMs = 60_000): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  let removed = 0;
  for (const name of names) {
    if (!name.endsWith(TEMP_SUFFIX)) continue;
    const path = join(dir, name);
    // lstat: a link planted under a temporary name is removed as a link, its target left alone.
    const info = await lstat(path).catch(() => null);
    if (info && Date.now() - info.mtimeMs >= minAgeMs) {
      await rm(path, { force: true });
      removed++;
    }
  }
  return removed;
}
