// The folder browser of the start screen: the sub-folders of one folder, so that a browser user picks a
// dataset without typing its path. Only folder names are listed, never files or their contents; like
// every method it is served only to a client holding the token. Plain Node, main process.
import { readdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { FolderListing } from '../../shared/api';
import { WorkbenchError } from '../../shared/errors';

/** At most this many folders are listed; a folder with more is cut short and says so. */
export const MAX_FOLDERS = 2000;

async function isDir(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/** The folders in `path` (the home folder when absent), hidden ones left out, sorted by name. */
export async function listFolders(path: string | undefined): Promise<FolderListing> {
  const dir = resolve(path?.trim() || homedir());
  const info = await stat(dir).catch(() => null);
  if (!info) throw new WorkbenchError('not-found', `${dir}: no such folder`);
  if (!info.isDirectory()) throw new WorkbenchError('bad-request', `${dir}: is a file, not a folder`);
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new WorkbenchError(
      'bad-file',
      `${dir}: cannot be read (${(err as NodeJS.ErrnoException).code ?? err})`,
    );
  }
  const folders: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    // A link to a folder is a folder to the person browsing.
    if (e.isDirectory() || (e.isSymbolicLink() && (await isDir(join(dir, e.name))))) folders.push(e.name);
  }
  folders.sort((a, b) => a.localeCompare(b));
  const parent = dirname(dir);
  return {
    path: dir,
    parent: parent === dir ? null : parent,
    folders: folders.slice(0, MAX_FOLDERS),
    truncated: folders.length > MAX_FOLDERS,
  };
}
