// Tests for `segscope eval-masks` through the real CLI entry point: JSON shape, human output, exit codes.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { captureConsole } from '../../../helpers/console';
import { main } from '../../../../src/main/cli/main';
import { decodeLabelPng, encodeLabelPng } from '../../../../src/shared/labelPng';
import { vocColormap } from '../../../../src/shared/voc';
import { copyVocMini, tempDir, VOC_MINI, VOC_MINI_IDS } from '../../../helpers/data';

const GT = join(VOC_MINI, 'SegmentationClass');

const capture = captureConsole;
afterEach(() => vi.restoreAllMocks());

/** A prediction folder: the voc-mini labels, with every person (15) predicted as background. */
function predictions(ids = VOC_MINI_IDS): string {
  const dir = tempDir('segscope-pred-');
  for (const id of ids) {
    const label = decodeLabelPng(readFileSync(join(GT, `${id}.png`)));
    const indices = label.indices.map((v) => (v === 15 ? 0 : v));
    writeFileSync(join(dir, `${id}.png`), encodeLabelPng({ ...label, indices }, vocColormap()));
  }
  return dir;
}

describe('segscope eval-masks', () => {
  it('prints the documented JSON and exits 0 when every pair compares', async () => {
    const { out } = capture();
    expect(await main(['eval-masks', '--gt', GT, '--pred', predictions(), '--json'])).toBe(0);
    const json = JSON.parse(out.join('\n'));
    expect(Object.keys(json)).toEqual([
      'images',
      'missing',
      'problems',
      'miou',
      'mpa',
      'mprecision',
      'mrecall',
      'f1',
      'pixel_accuracy',
      'per_class',
      'confusion',
    ]);
    expect(json.images).toBe(5);
    expect(json.missing).toEqual([]);
    expect(json.problems).toEqual([]);
    expect(json.per_class).toHaveLength(21);
    expect(Object.keys(json.per_class[0])).toEqual([
      'index',
      'name',
      'iou',
      'precision',
      'recall',
      'f1',
      'gt_pixels',
      'pred_pixels',
    ]);
    expect(json.confusion).toHaveLength(21);
    const person = json.per_class[15];
    expect(person.name).toBe('person');
    expect(person.gt_pixels).toBeGreaterThan(0);
    // Every person pixel went to background and nothing else was wrong.
    expect(person).toMatchObject({ iou: 0, precision: null, recall: 0, f1: 0, pred_pixels: 0 });
    expect(json.confusion[15][0]).toBe(person.gt_pixels);
    const total = json.confusion.flat().reduce((a: number, b: number) => a + b, 0);
    expect(json.pixel_accuracy).toBeCloseTo((total - person.gt_pixels) / total, 12);
    for (const c of json.per_class) {
      if (c.index !== 0 && c.index !== 15 && c.gt_pixels > 0) expect(c.iou).toBe(1);
      if (c.gt_pixels === 0 && c.pred_pixels === 0) expect(c.iou).toBeNull();
    }
  });

  it('exits 1 and names the image when a prediction is missing', async () => {
    const { out } = capture();
    const pred = predictions(VOC_MINI_IDS.slice(1));
    expect(await main(['eval-masks', '--gt', GT, '--pred', pred, '--json'])).toBe(1);
    const json = JSON.parse(out.join('\n'));
    expect(json.images).toBe(4);
    expect(json.missing).toEqual([VOC_MINI_IDS[0]]);
  });

  it('exits 1 and names the file when a pair cannot be compared', async () => {
    const { out } = capture();
    const pred = predictions();
    writeFileSync(join(pred, `${VOC_MINI_IDS[2]}.png`), 'garbage');
    expect(await main(['eval-masks', '--gt', GT, '--pred', pred])).toBe(1);
    const text = out.join('\n');
    expect(text).toContain('4 images compared, 0 missing predictions, 1 problem');
    expect(text).toContain(
      `unreadable    ${VOC_MINI_IDS[2]}: ${join(pred, `${VOC_MINI_IDS[2]}.png`)}: not a PNG file`,
    );
  });

  it('prints a table of percentages and the means for people', async () => {
    const { out, err } = capture();
    const pred = predictions();
    writeFileSync(
      join(pred, 'extra.png'),
      encodeLabelPng({ width: 1, height: 1, indices: new Uint8Array(1) }, vocColormap()),
    );
    expect(await main(['eval-masks', '--gt', GT, '--pred', pred])).toBe(0);
    const text = out.join('\n');
    expect(text).toContain('5 images compared, 0 missing predictions, 0 problems');
    expect(text).toMatch(/IoU\s+precis\.\s+recall\s+F1/);
    // person: IoU 0, precision undefined, recall 0, F1 0.
    expect(text).toMatch(/\n\s+15 {2}person\s+0\.00\s+—\s+0\.00\s+0\.00\s/);
    expect(text).toMatch(/\n\s+1 {2}aeroplane\s+100\.00\s+100\.00\s+100\.00\s+100\.00\s/);
    expect(text).toMatch(/mIoU \d+\.\d\d%/);
    expect(err.join('\n')).toContain('1 prediction has no ground truth');
  });

  it('takes the class names from --dataset', async () => {
    const { out } = capture();
    const root = copyVocMini();
    const names = Array.from({ length: 21 }, (_, i) => `thing${i}`);
    writeFileSync(join(root, 'labelmap.txt'), names.map((n, i) => `${n}:${i},0,0::`).join('\n'));
    expect(await main(['eval-masks', '--gt', GT, '--pred', GT, '--dataset', root, '--json'])).toBe(0);
    const json = JSON.parse(out.join('\n'));
    expect(json.per_class.map((c: { name: string }) => c.name)).toEqual(names);
    expect(json.miou).toBe(1);
  });

  it('exits 2 for bad usage, saying what is wrong', async () => {
    const { err } = capture();
    expect(await main(['eval-masks', '--gt', GT])).toBe(2);
    expect(err.join('\n')).toContain('eval-masks needs --pred DIR');
    expect(await main(['eval-masks', '--pred', GT])).toBe(2);
    expect(err.join('\n')).toContain('eval-masks needs --gt DIR');
    const nowhere = join(tempDir(), 'nowhere');
    expect(await main(['eval-masks', '--gt', nowhere, '--pred', GT])).toBe(2);
    expect(err.join('\n')).toContain(`--gt ${nowhere}: no such folder`);
    expect(await main(['eval-masks', '--gt', GT, '--pred', join(GT, `${VOC_MINI_IDS[0]}.png`)])).toBe(2);
    expect(err.join('\n')).toContain('is a file, not a folder');
    expect(await main(['eval-masks', '--gt', GT, '--pred', GT, '--bogus'])).toBe(2);
    expect(await main(['eval-masks', '--gt', GT, '--pred', GT, '--dataset', nowhere])).toBe(2);
  });
});
