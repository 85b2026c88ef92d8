// A simulated annotator that counts clicks, not pixels: it turns a starting mask (all background, or a
// draft) into the ground truth with the plain tools and one-click corrections, by the rules of issue 25:
// a polygon costs its outline's vertices after Douglas–Peucker at 1 px, a fill (reclass of a whole
// region) or accept costs 1 click, a box 2; a wrong region under 16 px is forgiven, and so is anything
// within `tolerance` px of a true edge, or void. Pure functions; the click bench runs them. Plain Node.
import { FORGIVEN_REGION, regionsOf } from '../../src/shared/draftRefine';
import { VOID_INDEX } from '../../src/shared/voc';

/** Clicks by kind for one image. */
export interface Clicks {
  polygons: number;
  vertices: number;
  fills: number;
  accepts: number;
  total: number;
}

/** Pixels forgiven: void in the ground truth, or within `tolerance` px (chessboard) of a change of class. */
export function forgiven(gt: Uint8Array, width: number, height: number, tolerance: number): Uint8Array {
  const n = width * height;
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (gt[i] === VOID_INDEX) mask[i] = 1;
  if (tolerance <= 0) return mask;
  let frontier: number[] = [];
  const seen = new Uint8Array(n);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const l = gt[i]!;
      if (
        (x + 1 < width && gt[i + 1] !== l) ||
        (x > 0 && gt[i - 1] !== l) ||
        (y + 1 < height && gt[i + width] !== l) ||
        (y > 0 && gt[i - width] !== l)
      ) {
        seen[i] = 1;
        mask[i] = 1;
        frontier.push(i);
      }
    }
  // The edge pixels sit on both sides of it, so tolerance − 1 more rings make `tolerance` px each side.
  for (let ring = 1; ring < tolerance; ring++) {
    const next: number[] = [];
    for (const i of frontier) {
      const x = i % width;
      const y = (i - x) / width;
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
          const j = ny * width + nx;
          if (!seen[j]) {
            seen[j] = 1;
            mask[j] = 1;
            next.push(j);
          }
        }
    }
    frontier = next;
  }
  return mask;
}

// Clockwise with y down: E, SE, S, SW, W, NW, N, NE.
const DX = [1, 1, 0, -1, -1, -1, 0, 1];
const DY = [0, 1, 1, 1, 0, -1, -1, -1];

/** The outer outline of the region `inside` (Moore neighbour tracing from `start`, its first pixel in raster order). */
export function outline(
  inside: (x: number, y: number) => boolean,
  start: number,
  width: number,
  maxSteps: number,
): [number, number][] {
  const sx = start % width;
  const sy = (start - sx) / width;
  const points: [number, number][] = [[sx, sy]];
  let x = sx;
  let y = sy;
  let back = 4; // the start's west neighbour is outside: raster order found it first
  for (let step = 0; step < maxSteps; step++) {
    let found = -1;
    for (let k = 1; k <= 8; k++) {
      const d = (back + k) % 8;
      if (inside(x + DX[d]!, y + DY[d]!)) {
        found = d;
        break;
      }
    }
    if (found < 0) return points; // a single pixel
    const px = x + DX[(found + 7) % 8]!;
    const py = y + DY[(found + 7) % 8]!;
    x += DX[found]!;
    y += DY[found]!;
    // The neighbour checked just before, seen from the new pixel, is where the next scan starts.
    let nb = 0;
    for (let d = 0; d < 8; d++) if (x + DX[d]! === px && y + DY[d]! === py) nb = d;
    back = nb;
    if (x === sx && y === sy) return points;
    points.push([x, y]);
  }
  return points;
}

function distToSegment(p: [number, number], a: [number, number], b: [number, number]): number {
  const vx = b[0] - a[0];
  const vy = b[1] - a[1];
  const len = vx * vx + vy * vy;
  const t = len ? Math.max(0, Math.min(1, ((p[0] - a[0]) * vx + (p[1] - a[1]) * vy) / len)) : 0;
  return Math.hypot(p[0] - a[0] - t * vx, p[1] - a[1] - t * vy);
}

/** Vertices a closed outline keeps under Douglas–Peucker with tolerance `epsilon` (at least 3, or its length). */
export function simplifiedVertices(points: [number, number][], epsilon = 1): number {
  const m = points.length;
  if (m <= 3) return m;
  let far = 0;
  let best = -1;
  for (let i = 1; i < m; i++) {
    const d = Math.hypot(points[i]![0] - points[0]![0], points[i]![1] - points[0]![1]);
    if (d > best) {
      best = d;
      far = i;
    }
  }
  const closed = [...points, points[0]!];
  const keep = new Uint8Array(closed.length);
  keep[0] = keep[far] = keep[closed.length - 1] = 1;
  const stack: [number, number][] = [
    [0, far],
    [far, closed.length - 1],
  ];
  while (stack.length) {
    const [a, b] = stack.pop()!;
    let worst = -1;
    let at = -1;
    for (let i = a + 1; i < b; i++) {
      const d = distToSegment(closed[i]!, closed[a]!, closed[b]!);
      if (d > worst) {
        worst = d;
        at = i;
      }
    }
    if (at >= 0 && worst > epsilon) {
      keep[at] = 1;
      stack.push([a, at], [at, b]);
    }
  }
  let count = 0;
  for (let i = 0; i < closed.length - 1; i++) count += keep[i]!;
  return Math.max(3, count);
}

/**
 * Clicks to turn `start` into `gt`. Each round: every region of the mask whose (unforgiven) pixels are
 * mostly of another class, by at least 16 px more, is reclassed with one fill click; then every wrong
 * connected patch of one true class of at least 16 px is drawn as a polygon (its outline's vertices)
 * that paints it and whatever it encloses. Rounds repeat until nothing but forgiven errors is left.
 */
export function countClicks(
  start: Uint8Array,
  gt: Uint8Array,
  width: number,
  height: number,
  tolerance: number,
  startClicks = 0,
): Clicks {
  const n = width * height;
  const free = forgiven(gt, width, height, tolerance);
  const canvas = Uint8Array.from(start);
  const c: Clicks = { polygons: 0, vertices: 0, fills: 0, accepts: startClicks, total: 0 };
  for (let round = 0; round < 6; round++) {
    let acted = false;
    // Fills: one click reclasses a whole region of the mask.
    const reg = regionsOf(canvas, width, height);
    const counts = new Map<number, Map<number, number>>();
    for (let i = 0; i < n; i++) {
      if (free[i]) continue;
      const r = reg.id[i]!;
      let m = counts.get(r);
      if (!m) counts.set(r, (m = new Map()));
      m.set(gt[i]!, (m.get(gt[i]!) ?? 0) + 1);
    }
    const target = new Int32Array(reg.count).fill(-1);
    for (const [r, m] of counts) {
      const own = m.get(reg.label[r]!) ?? 0;
      let best = -1;
      let most = 0;
      for (const [l, k] of m) if (k > most) [best, most] = [l, k];
      if (best !== reg.label[r] && most - own >= FORGIVEN_REGION) {
        target[r] = best;
        c.fills++;
        acted = true;
      }
    }
    for (let i = 0; i < n; i++) {
      const t = target[reg.id[i]!]!;
      if (t >= 0) canvas[i] = t;
    }
    // Polygons around the wrong patches of each true class.
    const wrong = new Uint8Array(n);
    for (let i = 0; i < n; i++) wrong[i] = !free[i] && canvas[i] !== gt[i] ? 1 : 0;
    const seen = new Uint8Array(n);
    const stack = new Int32Array(n);
    const paints: { pixels: number[]; cls: number; x0: number; y0: number; x1: number; y1: number }[] = [];
    for (let s = 0; s < n; s++) {
      if (!wrong[s] || seen[s]) continue;
      const cls = gt[s]!;
      const pixels: number[] = [];
      let top = 0;
      stack[top++] = s;
      seen[s] = 1;
      let x0 = width;
      let y0 = height;
      let x1 = 0;
      let y1 = 0;
      while (top) {
        const i = stack[--top]!;
        pixels.push(i);
        const x = i % width;
        const y = (i - x) / width;
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
        const go = (j: number, ok: boolean) => {
          if (ok && wrong[j] && !seen[j] && gt[j] === cls) {
            seen[j] = 1;
            stack[top++] = j;
          }
        };
        go(i - 1, x > 0);
        go(i + 1, x < width - 1);
        go(i - width, y > 0);
        go(i + width, y < height - 1);
      }
      if (pixels.length < FORGIVEN_REGION) continue;
      paints.push({ pixels, cls, x0, y0, x1, y1 });
    }
    for (const p of paints) {
      const member = new Set(p.pixels);
      const inside = (x: number, y: number) =>
        x >= 0 && y >= 0 && x < width && y < height && member.has(y * width + x);
      const pts = outline(inside, Math.min(...p.pixels), width, 4 * p.pixels.length + 8);
      c.polygons++;
      c.vertices += simplifiedVertices(pts, 1);
      acted = true;
      // The polygon paints the patch and what it encloses: flood the box's outside, paint the rest.
      const bw = p.x1 - p.x0 + 3;
      const bh = p.y1 - p.y0 + 3;
      const outside = new Uint8Array(bw * bh);
      const q: number[] = [0];
      outside[0] = 1;
      while (q.length) {
        const k = q.pop()!;
        const bx = k % bw;
        const by = (k - bx) / bw;
        for (const [dx, dy] of [
          [1, 0],
          [-1, 0],
          [0, 1],
          [0, -1],
        ] as const) {
          const nx = bx + dx;
          const ny = by + dy;
          if (nx < 0 || ny < 0 || nx >= bw || ny >= bh) continue;
          const kk = ny * bw + nx;
          if (outside[kk] || inside(nx + p.x0 - 1, ny + p.y0 - 1)) continue;
          outside[kk] = 1;
          q.push(kk);
        }
      }
      for (let by = 1; by < bh - 1; by++)
        for (let bx = 1; bx < bw - 1; bx++)
          if (!outside[by * bw + bx]) canvas[(by + p.y0 - 1) * width + bx + p.x0 - 1] = p.cls;
    }
    if (!acted) break;
  }
  c.total = c.vertices + c.fills + c.accepts;
  return c;
}
