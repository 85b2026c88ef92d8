// The pure part of model-assisted labelling: accepting a draft inside a region, by class or by
// confidence, honouring Protect; the draft's scores against hand-worked IoUs; the queue's orders.
import { describe, expect, it } from 'vitest';
import { acceptDraft, countDiffering, draftIou, rankQueue, scoreDraft } from '../../../src/shared/drafts';
import { fillPolygon } from '../../../src/shared/labelMap';

const NAMES = ['background', 'a', 'b'];

/** A 4×2 map. */
const map = (values: number[]) => ({ width: 4, height: 2, indices: Uint8Array.from(values) });

describe('acceptDraft', () => {
  const draft = Uint8Array.from([1, 1, 2, 2, 1, 1, 2, 2]);

  it('takes the whole draft and returns the changed box', () => {
    const t = map([0, 0, 0, 0, 0, 1, 0, 255]);
    expect(acceptDraft(t, draft, { protect: 'all' })).toEqual({ x: 0, y: 0, width: 4, height: 2 });
    expect([...t.indices]).toEqual([...draft]);
  });

  it('takes only one class, only where confident, only inside a region', () => {
    const t = map([0, 0, 0, 0, 0, 0, 0, 0]);
    acceptDraft(t, draft, { protect: 'all', classIndex: 2 });
    expect([...t.indices]).toEqual([0, 0, 2, 2, 0, 0, 2, 2]);

    const c = map([0, 0, 0, 0, 0, 0, 0, 0]);
    const confidence = Float32Array.from([0.9, 0.4, 0.5, 0.2, 0.6, 0.8, 0.49, 1]);
    acceptDraft(c, draft, { protect: 'all', confidence, threshold: 0.5 });
    expect([...c.indices]).toEqual([1, 0, 2, 0, 1, 1, 0, 2]);

    // A polygon around the middle two columns, rasterised as the editor's polygon tool does.
    const region = { width: 4, height: 2, indices: new Uint8Array(8) };
    fillPolygon(region, [1, 0, 3, 0, 3, 2, 1, 2], 1, 'all');
    const r = map([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(acceptDraft(r, draft, { protect: 'all', region: region.indices })).toEqual({
      x: 1,
      y: 0,
      width: 2,
      height: 2,
    });
    expect([...r.indices]).toEqual([0, 1, 2, 0, 0, 1, 2, 0]);
  });

  it('honours Protect: only over background and void, or only over one class', () => {
    const t = map([0, 2, 255, 1, 0, 2, 255, 1]);
    acceptDraft(t, draft, { protect: 'empty' });
    expect([...t.indices]).toEqual([1, 2, 2, 1, 1, 2, 2, 1]);
    const u = map([0, 2, 255, 1, 0, 2, 255, 1]);
    acceptDraft(u, draft, { protect: 2 });
    expect([...u.indices]).toEqual([0, 1, 255, 1, 0, 1, 255, 1]);
  });

  it('returns an empty box when nothing changes, and rejects maps of another size', () => {
    const t = map([...draft]);
    expect(acceptDraft(t, draft, { protect: 'all' }).width).toBe(0);
    expect(() => acceptDraft(t, new Uint8Array(3), { protect: 'all' })).toThrow(RangeError);
  });
});

describe('scores', () => {
  it('computes the IoU as eval-masks does: void left out, absent classes out of the mean', () => {
    // label: 0 0 1 1 | 255 1 1 0 ; draft: 0 1 1 1 | 2 1 0 0
    const label = Uint8Array.from([0, 0, 1, 1, 255, 1, 1, 0]);
    const draft = Uint8Array.from([0, 1, 1, 1, 2, 1, 0, 0]);
    // class 0: TP 2 (px 0, 7), FP 1 (px 6), FN 1 (px 1) → 2/4; class 1: TP 3, FP 1 (px 1), FN 1 (px 6)
    // → 3/5; class 2: only on the void pixel, which is left out → absent → out of the mean.
    const iou = (2 / 4 + 3 / 5) / 2;
    expect(draftIou(label, draft, NAMES)).toBeCloseTo(iou, 12);
    const s = scoreDraft(draft, Float32Array.from([1, 0.5, 1, 1, 0.5, 1, 1, 1]), 0.3, label, NAMES);
    expect(s.disagreement).toBeCloseTo(1 - iou, 12);
    expect(s.meanConfidence).toBeCloseTo(7 / 8, 6);
    // Uncertainty is the segmentation's mean entropy, not derived from the confidences.
    expect(s.uncertainty).toBe(0.3);
    expect(scoreDraft(draft, new Float32Array(8), 0, null, NAMES).disagreement).toBeNull();
    // A label index that is not a class has no IoU rather than throwing.
    expect(draftIou(Uint8Array.from([7, 0, 0, 0, 0, 0, 0, 0]), draft, NAMES)).toBeNull();
  });

  it('counts differing pixels', () => {
    expect(countDiffering(Uint8Array.from([1, 2, 3]), Uint8Array.from([1, 0, 0]))).toBe(2);
  });
});

describe('rankQueue', () => {
  const entries = [
    { id: 'a', hasLabel: true, disagreement: 0.2, uncertainty: 0.1 },
    { id: 'b', hasLabel: false, disagreement: null, uncertainty: 0.5 },
    { id: 'c', hasLabel: true, disagreement: 0.7, uncertainty: 0.3 },
    { id: 'd', hasLabel: true, disagreement: 0.2, uncertainty: 0.9 },
    { id: 'e', hasLabel: false, disagreement: null, uncertainty: 0.05 },
  ];
  const ids = (by: 'disagreement' | 'uncertainty' | 'unlabelled') => rankQueue(entries, by).map((e) => e.id);

  it('orders by disagreement (unlabelled last), uncertainty, or unlabelled first; ties by id', () => {
    expect(ids('disagreement')).toEqual(['c', 'a', 'd', 'b', 'e']);
    expect(ids('uncertainty')).toEqual(['d', 'b', 'c', 'a', 'e']);
    expect(ids('unlabelled')).toEqual(['b', 'e', 'd', 'c', 'a']);
  });
});
