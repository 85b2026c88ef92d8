// The realpath rule of DESIGN.md applied to the workspace, split files and class files: a
// `.segscope` (or a folder or file in it), a split file or a class file that is a link to somewhere
// outside the dataset is refused with a message naming it, and nothing outside is read or written.
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WorkbenchSession } from '../../../../src/main/services/session';
import { readLabel, saveLabel } from '../../../../src/main/services/labels';
import { listRuns } from '../../../../src/main/services/runs';
import { copyVocMini, tempDir } from '../../../helpers/data';

const ID = '2007_000032';

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

describe('links that lead outside the dataset', () => {
  it('refuses a .segscope that links outside, and writes nothing there', async () => {
    const root = copyVocMini();
    const outside = tempDir('segscope-outside-');
    rmSync(join(root, '.segscope'), { recursive: true, force: true });
    symlinkSync(outside, join(root, '.segscope'));
    const session = new WorkbenchSession();
    await expect(session.open(root)).rejects.toMatchObject({
      code: 'outside-root',
      message: expect.stringMatching(/\.segscope: leads outside the dataset/),
    });
    expect(filesUnder(outside)).toEqual([]);
  });

  it('refuses backups, thumbnails, review state and runs through links in the workspace', async () => {
    const root = copyVocMini();
    const outside = tempDir('segscope-outside-');
    const session = new WorkbenchSession();
    await session.open(root);
    const ds = session.dataset;
    const workspace = join(root, '.segscope');
    rmSync(workspace, { recursive: true, force: true });
    mkdirSync(workspace);
    for (const name of ['backup', 'cache', 'runs']) symlinkSync(outside, join(workspace, name));
    writeFileSync(join(outside, 'secret.json'), '{"version":1,"done":["leak"]}');
    symlinkSync(join(outside, 'secret.json'), join(workspace, 'review.json'));

    const labelFile = join(root, 'SegmentationClass', `${ID}.png`);
    const before = readFileSync(labelFile);
    const label = await readLabel(ds, ID);
    await expect(
      saveLabel(ds, {
        id: ID,
        width: label.width,
        height: label.height,
        indices: label.indices,
        baseVersion: label.version,
      }),
    ).rejects.toMatchObject({
      code: 'outside-root',
      message: expect.stringMatching(/backup.*leads outside/),
    });
    expect(readFileSync(labelFile).equals(before)).toBe(true); // nothing on disk was modified

    await expect(session.mediaFile('thumb', ID)).rejects.toMatchObject({ code: 'outside-root' });
    await expect(ds.setReview([ID], 'done')).rejects.toMatchObject({
      code: 'outside-root',
      message: expect.stringMatching(/review\.json: leads outside/),
    });
    await expect(listRuns(root)).rejects.toMatchObject({ code: 'outside-root' });
    expect(filesUnder(outside)).toEqual([join(outside, 'secret.json')]);
    expect(readFileSync(join(outside, 'secret.json'), 'utf8')).toContain('leak');

    // Opened again, the linked review state is refused rather than read and shown.
    await expect(new WorkbenchSession().open(root)).rejects.toMatchObject({ code: 'outside-root' });
  });

  it('refuses a split file or a class file that links outside', async () => {
    const outside = tempDir('segscope-outside-');
    writeFileSync(join(outside, 'passwd'), 'root:x:0:0\n');

    const a = copyVocMini();
    symlinkSync(join(outside, 'passwd'), join(a, 'ImageSets', 'Segmentation', 'leak.txt'));
    await expect(new WorkbenchSession().open(a)).rejects.toMatchObject({
      code: 'outside-root',
      message: expect.stringMatching(/leak\.txt: leads outside the dataset/),
    });

    const b = copyVocMini();
    symlinkSync(join(outside, 'passwd'), join(b, 'labelmap.txt'));
    await expect(new WorkbenchSession().open(b)).rejects.toMatchObject({
      code: 'outside-root',
      message: expect.stringMatching(/labelmap\.txt: leads outside the dataset/),
    });
  });
});
