// A link planted at the very name the atomic writer picks for its temporary file: the exclusive create
// (`wx`) fails instead of writing through it, the failure names the target, and the file the link leads
// to is byte-identical. The name is made predictable by fixing node:crypto's random bytes (the only way
// to know it in advance); the files and the link are real.
import { lstatSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { tempDir } from '../../../helpers/data';

vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  const randomBytes = (n: number) => Buffer.alloc(n, 0xab);
  return { ...real, randomBytes, default: { ...real, randomBytes } };
});

const { TEMP_SUFFIX, writeFileAtomic } = await import('../../../../src/main/common/atomicFile');

describe('a link at the temporary name', () => {
  it('is never written through: the write fails naming the target, the victim unchanged', async () => {
    const dir = tempDir();
    const victim = join(tempDir(), 'victim.txt');
    writeFileSync(victim, 'not Segscope’s\n');
    const target = join(dir, 'model.onnx');
    const temp = join(dir, `.model.onnx.${process.pid}.abababab${TEMP_SUFFIX}`);
    symlinkSync(victim, temp);
    await expect(writeFileAtomic(target, 'new bytes')).rejects.toThrow(
      `${target}: cannot be written (EEXIST`,
    );
    expect(readFileSync(victim, 'utf8')).toBe('not Segscope’s\n');
    expect(lstatSync(temp).isSymbolicLink()).toBe(true);
  });
});
