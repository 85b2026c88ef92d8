// Tests for the confusion matrix and the metrics, against matrices and figures worked out by hand.
import { describe, expect, it } from 'vitest';
import {
  computeMetrics,
  ConfusionMatrix,
  UnknownClassError,
  type SegmentationMetrics,
} from '../../../src/shared/metrics';

const TOL = 12; // digits for toBeCloseTo: |difference| < 0.5e-12

/** Compares every number of a metrics object, nulls exactly, numbers to 1e-12. */
function expectMetrics(actual: SegmentationMetrics, expected: SegmentationMetrics): void {
  expect(Object.keys(actual)).toEqual([
    'miou',
    'mpa',
    'mprecision',
    'mrecall',
    'f1',
    'pixel_accuracy',
    'per_class',
    'confusion',
  ]);
  const close = (a: number | null, e: number | null, what: string) => {
    if (e === null) expect(a, what).toBeNull();
    else {
      expect(a, what).not.toBeNull();
      expect(a!, what).toBeCloseTo(e, TOL);
    }
  };
  for (const key of ['miou', 'mpa', 'mprecision', 'mrecall', 'f1', 'pixel_accuracy'] as const) {
    close(actual[key], expected[key], key);
  }
  expect(actual.per_class).toHaveLength(expected.per_class.length);
  actual.per_class.forEach((c, i) => {
    const e = expected.per_class[i]!;
    expect(Object.keys(c)).toEqual([
      'index',
      'name',
      'iou',
      'precision',
      'recall',
      'f1',
      'gt_pixels',
      'pred_pixels',
    ]);
    expect(c.index).toBe(e.index);
    expect(c.name).toBe(e.name);
    expect(c.gt_pixels).toBe(e.gt_pixels);
    expect(c.pred_pixels).toBe(e.pred_pixels);
    for (const key of ['iou', 'precision', 'recall', 'f1'] as const)
      close(c[key], e[key], `${c.name}.${key}`);
  });
  expect(actual.confusion).toEqual(expected.confusion);
}

describe('computeMetrics', () => {
  it('follows the conventions on a hand-computed 3-class matrix', () => {
    // Rows are ground truth, columns predictions. Class 1 ("cat") is predicted 4 times but never in the
    // ground truth; class 2 ("dog") is in neither.
    //            p0  p1  p2
    const rows = [
      [6, 4, 0], // g0: 10 gt pixels, 6 right
      [0, 0, 0], // g1
      [0, 0, 0], // g2
    ];
    const m = computeMetrics(ConfusionMatrix.fromRows(rows), ['background', 'cat', 'dog']);
    // background: TP 6, FP 0, FN 4 -> IoU 6/10, precision 6/6, recall 6/10, F1 12/16.
    // cat: TP 0, FP 4, FN 0 -> IoU 0, precision 0, recall undefined (null), F1 0.
    // dog: nothing anywhere -> null everywhere, and in no mean.
    expectMetrics(m, {
      miou: (0.6 + 0) / 2,
      mpa: 0.6,
      mprecision: (1 + 0) / 2,
      mrecall: 0.6,
      f1: (0.75 + 0) / 2,
      pixel_accuracy: 0.6,
      per_class: [
        {
          index: 0,
          name: 'background',
          iou: 0.6,
          precision: 1,
          recall: 0.6,
          f1: 0.75,
          gt_pixels: 10,
          pred_pixels: 6,
        },
        { index: 1, name: 'cat', iou: 0, precision: 0, recall: null, f1: 0, gt_pixels: 0, pred_pixels: 4 },
        {
          index: 2,
          name: 'dog',
          iou: null,
          precision: null,
          recall: null,
          f1: null,
          gt_pixels: 0,
          pred_pixels: 0,
        },
      ],
      confusion: rows,
    });
  });

  it('handles every case together on a hand-computed 5-class matrix', () => {
    //            p0  p1  p2  p3  p4
    const rows = [
      [50, 3, 2, 0, 0], // background: gt 55
      [4, 20, 1, 0, 0], // cat: gt 25
      [0, 0, 0, 0, 0], // dog: predicted 3 times, never in the ground truth
      [0, 0, 0, 0, 0], // bird: nowhere
      [6, 0, 0, 0, 0], // cow: in the ground truth, never predicted
    ];
    // Column sums (predicted pixels): 60, 23, 3, 0, 0. Total 86, diagonal 70.
    const names = ['background', 'cat', 'dog', 'bird', 'cow'];
    const m = computeMetrics(ConfusionMatrix.fromRows(rows), names);
    expectMetrics(m, {
      miou: (50 / 65 + 20 / 28 + 0 + 0) / 4, // bird left out; dog and cow count as 0
      mpa: (50 / 55 + 20 / 25 + 0) / 3, // recall of background, cat, cow; dog's is undefined
      mprecision: (50 / 60 + 20 / 23 + 0) / 3, // precision of background, cat, dog; cow's is undefined
      mrecall: (50 / 55 + 20 / 25 + 0) / 3,
      f1: (100 / 115 + 40 / 48 + 0 + 0) / 4,
      pixel_accuracy: 70 / 86,
      per_class: [
        {
          index: 0,
          name: 'background',
          iou: 50 / 65,
          precision: 50 / 60,
          recall: 50 / 55,
          f1: 100 / 115,
          gt_pixels: 55,
          pred_pixels: 60,
        },
        {
          index: 1,
          name: 'cat',
          iou: 20 / 28,
          precision: 20 / 23,
          recall: 20 / 25,
          f1: 40 / 48,
          gt_pixels: 25,
          pred_pixels: 23,
        },
        { index: 2, name: 'dog', iou: 0, precision: 0, recall: null, f1: 0, gt_pixels: 0, pred_pixels: 3 },
        {
          index: 3,
          name: 'bird',
          iou: null,
          precision: null,
          recall: null,
          f1: null,
          gt_pixels: 0,
          pred_pixels: 0,
        },
        { index: 4, name: 'cow', iou: 0, precision: null, recall: 0, f1: 0, gt_pixels: 6, pred_pixels: 0 },
      ],
      confusion: rows,
    });
    // The figures as they would be printed, as a second check on the arithmetic above.
    expect(m.miou!.toFixed(6)).toBe('0.370879');
    expect(m.pixel_accuracy!.toFixed(6)).toBe('0.813953');
  });

  it('gives null means and pixel accuracy for an empty matrix, and checks the names', () => {
    const m = computeMetrics(new ConfusionMatrix(2), ['a', 'b']);
    expect([m.miou, m.mpa, m.mprecision, m.mrecall, m.f1, m.pixel_accuracy]).toEqual([
      null,
      null,
      null,
      null,
      null,
      null,
    ]);
    expect(() => computeMetrics(new ConfusionMatrix(2), ['a'])).toThrow(RangeError);
  });

  it('survives JSON: confusion reads back into the same matrix', () => {
    const rows = [
      [3, 1],
      [2, 7],
    ];
    const m = computeMetrics(ConfusionMatrix.fromRows(rows), ['a', 'b']);
    const back = JSON.parse(JSON.stringify(m)) as SegmentationMetrics;
    expect(computeMetrics(ConfusionMatrix.fromRows(back.confusion), ['a', 'b'])).toEqual(m);
    expect(JSON.parse(JSON.stringify(ConfusionMatrix.fromRows(rows)))).toEqual(rows);
  });
});

describe('ConfusionMatrix', () => {
  it('counts (gt, pred) pairs with rows as ground truth and skips void ground truth', () => {
    const cm = new ConfusionMatrix(3);
    const gt = Uint8Array.from([0, 0, 1, 1, 2, 255, 255, 2]);
    const pred = Uint8Array.from([0, 1, 1, 1, 0, 2, 0, 2]);
    cm.add(gt, pred);
    expect(cm.toRows()).toEqual([
      [1, 1, 0],
      [0, 2, 0],
      [1, 0, 1],
    ]);
    expect(cm.get(2, 0)).toBe(1);
    expect(cm.get(0, 2)).toBe(0);
    expect(cm.total()).toBe(6);
    expect(cm.correct()).toBe(4);
    expect([0, 1, 2].map((c) => cm.gtPixels(c))).toEqual([2, 2, 2]);
    expect([0, 1, 2].map((c) => cm.predPixels(c))).toEqual([2, 3, 1]);
  });

  it('skips predicted 255 only with ignorePred255, and otherwise names it', () => {
    const gt = Uint8Array.from([0, 1, 1, 255]);
    const pred = Uint8Array.from([0, 255, 1, 255]);
    const cm = new ConfusionMatrix(2);
    cm.add(gt, pred, { ignorePred255: true });
    expect(cm.toRows()).toEqual([
      [1, 0],
      [0, 1],
    ]);
    const strict = new ConfusionMatrix(2);
    expect(() => strict.add(gt, pred)).toThrow(/prediction uses index 255 \(1 pixel\).*ignorePred255/);
    expect(strict.total()).toBe(0);
  });

  it('throws a RangeError naming an unknown class index and leaves the matrix unchanged', () => {
    const cm = new ConfusionMatrix(3);
    cm.add(Uint8Array.from([0, 1]), Uint8Array.from([0, 1]));
    const before = cm.toRows();

    let err: unknown;
    try {
      cm.add(Uint8Array.from([0, 7, 7, 3, 255]), Uint8Array.from([0, 0, 1, 1, 9]));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RangeError);
    expect(err).toBeInstanceOf(UnknownClassError);
    const u = err as UnknownClassError;
    expect(u.which).toBe('gt');
    expect(u.values).toEqual([3, 7]);
    expect(u.pixels).toEqual([1, 2]);
    expect(u.message).toBe(
      'ground truth uses indices 3 (1 pixel), 7 (2 pixels), but there are 3 classes (0..2, 255 = void)',
    );
    expect(cm.toRows()).toEqual(before);

    expect(() => cm.add(Uint8Array.from([0, 1, 2]), Uint8Array.from([0, 1, 200]))).toThrow(
      /^prediction uses index 200 \(1 pixel\)/,
    );
    expect(cm.toRows()).toEqual(before);
    // An unknown prediction on a void ground-truth pixel is never looked at.
    cm.add(Uint8Array.from([255]), Uint8Array.from([200]));
    expect(cm.toRows()).toEqual(before);
    // The shared scratch was cleared after the errors: a fresh add counts only its own pixels.
    const fresh = new ConfusionMatrix(3);
    fresh.add(Uint8Array.from([2]), Uint8Array.from([1]));
    expect(fresh.total()).toBe(1);
    expect(fresh.get(2, 1)).toBe(1);
  });

  it('rejects maps of different lengths, bad sizes and mismatched merges', () => {
    expect(() => new ConfusionMatrix(3).add(new Uint8Array(4), new Uint8Array(5))).toThrow(
      /4 pixels but the prediction has 5/,
    );
    expect(() => new ConfusionMatrix(0)).toThrow(RangeError);
    expect(() => new ConfusionMatrix(256)).toThrow(RangeError);
    expect(() => new ConfusionMatrix(2.5)).toThrow(RangeError);
    expect(() => new ConfusionMatrix(2).merge(new ConfusionMatrix(3))).toThrow(/3-class.*2-class/);
    expect(() => ConfusionMatrix.fromRows([[1, 2]])).toThrow(RangeError);
    expect(() => ConfusionMatrix.fromRows([[-1]])).toThrow(RangeError);
    expect(() => new ConfusionMatrix(2).get(2, 0)).toThrow(RangeError);
  });

  it('merges by adding counts', () => {
    const a = ConfusionMatrix.fromRows([
      [1, 2],
      [3, 4],
    ]);
    a.merge(
      ConfusionMatrix.fromRows([
        [10, 20],
        [30, 40],
      ]),
    );
    expect(a.toRows()).toEqual([
      [11, 22],
      [33, 44],
    ]);
  });

  it('agrees with a per-pixel count on random maps with void in both', () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / (1 << 24);
    const n = 21;
    const len = 50_000;
    const gt = new Uint8Array(len);
    const pred = new Uint8Array(len);
    for (let i = 0; i < len; i++) {
      gt[i] = rand() < 0.1 ? 255 : Math.floor(rand() * n);
      pred[i] = rand() < 0.05 ? 255 : Math.floor(rand() * n);
    }
    const expected = new Float64Array(n * n);
    for (let i = 0; i < len; i++) {
      if (gt[i] === 255 || pred[i] === 255) continue;
      expected[gt[i]! * n + pred[i]!]!++;
    }
    const cm = new ConfusionMatrix(n);
    cm.add(gt, pred, { ignorePred255: true });
    cm.add(gt, pred, { ignorePred255: true });
    expect(Array.from(cm.counts)).toEqual(Array.from(expected, (v) => 2 * v));
  });

  it('adds a 500×375 pair in well under a millisecond', () => {
    const len = 500 * 375;
    const gt = new Uint8Array(len);
    const pred = new Uint8Array(len);
    for (let i = 0; i < len; i++) {
      gt[i] = (i * 7) % 23 === 0 ? 255 : (i >> 9) % 21;
      pred[i] = (i >> 9) % 21 === 3 ? 5 : (i >> 9) % 21;
    }
    const cm = new ConfusionMatrix(21);
    for (let i = 0; i < 5; i++) cm.add(gt, pred, { ignorePred255: true }); // warm up the JIT
    const times: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      cm.add(gt, pred, { ignorePred255: true });
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    // The fastest run is what the code can do; slower ones measure how busy the machine is.
    expect(times[0]).toBeLessThan(1);
    expect(cm.total()).toBe(35 * (len - Array.from(gt).filter((v) => v === 255).length));
  });
});
