// The start screen's folder browser: folders only (no files), hidden ones left out, the parent, and
// clear messages for a file or a missing path.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listFolders } from '../../../../src/main/services/folders';
import { tempDir } from '../../../helpers/data';

describe('listFolders', () => {
  it('lists sub-folders and links to folders, sorted, without files or hidden folders', async () => {
    const dir = tempDir();
    for (const name of ['b', 'a', '.hidden']) mkdirSync(join(dir, name));
    writeFileSync(join(dir, 'notes.txt'), 'x');
    symlinkSync(join(dir, 'a'), join(dir, 'c-link'));
    const listing = await listFolders(dir);
    expect(listing).toEqual({
      path: dir,
      parent: join(dir, '..'),
      folders: ['a', 'b', 'c-link'],
      truncated: false,
    });
  });

  it('says when the path is a file or does not exist, and has no parent at the root', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'f.jpg'), 'x');
    await expect(listFolders(join(dir, 'f.jpg'))).rejects.toThrow(
      `${join(dir, 'f.jpg')}: is a file, not a folder`,
    );
    await expect(listFolders(join(dir, 'nope'))).rejects.toThrow(`${join(dir, 'nope')}: no such folder`);
    expect((await listFolders('/')).parent).toBeNull();
  });
});
