// The one atomic writer: a failure names the file in plain words and leaves no temporary file, the
// temporary file is created exclusively (a link planted at a temporary name is never written through),
// and a link at the target is replaced, not followed. The full disk is real (/dev/full): a full disk
// cannot be made here otherwise, and the writer no longer follows the link the old test planted, so
// `open` of a temporary file is handed /dev/full after the file itself was created.
import {
  lstatSync,
  readdirSync,
  readFileSync,
  statSync,
  chmodSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { tempDir } from '../../../helpers/data';

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const open: typeof real.open = async (path, flags, mode) => {
    if (String(path).includes('full-disk') && String(path).endsWith('.segscope-tmp')) {
      const made = await real.open(path, flags, mode);
      await made.close();
      return real.open('/dev/full', 'w');
    }
    return real.open(path, flags, mode);
  };
  return { ...real, open, default: { ...real, open } };
});

const { TEMP_SUFFIX, copyFileAtomic, sweepTempFiles, writeFileAtomic } =
  await import('../../../../src/main/common/atomicFile');

describe('the atomic writer', () => {
  it('names the file on a full disk and leaves no temporary file behind', async () => {
    const dir = join(tempDir(), 'full-disk');
    const target = join(dir, 'weights.bin');
    await expect(writeFileAtomic(target, new Uint8Array(1 << 16))).rejects.toThrow(
      new RegExp(`${target}: cannot be written \\(ENOSPC: the disk is full\\)`),
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it('keeps the mode of the file it replaces', async () => {
    const target = join(tempDir(), 'a.json');
    writeFileSync(target, 'old');
    chmodSync(target, 0o600);
    await writeFileAtomic(target, 'new');
    expect(readFileSync(target, 'utf8')).toBe('new');
    expect(statSync(target).mode & 0o777).toBe(0o600);
  });

  it('replaces a link at the target instead of writing where it points', async () => {
    const dir = tempDir();
    const victim = join(tempDir('segscope-outside-'), 'victim');
    writeFileSync(victim, 'precious');
    symlinkSync(victim, join(dir, 'state.json'));
    await writeFileAtomic(join(dir, 'state.json'), 'new');
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(lstatSync(join(dir, 'state.json')).isFile()).toBe(true);
    await copyFileAtomic(victim, join(dir, 'copy'));
    expect(readFileSync(join(dir, 'copy'), 'utf8')).toBe('precious');
  });

  it('sweeps old temporary names, removing a planted link but not its target', async () => {
    const dir = tempDir();
    const victim = join(tempDir('segscope-outside-'), 'victim');
    writeFileSync(victim, 'precious');
    symlinkSync(victim, join(dir, `.x.1.ab${TEMP_SUFFIX}`));
    expect(await sweepTempFiles(dir, 0)).toBe(1);
    expect(readdirSync(dir)).toEqual([]);
    expect(readFileSync(victim, 'utf8')).toBe('precious');
  });
});
