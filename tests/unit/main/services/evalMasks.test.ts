// Tests for eval-masks' folder comparison: the real VOC val labels against deterministic corruptions of
// them, with numpy (through Debian's Python, which has PIL) as the independent reference.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import { beforeAll, describe, expect, it } from 'vitest';
import { evalMaskFolders } from '../../../../src/main/services/evalMasks';
import { decodeLabelPng, encodeLabelPng, type LabelMap } from '../../../../src/shared/labelPng';
import type { SegmentationMetrics } from '../../../../src/shared/metrics';
import { vocClasses, vocColormap } from '../../../../src/shared/voc';
import { tempDir, VOC_MINI, VOC_VAL_LABELS } from '../../../helpers/data';

const N = 21;
const VAL_IDS = readdirSync(VOC_VAL_LABELS)
  .filter((f) => f.endsWith('.png'))
  .map((f) => f.slice(0, -4))
  .sort();

function readLabel(path: string): LabelMap {
  return decodeLabelPng(readFileSync(path));
}

/** A deterministic corruption of a ground truth, different for each k. */
function corrupt(gt: LabelMap, k: number): LabelMap {
  const { width: w, height: h, indices: src } = gt;
  const out = new Uint8Array(src.length);
  const at = (x: number, y: number) =>
    src[Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))]!;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      const v = src[p]!;
      switch (k % 6) {
        case 0: // a perfect prediction that puts background where the ground truth is void
          out[p] = v === 255 ? 0 : v;
          break;
        case 1: // every object class shifted to the next one
          out[p] = v >= 1 && v <= 20 ? (v % 20) + 1 : v;
          break;
        case 2: // a block painted with one class
          out[p] = x >= w / 4 && x < w / 2 && y >= h / 4 && y < (3 * h) / 4 ? k % N : v;
          break;
        case 3: // the whole mask shifted by (7, 4) pixels
          out[p] = at(x - 7, y - 4);
          break;
        case 4: {
          // eroded: a pixel on any boundary becomes background
          const same = at(x - 1, y) === v && at(x + 1, y) === v && at(x, y - 1) === v && at(x, y + 1) === v;
          out[p] = same ? v : 0;
          break;
        }
        default: // holes of "no prediction" (255) and scattered noise
          if (((x >> 3) + (y >> 3)) % 3 === 0) out[p] = 255;
          else if ((x * 7 + y * 13) % 11 === 0 && v !== 255) out[p] = (v + 5) % N;
          else out[p] = v;
      }
    }
  }
  return { width: w, height: h, indices: out };
}

/** Writes a label map as a palette PNG, or as an RGB or grayscale PNG for some k. */
function writePred(path: string, map: LabelMap, k: number): void {
  const cmap = vocColormap();
  if (k % 7 === 3) {
    const rgb = new Uint8Array(map.indices.length * 3);
    map.indices.forEach((v, i) => rgb.set(cmap.subarray(v * 3, v * 3 + 3), i * 3));
    writeFileSync(
      path,
      encodePng({ width: map.width, height: map.height, data: rgb, channels: 3, depth: 8 }),
    );
  } else if (k % 7 === 5) {
    writeFileSync(
      path,
      encodePng({ width: map.width, height: map.height, data: map.indices, channels: 1, depth: 8 }),
    );
  } else {
    writeFileSync(path, encodeLabelPng(map, cmap));
  }
}

// The reference: PIL reads both folders (RGB mapped through a VOC colormap built here, from the devkit's
// bit-spreading rule), numpy counts with bincount over gt*21+pred and computes the metrics with the same
// null conventions. It shares no code with Segscope.
const NUMPY_SCRIPT = `
import json, sys
import numpy as np
from PIL import Image
N = 21
gt_dir, pred_dir, ids = sys.argv[1], sys.argv[2], sys.argv[3:]
cmap = np.zeros((256, 3), dtype=np.int64)
for i in range(256):
    r = g = b = 0
    c = i
    for j in range(8):
        r |= ((c >> 0) & 1) << (7 - j)
        g |= ((c >> 1) & 1) << (7 - j)
        b |= ((c >> 2) & 1) << (7 - j)
        c >>= 3
    cmap[i] = [r, g, b]
lookup = {}
for i in range(255, -1, -1):
    lookup[int(cmap[i, 0] << 16 | cmap[i, 1] << 8 | cmap[i, 2])] = i
modes = {}
def load(path):
    im = Image.open(path)
    modes[im.mode] = modes.get(im.mode, 0) + 1
    a = np.array(im)
    if im.mode == 'RGB':
        key = (a[..., 0].astype(np.int64) << 16) | (a[..., 1].astype(np.int64) << 8) | a[..., 2]
        uniq, inv = np.unique(key, return_inverse=True)
        a = np.array([lookup[int(u)] for u in uniq], dtype=np.int64)[inv].reshape(key.shape)
    else:
        assert im.mode in ('P', 'L'), im.mode
    return a.astype(np.int64)
cm = np.zeros((N, N), dtype=np.int64)
for i in ids:
    g = load(f'{gt_dir}/{i}.png')
    p = load(f'{pred_dir}/{i}.png')
    assert g.shape == p.shape
    keep = (g != 255) & (p != 255)
    assert g[keep].max() < N and p[keep].max() < N
    cm += np.bincount(g[keep] * N + p[keep], minlength=N * N).reshape(N, N)
tp = np.diag(cm).astype(np.float64)
gt = cm.sum(axis=1).astype(np.float64)
pr = cm.sum(axis=0).astype(np.float64)
with np.errstate(divide='ignore', invalid='ignore'):
    iou = np.where(gt + pr > 0, tp / (gt + pr - tp), np.nan)
    prec = np.where(pr > 0, tp / pr, np.nan)
    rec = np.where(gt > 0, tp / gt, np.nan)
    f1 = np.where(gt + pr > 0, 2 * tp / (gt + pr), np.nan)
nul = lambda v: [None if np.isnan(x) else float(x) for x in v]
print(json.dumps({
    'confusion': cm.tolist(), 'modes': modes,
    'miou': float(np.nanmean(iou)), 'mpa': float(np.nanmean(rec)), 'mprecision': float(np.nanmean(prec)),
    'f1': float(np.nanmean(f1)), 'pixel_accuracy': float(tp.sum() / cm.sum()),
    'iou': nul(iou), 'precision': nul(prec), 'recall': nul(rec), 'class_f1': nul(f1),
}))
`;

interface NumpyReference {
  confusion: number[][];
  modes: Record<string, number>;
  miou: number;
  mpa: number;
  mprecision: number;
  f1: number;
  pixel_accuracy: number;
  iou: (number | null)[];
  precision: (number | null)[];
  recall: (number | null)[];
  class_f1: (number | null)[];
}

function numpyReference(predDir: string, ids: string[]): NumpyReference {
  const out = execFileSync('/usr/bin/python3', ['-c', NUMPY_SCRIPT, VOC_VAL_LABELS, predDir, ...ids], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out) as NumpyReference;
}

/** Our metrics against numpy's: the counts exactly, every ratio and mean to 1e-12, nulls in the same places. */
function expectSameAsNumpy(m: SegmentationMetrics, reference: NumpyReference): void {
  expect(m.confusion).toEqual(reference.confusion);
  for (const key of ['miou', 'mpa', 'mprecision', 'f1', 'pixel_accuracy'] as const) {
    expect(Math.abs(m[key]! - reference[key]), key).toBeLessThan(1e-12);
  }
  expect(m.mrecall).toBe(m.mpa);
  for (const list of [reference.iou, reference.precision, reference.recall, reference.class_f1]) {
    expect(list).toHaveLength(N);
  }
  m.per_class.forEach((c, i) => {
    // The lengths were checked above, so `?? null` never hides a missing entry.
    const pairs = [
      ['iou', c.iou, reference.iou[i] ?? null],
      ['precision', c.precision, reference.precision[i] ?? null],
      ['recall', c.recall, reference.recall[i] ?? null],
      ['f1', c.f1, reference.class_f1[i] ?? null],
    ] as const;
    for (const [what, ours, theirs] of pairs) {
      if (theirs === null) expect(ours, `${c.name}.${what}`).toBeNull();
      else expect(Math.abs(ours! - theirs), `${c.name}.${what}`).toBeLessThan(1e-12);
    }
    expect(c.gt_pixels).toBe(reference.confusion[i]!.reduce((a, b) => a + b, 0));
    expect(c.pred_pixels).toBe(reference.confusion.reduce((a, row) => a + row[i]!, 0));
    expect(c.name).toBe(vocClasses()[i]!.name);
  });
}

describe('evalMaskFolders on the VOC val labels', () => {
  const BIRD = 3;
  const PERSON = 15;
  let predDir: string;
  let reference: NumpyReference;

  beforeAll(() => {
    predDir = tempDir('segscope-pred-');
    VAL_IDS.forEach((id, k) =>
      writePred(join(predDir, `${id}.png`), corrupt(readLabel(join(VOC_VAL_LABELS, `${id}.png`)), k), k),
    );
    reference = numpyReference(predDir, VAL_IDS);
  });

  it('uses all 40 labels in palette, RGB and grayscale predictions', () => {
    expect(VAL_IDS).toHaveLength(40);
    // 40 ground truths in P, and predictions in all three kinds Segscope reads.
    expect(reference.modes.P).toBeGreaterThan(40);
    expect(reference.modes.RGB).toBeGreaterThan(0);
    expect(reference.modes.L).toBeGreaterThan(0);
  });

  it('counts exactly the confusion matrix numpy counts, and matches its metrics to 1e-12', async () => {
    const result = await evalMaskFolders({ gtDir: VOC_VAL_LABELS, predDir, classes: vocClasses() });
    expect(result.images).toBe(40);
    expect(result.missing).toEqual([]);
    expect(result.problems).toEqual([]);
    expect(result.unmatchedPredictions).toBe(0);
    // The corruptions must make a matrix worth comparing: errors off the diagonal, not a near-identity.
    expect(result.metrics.pixel_accuracy!).toBeLessThan(0.95);
    expect(result.metrics.pixel_accuracy!).toBeGreaterThan(0.5);
    expectSameAsNumpy(result.metrics, reference);
  });

  it('agrees with numpy on the null and 0 cases: absent classes, false alarms, never-predicted classes', async () => {
    // Six images without birds, predicted with a bird block in each and never a person; the other 34
    // predictions are left out, so their labels are "missing" and not counted.
    const ids = VAL_IDS.filter(
      (id) => !readLabel(join(VOC_VAL_LABELS, `${id}.png`)).indices.includes(BIRD),
    ).slice(0, 6);
    const dir = tempDir('segscope-pred-');
    ids.forEach((id, k) => {
      const map = corrupt(readLabel(join(VOC_VAL_LABELS, `${id}.png`)), k);
      map.indices.forEach((v, p) => {
        if (v === PERSON) map.indices[p] = 0;
        else if (p % map.width < 20 && p < 20 * map.width) map.indices[p] = BIRD;
      });
      writePred(join(dir, `${id}.png`), map, k);
    });
    const ref = numpyReference(dir, ids);
    const result = await evalMaskFolders({ gtDir: VOC_VAL_LABELS, predDir: dir, classes: vocClasses() });
    expect(result.images).toBe(6);
    expect(result.missing).toHaveLength(34);
    expectSameAsNumpy(result.metrics, ref);
    const bird = result.metrics.per_class[BIRD]!;
    expect(bird).toMatchObject({ iou: 0, precision: 0, recall: null, f1: 0, gt_pixels: 0 });
    expect(bird.pred_pixels).toBeGreaterThan(0);
    const person = result.metrics.per_class[PERSON]!;
    expect(person).toMatchObject({ iou: 0, precision: null, recall: 0, f1: 0, pred_pixels: 0 });
    expect(person.gt_pixels).toBeGreaterThan(0);
    const absent = result.metrics.per_class.filter((c) => c.gt_pixels === 0 && c.pred_pixels === 0);
    expect(absent.length).toBeGreaterThan(0);
    for (const c of absent) expect([c.iou, c.precision, c.recall, c.f1]).toEqual([null, null, null, null]);
  });

  it('gives a perfect score when the predictions are the ground truth', async () => {
    const result = await evalMaskFolders({
      gtDir: VOC_VAL_LABELS,
      predDir: VOC_VAL_LABELS,
      classes: vocClasses(),
    });
    expect(result.images).toBe(40);
    expect(result.metrics.miou).toBe(1);
    expect(result.metrics.pixel_accuracy).toBe(1);
    expect(result.metrics.f1).toBe(1);
  });
});

describe('evalMaskFolders with missing and broken files', () => {
  const GT = join(VOC_MINI, 'SegmentationClass');
  const gtOf = (id: string) => readLabel(join(GT, `${id}.png`));

  it('reports each problem with the file it is in, and counts only the good pairs', async () => {
    const pred = tempDir('segscope-pred-');
    const cmap = vocColormap();
    // 2007_000032: perfect.
    writeFileSync(join(pred, '2007_000032.png'), encodeLabelPng(gtOf('2007_000032'), cmap));
    // 2007_000033: one row short.
    const g33 = gtOf('2007_000033');
    writeFileSync(
      join(pred, '2007_000033.png'),
      encodeLabelPng(
        { ...g33, height: g33.height - 1, indices: g33.indices.subarray(0, g33.width * (g33.height - 1)) },
        cmap,
      ),
    );
    // 2011_000003: an RGB mask with a colour that is no class's.
    const g03 = gtOf('2011_000003');
    const rgb = new Uint8Array(g03.indices.length * 3);
    rgb[0] = 1;
    rgb[1] = 2;
    rgb[2] = 3;
    writeFileSync(
      join(pred, '2011_000003.png'),
      encodePng({ width: g03.width, height: g03.height, data: rgb, channels: 3, depth: 8 }),
    );
    // 2011_000006: uses index 30 in most of its pixels.
    const g06 = gtOf('2011_000006');
    writeFileSync(
      join(pred, '2011_000006.png'),
      encodeLabelPng({ ...g06, indices: g06.indices.map((v, i) => (i % 2 ? 30 : v)) }, cmap),
    );
    // 2011_000025: no prediction. extra: a prediction without a ground truth.
    writeFileSync(
      join(pred, 'extra.png'),
      encodeLabelPng({ width: 2, height: 1, indices: new Uint8Array(2) }, cmap),
    );

    const result = await evalMaskFolders({ gtDir: GT, predDir: pred, classes: vocClasses() });
    expect(result.images).toBe(1);
    expect(result.missing).toEqual(['2011_000025']);
    expect(result.unmatchedPredictions).toBe(1);
    expect(result.problems.map((p) => [p.id, p.kind])).toEqual([
      ['2007_000033', 'size-mismatch'],
      ['2011_000003', 'unknown-colors'],
      ['2011_000006', 'unknown-class'],
    ]);
    const [size, colours, unknown] = result.problems;
    expect(size!.message).toBe(
      `${join(pred, '2007_000033.png')}: the prediction is ${g33.width}×${g33.height - 1} but the ground truth ` +
        `${join(GT, '2007_000033.png')} is ${g33.width}×${g33.height}`,
    );
    expect(colours!.message).toMatch(
      new RegExp(`^${join(pred, '2011_000003.png')}: .*\\(1,2,3\\) at x=0,y=0`),
    );
    expect(unknown!.message).toMatch(
      new RegExp(`^${join(pred, '2011_000006.png')}: prediction uses index 30 `),
    );

    // Only 2007_000032 was counted, a perfect pair: its non-void pixels sit on the diagonal.
    const g32 = gtOf('2007_000032');
    const counted = g32.indices.filter((v) => v !== 255).length;
    const cm = result.metrics.confusion;
    expect(cm.flat().reduce((a, b) => a + b, 0)).toBe(counted);
    expect(cm.reduce((a, row, i) => a + row[i]!, 0)).toBe(counted);
    expect(result.metrics.miou).toBe(1);
  });

  it('names a ground truth with an unknown class and an unreadable prediction', async () => {
    const gt = tempDir('segscope-gt-');
    const pred = tempDir('segscope-pred-');
    const cmap = vocColormap();
    const map = (values: number[]): LabelMap => ({
      width: values.length,
      height: 1,
      indices: Uint8Array.from(values),
    });
    writeFileSync(join(gt, 'a.png'), encodeLabelPng(map([0, 40, 1]), cmap));
    writeFileSync(join(pred, 'a.png'), encodeLabelPng(map([0, 1, 1]), cmap));
    writeFileSync(join(gt, 'b.png'), encodeLabelPng(map([0, 1, 1]), cmap));
    writeFileSync(join(pred, 'b.png'), 'not a png');
    writeFileSync(join(gt, 'c.png'), encodeLabelPng(map([0, 1, 1, 2]), cmap));
    writeFileSync(join(pred, 'c.png'), encodeLabelPng(map([0, 1, 2, 255]), cmap));
    writeFileSync(join(gt, 'notes.txt'), 'not a label');

    const classes = vocClasses().slice(0, 3);
    const result = await evalMaskFolders({ gtDir: gt, predDir: pred, classes });
    expect(result.images).toBe(1);
    expect(result.problems).toEqual([
      {
        id: 'a',
        kind: 'unknown-class',
        message: `${join(gt, 'a.png')}: ground truth uses index 40 (1 pixel), but there are 3 classes (0..2, 255 = void)`,
      },
      { id: 'b', kind: 'unreadable', message: `${join(pred, 'b.png')}: not a PNG file` },
    ]);
    // Only c counted; its predicted 255 is left out.
    expect(result.metrics.confusion).toEqual([
      [1, 0, 0],
      [0, 1, 1],
      [0, 0, 0],
    ]);
    expect(result.metrics.per_class.map((c) => c.name)).toEqual(['background', 'aeroplane', 'bicycle']);
    expect(result.metrics.per_class[2]).toMatchObject({ iou: 0, precision: 0, recall: null, gt_pixels: 0 });
  });

  it('throws not-found naming a folder that does not exist', async () => {
    const missing = join(tempDir(), 'nope');
    await expect(evalMaskFolders({ gtDir: missing, predDir: GT, classes: vocClasses() })).rejects.toThrow(
      `${missing}: the ground-truth folder does not exist`,
    );
  });
});
