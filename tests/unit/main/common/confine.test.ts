// The confinement layer: a path whose components include a link leading outside its root is refused
// with outside-root naming the path, for every operation; a dangling link out counts as out; a
// recursive delete unlinks links inside and never follows them.
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Confined, resolveInside } from '../../../../src/main/common/confine';
import { tempDir } from '../../../helpers/data';

function setup() {
  const root = tempDir();
  const outside = tempDir('segscope-outside-');
  mkdirSync(join(outside, 'dir'));
  writeFileSync(join(outside, 'dir', 'keep.txt'), 'precious');
  writeFileSync(join(outside, 'file.txt'), 'precious');
  symlinkSync(join(outside, 'dir'), join(root, 'linkdir'));
  symlinkSync(join(outside, 'file.txt'), join(root, 'linkfile'));
  symlinkSync(join(outside, 'nothing-yet'), join(root, 'dangling'));
  mkdirSync(join(root, 'inner'));
  symlinkSync(join(root, 'inner'), join(root, 'linkinside'));
  return { root, outside, files: new Confined(root) };
}

const refused = (path: string) => ({
  code: 'outside-root',
  message: expect.stringContaining(`${path}: leads outside the dataset`),
});

describe('Confined', () => {
  it('refuses every operation through a link out, naming the path', async () => {
    const { root, outside, files } = setup();
    const viaDir = join(root, 'linkdir', 'keep.txt');
    await expect(files.readFile(viaDir)).rejects.toMatchObject(refused(viaDir));
    await expect(files.writeFile(viaDir, 'x')).rejects.toMatchObject(refused(viaDir));
    await expect(files.appendFile(join(root, 'linkfile'), 'x')).rejects.toMatchObject(
      refused(join(root, 'linkfile')),
    );
    await expect(files.appendFile(join(root, 'dangling'), 'x')).rejects.toMatchObject(
      refused(join(root, 'dangling')),
    );
    await expect(files.mkdir(join(root, 'dangling', 'a'))).rejects.toMatchObject({ code: 'outside-root' });
    await expect(files.list(join(root, 'linkdir'))).rejects.toMatchObject(refused(join(root, 'linkdir')));
    await expect(files.remove(viaDir)).rejects.toMatchObject(refused(viaDir));
    await expect(files.stat(viaDir)).rejects.toMatchObject(refused(viaDir));
    await expect(files.rename(join(root, 'inner'), viaDir)).rejects.toMatchObject(refused(viaDir));
    await expect(files.check('../x')).rejects.toMatchObject({ code: 'outside-root' });
    expect(() => resolveInside(root, '..', 'x')).toThrow(/resolves outside/);
    expect(readFileSync(join(outside, 'dir', 'keep.txt'), 'utf8')).toBe('precious');
    expect(readFileSync(join(outside, 'file.txt'), 'utf8')).toBe('precious');
    expect(existsSync(join(outside, 'nothing-yet'))).toBe(false);
  });

  it('lets links that stay inside be used', async () => {
    const { root, files } = setup();
    await files.writeFile(join(root, 'linkinside', 'a.txt'), 'ok');
    expect(readFileSync(join(root, 'inner', 'a.txt'), 'utf8')).toBe('ok');
    expect(await files.list(join(root, 'linkinside'))).toEqual(['a.txt']);
  });

  it('deletes a tree without following the links in it', async () => {
    const { root, outside, files } = setup();
    const tree = join(root, 'tree');
    mkdirSync(join(tree, 'sub'), { recursive: true });
    writeFileSync(join(tree, 'sub', 'f'), 'x');
    symlinkSync(join(outside, 'dir'), join(tree, 'sub', 'out'));
    symlinkSync(join(outside, 'file.txt'), join(tree, 'outfile'));
    await files.remove(tree);
    expect(existsSync(tree)).toBe(false);
    await files.remove(join(root, 'linkdir')); // the link itself is inside: only it goes
    expect(existsSync(join(root, 'linkdir'))).toBe(false);
    expect(readdirSync(join(outside, 'dir'))).toEqual(['keep.txt']);
    expect(readFileSync(join(outside, 'file.txt'), 'utf8')).toBe('precious');
  });
});
