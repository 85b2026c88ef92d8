// Paths to the real VOC data in ../shared/data, which tests read in place and never copy into the repo.
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const SHARED_DATA = resolve(__dirname, '../../../shared/data');
export const VOC_MINI_DEVKIT = join(SHARED_DATA, 'voc-mini/VOCdevkit');
export const VOC_MINI = join(VOC_MINI_DEVKIT, 'VOC2012');
export const VOC_VAL_LABELS = join(SHARED_DATA, 'voc-val-labels/SegmentationClass');
export const VOC_MINI_IDS = ['2007_000032', '2007_000033', '2011_000003', '2011_000006', '2011_000025'];

/** A private copy of voc-mini in a temporary folder, for tests that write. */
export function copyVocMini(): string {
  const dir = mkdtempSync(join(tmpdir(), 'segscope-voc-'));
  cpSync(VOC_MINI, join(dir, 'VOC2012'), { recursive: true });
  return join(dir, 'VOC2012');
}

/** A fresh empty temporary folder. */
export function tempDir(prefix = 'segscope-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
