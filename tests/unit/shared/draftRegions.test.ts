// One-click corrections of a draft over a real VOC label used as the draft: the clicked connected region,
// accepting it, accepting its whole class, and reclassing it, each honouring Protect.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { correctDraftAt, draftRegionAt } from '../../../src/shared/draftRegions';
import { decodeLabelPng } from '../../../src/shared/labelPng';
import { VOC_MINI } from '../../helpers/data';

const label = decodeLabelPng(readFileSync(join(VOC_MINI, 'SegmentationClass', '2007_000032.png')));
const { width, height } = label;
const draft = label.indices;

/** The first pixel of class `c` in the draft. */
function firstOf(c: number): { x: number; y: number } {
  const i = draft.indexOf(c);
  expect(i).toBeGreaterThanOrEqual(0);
  return { x: i % width, y: Math.floor(i / width) };
}

/** How many pixels of `got` differ from `expected(i)`. */
function mismatches(got: Uint8Array, expected: (i: number) => number): number {
  let n = 0;
  for (let i = 0; i < got.length; i++) if (got[i] !== expected(i)) n++;
  return n;
}

const blank = () => ({ width, height, indices: new Uint8Array(width * height) });

describe('draftRegionAt', () => {
  it('is the maximal 4-connected region of one class', () => {
    const p = firstOf(1); // an aeroplane
    const region = draftRegionAt(draft, width, height, p.x + 0.5, p.y + 0.5)!;
    let inside = 0;
    let leaks = 0;
    let other = 0;
    for (let i = 0; i < region.length; i++) {
      if (!region[i]) continue;
      inside++;
      if (draft[i] !== 1) other++;
      const x = i % width;
      // Every 4-neighbour of the same class is inside too (the region is maximal).
      for (const j of [x > 0 ? i - 1 : -1, x < width - 1 ? i + 1 : -1, i - width, i + width])
        if (j >= 0 && j < region.length && draft[j] === 1 && !region[j]) leaks++;
    }
    expect(leaks).toBe(0);
    expect(other).toBe(0);
    const total = draft.filter((v) => v === 1).length;
    expect(inside).toBeGreaterThan(100);
    expect(inside).toBeLessThanOrEqual(total);
    expect(draftRegionAt(draft, width, height, -1, 0)).toBeNull();
  });
});

describe('correctDraftAt', () => {
  it('accepts only the clicked region, as one changed box', () => {
    const p = firstOf(1);
    const t = blank();
    const box = correctDraftAt(t, draft, p.x, p.y, { kind: 'accept' }, 'all');
    const region = draftRegionAt(draft, width, height, p.x, p.y)!;
    expect(mismatches(t.indices, (i) => (region[i] ? 1 : 0))).toBe(0);
    expect(box.width).toBeGreaterThan(0);
    expect(box.x).toBeLessThanOrEqual(p.x);
  });

  it('shift-click takes every region of the class and nothing else', () => {
    const p = firstOf(1);
    const t = blank();
    correctDraftAt(t, draft, p.x, p.y, { kind: 'acceptClass' }, 'all');
    expect(mismatches(t.indices, (i) => (draft[i] === 1 ? 1 : 0))).toBe(0);
  });

  it('reclasses the draft region, not the label region, and honours Protect', () => {
    const p = firstOf(1);
    const region = draftRegionAt(draft, width, height, p.x, p.y)!;
    const t = blank();
    // A hand-labelled stripe of class 7 across the image stays under Protect "empty".
    const row = Math.floor(height / 2);
    for (let x = 0; x < width; x++) t.indices[row * width + x] = 7;
    correctDraftAt(t, draft, p.x, p.y, { kind: 'reclass', classIndex: 3 }, 'empty');
    expect(mismatches(t.indices, (i) => (Math.floor(i / width) === row ? 7 : region[i] ? 3 : 0))).toBe(0);
    // With Protect 7, reclassing the draft region that crosses the stripe changes only stripe pixels.
    const v = { x: Math.floor(width / 2), y: row };
    const u = blank();
    for (let x = 0; x < width; x++) u.indices[row * width + x] = 7;
    const before = Uint8Array.from(u.indices);
    correctDraftAt(u, draft, v.x, v.y, { kind: 'reclass', classIndex: 3 }, 7);
    expect(mismatches(u.indices, (i) => (before[i] !== 7 ? before[i]! : u.indices[i]!))).toBe(0);
    expect(mismatches(u.indices, (i) => before[i]!)).toBeGreaterThan(0);
  });
});
