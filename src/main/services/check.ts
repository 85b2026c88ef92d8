// The dataset checker: every label problem it can find, the pixel histogram per class index and the
// number of images each class appears in. Reads only; never modifies a file. Plain Node, main process.
import type { CheckProblem, CheckReport } from '../../shared/api';
import { isBinaryMask, labelHistogram } from '../../shared/labelPng';
import { VOID_INDEX } from '../../shared/voc';
import { WorkbenchError } from '../../shared/errors';
import type { Dataset } from './dataset';
import { imageSize } from './imageFiles';
import { decodeLabelFile, labelHeaderSize } from './labels';

/** Checks the labels of `ds`; `onProgress` hears (done, total) now and then. */
export async function checkDataset(
  ds: Dataset,
  onProgress?: (done: number, total: number) => void,
): Promise<CheckReport> {
  const problems: CheckProblem[] = [];
  const histogram = new Float64Array(256);
  const images = new Uint32Array(256);
  const classes = ds.classes();
  const known = new Set(classes.map((c) => c.index));
  known.add(VOID_INDEX);

  for (const [split, ids] of ds.splits) {
    const missing = ids.filter((id) => !ds.hasImage(id));
    for (const id of missing) {
      problems.push({
        id,
        kind: 'missing-image',
        message: `listed in split ${split} but ${ds.root}/JPEGImages has no image ${id}`,
      });
    }
  }

  const labelled = ds.ids.filter((id) => ds.hasLabel(id));
  const palette = ds.newLabelPalette();
  let done = 0;
  for (const id of labelled) {
    const path = ds.labelPath(id);
    try {
      // The image's size first: a label of another size is reported from its header, never decoded.
      const size = await imageSize(ds.imagePath(id));
      const header = await labelHeaderSize(path);
      if (header && (header.width !== size.width || header.height !== size.height)) {
        problems.push({
          id,
          kind: 'size-mismatch',
          message: `${path}: the label is ${header.width}×${header.height} but its image is ${size.width}×${size.height}`,
        });
        if (++done % 50 === 0) onProgress?.(done, labelled.length);
        continue;
      }
      const label = await decodeLabelFile(path, palette);
      const hist = labelHistogram(label.indices);
      if (isBinaryMask(hist)) {
        problems.push({
          id,
          kind: 'binary-mask',
          message: `${path}: holds only 0 and 255, a binary mask rather than class indices`,
        });
      }
      const unknown: number[] = [];
      for (let i = 0; i < 256; i++) {
        const n = hist[i]!;
        if (n === 0) continue;
        histogram[i]! += n;
        images[i]!++;
        if (!known.has(i)) unknown.push(i);
      }
      if (unknown.length > 0) {
        problems.push({
          id,
          kind: 'unknown-class',
          message: `${path}: uses indices ${unknown.join(', ')}, which are not classes`,
        });
      }
    } catch (err) {
      if (!(err instanceof WorkbenchError)) throw err;
      problems.push({ id, kind: 'unreadable', message: err.message });
    }
    if (++done % 50 === 0) onProgress?.(done, labelled.length);
  }
  onProgress?.(labelled.length, labelled.length);

  const names = new Map(classes.map((c) => [c.index, c.name]));
  const perClass = [];
  for (let i = 0; i < 256; i++) {
    if (histogram[i] === 0 && !names.has(i)) continue;
    perClass.push({
      index: i,
      name: names.get(i) ?? (i === VOID_INDEX ? 'void' : `index ${i}`),
      pixels: histogram[i]!,
      images: images[i]!,
    });
  }
  return { root: ds.root, checked: labelled.length, problems, classes: perClass };
}
