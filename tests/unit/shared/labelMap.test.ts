// Tests for the label-map operations: each tool against a naive per-pixel reference on random maps, the
// brush shapes, dirty-rect rendering and the rect helpers.
import { describe, expect, it } from 'vitest';
import {
  brushCentre,
  brushRadius,
  clipRect,
  emptyRect,
  fillPolygon,
  floodFill,
  isEmptyRect,
  paintSegment,
  paletteLut,
  pixelAt,
  polygonBounds,
  readRect,
  renderRect,
  segmentBounds,
  unionRect,
  writeRect,
  type PaintTarget,
  type Protect,
  type Rect,
} from '../../../src/shared/labelMap';
import { rng } from '../../../src/shared/random';

const CLASSES = [0, 1, 2, 3, 255];

function randomMap(rand: () => number, width: number, height: number, classes = CLASSES): PaintTarget {
  const indices = new Uint8Array(width * height);
  for (let i = 0; i < indices.length; i++) indices[i] = classes[Math.floor(rand() * classes.length)]!;
  return { width, height, indices };
}

/** A map of a few random rectangles of a few classes, so regions are blobby rather than noise. */
function blobMap(rand: () => number, width: number, height: number, classes: number[]): PaintTarget {
  const t = randomMap(rand, width, height, [classes[0]!]);
  const rects = 3 + Math.floor(rand() * 25);
  for (let k = 0; k < rects; k++) {
    const x = Math.floor(rand() * width);
    const y = Math.floor(rand() * height);
    const w = 1 + Math.floor(rand() * width * 0.5);
    const h = 1 + Math.floor(rand() * height * 0.5);
    const v = classes[Math.floor(rand() * classes.length)]!;
    for (let yy = y; yy < Math.min(height, y + h); yy++)
      t.indices.fill(v, yy * width + x, yy * width + Math.min(width, x + w));
  }
  return t;
}

/** Where two maps first differ, or -1; far faster than toEqual on thousands of random maps. */
function firstDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

function clone(t: PaintTarget): PaintTarget {
  return { width: t.width, height: t.height, indices: t.indices.slice() };
}

function writable(v: number, protect: Protect): boolean {
  return protect === 'all' || (protect === 'empty' ? v === 0 || v === 255 : v === protect);
}

function randomProtect(rand: () => number): Protect {
  const k = rand();
  return k < 0.4 ? 'all' : k < 0.7 ? 'empty' : CLASSES[Math.floor(rand() * CLASSES.length)]!;
}

/** Bounding box of the pixels where `mask` is set, or an empty rect. */
function maskBounds(mask: Uint8Array, width: number): Rect {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -1;
  let maxY = -1;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    const x = i % width;
    const y = (i - x) / width;
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  }
  return maxX < 0 ? emptyRect() : { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
}

function expectChangesInside(before: PaintTarget, after: PaintTarget, r: Rect): void {
  for (let i = 0; i < before.indices.length; i++) {
    if (before.indices[i] === after.indices[i]) continue;
    const x = i % before.width;
    const y = (i - x) / before.width;
    expect(x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height, `changed pixel ${x},${y}`).toBe(
      true,
    );
  }
}

/** Applies `covered` to a copy of `t` under protect: the expected result of a tool. */
function applyMask(t: PaintTarget, covered: Uint8Array, value: number, protect: Protect): PaintTarget {
  const out = clone(t);
  for (let i = 0; i < covered.length; i++) {
    if (covered[i] && writable(out.indices[i]!, protect)) out.indices[i] = value;
  }
  return out;
}

/**
 * Centre-to-segment distance <= r, tested with squares and a cross product (no division or square root),
 * so it is exact when the inputs are eighths of a pixel on these small maps.
 */
function refCovered(t: PaintTarget, x0: number, y0: number, x1: number, y1: number, r: number): Uint8Array {
  const out = new Uint8Array(t.width * t.height);
  const dx = x1 - x0;
  const dy = y1 - y0;
  const len2 = dx * dx + dy * dy;
  for (let y = 0; y < t.height; y++) {
    for (let x = 0; x < t.width; x++) {
      const cx = x + 0.5;
      const cy = y + 0.5;
      const ux = cx - x0;
      const uy = cy - y0;
      const dot = ux * dx + uy * dy;
      let inside: boolean;
      if (dot <= 0) inside = ux * ux + uy * uy <= r * r;
      else if (dot >= len2) inside = (cx - x1) * (cx - x1) + (cy - y1) * (cy - y1) <= r * r;
      else inside = (ux * dy - uy * dx) * (ux * dy - uy * dx) <= r * r * len2;
      out[y * t.width + x] = inside ? 1 : 0;
    }
  }
  return out;
}

/** Pixels painted by one dab (or segment) on a blank map, drawn as rows of '#' and '.' over its bounds. */
function shape(size: number, x: number, y: number): string[] {
  const t: PaintTarget = { width: 12, height: 12, indices: new Uint8Array(144) };
  const r = paintSegment(t, x, y, x, y, brushRadius(size), 1, 'all');
  const rows: string[] = [];
  for (let yy = r.y; yy < r.y + r.height; yy++) {
    let s = '';
    for (let xx = r.x; xx < r.x + r.width; xx++) s += t.indices[yy * 12 + xx] ? '#' : '.';
    rows.push(s);
  }
  return rows;
}

describe('paintSegment', () => {
  it('matches the naive capsule reference on random segments, radii, maps and protect modes', () => {
    const rand = rng(1);
    const eighth = (v: number) => Math.round(v * 8) / 8;
    let painted = 0;
    for (let k = 0; k < 1500; k++) {
      const width = 1 + Math.floor(rand() * 48);
      const height = 1 + Math.floor(rand() * 48);
      const t = randomMap(rand, width, height);
      // Half the cases on an eighth-pixel grid (exact arithmetic, frequent exact ties at the boundary),
      // half arbitrary floats; endpoints reach 25 px outside the map; some segments have zero length.
      const exact = k % 2 === 0;
      const q = exact ? eighth : (v: number) => v;
      const coord = (n: number) => q(-25 + rand() * (n + 50));
      const x0 = coord(width);
      const y0 = coord(height);
      const zero = rand() < 0.15;
      const x1 = zero ? x0 : coord(width);
      const y1 = zero ? y0 : coord(height);
      const radius = k % 7 === 0 ? brushRadius(1 + Math.floor(rand() * 8)) : q(0.5 + rand() * 19.5);
      const value = CLASSES[Math.floor(rand() * CLASSES.length)]!;
      const protect = randomProtect(rand);
      const before = clone(t);
      const covered = refCovered(t, x0, y0, x1, y1, radius);
      const rect = paintSegment(t, x0, y0, x1, y1, radius, value, protect);
      const expected = applyMask(before, covered, value, protect);
      expect(firstDiff(t.indices, expected.indices), `case ${k}`).toBe(-1);
      expect(rect, `case ${k}`).toEqual(maskBounds(covered, width));
      expectChangesInside(before, t, rect);
      const bounds = segmentBounds(before, x0, y0, x1, y1, radius);
      expect(unionRect(bounds, rect)).toEqual(bounds); // the cheap bounds contain the result
      if (!isEmptyRect(rect)) painted++;
    }
    // The random cases must mostly hit the map, or the comparison proves little.
    expect(painted).toBeGreaterThan(700);
  });

  it('paints nothing and returns an empty rect for a segment entirely outside the map', () => {
    const t: PaintTarget = { width: 10, height: 10, indices: new Uint8Array(100) };
    expect(paintSegment(t, -30, -5, -12, 40, 5, 1, 'all')).toEqual(emptyRect());
    expect(paintSegment(t, 10.5, 5, 30, 5, 0.49, 1, 'all')).toEqual(emptyRect());
    expect(t.indices.every((v) => v === 0)).toBe(true);
  });

  it('clips a segment crossing the whole map to it', () => {
    const t: PaintTarget = { width: 10, height: 10, indices: new Uint8Array(100) };
    expect(paintSegment(t, -100, 4.5, 100, 4.5, 1, 7, 'all')).toEqual({ x: 0, y: 3, width: 10, height: 3 });
    expect(t.indices.filter((v) => v === 7)).toHaveLength(30);
  });

  it('paints nothing for a negative or non-finite radius or coordinate, and rejects bad values', () => {
    const t: PaintTarget = { width: 4, height: 4, indices: new Uint8Array(16) };
    expect(isEmptyRect(paintSegment(t, 2, 2, 2, 2, -1, 1, 'all'))).toBe(true);
    expect(isEmptyRect(paintSegment(t, NaN, 2, 2, 2, 1, 1, 'all'))).toBe(true);
    expect(isEmptyRect(paintSegment(t, 2, 2, 2, Infinity, 1, 1, 'all'))).toBe(true);
    expect(t.indices.every((v) => v === 0)).toBe(true);
    expect(() => paintSegment(t, 2, 2, 2, 2, 1, 256, 'all')).toThrow(RangeError);
    expect(() => paintSegment(t, 2, 2, 2, 2, 1, 1.5, 'all')).toThrow(RangeError);
    expect(() => paintSegment(t, 2, 2, 2, 2, 1, 1, 300)).toThrow(RangeError);
  });
});

describe('brush sizes', () => {
  it('has radius size / 2', () => {
    expect([1, 2, 3, 4, 5].map(brushRadius)).toEqual([0.5, 1, 1.5, 2, 2.5]);
  });

  it('snaps odd sizes to pixel centres and even sizes to pixel corners', () => {
    expect(brushCentre(4.2, 1)).toBe(4.5);
    expect(brushCentre(4.9, 3)).toBe(4.5);
    expect(brushCentre(4.4, 2)).toBe(4);
    expect(brushCentre(4.6, 4)).toBe(5);
  });

  it('paints the documented shapes at snapped centres', () => {
    const at = (size: number) => shape(size, brushCentre(5.3, size), brushCentre(5.3, size));
    expect(at(1)).toEqual(['#']);
    expect(at(2)).toEqual(['##', '##']);
    expect(at(3)).toEqual(['###', '###', '###']);
    expect(at(4)).toEqual(['.##.', '####', '####', '.##.']);
  });

  it('paints the documented shapes centred on a pixel centre', () => {
    expect(shape(1, 5.5, 5.5)).toEqual(['#']);
    expect(shape(2, 5.5, 5.5)).toEqual(['.#.', '###', '.#.']);
    expect(shape(3, 5.5, 5.5)).toEqual(['###', '###', '###']);
    expect(shape(4, 5.5, 5.5)).toEqual(['..#..', '.###.', '#####', '.###.', '..#..']);
  });

  it('draws a size-1 diagonal as an 8-connected one-pixel line', () => {
    const t: PaintTarget = { width: 8, height: 8, indices: new Uint8Array(64) };
    paintSegment(t, 0.5, 0.5, 7.5, 7.5, brushRadius(1), 1, 'all');
    for (let i = 0; i < 64; i++) expect(t.indices[i]).toBe(i % 9 === 0 ? 1 : 0);
  });
});

/** Breadth-first 4-connected region of the seed's index. */
function refRegion(t: PaintTarget, sx: number, sy: number): Uint8Array {
  const out = new Uint8Array(t.width * t.height);
  const seed = t.indices[sy * t.width + sx]!;
  const queue = [sy * t.width + sx];
  out[queue[0]!] = 1;
  for (let head = 0; head < queue.length; head++) {
    const p = queue[head]!;
    const x = p % t.width;
    const y = (p - x) / t.width;
    const next: number[] = [];
    if (x > 0) next.push(p - 1);
    if (x < t.width - 1) next.push(p + 1);
    if (y > 0) next.push(p - t.width);
    if (y < t.height - 1) next.push(p + t.width);
    for (const q of next) {
      if (!out[q] && t.indices[q] === seed) {
        out[q] = 1;
        queue.push(q);
      }
    }
  }
  return out;
}

describe('floodFill', () => {
  it('matches a BFS reference on random maps with protect modes', () => {
    const rand = rng(2);
    let filled = 0;
    for (let k = 0; k < 600; k++) {
      const width = 1 + Math.floor(rand() * 70);
      const height = 1 + Math.floor(rand() * 70);
      const classes = k % 2 === 0 ? [0, 1, 255] : [0, 3];
      const t = k % 3 === 0 ? blobMap(rand, width, height, classes) : randomMap(rand, width, height, classes);
      const sx = Math.floor(rand() * width);
      const sy = Math.floor(rand() * height);
      const value = [0, 1, 2, 255][Math.floor(rand() * 4)]!;
      const protect = randomProtect(rand);
      const before = clone(t);
      const seed = t.indices[sy * width + sx]!;
      const region = refRegion(t, sx, sy);
      const rect = floodFill(t, sx + rand() * 0.99, sy + rand() * 0.99, value, protect);
      if (seed === value || !writable(seed, protect)) {
        expect(firstDiff(t.indices, before.indices)).toBe(-1);
        expect(rect).toEqual(emptyRect());
        continue;
      }
      expect(firstDiff(t.indices, applyMask(before, region, value, 'all').indices), `case ${k}`).toBe(-1);
      expect(rect, `case ${k}`).toEqual(maskBounds(region, width));
      filled++;
    }
    expect(filled).toBeGreaterThan(200);
  });

  it('is a no-op returning an empty rect when filling with the seed value or outside the map', () => {
    const rand = rng(3);
    const t = randomMap(rand, 30, 20, [0, 1]);
    const before = t.indices.slice();
    expect(floodFill(t, 4, 5, t.indices[5 * 30 + 4]!, 'all')).toEqual(emptyRect());
    expect(floodFill(t, -1, 5, 1, 'all')).toEqual(emptyRect());
    expect(floodFill(t, 30, 5, 1, 'all')).toEqual(emptyRect());
    expect(t.indices).toEqual(before);
  });

  it('fills a maze whose corridor snakes through a large map without overflowing', () => {
    // A serpentine one-pixel corridor: the worst case for recursion depth, and a long chain of spans.
    const width = 1001;
    const height = 801;
    const t: PaintTarget = { width, height, indices: new Uint8Array(width * height).fill(1) };
    for (let y = 0; y < height; y += 2) {
      t.indices.fill(0, y * width, (y + 1) * width);
      if (y + 1 < height) t.indices[(y + 1) * width + ((y / 2) % 2 === 0 ? width - 1 : 0)] = 0;
    }
    const zeros = t.indices.filter((v) => v === 0).length;
    const rect = floodFill(t, 0, 0, 2, 'all');
    expect(rect).toEqual({ x: 0, y: 0, width, height });
    expect(t.indices.filter((v) => v === 2)).toHaveLength(zeros);
    expect(t.indices.filter((v) => v === 0)).toHaveLength(0);
  });
});

/** Even-odd point-in-polygon at each centre, with the crossing expression documented on fillPolygon. */
function refPolygon(t: PaintTarget, pts: number[]): Uint8Array {
  const out = new Uint8Array(t.width * t.height);
  const n = pts.length / 2;
  for (let y = 0; y < t.height; y++) {
    for (let x = 0; x < t.width; x++) {
      const cx = x + 0.5;
      const cy = y + 0.5;
      let inside = false;
      for (let a = 0; a < n; a++) {
        const b = (a + 1) % n;
        const xa = pts[2 * a]!;
        const ya = pts[2 * a + 1]!;
        const xb = pts[2 * b]!;
        const yb = pts[2 * b + 1]!;
        if (ya > cy !== yb > cy && cx < xa + ((cy - ya) * (xb - xa)) / (yb - ya)) inside = !inside;
      }
      out[y * t.width + x] = inside ? 1 : 0;
    }
  }
  return out;
}

describe('fillPolygon', () => {
  it('matches an even-odd point-in-polygon reference on random, concave and self-intersecting polygons', () => {
    const rand = rng(4);
    let painted = 0;
    for (let k = 0; k < 800; k++) {
      const width = 1 + Math.floor(rand() * 50);
      const height = 1 + Math.floor(rand() * 50);
      const t = randomMap(rand, width, height);
      const n = 3 + Math.floor(rand() * (k % 4 === 0 ? 40 : 10));
      // Half-pixel grids put vertices and horizontal edges exactly on pixel centres and scanlines.
      const grid = k % 3 === 0 ? 2 : k % 3 === 1 ? 4 : 0;
      const q = (v: number) => (grid ? Math.round(v * grid) / grid : v);
      const pts: number[] = [];
      for (let i = 0; i < n; i++) pts.push(q(-10 + rand() * (width + 20)), q(-10 + rand() * (height + 20)));
      const value = CLASSES[Math.floor(rand() * CLASSES.length)]!;
      const protect = randomProtect(rand);
      const before = clone(t);
      const covered = refPolygon(t, pts);
      const rect = fillPolygon(t, pts, value, protect);
      expect(firstDiff(t.indices, applyMask(before, covered, value, protect).indices), `case ${k}`).toBe(-1);
      expect(rect, `case ${k}`).toEqual(maskBounds(covered, width));
      const bounds = polygonBounds(before, pts);
      expect(unionRect(bounds, rect)).toEqual(bounds); // the cheap bounds contain the result
      if (!isEmptyRect(rect)) painted++;
    }
    expect(painted).toBeGreaterThan(600);
  });

  it('fills exactly the pixels of an axis-aligned square and leaves the hole of a pentagram', () => {
    const t: PaintTarget = { width: 8, height: 8, indices: new Uint8Array(64) };
    expect(fillPolygon(t, [1, 2, 5, 2, 5, 6, 1, 6], 3, 'all')).toEqual({ x: 1, y: 2, width: 4, height: 4 });
    expect(t.indices.filter((v) => v === 3)).toHaveLength(16);

    const s: PaintTarget = { width: 64, height: 64, indices: new Uint8Array(64 * 64) };
    const star: number[] = [];
    for (let i = 0; i < 5; i++) {
      const a = -Math.PI / 2 + (i * 4 * Math.PI) / 5;
      star.push(32 + 30 * Math.cos(a), 32 + 30 * Math.sin(a));
    }
    fillPolygon(s, star, 1, 'all');
    expect(s.indices[32 * 64 + 32]).toBe(0); // the centre pentagon crosses twice: outside by even-odd
    expect(s.indices[8 * 64 + 32]).toBe(1); // the top point
  });

  it('honours protect and ignores degenerate input', () => {
    const t: PaintTarget = { width: 4, height: 1, indices: Uint8Array.from([0, 5, 255, 6]) };
    fillPolygon(t, [0, 0, 4, 0, 4, 1, 0, 1], 9, 'empty');
    expect([...t.indices]).toEqual([9, 5, 9, 6]);
    fillPolygon(t, [0, 0, 4, 0, 4, 1, 0, 1], 7, 6);
    expect([...t.indices]).toEqual([9, 5, 9, 7]);
    expect(fillPolygon(t, [0, 0, 4, 0], 1, 'all')).toEqual(emptyRect());
    expect(fillPolygon(t, [0, 0, 4, 0, NaN, 1], 1, 'all')).toEqual(emptyRect());
    expect(() => fillPolygon(t, [0, 0, 4, 0, 4], 1, 'all')).toThrow(RangeError);
    expect([...t.indices]).toEqual([9, 5, 9, 7]);
  });
});

describe('rendering', () => {
  it('renderRect writes exactly the LUT colours inside the rect and nothing outside', () => {
    const rand = rng(5);
    for (let k = 0; k < 50; k++) {
      const width = 1 + Math.floor(rand() * 40);
      const height = 1 + Math.floor(rand() * 40);
      const t = randomMap(rand, width, height);
      const lut = new Uint32Array(256);
      for (let i = 0; i < 256; i++) lut[i] = Math.floor(rand() * 0xffffffff);
      const rgba32 = new Uint32Array(width * height).fill(0xdeadbeef);
      const r: Rect = {
        x: Math.floor(rand() * (width + 10)) - 5,
        y: Math.floor(rand() * (height + 10)) - 5,
        width: Math.floor(rand() * width),
        height: Math.floor(rand() * height),
      };
      renderRect(t, r, lut, rgba32);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const i = y * width + x;
          const inside = x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height;
          expect(rgba32[i]).toBe(inside ? lut[t.indices[i]!] : 0xdeadbeef);
        }
      }
    }
  });

  it('paletteLut packs colours so an ImageData view reads R, G, B, A', () => {
    const palette = new Uint8Array(256 * 3);
    for (let i = 0; i < palette.length; i++) palette[i] = (i * 7) & 255;
    const t: PaintTarget = { width: 3, height: 1, indices: Uint8Array.from([0, 15, 255]) };
    const rgba = new Uint8ClampedArray(3 * 4);
    renderRect(
      t,
      { x: 0, y: 0, width: 3, height: 1 },
      paletteLut(palette, 128, true),
      new Uint32Array(rgba.buffer),
    );
    const rgb = (i: number) => [...palette.subarray(3 * i, 3 * i + 3)];
    expect([...rgba]).toEqual([...rgb(0), 0, ...rgb(15), 128, ...rgb(255), 128]);

    renderRect(
      t,
      { x: 0, y: 0, width: 1, height: 1 },
      paletteLut(palette, 300, false),
      new Uint32Array(rgba.buffer),
    );
    expect([...rgba.subarray(0, 4)]).toEqual([...rgb(0), 255]);
  });

  it('paletteLut pads a short palette with black', () => {
    const lut = paletteLut(Uint8Array.from([10, 20, 30]), 200, false);
    const bytes = new Uint8Array(lut.buffer);
    expect([...bytes.subarray(0, 4)]).toEqual([10, 20, 30, 200]);
    expect([...bytes.subarray(4, 8)]).toEqual([0, 0, 0, 200]);
  });

  it('rejects a LUT or an RGBA view of the wrong size', () => {
    const t: PaintTarget = { width: 2, height: 2, indices: new Uint8Array(4) };
    const r = { x: 0, y: 0, width: 2, height: 2 };
    expect(() => renderRect(t, r, new Uint32Array(10), new Uint32Array(4))).toThrow(RangeError);
    expect(() => renderRect(t, r, new Uint32Array(256), new Uint32Array(3))).toThrow(RangeError);
  });
});

describe('rect helpers and pixel access', () => {
  it('unions, clips and tests emptiness', () => {
    const a = { x: 2, y: 3, width: 4, height: 5 };
    const b = { x: -1, y: 6, width: 2, height: 10 };
    expect(unionRect(a, b)).toEqual({ x: -1, y: 3, width: 7, height: 13 });
    expect(unionRect(a, emptyRect())).toEqual(a);
    expect(unionRect({ x: 50, y: 50, width: 0, height: 3 }, b)).toEqual(b);
    expect(isEmptyRect(unionRect(emptyRect(), { x: 9, y: 9, width: 3, height: 0 }))).toBe(true);
    expect(clipRect(b, 10, 12)).toEqual({ x: 0, y: 6, width: 1, height: 6 });
    expect(clipRect({ x: 10, y: 0, width: 5, height: 5 }, 10, 12)).toEqual(emptyRect());
    expect(isEmptyRect({ x: 0, y: 0, width: 1, height: 1 })).toBe(false);
    expect(isEmptyRect({ x: 0, y: 0, width: -1, height: 1 })).toBe(true);
  });

  it('reads and writes rects, full-width and not, and rejects rects outside the map', () => {
    const rand = rng(6);
    const t = randomMap(rand, 9, 7);
    for (const r of [
      { x: 2, y: 1, width: 4, height: 3 },
      { x: 0, y: 2, width: 9, height: 5 },
      { x: 8, y: 6, width: 1, height: 1 },
    ]) {
      const data = readRect(t, r);
      expect(data).toHaveLength(r.width * r.height);
      for (let y = 0; y < r.height; y++) {
        for (let x = 0; x < r.width; x++)
          expect(data[y * r.width + x]).toBe(t.indices[(r.y + y) * 9 + r.x + x]);
      }
      const copy = clone(t);
      const fresh = new Uint8Array(data.length).map((_, i) => i + 1);
      writeRect(copy, r, fresh);
      expect(readRect(copy, r)).toEqual(fresh);
      for (let i = 0; i < t.indices.length; i++) {
        const x = i % 9;
        const y = (i - x) / 9;
        if (x < r.x || x >= r.x + r.width || y < r.y || y >= r.y + r.height) {
          expect(copy.indices[i]).toBe(t.indices[i]);
        }
      }
    }
    expect(readRect(t, emptyRect())).toHaveLength(0);
    expect(() => readRect(t, { x: 5, y: 0, width: 5, height: 1 })).toThrow(RangeError);
    expect(() => writeRect(t, { x: 0, y: 0, width: 2, height: 2 }, new Uint8Array(3))).toThrow(RangeError);
  });

  it('pixelAt floors float points and answers null outside', () => {
    const t: PaintTarget = { width: 3, height: 2, indices: Uint8Array.from([1, 2, 3, 4, 5, 6]) };
    expect(pixelAt(t, 0, 0)).toBe(1);
    expect(pixelAt(t, 2.999, 1.999)).toBe(6);
    expect(pixelAt(t, 1.5, 0.2)).toBe(2);
    expect(pixelAt(t, 3, 0)).toBeNull();
    expect(pixelAt(t, -0.001, 0)).toBeNull();
    expect(pixelAt(t, 0, 2)).toBeNull();
    expect(pixelAt(t, NaN, 0)).toBeNull();
  });
});
