// Keeps every file a handler touches inside the open dataset root: lexically (no `..`, no absolute
// paths elsewhere) and physically (no symlink that leads outside). Plain Node, main process.
import { realpath } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { WorkbenchError } from '../../shared/errors';

function isInside(root: string, path: string): boolean {
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

/**
 * Follows symlinks and checks that the real file is still inside the real root. A path that does
 * not exist yet is checked through its nearest existing parent.
 */
export async function assertRealInside(root: string, path: string): Promise<void> {
  const realRoot = await realpath(root);
  let existing = path;
  for (;;) {
    let realExisting: string;
    try {
      realExisting = await realpath(existing);
    } catch (err) {
      const parent = dirname(existing);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === existing) throw err;
      existing = parent;
      continue;
    }
    const real = resolve(realExisting, relative(existing, path));
    if (!isInside(realRoot, real)) {
      throw new WorkbenchError('outside-root', `${path}: leads outside the dataset (to ${real})`);
    }
    return;
  }
}

/** An image id as it may appear in a request: one path segment, no separators, not `.` or `..`. */
export const ID_PATTERN = /^(?!\.\.?$)[^/\\\0]{1,255}$/;
