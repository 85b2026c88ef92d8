// Tests for the editor's undo history: random edit sequences against full-copy snapshots, patch sizes of long
// strokes, step and memory limits, the revision counter and cancel.
import { describe, expect, it } from 'vitest';
import { LabelHistory } from '../../../src/shared/labelHistory';
import {
  fillPolygon,
  floodFill,
  paintSegment,
  polygonBounds,
  segmentBounds,
  unionRect,
  emptyRect,
  type PaintTarget,
  type Rect,
} from '../../../src/shared/labelMap';
import { rng } from '../../../src/shared/random';

/** Whether two maps are equal; far faster than toEqual over hundreds of snapshots. */
function same(a: Uint8Array, b: Uint8Array | undefined): boolean {
  if (!b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function blankMap(width: number, height: number, fill = 0): PaintTarget {
  return { width, height, indices: new Uint8Array(width * height).fill(fill) };
}

/** One segment through the history protocol: touch its bounds, then paint. */
function segment(
  h: LabelHistory,
  t: PaintTarget,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  r: number,
  v: number,
): Rect {
  h.touch(segmentBounds(t, x0, y0, x1, y1, r));
  return paintSegment(t, x0, y0, x1, y1, r, v, 'all');
}

/** A 10x10 block at (x, y) as one step. */
function block(h: LabelHistory, t: PaintTarget, x: number, y: number, v: number): void {
  h.begin();
  const pts = [x, y, x + 10, y, x + 10, y + 10, x, y + 10];
  h.touch(polygonBounds(t, pts));
  fillPolygon(t, pts, v, 'all');
  h.commit();
}

describe('LabelHistory', () => {
  it('undoes and redoes random strokes, fills and polygons back to full-copy snapshots', () => {
    const rand = rng(11);
    for (let run = 0; run < 6; run++) {
      const width = 20 + Math.floor(rand() * 60);
      const height = 20 + Math.floor(rand() * 60);
      const t = blankMap(width, height);
      const h = new LabelHistory(t);
      // The model: every state reachable by undo/redo, the current position, and each state's revision.
      let states = [t.indices.slice()];
      let revisions = [h.revision];
      let pos = 0;
      const coord = (n: number) => -5 + rand() * (n + 10);
      for (let op = 0; op < 250; op++) {
        const k = rand();
        if (k < 0.55) {
          h.begin();
          const kind = rand();
          const value = [0, 1, 2, 255][Math.floor(rand() * 4)]!;
          if (kind < 0.5) {
            let x = coord(width);
            let y = coord(height);
            const r = 0.5 + rand() * 5;
            for (let s = 0, n = 1 + Math.floor(rand() * 15); s < n; s++) {
              const nx = x + (rand() - 0.5) * 12;
              const ny = y + (rand() - 0.5) * 12;
              segment(h, t, x, y, nx, ny, r, value);
              x = nx;
              y = ny;
            }
          } else if (kind < 0.75) {
            h.touch({ x: 0, y: 0, width, height });
            floodFill(t, Math.floor(rand() * width), Math.floor(rand() * height), value, 'all');
          } else {
            const pts: number[] = [];
            for (let i = 0; i < 3 + Math.floor(rand() * 5); i++) pts.push(coord(width), coord(height));
            h.touch(polygonBounds(t, pts));
            fillPolygon(t, pts, value, rand() < 0.5 ? 'all' : 'empty');
          }
          if (rand() < 0.1) {
            h.cancel();
            expect(same(t.indices, states[pos])).toBe(true);
            continue;
          }
          const changed = !same(t.indices, states[pos]);
          const before = states[pos]!;
          const patch = h.commit();
          if (!changed) {
            expect(patch).toBeNull();
            continue;
          }
          expect(patch).not.toBeNull();
          // The patch is exactly the bounding box of the changed pixels.
          let box = emptyRect();
          for (let i = 0; i < t.indices.length; i++) {
            if (t.indices[i] !== before[i])
              box = unionRect(box, { x: i % width, y: Math.floor(i / width), width: 1, height: 1 });
          }
          expect(patch!.rect).toEqual(box);
          states = states.slice(0, pos + 1);
          revisions = revisions.slice(0, pos + 1);
          states.push(t.indices.slice());
          expect(revisions).not.toContain(h.revision);
          revisions.push(h.revision);
          pos++;
          expect(h.canRedo).toBe(false);
        } else if (k < 0.8) {
          const r = h.undo();
          if (pos === 0) {
            expect(r).toBeNull();
          } else {
            expect(r).not.toBeNull();
            pos--;
          }
        } else {
          const r = h.redo();
          if (pos === states.length - 1) {
            expect(r).toBeNull();
          } else {
            expect(r).not.toBeNull();
            pos++;
          }
        }
        expect(same(t.indices, states[pos])).toBe(true);
        expect(h.revision).toBe(revisions[pos]);
        expect(h.canUndo).toBe(pos > 0);
        expect(h.canRedo).toBe(pos < states.length - 1);
        expect(h.size).toBe(pos);
      }
    }
  });

  it('records a 2000-segment stroke on a 1000x1000 map as one step the size of its bounding box', () => {
    const t = blankMap(1000, 1000);
    const h = new LabelHistory(t);
    const rand = rng(12);
    h.begin();
    let x = 500;
    let y = 500;
    let painted = emptyRect();
    for (let s = 0; s < 2000; s++) {
      const nx = Math.min(950, Math.max(50, x + (rand() - 0.5) * 30));
      const ny = Math.min(950, Math.max(50, y + (rand() - 0.5) * 30));
      painted = unionRect(painted, segment(h, t, x, y, nx, ny, 6, 3));
      x = nx;
      y = ny;
    }
    const patch = h.commit()!;
    expect(h.size).toBe(1);
    // On a blank map every covered pixel changes, so the patch box is the union of the painted rects.
    expect(patch.rect).toEqual(painted);
    expect(patch.before).toHaveLength(painted.width * painted.height);
    expect(patch.after).toHaveLength(painted.width * painted.height);
    expect(h.byteSize).toBe(2 * painted.width * painted.height);
    expect(painted.width * painted.height).toBeLessThan(1000 * 1000);
    expect(h.undo()).toEqual(painted);
    expect(t.indices.every((v) => v === 0)).toBe(true);
    expect(h.redo()).toEqual(painted);
    expect(t.indices.filter((v) => v === 3).length).toBe(patch.after.filter((v) => v === 3).length);
  });

  it('keeps 200 steps by default and undoes all of them', () => {
    const t = blankMap(100, 100);
    const h = new LabelHistory(t);
    for (let i = 0; i < 200; i++) block(h, t, (i * 7) % 90, (i * 13) % 90, 1 + (i % 200));
    expect(h.size).toBe(200);
    for (let i = 0; i < 200; i++) expect(h.undo()).not.toBeNull();
    expect(h.undo()).toBeNull();
    expect(t.indices.every((v) => v === 0)).toBe(true);
  });

  it('drops the oldest steps beyond maxSteps', () => {
    const t = blankMap(100, 100);
    const h = new LabelHistory(t, { maxSteps: 100 });
    const snapshots: Uint8Array[] = [];
    for (let i = 0; i < 150; i++) {
      block(h, t, (i * 7) % 90, (i * 13) % 90, 1 + i);
      snapshots.push(t.indices.slice());
    }
    expect(h.size).toBe(100);
    while (h.undo());
    expect(t.indices).toEqual(snapshots[49]);
  });

  it('drops the oldest steps beyond maxBytes but always keeps the newest', () => {
    const t = blankMap(100, 100);
    // A 10x10 block patch holds 200 bytes, so 1000 bytes keep 5 of them.
    const h = new LabelHistory(t, { maxBytes: 1000 });
    for (let i = 0; i < 12; i++) block(h, t, i * 8, 0, 1 + i);
    expect(h.size).toBe(5);
    expect(h.byteSize).toBe(1000);
    block(h, t, 0, 50, 99);
    expect(h.size).toBe(5);
    const big = new LabelHistory(t, { maxBytes: 100 });
    block(big, t, 50, 50, 7);
    expect(big.size).toBe(1);
    expect(big.undo()).not.toBeNull();
  });

  it('returns the revision to its saved value after undoing back to it', () => {
    const t = blankMap(50, 50);
    const h = new LabelHistory(t, { maxSteps: 3 });
    block(h, t, 0, 0, 1);
    const saved = h.revision;
    block(h, t, 10, 0, 2);
    const second = h.revision;
    expect(second).not.toBe(saved);
    h.undo();
    expect(h.revision).toBe(saved);
    h.redo();
    expect(h.revision).toBe(second);
    h.undo();
    block(h, t, 20, 0, 3);
    expect([saved, second]).not.toContain(h.revision);
    // Eviction changes no state, so it leaves the revision alone.
    block(h, t, 30, 0, 4);
    const latest = h.revision;
    block(h, t, 30, 30, 5);
    h.undo();
    expect(h.revision).toBe(latest);
    // A commit that changes nothing records nothing and keeps the redo step.
    h.begin();
    h.touch({ x: 0, y: 0, width: 50, height: 50 });
    expect(h.commit()).toBeNull();
    expect(h.revision).toBe(latest);
    expect(h.canRedo).toBe(true);
  });

  it('keeps the revision of the oldest reachable state after its step was dropped', () => {
    const t = blankMap(50, 50);
    const h = new LabelHistory(t, { maxSteps: 2 });
    const initial = h.revision;
    block(h, t, 0, 0, 1);
    const afterA = h.revision;
    block(h, t, 10, 0, 2);
    block(h, t, 20, 0, 3);
    expect(h.size).toBe(2);
    h.undo();
    h.undo();
    expect(h.canUndo).toBe(false);
    // The map is back to the state after A, saved or not, so it must read as A's revision.
    expect(h.revision).toBe(afterA);
    expect(h.revision).not.toBe(initial);
  });

  it('cancel restores the pixels of the open step and records nothing', () => {
    const t = blankMap(60, 40, 4);
    const h = new LabelHistory(t);
    block(h, t, 0, 0, 1);
    const before = t.indices.slice();
    h.begin();
    for (let s = 0; s < 30; s++) segment(h, t, s * 2, 5, s * 2 + 3, 35, 3, 9);
    h.touch({ x: 0, y: 0, width: 60, height: 40 });
    floodFill(t, 59, 39, 8, 'all');
    expect(t.indices).not.toEqual(before);
    h.cancel();
    expect(t.indices).toEqual(before);
    expect(h.size).toBe(1);
    expect(h.canRedo).toBe(false);
  });

  it('enforces the protocol: touch needs an open step, begin commits an open one, undo commits first', () => {
    const t = blankMap(30, 30);
    const h = new LabelHistory(t);
    expect(() => h.touch({ x: 0, y: 0, width: 5, height: 5 })).toThrow();
    expect(h.commit()).toBeNull();
    h.begin();
    segment(h, t, 5, 5, 20, 5, 2, 1);
    h.begin();
    expect(h.size).toBe(1);
    segment(h, t, 5, 15, 20, 15, 2, 2);
    expect(h.isOpen).toBe(true);
    expect(h.undo()).not.toBeNull();
    expect(h.isOpen).toBe(false);
    expect(t.indices.includes(2)).toBe(false);
    expect(t.indices.includes(1)).toBe(true);
    expect(() => new LabelHistory(t, { maxSteps: 0 })).toThrow(RangeError);
  });

  it('clear drops all steps and gives a fresh revision', () => {
    const t = blankMap(30, 30);
    const h = new LabelHistory(t);
    block(h, t, 0, 0, 1);
    const r = h.revision;
    h.clear();
    expect(h.size).toBe(0);
    expect(h.canUndo).toBe(false);
    expect(h.byteSize).toBe(0);
    expect(h.revision).not.toBe(r);
    // A map of another size after clear().
    t.width = 40;
    t.height = 10;
    t.indices = new Uint8Array(400);
    block(h, t, 25, 0, 5);
    expect(h.undo()).toEqual({ x: 25, y: 0, width: 10, height: 10 });
    expect(t.indices.every((v) => v === 0)).toBe(true);
  });
});
