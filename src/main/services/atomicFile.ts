// Crash-safe file writes: the bytes go to a temporary file in the same folder, are fsynced, then
// renamed over the target, so a reader sees the whole old file or the whole new one. Plain Node.
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Suffix of in-flight temporary files; a crash can leave one behind, and the next open sweeps it. */
export const TEMP_SUFFIX = '.segscope-tmp';

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

/** Writes `data` to `target` atomically, creating the folder when needed. */
export async function writeFileAtomic(target: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const mode = await stat(target).then(
    (s) => s.mode & 0o777,
    () => 0o644,
  );
  const temp = tempPathFor(target);
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await rename(temp, target);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await syncDir(dirname(target));
}

/** Writes a small JSON state file atomically. */
export function writeJsonAtomic(target: string, value: unknown): Promise<void> {
  return writeFileAtomic(target, JSON.stringify(value, null, 2) + '\n');
}

/** Copies `source` to `target` atomically (used for backups, which must never be half-written). */
export async function copyFileAtomic(source: string, target: string): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const temp = tempPathFor(target);
  try {
    await copyFile(source, temp);
    const handle = await open(temp, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
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
    const info = await stat(path).catch(() => null);
    if (info && Date.now() - info.mtimeMs >= minAgeMs) {
      await rm(path, { force: true });
      removed++;
    }
  }
  return removed;
}
