// Reading and saving labels on a private copy of voc-mini: exact indices, kept palettes, backups,
// conflicts, and bad input that is reported with the file's name while nothing on disk changes.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { encode } from 'fast-png';
import { beforeEach, describe, expect, it } from 'vitest';
import { decodeLabelPng, encodeLabelPng } from '../../../../src/shared/labelPng';
import { vocColormap } from '../../../../src/shared/voc';
import { Dataset } from '../../../../src/main/services/dataset';
import { readLabel, saveLabel } from '../../../../src/main/services/labels';
import { copyVocMini, tempDir } from '../../../helpers/data';

const ID = '2007_000032';
let root: string;
let ds: Dataset;
const labelPath = (id = ID) => join(root, 'SegmentationClass', `${id}.png`);

beforeEach(async () => {
  root = copyVocMini();
  ds = await Dataset.open(root);
});

/** Every file under `dir` with its hash and mtime, to prove that nothing was modified. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile()) {
        out[relative(dir, p)] =
          `${createHash('sha256').update(readFileSync(p)).digest('hex')}@${statSync(p).mtimeMs}`;
      }
    }
  };
  walk(dir);
  return out;
}

function plteBytes(png: Uint8Array): string {
  const buf = Buffer.from(png);
  const at = buf.indexOf('PLTE');
  return buf.subarray(at - 4, at + 8 + buf.readUInt32BE(at - 4)).toString('hex');
}

describe('reading labels', () => {
  it('gives the exact indices and palette of the file, and its version', async () => {
    const label = await readLabel(ds, ID);
    const direct = decodeLabelPng(readFileSync(labelPath()));
    expect(label).toMatchObject({ id: ID, width: 500, height: 281, exists: true, source: 'palette' });
    expect(Buffer.from(label.indices).equals(Buffer.from(direct.indices))).toBe(true);
    expect(Buffer.from(label.palette).equals(Buffer.from(vocColormap()))).toBe(true);
    expect(label.version).toMatch(/^\d+(\.\d+)?-\d+-\d+$/);
    expect(label.warnings).toEqual([]);
  });

  it('warns about a binary 0/255 mask, the classic export mistake', async () => {
    const label = decodeLabelPng(readFileSync(labelPath()));
    writeFileSync(
      labelPath(),
      encodeLabelPng({ ...label, indices: label.indices.map((v) => (v ? 255 : 0)) }, label.palette),
    );
    expect((await readLabel(ds, ID)).warnings).toEqual([
      `${labelPath()}: holds only 0 and 255, a binary mask rather than class indices`,
    ]);
  });

  it('gives an all-background map of the image size for an image without a label', async () => {
    unlinkSync(labelPath());
    ds = await Dataset.open(root);
    const label = await readLabel(ds, ID);
    expect(label).toMatchObject({ exists: false, version: null, width: 500, height: 281 });
    expect(label.indices.every((v) => v === 0)).toBe(true);
  });
});

describe('saving labels', () => {
  it('writes exactly the new indices, keeps the palette bytes, and backs the original up once', async () => {
    const before = readFileSync(labelPath());
    const label = await readLabel(ds, ID);
    const edited = label.indices.slice();
    edited.fill(15, 0, 5000);
    const saved = await saveLabel(ds, {
      id: ID,
      width: 500,
      height: 281,
      indices: edited,
      baseVersion: label.version,
    });
    const after = readFileSync(labelPath());
    expect(Buffer.from(decodeLabelPng(after).indices).equals(Buffer.from(edited))).toBe(true);
    expect(plteBytes(after)).toBe(plteBytes(before));
    expect(saved.created).toBe(false);
    expect(saved.backup).toBe(join(root, '.segscope', 'backup', 'SegmentationClass', `${ID}.png`));
    expect(readFileSync(saved.backup!).equals(before)).toBe(true);

    // A second save keeps the first backup: it is the original, not the previous edit.
    await saveLabel(ds, {
      id: ID,
      width: 500,
      height: 281,
      indices: label.indices,
      baseVersion: saved.version,
    });
    expect(readFileSync(saved.backup!).equals(before)).toBe(true);
    expect(
      Buffer.from(decodeLabelPng(readFileSync(labelPath())).indices).equals(Buffer.from(label.indices)),
    ).toBe(true);
  });

  it('keeps a short palette of the file as it is', async () => {
    const label = await readLabel(ds, ID);
    const short = vocColormap().slice(0, 22 * 3);
    writeFileSync(
      labelPath(),
      encodeLabelPng(
        { width: 500, height: 281, indices: label.indices.map((v) => (v === 255 ? 21 : v)) },
        short,
      ),
    );
    const fresh = await readLabel(ds, ID);
    expect(fresh.palette.length).toBe(66);
    await saveLabel(ds, {
      id: ID,
      width: 500,
      height: 281,
      indices: fresh.indices,
      baseVersion: fresh.version,
    });
    expect(Buffer.from(decodeLabelPng(readFileSync(labelPath())).palette).equals(Buffer.from(short))).toBe(
      true,
    );
  });

  it('creates a label for an image without one, with the VOC colormap, readable by PIL as mode P', async () => {
    unlinkSync(labelPath());
    ds = await Dataset.open(root);
    const indices = new Uint8Array(500 * 281);
    indices.fill(7, 1000, 9000);
    const saved = await saveLabel(ds, { id: ID, width: 500, height: 281, indices, baseVersion: null });
    expect(saved).toMatchObject({ created: true, backup: null });
    expect(ds.hasLabel(ID)).toBe(true);
    const py = `from PIL import Image; import numpy as np, hashlib, sys
im = Image.open(sys.argv[1]); print(im.mode, hashlib.sha256(np.array(im).tobytes()).hexdigest())`;
    const out = execFileSync('/usr/bin/python3', ['-c', py, labelPath()], { encoding: 'utf8' }).trim();
    expect(out).toBe(`P ${createHash('sha256').update(indices).digest('hex')}`);
    // Segscope made this file, so overwriting it needs no backup.
    const again = await saveLabel(ds, {
      id: ID,
      width: 500,
      height: 281,
      indices,
      baseVersion: saved.version,
    });
    expect(again.backup).toBeNull();
  });

  it('refuses to overwrite a label changed on disk since it was read, unless forced', async () => {
    const label = await readLabel(ds, ID);
    const other = label.indices.slice().fill(3, 0, 100);
    writeFileSync(labelPath(), encodeLabelPng({ width: 500, height: 281, indices: other }, label.palette));
    utimesSync(labelPath(), new Date(), new Date(Date.now() + 5000));
    const onDisk = readFileSync(labelPath());
    await expect(
      saveLabel(ds, { id: ID, width: 500, height: 281, indices: label.indices, baseVersion: label.version }),
    ).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining(labelPath()) });
    expect(readFileSync(labelPath()).equals(onDisk)).toBe(true);
    await saveLabel(ds, {
      id: ID,
      width: 500,
      height: 281,
      indices: label.indices,
      baseVersion: label.version,
      force: true,
    });
    expect(
      Buffer.from(decodeLabelPng(readFileSync(labelPath())).indices).equals(Buffer.from(label.indices)),
    ).toBe(true);
  });
});

describe('bad input: a clear message naming the file, and nothing modified', () => {
  it('a truncated PNG', async () => {
    const bytes = readFileSync(labelPath());
    writeFileSync(labelPath(), bytes.subarray(0, bytes.length >> 1));
    const before = snapshot(root);
    await expect(readLabel(ds, ID)).rejects.toMatchObject({
      code: 'bad-file',
      message: expect.stringMatching(new RegExp(`^${labelPath()}: .*(truncated|corrupt)`)),
    });
    expect(snapshot(root)).toEqual(before);
  });

  it('a label of the wrong size, read or saved', async () => {
    writeFileSync(
      labelPath(),
      encodeLabelPng({ width: 40, height: 30, indices: new Uint8Array(1200) }, vocColormap()),
    );
    const before = snapshot(root);
    await expect(readLabel(ds, ID)).rejects.toMatchObject({
      code: 'bad-file',
      message: expect.stringContaining(`${labelPath()}: the label is 40×30 but its image`),
    });
    await expect(
      saveLabel(ds, {
        id: ID,
        width: 40,
        height: 30,
        indices: new Uint8Array(1200),
        baseVersion: null,
        force: true,
      }),
    ).rejects.toMatchObject({ code: 'bad-request', message: expect.stringContaining('which is 500×281') });
    await expect(
      saveLabel(ds, {
        id: ID,
        width: 500,
        height: 281,
        indices: new Uint8Array(10),
        baseVersion: null,
        force: true,
      }),
    ).rejects.toMatchObject({ code: 'bad-request', message: expect.stringContaining('10 indices') });
    expect(snapshot(root)).toEqual(before);
  });

  it('an RGB mask with a colour that is not in the palette', async () => {
    const label = decodeLabelPng(readFileSync(labelPath()));
    const cmap = vocColormap();
    const rgb = new Uint8Array(500 * 281 * 3);
    label.indices.forEach((v, i) => rgb.set(cmap.subarray(v * 3, v * 3 + 3), i * 3));
    rgb.set([12, 34, 56], (3 * 500 + 10) * 3); // x=10, y=3
    writeFileSync(labelPath(), encode({ width: 500, height: 281, data: rgb, channels: 3, depth: 8 }));
    const before = snapshot(root);
    await expect(readLabel(ds, ID)).rejects.toMatchObject({
      code: 'bad-file',
      message: expect.stringMatching(/12,34,56.*x=10.*y=3/),
    });
    expect(snapshot(root)).toEqual(before);
    // The same mask without the stray colour maps back to the exact indices.
    rgb.set(
      cmap.subarray(label.indices[3 * 500 + 10]! * 3, label.indices[3 * 500 + 10]! * 3 + 3),
      (3 * 500 + 10) * 3,
    );
    writeFileSync(labelPath(), encode({ width: 500, height: 281, data: rgb, channels: 3, depth: 8 }));
    const mapped = await readLabel(ds, ID);
    expect(mapped.source).toBe('rgb');
    expect(Buffer.from(mapped.indices).equals(Buffer.from(label.indices))).toBe(true);
  });

  it('an unreadable file', async () => {
    rmSync(labelPath());
    mkdirSync(labelPath()); // a folder where the PNG should be: reading it fails with EISDIR
    const before = snapshot(root);
    await expect(readLabel(ds, ID)).rejects.toMatchObject({
      code: 'bad-file',
      message: expect.stringContaining(`${labelPath()}: cannot be read`),
    });
    expect(snapshot(root)).toEqual(before);
  });

  it('a ../ path, an absolute path, and a symlink that leads outside', async () => {
    const outside = tempDir();
    const victim = join(outside, 'victim.png');
    writeFileSync(victim, readFileSync(labelPath()));
    const victimBefore = readFileSync(victim);
    for (const id of ['../../etc/passwd', '..', '/etc/passwd', 'a/../../b']) {
      await expect(readLabel(ds, id)).rejects.toMatchObject({ code: 'outside-root' });
      await expect(
        saveLabel(ds, {
          id,
          width: 1,
          height: 1,
          indices: new Uint8Array(1),
          baseVersion: null,
          force: true,
        }),
      ).rejects.toMatchObject({ code: 'outside-root' });
    }
    rmSync(labelPath());
    symlinkSync(victim, labelPath());
    const before = snapshot(root);
    await expect(readLabel(ds, ID)).rejects.toMatchObject({
      code: 'outside-root',
      message: expect.stringContaining(labelPath()),
    });
    await expect(
      saveLabel(ds, {
        id: ID,
        width: 500,
        height: 281,
        indices: new Uint8Array(500 * 281),
        baseVersion: null,
        force: true,
      }),
    ).rejects.toMatchObject({ code: 'outside-root' });
    expect(readFileSync(victim).equals(victimBefore)).toBe(true);
    expect(snapshot(root)).toEqual(before);
  });

  it('a folder that is not VOC, and an empty folder', async () => {
    const empty = tempDir();
    await expect(Dataset.open(empty)).rejects.toThrow();
    const { WorkbenchSession } = await import('../../../../src/main/services/session');
    const session = new WorkbenchSession();
    await expect(session.open(empty)).rejects.toMatchObject({
      code: 'not-voc',
      message: `${empty}: the folder is empty, not a VOC dataset`,
    });
    const notVoc = tempDir();
    writeFileSync(join(notVoc, 'readme.txt'), 'hello');
    mkdirSync(join(notVoc, 'images'));
    await expect(session.open(notVoc)).rejects.toMatchObject({
      code: 'not-voc',
      message: expect.stringContaining(`${notVoc}: not a VOC dataset`),
    });
    expect(readdirSync(notVoc).sort()).toEqual(['images', 'readme.txt']);
    expect(readdirSync(empty)).toEqual([]);
  });
});
