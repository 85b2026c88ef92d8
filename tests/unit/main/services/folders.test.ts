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
      marks: [],
    });
  });

  it('marks the folders that are datasets and Segscope runs, and nothing else', async () => {
    const dir = tempDir();
    for (const sub of [
      'voc/JPEGImages',
      'voc/SegmentationClass',
      'images-only/JPEGImages',
      'run/checkpoints',
    ])
      mkdirSync(join(dir, sub), { recursive: true });
    writeFileSync(join(dir, 'run', 'config.json'), '{}');
    writeFileSync(join(dir, 'run', 'state.json'), '{}');
    mkdirSync(join(dir, 'half-run'));
    writeFileSync(join(dir, 'half-run', 'config.json'), '{}');
    symlinkSync(join(dir, 'voc'), join(dir, 'voc-link'));
    const listing = await listFolders(dir);
    expect(listing.folders).toEqual(['half-run', 'images-only', 'run', 'voc', 'voc-link']);
    expect(listing.marks).toEqual([
      { name: 'run', kind: 'run' },
      { name: 'voc', kind: 'dataset' },
      { name: 'voc-link', kind: 'dataset' },
    ]);
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

describe('listFolders on folders it could not open', () => {
  it('leaves out a folder whose name is not UTF-8, which could not be opened by name', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'ok'));
    // 0xff is never UTF-8: read as a string it would become U+FFFD, a path that does not exist.
    mkdirSync(Buffer.concat([Buffer.from(`${dir}/bad-`), Buffer.from([0xff]), Buffer.from('-name')]));
    const listing = await listFolders(dir);
    expect(listing.folders).toEqual(['ok']);
    for (const name of listing.folders) await expect(listFolders(join(dir, name))).resolves.toBeTruthy();
  });

  it('refuses a folder with more entries than the limit, naming it, without listing them', async () => {
    // A low limit stands in for 100k folders, which take far longer to create than to refuse.
    const dir = tempDir();
    for (let i = 0; i < 60; i++) mkdirSync(join(dir, `f${i}`));
    await expect(listFolders(dir, 50)).rejects.toThrow(
      `${dir}: holds more than 50 entries, too many to list`,
    );
    await expect(listFolders(dir, 50)).rejects.toMatchObject({ code: 'bad-request' });
    expect((await listFolders(dir, 60)).folders).toHaveLength(60);
  });
});
