// The folder browser of the start screen: the sub-folders of one folder, so that a browser user picks a
// dataset without typing its path. Only folder names are listed, never files or their contents; like
// every method it is served only to a client holding the token. Plain Node, main process.
import { opendir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { FolderListing, FolderMark } from '../../shared/api';
import { WorkbenchError } from '../../shared/errors';
import { RUN_FILES } from '../common/runLayout';
import { isVocRoot } from './vocFolder';

/** At most this many folders are listed; a folder with more is cut short and says so. */
export const MAX_FOLDERS = 2000;

/**
 * A folder holding more entries than this is refused after reading this many, without reading the rest:
 * nobody browses it by scrolling, and reading (and sorting) 100k names would stall the call.
 */
export const MAX_ENTRIES = 20_000;

/**
 * Only the first this many listed folders are looked into to mark datasets and runs (a few stat calls
 * each), so that a folder of thousands of sub-folders still lists at once.
 */
export const MAX_MARKED = 400;

/** A name as the file system holds it, or null when it is not UTF-8: such a folder could not be opened by name. */
function utf8Name(raw: Buffer): string | null {
  const name = raw.toString('utf8');
  return Buffer.from(name, 'utf8').equals(raw) ? name : null;
}

async function isDir(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** What `dir` is to Segscope: a dataset, a run folder, or null for a plain folder. */
async function folderKind(dir: string): Promise<FolderMark['kind'] | null> {
  if (await isVocRoot(dir)) return 'dataset';
  const [config, state] = await Promise.all([
    isFile(join(dir, RUN_FILES.config)),
    isFile(join(dir, RUN_FILES.state)),
  ]);
  return config && state ? 'run' : null;
}

/**
 * The folders in `path` (the home folder when absent), hidden ones and names that are not UTF-8 left
 * out, sorted by name; a folder of more than `maxEntries` entries is refused.
 */
export async function listFolders(
  path: string | undefined,
  maxEntries = MAX_ENTRIES,
): Promise<FolderListing> {
  const dir = resolve(path?.trim() || homedir());
  const info = await stat(dir).catch(() => null);
  if (!info) throw new WorkbenchError('not-found', `${dir}: no such folder`);
  if (!info.isDirectory()) throw new WorkbenchError('bad-request', `${dir}: is a file, not a folder`);
  const folders: string[] = [];
  let seen = 0;
  try {
    // Names are read as bytes: a name that is not UTF-8 would come back with U+FFFD in it, a path that
    // does not exist, so it is left out rather than listed and then failing to open.
    const entries = await opendir(dir, { encoding: 'buffer' as BufferEncoding, bufferSize: 256 });
    for await (const e of entries) {
      if (++seen > maxEntries) {
        await entries.close().catch(() => undefined);
        throw new WorkbenchError(
          'bad-request',
          `${dir}: holds more than ${maxEntries} entries, too many to list; type the path of the folder inside it`,
        );
      }
      const name = utf8Name(e.name as unknown as Buffer);
      if (name === null || name.startsWith('.')) continue;
      // A link to a folder is a folder to the person browsing.
      if (e.isDirectory() || (e.isSymbolicLink() && (await isDir(join(dir, name))))) folders.push(name);
    }
  } catch (err) {
    if (err instanceof WorkbenchError) throw err;
    throw new WorkbenchError(
      'bad-file',
      `${dir}: cannot be read (${(err as NodeJS.ErrnoException).code ?? err})`,
    );
  }
  folders.sort((a, b) => a.localeCompare(b));
  const listed = folders.slice(0, MAX_FOLDERS);
  const kinds = await Promise.all(listed.slice(0, MAX_MARKED).map((name) => folderKind(join(dir, name))));
  const marks: FolderMark[] = [];
  kinds.forEach((kind, i) => kind && marks.push({ name: listed[i]!, kind }));
  const parent = dirname(dir);
  return {
    path: dir,
    parent: parent === dir ? null : parent,
    folders: listed,
    truncated: folders.length > MAX_FOLDERS,
    marks,
  };
}
