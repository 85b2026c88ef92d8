// The dataset service on private copies of voc-mini: splits, filters, classes, review status, the
// checker and thumbnails.
import { appendFileSync, copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeEach, describe, expect, it } from 'vitest';
import { decodeLabelPng, encodeLabelPng, labelHistogram } from '../../../../src/shared/labelPng';
import { vocColormap } from '../../../../src/shared/voc';
import { checkDataset } from '../../../../src/main/services/check';
import { Dataset } from '../../../../src/main/services/dataset';
import { WorkbenchSession } from '../../../../src/main/services/session';
import { copyVocMini, VOC_MINI, VOC_MINI_IDS } from '../../../helpers/data';

let root: string;
beforeEach(() => {
  root = copyVocMini();
});

describe('dataset index', () => {
  it('reads every split with its count, and shows images in no split as unlisted', async () => {
    copyFileSync(join(root, 'JPEGImages', '2007_000032.jpg'), join(root, 'JPEGImages', 'extra_1.jpg'));
    const ds = await Dataset.open(root);
    const s = ds.summary();
    expect(s.splits).toEqual([
      { name: 'train', count: 3 },
      { name: 'trainval', count: 5 },
      { name: 'val', count: 2 },
    ]);
    expect(s.unlistedCount).toBe(1);
    expect(ds.list({ split: 'unlisted' }, 0, 10).rows.map((r) => r.id)).toEqual(['extra_1']);
    expect(ds.list({ split: 'val' }, 0, 10).total).toBe(2);
    expect(ds.list({ labeled: false }, 0, 10).rows.map((r) => r.id)).toEqual(['extra_1']);
    expect(ds.list({ search: '2011_' }, 0, 10).total).toBe(3);
    expect(
      ds.list({ search: '2011_', split: 'train' }, 0, 10).rows.every((r) => r.splits.includes('train')),
    ).toBe(true);
    expect(ds.list({}, 2, 2).rows.map((r) => r.id)).toEqual(VOC_MINI_IDS.slice(2, 4));
  });

  it('lists in a given order (the review queue), leaving out unknown ids and applying the other filters', async () => {
    const ds = await Dataset.open(root);
    const order = ['2011_000025', 'nope', '2007_000032', '2011_000003'];
    expect(ds.list({ order }, 0, 10).rows.map((r) => r.id)).toEqual([
      '2011_000025',
      '2007_000032',
      '2011_000003',
    ]);
    expect(ds.list({ order, split: 'val' }, 0, 10).rows.map((r) => r.id)).toEqual(['2011_000025']);
    expect(ds.list({ order }, 1, 1)).toMatchObject({ total: 3, rows: [{ id: '2007_000032' }] });
  });

  it('uses labelmap.txt, or class_names.txt, over the VOC classes, and keeps edits in the workspace', async () => {
    writeFileSync(
      join(root, 'labelmap.txt'),
      '# label:color_rgb:parts:actions\nbackground:0,0,0::\nroad:128,64,128::\ncar:0,0,142::\n',
    );
    let ds = await Dataset.open(root);
    expect(ds.summary().classSource).toBe('labelmap.txt');
    expect(ds.classes().map((c) => [c.index, c.name, c.color])).toEqual([
      [0, 'background', [0, 0, 0]],
      [1, 'road', [128, 64, 128]],
      [2, 'car', [0, 0, 142]],
    ]);
    // New label files get the dataset's colours, with void kept at 255.
    const palette = ds.newLabelPalette();
    expect([...palette.subarray(3, 6)]).toEqual([128, 64, 128]);
    expect([...palette.subarray(765, 768)]).toEqual([224, 224, 192]);

    const labelBefore = readFileSync(join(root, 'SegmentationClass', '2007_000032.png'));
    await ds.editClass(1, { name: 'street', color: [1, 2, 3] });
    ds = await Dataset.open(root);
    expect(ds.classes()[1]).toEqual({ index: 1, name: 'street', color: [1, 2, 3] });
    expect(readFileSync(join(root, 'SegmentationClass', '2007_000032.png')).equals(labelBefore)).toBe(true);
    await expect(ds.editClass(9, { name: 'x' })).rejects.toMatchObject({ code: 'not-found' });

    rmSync(join(root, 'labelmap.txt'));
    writeFileSync(join(root, 'class_names.txt'), '__ignore__\n_background_\ncat\ndog\n');
    ds = await Dataset.open(root);
    expect(ds.summary().classSource).toBe('class_names.txt');
    expect(ds.classes().map((c) => c.name)).toEqual(['background', 'street', 'dog']);

    writeFileSync(join(root, 'class_names.txt'), '');
    writeFileSync(join(root, 'labelmap.txt'), 'background:0,0,0::\nbad:1,2::\n');
    await expect(Dataset.open(root)).rejects.toMatchObject({
      code: 'bad-file',
      message: expect.stringContaining('labelmap.txt'),
    });
  });

  it('keeps review status in the workspace, written atomically, across reopen', async () => {
    let ds = await Dataset.open(root);
    await ds.setReview(['2007_000033', '2011_000003'], 'done');
    ds = await Dataset.open(root);
    expect(ds.list({ review: 'done' }, 0, 10).rows.map((r) => r.id)).toEqual(['2007_000033', '2011_000003']);
    expect(JSON.parse(readFileSync(join(root, '.segscope', 'review.json'), 'utf8'))).toEqual({
      version: 1,
      done: ['2007_000033', '2011_000003'],
    });
    await ds.setReview(['2007_000033'], 'todo');
    expect(ds.list({ review: 'todo' }, 0, 10).total).toBe(4);
    await expect(ds.setReview(['nope'], 'done')).rejects.toMatchObject({ code: 'not-found' });
  });

  it('opens the devkit folder of a dataset on read-only storage without writing anything', async () => {
    const session = new WorkbenchSession();
    const result = await session.open(VOC_MINI);
    expect(result.kind).toBe('opened');
  });
});

describe('dataset check', () => {
  it('reports the histogram and image counts of voc-mini, matching the labels, with no problems', async () => {
    const ds = await Dataset.open(VOC_MINI);
    const report = await checkDataset(ds);
    expect(report.problems).toEqual([]);
    expect(report.checked).toBe(5);
    const expected = new Float64Array(256);
    const images = new Uint32Array(256);
    for (const id of VOC_MINI_IDS) {
      const hist = labelHistogram(
        decodeLabelPng(readFileSync(join(VOC_MINI, 'SegmentationClass', `${id}.png`))).indices,
      );
      hist.forEach((n, i) => {
        expected[i]! += n;
        if (n > 0) images[i]!++;
      });
    }
    const present = report.classes.filter((c) => c.pixels > 0).map((c) => c.index);
    expect(present).toEqual([0, 1, 5, 6, 7, 9, 15, 18, 255]);
    for (const c of report.classes) {
      expect(c.pixels, c.name).toBe(expected[c.index]);
      expect(c.images, c.name).toBe(images[c.index]);
    }
    expect(report.classes.find((c) => c.index === 255)?.name).toBe('void');
  });

  it('finds each kind of problem and names the file', async () => {
    const seg = (id: string) => join(root, 'SegmentationClass', `${id}.png`);
    const bytes = readFileSync(seg('2007_000033'));
    writeFileSync(seg('2007_000033'), bytes.subarray(0, 100)); // truncated
    writeFileSync(
      seg('2011_000003'),
      encodeLabelPng({ width: 10, height: 10, indices: new Uint8Array(100) }, vocColormap()),
    );
    const label6 = decodeLabelPng(readFileSync(seg('2011_000006')));
    writeFileSync(
      seg('2011_000006'),
      encodeLabelPng({ ...label6, indices: label6.indices.map((v) => (v === 0 ? 0 : 255)) }, label6.palette),
    );
    const label25 = decodeLabelPng(readFileSync(seg('2011_000025')));
    const odd = label25.indices.slice();
    odd[0] = 30;
    writeFileSync(seg('2011_000025'), encodeLabelPng({ ...label25, indices: odd }, label25.palette));
    appendFileSync(join(root, 'ImageSets', 'Segmentation', 'val.txt'), 'ghost_image\n');

    const report = await checkDataset(await Dataset.open(root));
    const kinds = Object.fromEntries(report.problems.map((p) => [p.id, p.kind]));
    expect(kinds).toEqual({
      ghost_image: 'missing-image',
      '2007_000033': 'unreadable',
      '2011_000003': 'size-mismatch',
      '2011_000006': 'binary-mask',
      '2011_000025': 'unknown-class',
    });
    for (const p of report.problems.filter((x) => x.kind !== 'missing-image'))
      expect(p.message).toContain(seg(p.id));
    expect(report.problems.find((p) => p.kind === 'unknown-class')?.message).toContain('30');
  });
});

describe('thumbnails', () => {
  it('are made once, cached in the workspace, at most 160 px', async () => {
    const session = new WorkbenchSession();
    await session.open(root);
    const path = await session.mediaFile('thumb', '2007_000032');
    expect(path).toBe(join(root, '.segscope', 'cache', 'thumbs', '2007_000032.jpg'));
    const meta = await sharp(path).metadata();
    expect(meta.format).toBe('jpeg');
    expect(Math.max(meta.width!, meta.height!)).toBe(160);
    const mtime = (await import('node:fs')).statSync(path).mtimeMs;
    await session.mediaFile('thumb', '2007_000032');
    expect((await import('node:fs')).statSync(path).mtimeMs).toBe(mtime);
    await expect(session.mediaFile('thumb', '../x')).rejects.toMatchObject({ code: 'outside-root' });
  });
});
