// Label-map operations for the mask editor (brush capsules, flood fill, polygon fill, dirty-rectangle
// rendering through a palette lookup, rect helpers), writing exact class indices, never blended colours.
// Pure TypeScript that runs in any process (used by the renderer's editor).

/** An integer pixel rectangle; empty when `width` or `height` is 0 (or less). */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * A label map to paint into: one class index per pixel, row-major, 255 meaning void. Structurally the same
 * as `LabelMap` in `labelPng.ts`, so a decoded label can be painted directly.
 */
export interface PaintTarget {
  width: number;
  height: number;
  indices: Uint8Array;
}

/**
 * Which existing pixels a tool may overwrite. `'all'` = any; `'empty'` = only background (0) and void
 * (255); a number = only pixels of that class index.
 */
export type Protect = 'all' | 'empty' | number;

// Kept local rather than imported from voc.ts so this module stays dependency-free.
const VOID = 255;

// Protect decoded once per call into a small integer, so the span loops branch on a number, not a string.
const MODE_ALL = 0;
const MODE_EMPTY = 1;
const MODE_CLASS = 2;

// Widens the approximate geometry (square roots, divisions) so that it always contains what the exact
// predicate accepts; the exact predicate then trims each span. Far above float error at image scales,
// far below a pixel.
const SLACK = 1e-6;

/** A new empty rectangle at the origin: what the operations return when nothing could change. */
export function emptyRect(): Rect {
  return { x: 0, y: 0, width: 0, height: 0 };
}

/** True when `r` covers no pixel. */
export function isEmptyRect(r: Rect): boolean {
  return !(r.width > 0 && r.height > 0);
}

/** The smallest rectangle containing both; an empty operand is ignored. Always a new object. */
export function unionRect(a: Rect, b: Rect): Rect {
  if (isEmptyRect(a)) return isEmptyRect(b) ? emptyRect() : { ...b };
  if (isEmptyRect(b)) return { ...a };
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return {
    x,
    y,
    width: Math.max(a.x + a.width, b.x + b.width) - x,
    height: Math.max(a.y + a.height, b.y + b.height) - y,
  };
}

/** The part of `r` inside a `width` x `height` map, or `emptyRect()` when none of it is. */
export function clipRect(r: Rect, width: number, height: number): Rect {
  const x0 = Math.max(r.x, 0);
  const y0 = Math.max(r.y, 0);
  const x1 = Math.min(r.x + r.width, width);
  const y1 = Math.min(r.y + r.height, height);
  if (!(x1 > x0 && y1 > y0)) return emptyRect();
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

function checkValue(value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 255) {
    throw new RangeError(`class index must be an integer 0..255, got ${value}`);
  }
}

function protectMode(protect: Protect): number {
  if (protect === 'all') return MODE_ALL;
  if (protect === 'empty') return MODE_EMPTY;
  if (typeof protect === 'number' && Number.isInteger(protect) && protect >= 0 && protect <= 255) {
    return MODE_CLASS;
  }
  throw new RangeError(`protect must be 'all', 'empty' or a class index 0..255, got ${String(protect)}`);
}

function isWritable(v: number, mode: number, cls: number): boolean {
  return mode === MODE_ALL || (mode === MODE_EMPTY ? v === 0 || v === VOID : v === cls);
}

/** Writes `value` over [start, end) of `idx` where protect allows; `fill` for the common unprotected case. */
function fillSpan(
  idx: Uint8Array,
  start: number,
  end: number,
  value: number,
  mode: number,
  cls: number,
): void {
  if (mode === MODE_ALL) {
    idx.fill(value, start, end);
  } else if (mode === MODE_EMPTY) {
    for (let i = start; i < end; i++) {
      const v = idx[i];
      if (v === 0 || v === VOID) idx[i] = value;
    }
  } else {
    for (let i = start; i < end; i++) if (idx[i] === cls) idx[i] = value;
  }
}

/**
 * The exact capsule test: is (cx, cy) within `r2` (squared radius) of the segment (x0,y0)-(x1,y1)?
 * Squared distances against `r2`, and the cross product against r2 * len2 instead of a division, so the
 * result is exact whenever the products are (e.g. coordinates in eighths of a pixel on ordinary maps).
 */
function inCapsule(
  cx: number,
  cy: number,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  dx: number,
  dy: number,
  len2: number,
  r2: number,
): boolean {
  const ux = cx - x0;
  const uy = cy - y0;
  const dot = ux * dx + uy * dy;
  if (dot <= 0) return ux * ux + uy * uy <= r2;
  if (dot >= len2) {
    const vx = cx - x1;
    const vy = cy - y1;
    return vx * vx + vy * vy <= r2;
  }
  const cross = ux * dy - uy * dx;
  return cross * cross <= r2 * len2;
}

/**
 * Brush size (diameter in pixels) to radius: `size / 2`. With the centre snapped by {@link brushCentre}
 * (pixel centres for odd sizes, pixel corners for even ones) the dabs are:
 *
 * - size 1 (r 0.5): one pixel;
 * - size 2 (r 1): a 2x2 block;
 * - size 3 (r 1.5): a 3x3 block;
 * - size 4 (r 2): a 4x4 block without its 4 corners (12 pixels).
 *
 * Centred on a pixel centre instead, size 2 is a 5-pixel plus and size 4 a 13-pixel diamond (3x3 block
 * plus one pixel out from the middle of each side). A size-1 stroke is an 8-connected one-pixel line.
 */
export function brushRadius(size: number): number {
  return size / 2;
}

/**
 * Snaps one pointer coordinate (image pixels, float) to where a brush of `size` is centred: the nearest
 * pixel centre for odd sizes, the nearest pixel corner for even sizes, so every dab has the symmetric shape
 * listed at {@link brushRadius}. Apply to x and y separately.
 */
export function brushCentre(v: number, size: number): number {
  return Math.round(size) % 2 === 1 ? Math.floor(v) + 0.5 : Math.round(v);
}

/**
 * A rectangle, clipped to the map, containing every pixel {@link paintSegment} could paint for the same
 * arguments. Cheap (no pixel access): call it to `touch` a history step before painting.
 */
export function segmentBounds(
  t: PaintTarget,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  radius: number,
): Rect {
  if (!(Number.isFinite(x0) && Number.isFinite(y0) && Number.isFinite(x1) && Number.isFinite(y1))) {
    return emptyRect();
  }
  if (!(radius >= 0 && Number.isFinite(radius))) return emptyRect();
  const ra = radius + SLACK;
  // A covered centre px + 0.5 lies within [min - r, max + r] on each axis.
  const px0 = Math.max(0, Math.ceil(Math.min(x0, x1) - ra - 0.5));
  const px1 = Math.min(t.width - 1, Math.floor(Math.max(x0, x1) + ra - 0.5));
  const py0 = Math.max(0, Math.ceil(Math.min(y0, y1) - ra - 0.5));
  const py1 = Math.min(t.height - 1, Math.floor(Math.max(y0, y1) + ra - 0.5));
  if (px1 < px0 || py1 < py0) return emptyRect();
  return { x: px0, y: py0, width: px1 - px0 + 1, height: py1 - py0 + 1 };
}

/**
 * Paints class `value` over every pixel whose centre (x + 0.5, y + 0.5) lies within distance `radius`
 * (inclusive) of the segment from (x0, y0) to (x1, y1): a capsule, or a disc when both ends coincide.
 * Coordinates are floats in image pixels. Only pixels allowed by `protect` change. Returns the bounding
 * rectangle of the pixels inside the capsule (those that could have changed), clipped to the map; an empty
 * rectangle when none are. A negative or non-finite radius or coordinate paints nothing.
 *
 * Each row of a capsule is one interval of pixels (the shape is convex), so each row is found from the
 * geometry and its two ends are settled with the exact test; the cost is per row, not per pixel.
 */
export function paintSegment(
  t: PaintTarget,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  radius: number,
  value: number,
  protect: Protect,
): Rect {
  checkValue(value);
  const mode = protectMode(protect);
  const cls = typeof protect === 'number' ? protect : -1;
  const b = segmentBounds(t, x0, y0, x1, y1, radius);
  if (isEmptyRect(b)) return b;
  const w = t.width;
  const idx = t.indices;
  const dx = x1 - x0;
  const dy = y1 - y0;
  const len2 = dx * dx + dy * dy;
  const r2 = radius * radius;
  const ra = radius + SLACK;
  const ra2 = ra * ra;
  const raLen = ra * Math.sqrt(len2);
  const bx0 = b.x;
  const bx1 = b.x + b.width - 1;
  let minX = w;
  let maxX = -1;
  let minY = -1;
  let maxY = -1;
  for (let py = b.y, yEnd = b.y + b.height; py < yEnd; py++) {
    const cy = py + 0.5;
    // Approximate span of the widened capsule on this row: end discs and the band between them.
    let lo = Infinity;
    let hi = -Infinity;
    const e0 = cy - y0;
    if (e0 * e0 <= ra2) {
      const h = Math.sqrt(ra2 - e0 * e0);
      lo = x0 - h;
      hi = x0 + h;
    }
    const e1 = cy - y1;
    if (e1 * e1 <= ra2) {
      const h = Math.sqrt(ra2 - e1 * e1);
      if (x1 - h < lo) lo = x1 - h;
      if (x1 + h > hi) hi = x1 + h;
    }
    if (len2 > 0) {
      // Band: |(cx - x0) dy - e0 dx| <= ra * len and 0 <= (cx - x0) dx + e0 dy <= len2, both linear in cx.
      let blo = -Infinity;
      let bhi = Infinity;
      if (dy !== 0) {
        const a = (e0 * dx - raLen) / dy;
        const c = (e0 * dx + raLen) / dy;
        blo = x0 + Math.min(a, c);
        bhi = x0 + Math.max(a, c);
      } else if (Math.abs(e0 * dx) > raLen) {
        blo = Infinity;
      }
      if (dx !== 0) {
        const a = (-e0 * dy) / dx;
        const c = (len2 - e0 * dy) / dx;
        blo = Math.max(blo, x0 + Math.min(a, c));
        bhi = Math.min(bhi, x0 + Math.max(a, c));
      } else if (e0 * dy < 0 || e0 * dy > len2) {
        blo = Infinity;
      }
      if (blo <= bhi) {
        if (blo < lo) lo = blo;
        if (bhi > hi) hi = bhi;
      }
    }
    if (!(lo <= hi)) continue;
    let pa = Math.max(bx0, Math.ceil(lo - 0.5));
    let pb = Math.min(bx1, Math.floor(hi - 0.5));
    while (pa <= pb && !inCapsule(pa + 0.5, cy, x0, y0, x1, y1, dx, dy, len2, r2)) pa++;
    if (pa > pb) continue;
    while (!inCapsule(pb + 0.5, cy, x0, y0, x1, y1, dx, dy, len2, r2)) pb--;
    // The widened span should already contain the exact one; this keeps it so under any rounding.
    while (pa > bx0 && inCapsule(pa - 0.5, cy, x0, y0, x1, y1, dx, dy, len2, r2)) pa--;
    while (pb < bx1 && inCapsule(pb + 1.5, cy, x0, y0, x1, y1, dx, dy, len2, r2)) pb++;
    const row = py * w;
    fillSpan(idx, row + pa, row + pb + 1, value, mode, cls);
    if (pa < minX) minX = pa;
    if (pb > maxX) maxX = pb;
    if (minY < 0) minY = py;
    maxY = py;
  }
  if (minY < 0) return emptyRect();
  return { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
}

// The flood fill's stack of pixel offsets, kept between calls so a fill allocates nothing in the common case.
let fillStack = new Int32Array(1 << 14);

/**
 * 4-connected flood fill from pixel (x, y) (floats are floored) of the region sharing the seed's index,
 * set to `value`. If the seed is outside the map, already `value`, or not writable under `protect`,
 * nothing changes (protect is decided by the seed alone: the whole region has its index). Returns the
 * bounding rectangle of the changed pixels, empty when none.
 *
 * A scanline fill over an explicit stack of pixel offsets: each popped seed is widened to its full run on
 * the row, the run is written with `fill`, and one seed is pushed per run of the region in the rows above
 * and below. Filled pixels no longer match the seed's index, so no visited set is needed.
 */
export function floodFill(t: PaintTarget, x: number, y: number, value: number, protect: Protect): Rect {
  checkValue(value);
  const mode = protectMode(protect);
  const cls = typeof protect === 'number' ? protect : -1;
  const w = t.width;
  const h = t.height;
  const idx = t.indices;
  const sx = Math.floor(x);
  const sy = Math.floor(y);
  if (!(sx >= 0 && sx < w && sy >= 0 && sy < h)) return emptyRect();
  const seed = idx[sy * w + sx]!;
  if (seed === value || !isWritable(seed, mode, cls)) return emptyRect();
  let stack = fillStack;
  let sp = 0;
  stack[sp++] = sy * w + sx;
  let minX = sx;
  let maxX = sx;
  let minY = sy;
  let maxY = sy;
  const last = w * h - 1;
  while (sp > 0) {
    const p = stack[--sp]!;
    if (idx[p] !== seed) continue;
    const py = (p / w) | 0;
    const row = py * w;
    let l = p;
    while (l > row && idx[l - 1] === seed) l--;
    let r = p;
    const rowEnd = row + w - 1;
    while (r < rowEnd && idx[r + 1] === seed) r++;
    idx.fill(value, l, r + 1);
    if (l - row < minX) minX = l - row;
    if (r - row > maxX) maxX = r - row;
    if (py < minY) minY = py;
    if (py > maxY) maxY = py;
    // The row above, then the row below: one seed per run of the region under [l, r].
    for (let d = -w; d <= w; d += 2 * w) {
      let q = l + d;
      const qEnd = r + d;
      if (q < 0 || qEnd > last) continue;
      while (q <= qEnd) {
        if (idx[q] !== seed) {
          q++;
          continue;
        }
        if (sp === stack.length) {
          const grown = new Int32Array(stack.length * 2);
          grown.set(stack);
          stack = grown;
          fillStack = grown;
        }
        stack[sp++] = q;
        q++;
        while (q <= qEnd && idx[q] === seed) q++;
      }
    }
  }
  return { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
}

/**
 * A rectangle, clipped to the map, containing every pixel {@link fillPolygon} could paint for the same
 * points; empty for fewer than 3 vertices or a non-finite coordinate. Cheap: call it to `touch` a history
 * step before filling.
 */
export function polygonBounds(t: PaintTarget, points: ArrayLike<number>): Rect {
  const n = points.length >> 1;
  if (n < 3) return emptyRect();
  let minX = Infinity;
  let maxX = -Infinity;
  let minY = Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < 2 * n; i += 2) {
    const px = points[i]!;
    const py = points[i + 1]!;
    if (!(Number.isFinite(px) && Number.isFinite(py))) return emptyRect();
    if (px < minX) minX = px;
    if (px > maxX) maxX = px;
    if (py < minY) minY = py;
    if (py > maxY) maxY = py;
  }
  // An inside centre lies in [min, max); one pixel of margin keeps rounding in minX - 0.5 harmless.
  return clipRect(
    {
      x: Math.floor(minX - 0.5),
      y: Math.floor(minY - 0.5),
      width: Math.ceil(maxX - 0.5) - Math.floor(minX - 0.5) + 1,
      height: Math.ceil(maxY - 0.5) - Math.floor(minY - 0.5) + 1,
    },
    t.width,
    t.height,
  );
}

/**
 * Fills a polygon (vertices as float image coordinates `[x0, y0, x1, y1, ...]`, closed implicitly) with
 * `value`. A pixel is inside when its centre is, by the even-odd rule: on the scanline y + 0.5, an edge from
 * vertex a to vertex b crosses when `(ya > cy) !== (yb > cy)`, at `xa + ((cy - ya) * (xb - xa)) / (yb - ya)`
 * (this exact expression, so a point-in-polygon test written the same way agrees bit for bit), and a centre
 * is inside when an odd number of crossings lie strictly to its right. Honours `protect`. Returns the
 * bounding rectangle of the inside pixels (those that could change), clipped to the map.
 *
 * Edges are bucketed by their first row and kept in an active list, so each row costs the edges crossing
 * it rather than all of them: a freehand lasso of thousands of points stays cheap.
 */
export function fillPolygon(
  t: PaintTarget,
  points: ArrayLike<number>,
  value: number,
  protect: Protect,
): Rect {
  checkValue(value);
  const mode = protectMode(protect);
  const cls = typeof protect === 'number' ? protect : -1;
  if (points.length % 2 !== 0) throw new RangeError('polygon points must be x, y pairs');
  const b = polygonBounds(t, points);
  if (isEmptyRect(b)) return b;
  const n = points.length >> 1;
  const w = t.width;
  const idx = t.indices;
  const rowFirst = b.y;
  const rowLast = b.y + b.height - 1;
  // Rows each edge may cross, widened by one; the exact crossing test below decides.
  const edgeFirst = new Int32Array(n);
  const edgeLast = new Int32Array(n);
  const order: number[] = [];
  for (let i = 0; i < n; i++) {
    const j = i + 1 === n ? 0 : i + 1;
    const ya = points[2 * i + 1]!;
    const yb = points[2 * j + 1]!;
    if (ya === yb) continue;
    const f = Math.max(rowFirst, Math.floor(Math.min(ya, yb) - 0.5));
    const l = Math.min(rowLast, Math.ceil(Math.max(ya, yb) - 0.5));
    if (f > l) continue;
    edgeFirst[i] = f;
    edgeLast[i] = l;
    order.push(i);
  }
  order.sort((a, c) => edgeFirst[a]! - edgeFirst[c]!);
  const active = new Int32Array(order.length);
  const xs = new Float64Array(order.length);
  let na = 0;
  let next = 0;
  let minX = w;
  let maxX = -1;
  let minY = -1;
  let maxY = -1;
  const spanLo = b.x;
  const spanHi = b.x + b.width - 1;
  for (let py = rowFirst; py <= rowLast; py++) {
    while (next < order.length && edgeFirst[order[next]!]! <= py) active[na++] = order[next++]!;
    const cy = py + 0.5;
    let k = 0;
    let kept = 0;
    for (let a = 0; a < na; a++) {
      const e = active[a]!;
      if (edgeLast[e]! < py) continue;
      active[kept++] = e;
      const j = e + 1 === n ? 0 : e + 1;
      const xa = points[2 * e]!;
      const ya = points[2 * e + 1]!;
      const xb = points[2 * j]!;
      const yb = points[2 * j + 1]!;
      if (ya > cy !== yb > cy) xs[k++] = xa + ((cy - ya) * (xb - xa)) / (yb - ya);
    }
    na = kept;
    if (k < 2) continue;
    sortPrefix(xs, k);
    // Inside is [xs[0], xs[1]), [xs[2], xs[3]), ...: centres px + 0.5 with xs[m] <= px + 0.5 < xs[m + 1].
    const row = py * w;
    for (let m = 0; m + 1 < k; m += 2) {
      // Math.max also turns a -0 from ceil into 0.
      const pa = Math.max(spanLo, Math.ceil(xs[m]! - 0.5));
      const pb = Math.min(spanHi, Math.ceil(xs[m + 1]! - 0.5) - 1);
      if (pa > pb) continue;
      fillSpan(idx, row + pa, row + pb + 1, value, mode, cls);
      if (pa < minX) minX = pa;
      if (pb > maxX) maxX = pb;
      if (minY < 0) minY = py;
      maxY = py;
    }
  }
  if (minY < 0) return emptyRect();
  return { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
}

/** Sorts xs[0..k) ascending: insertion sort for the few crossings of an ordinary row. */
function sortPrefix(xs: Float64Array, k: number): void {
  if (k > 32) {
    xs.subarray(0, k).sort();
    return;
  }
  for (let i = 1; i < k; i++) {
    const v = xs[i]!;
    let j = i - 1;
    while (j >= 0 && xs[j]! > v) {
      xs[j + 1] = xs[j]!;
      j--;
    }
    xs[j + 1] = v;
  }
}

/** The class index under a float point (the pixel containing it), or null outside the map. */
export function pixelAt(t: PaintTarget, x: number, y: number): number | null {
  const px = Math.floor(x);
  const py = Math.floor(y);
  if (!(px >= 0 && px < t.width && py >= 0 && py < t.height)) return null;
  return t.indices[py * t.width + px]!;
}

function checkInside(t: PaintTarget, r: Rect): void {
  if (isEmptyRect(r)) return;
  if (r.x < 0 || r.y < 0 || r.x + r.width > t.width || r.y + r.height > t.height) {
    throw new RangeError(
      `rect ${r.x},${r.y} ${r.width}x${r.height} is outside the ${t.width}x${t.height} map`,
    );
  }
}

/**
 * Copies the pixels of rect `r` out of the map (row-major, `r.width * r.height` bytes). `r` must lie inside
 * the map (a RangeError otherwise); an empty rect gives an empty array.
 */
export function readRect(t: PaintTarget, r: Rect): Uint8Array {
  if (isEmptyRect(r)) return new Uint8Array(0);
  checkInside(t, r);
  const w = t.width;
  if (r.x === 0 && r.width === w) return t.indices.slice(r.y * w, (r.y + r.height) * w);
  const out = new Uint8Array(r.width * r.height);
  for (let y = 0; y < r.height; y++) {
    const start = (r.y + y) * w + r.x;
    out.set(t.indices.subarray(start, start + r.width), y * r.width);
  }
  return out;
}

/**
 * Writes `data` (row-major, `r.width * r.height` bytes, as from {@link readRect}) into rect `r` of the map.
 * `r` must lie inside the map and `data` must have exactly that length (a RangeError otherwise).
 */
export function writeRect(t: PaintTarget, r: Rect, data: Uint8Array): void {
  if (isEmptyRect(r)) return;
  checkInside(t, r);
  if (data.length !== r.width * r.height) {
    throw new RangeError(`rect ${r.width}x${r.height} needs ${r.width * r.height} bytes, got ${data.length}`);
  }
  const w = t.width;
  if (r.x === 0 && r.width === w) {
    t.indices.set(data, r.y * w);
    return;
  }
  for (let y = 0; y < r.height; y++) {
    t.indices.set(data.subarray(y * r.width, (y + 1) * r.width), (r.y + y) * w + r.x);
  }
}

/**
 * Writes the colours of rect `r` of the map (clipped to it) into `rgba32`, a Uint32Array view of the full
 * map's RGBA pixels (`width * height` entries, e.g. `new Uint32Array(imageData.data.buffer)`), looking each
 * index up in `lut` (256 packed colours from {@link paletteLut}). Only the dirty rectangle is redrawn, so a
 * brush stroke costs its own size rather than the map's.
 */
export function renderRect(t: PaintTarget, r: Rect, lut: Uint32Array, rgba32: Uint32Array): void {
  if (lut.length < 256) throw new RangeError(`lut needs 256 entries, got ${lut.length}`);
  if (rgba32.length !== t.width * t.height) {
    throw new RangeError(`rgba32 needs ${t.width * t.height} pixels, got ${rgba32.length}`);
  }
  const c = clipRect(r, t.width, t.height);
  if (isEmptyRect(c)) return;
  const w = t.width;
  const idx = t.indices;
  for (let y = c.y, yEnd = c.y + c.height; y < yEnd; y++) {
    const end = y * w + c.x + c.width;
    for (let i = y * w + c.x; i < end; i++) rgba32[i] = lut[idx[i]!]!;
  }
}

// ImageData bytes are R, G, B, A in memory; a Uint32Array reads them in platform order.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Builds the 256-entry lookup table for {@link renderRect} from `palette` (RGB triplets, up to 256 entries;
 * entries it lacks are black, as PIL pads a short palette). Each colour is packed in platform byte order so
 * that, written through a Uint32Array view of ImageData, its bytes read R, G, B, A. Every index gets alpha
 * `alpha` (a byte, 0..255, rounded and clamped), void (255) included, except index 0 which gets 0 when
 * `hideBackground` is set.
 */
export function paletteLut(palette: Uint8Array, alpha: number, hideBackground: boolean): Uint32Array {
  const a = Math.min(255, Math.max(0, Math.round(alpha))) || 0;
  const lut = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    const r = palette[3 * i] ?? 0;
    const g = palette[3 * i + 1] ?? 0;
    const b = palette[3 * i + 2] ?? 0;
    const al = i === 0 && hideBackground ? 0 : a;
    lut[i] = LITTLE_ENDIAN
      ? (r | (g << 8) | (b << 16) | (al << 24)) >>> 0
      : ((r << 24) | (g << 16) | (b << 8) | al) >>> 0;
  }
  return lut;
}
