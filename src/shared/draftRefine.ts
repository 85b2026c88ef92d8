// Turns a model's low-resolution class probabilities into the draft a user sees: upsampled to the
// image's size, snapped to the image's own edges (a guided filter on the image's grey levels, or voting
// inside superpixels), with the fragments nobody would keep (tiny islands, thin low-confidence slivers)
// merged into their neighbours; and the draft's uncertain pixels (low confidence, thin regions). Pure
// functions of typed arrays, so the engine (app drafts, `segscope draft`) and the click bench run the
// same code. Any process.

/** Softmax probabilities, row-major `[height, width, classes]`. */
export interface ClassProbabilities {
  width: number;
  height: number;
  classes: number;
  data: Float32Array;
}

/** An image as RGB bytes, row-major, 3 bytes per pixel. */
export interface RgbPixels {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * How probabilities follow the image:
 * - `none`: bilinear upsampling only (the old drafts);
 * - `guided`: a guided filter (He et al.) of each class map with the image's grey levels as guide;
 * - `superpixel`: each SLIC-like superpixel takes the mean of the upsampled probabilities inside it.
 */
export type RefineMethod = 'none' | 'guided' | 'superpixel';

/** The refinement's settings; the defaults are those the click bench chose. */
export interface RefineOptions {
  method: RefineMethod;
  /**
   * Window radius (guided) or superpixel spacing (superpixel) in image pixels; null takes the
   * upsampling factor, and at least 8 px: on the click bench (128² drafts of VOC, factor about 4) 8 px
   * beat 2 and 16 px.
   */
  radius: number | null;
  /** The guided filter's regulariser on grey levels in 0..1: smaller follows weaker edges. */
  eps: number;
  /** Regions smaller than this share of the image's pixels (and never below 16 px) are merged away. */
  minRegion: number;
  /** Thin regions (mean width under 3 px) whose mean confidence is below this are merged away. */
  sliverConfidence: number;
}

/** The refinement the app's drafts use. */
export const DEFAULT_REFINE: RefineOptions = {
  method: 'guided',
  radius: null,
  eps: 1e-3,
  minRegion: 0.01,
  sliverConfidence: 0.7,
};

/** A refined draft at the image's size. */
export interface RefinedDraft {
  width: number;
  height: number;
  /** Class per pixel. */
  labels: Uint8Array;
  /** Probability of the pixel's class, 0..1 (for a merged fragment, the bound 1 − its old maximum). */
  confidence: Float32Array;
  /** Mean over pixels of the normalised entropy H / ln(C) of the refined probabilities, 0..1. */
  meanEntropy: number;
}

/** Peak probability under which a class is left out of the refinement (see refineDraft). */
const SKIP_BELOW = 0.05;

/** The smallest region kept, in pixels: the size the click bench forgives. */
export const FORGIVEN_REGION = 16;

/**
 * Class `c` of `probs` resized to `width`×`height`, bilinear with half-pixel centres (as tfjs's
 * `resizeBilinear(..., halfPixelCenters)`), written into `out`.
 */
export function upsampleClass(
  probs: ClassProbabilities,
  c: number,
  width: number,
  height: number,
  out: Float32Array,
): Float32Array {
  const { width: w0, height: h0, classes: k, data } = probs;
  const sx = w0 / width;
  const sy = h0 / height;
  const x0 = new Int32Array(width);
  const x1 = new Int32Array(width);
  const fx = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const s = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), w0 - 1);
    x0[x] = Math.floor(s);
    x1[x] = Math.min(x0[x]! + 1, w0 - 1);
    fx[x] = s - x0[x]!;
  }
  for (let y = 0; y < height; y++) {
    const s = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), h0 - 1);
    const ya = Math.floor(s);
    const yb = Math.min(ya + 1, h0 - 1);
    const fy = s - ya;
    const ra = ya * w0;
    const rb = yb * w0;
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const a = data[(ra + x0[x]!) * k + c]!;
      const b = data[(ra + x1[x]!) * k + c]!;
      const cc = data[(rb + x0[x]!) * k + c]!;
      const d = data[(rb + x1[x]!) * k + c]!;
      const top = a + (b - a) * fx[x]!;
      const bottom = cc + (d - cc) * fx[x]!;
      out[row + x] = top + (bottom - top) * fy;
    }
  }
  return out;
}

/**
 * Mean of `src` over the (2r+1)² window around each pixel, the window clipped at the image's border;
 * `tmp` is scratch of the same length. O(pixels) whatever r is.
 */
export function boxMean(
  src: Float32Array,
  width: number,
  height: number,
  r: number,
  out: Float32Array,
  tmp: Float32Array,
): Float32Array {
  // Horizontal sums into tmp, then vertical sums of tmp into out, each divided by its window's count.
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let sum = 0;
    for (let x = 0; x <= Math.min(r, width - 1); x++) sum += src[row + x]!;
    for (let x = 0; x < width; x++) {
      const lo = Math.max(0, x - r);
      const hi = Math.min(width - 1, x + r);
      tmp[row + x] = sum / (hi - lo + 1);
      if (x + r + 1 < width) sum += src[row + x + r + 1]!;
      if (x - r >= 0) sum -= src[row + x - r]!;
    }
  }
  for (let x = 0; x < width; x++) {
    let sum = 0;
    for (let y = 0; y <= Math.min(r, height - 1); y++) sum += tmp[y * width + x]!;
    for (let y = 0; y < height; y++) {
      const lo = Math.max(0, y - r);
      const hi = Math.min(height - 1, y + r);
      out[y * width + x] = sum / (hi - lo + 1);
      if (y + r + 1 < height) sum += tmp[(y + r + 1) * width + x]!;
      if (y - r >= 0) sum -= tmp[(y - r) * width + x]!;
    }
  }
  return out;
}

function grey(image: RgbPixels): Float32Array {
  const n = image.width * image.height;
  const g = new Float32Array(n);
  const d = image.data;
  for (let i = 0; i < n; i++)
    g[i] = (0.299 * d[i * 3]! + 0.587 * d[i * 3 + 1]! + 0.114 * d[i * 3 + 2]!) / 255;
  return g;
}

/**
 * SLIC-like superpixels on a grid of spacing `step`: k-means in (Lab-ish colour, position) restricted to
 * 2·step windows, a few rounds. Returns the superpixel of each pixel and how many there are.
 */
export function superpixels(image: RgbPixels, step: number, rounds = 5): { id: Int32Array; count: number } {
  const { width: w, height: h, data } = image;
  const n = w * h;
  const s = Math.max(2, Math.round(step));
  const gx = Math.max(1, Math.round(w / s));
  const gy = Math.max(1, Math.round(h / s));
  const k = gx * gy;
  const cx = new Float64Array(k);
  const cy = new Float64Array(k);
  const cr = new Float64Array(k);
  const cg = new Float64Array(k);
  const cb = new Float64Array(k);
  for (let j = 0; j < gy; j++)
    for (let i = 0; i < gx; i++) {
      const c = j * gx + i;
      cx[c] = Math.min(w - 1, Math.floor(((i + 0.5) * w) / gx));
      cy[c] = Math.min(h - 1, Math.floor(((j + 0.5) * h) / gy));
      const p = (cy[c]! * w + cx[c]!) * 3;
      cr[c] = data[p]!;
      cg[c] = data[p + 1]!;
      cb[c] = data[p + 2]!;
    }
  const id = new Int32Array(n).fill(-1);
  const dist = new Float64Array(n);
  // Colour distance in 0..255 units weighed against position in grid steps; 10 is SLIC's usual compactness.
  const m = 10;
  const spatial = (m * m) / (s * s);
  const sr = new Float64Array(k);
  const sg = new Float64Array(k);
  const sb = new Float64Array(k);
  const sxs = new Float64Array(k);
  const sys = new Float64Array(k);
  const cnt = new Float64Array(k);
  for (let round = 0; round < rounds; round++) {
    dist.fill(Infinity);
    for (let c = 0; c < k; c++) {
      const x0 = Math.max(0, Math.floor(cx[c]! - s));
      const x1 = Math.min(w - 1, Math.ceil(cx[c]! + s));
      const y0 = Math.max(0, Math.floor(cy[c]! - s));
      const y1 = Math.min(h - 1, Math.ceil(cy[c]! + s));
      for (let y = y0; y <= y1; y++)
        for (let x = x0; x <= x1; x++) {
          const i = y * w + x;
          const dr = data[i * 3]! - cr[c]!;
          const dg = data[i * 3 + 1]! - cg[c]!;
          const db = data[i * 3 + 2]! - cb[c]!;
          const dx = x - cx[c]!;
          const dy = y - cy[c]!;
          const d = dr * dr + dg * dg + db * db + spatial * (dx * dx + dy * dy);
          if (d < dist[i]!) {
            dist[i] = d;
            id[i] = c;
          }
        }
    }
    sr.fill(0);
    sg.fill(0);
    sb.fill(0);
    sxs.fill(0);
    sys.fill(0);
    cnt.fill(0);
    for (let i = 0; i < n; i++) {
      const c = id[i]!;
      if (c < 0) continue;
      sr[c] = sr[c]! + data[i * 3]!;
      sg[c] = sg[c]! + data[i * 3 + 1]!;
      sb[c] = sb[c]! + data[i * 3 + 2]!;
      sxs[c] = sxs[c]! + (i % w);
      sys[c] = sys[c]! + Math.floor(i / w);
      cnt[c] = cnt[c]! + 1;
    }
    for (let c = 0; c < k; c++) {
      if (!cnt[c]) continue;
      cr[c] = sr[c]! / cnt[c]!;
      cg[c] = sg[c]! / cnt[c]!;
      cb[c] = sb[c]! / cnt[c]!;
      cx[c] = sxs[c]! / cnt[c]!;
      cy[c] = sys[c]! / cnt[c]!;
    }
  }
  for (let i = 0; i < n; i++) if (id[i]! < 0) id[i] = 0;
  return { id, count: k };
}

/** Connected regions (4-neighbour) of a label map, with what fragment removal and uncertainty need. */
export interface Regions {
  /** Region of each pixel. */
  id: Int32Array;
  count: number;
  label: Int32Array;
  area: Int32Array;
  /** Pixel edges between the region and another label or the image's border. */
  perimeter: Int32Array;
  /** Sum of the confidences of its pixels. */
  confidence: Float64Array;
}

/** The connected regions of `labels`. */
export function regionsOf(
  labels: Uint8Array,
  width: number,
  height: number,
  confidence?: ArrayLike<number>,
): Regions {
  const n = width * height;
  const id = new Int32Array(n).fill(-1);
  const stack = new Int32Array(n);
  const label: number[] = [];
  const area: number[] = [];
  const perimeter: number[] = [];
  const conf: number[] = [];
  for (let seed = 0; seed < n; seed++) {
    if (id[seed]! >= 0) continue;
    const r = label.length;
    const l = labels[seed]!;
    let top = 0;
    stack[top++] = seed;
    id[seed] = r;
    let a = 0;
    let p = 0;
    let s = 0;
    while (top > 0) {
      const i = stack[--top]!;
      a++;
      s += confidence ? confidence[i]! : 0;
      const x = i % width;
      const y = (i - x) / width;
      // The four neighbours, inline: this loop runs once per pixel.
      for (let d = 0; d < 4; d++) {
        const inside = d === 0 ? x > 0 : d === 1 ? x < width - 1 : d === 2 ? y > 0 : y < height - 1;
        const j = d === 0 ? i - 1 : d === 1 ? i + 1 : d === 2 ? i - width : i + width;
        if (!inside || labels[j] !== l) p++;
        else if (id[j]! < 0) {
          id[j] = r;
          stack[top++] = j;
        }
      }
    }
    label.push(l);
    area.push(a);
    perimeter.push(p);
    conf.push(s);
  }
  return {
    id,
    count: label.length,
    label: Int32Array.from(label),
    area: Int32Array.from(area),
    perimeter: Int32Array.from(perimeter),
    confidence: Float64Array.from(conf),
  };
}

/** Mean width of a region in pixels: 2·area / perimeter (a w-wide strip gives about w). */
export function meanWidth(area: number, perimeter: number): number {
  return perimeter ? (2 * area) / perimeter : Infinity;
}

/**
 * Merges each fragment (a region under `minPixels`, or a thin one under 3 px wide whose mean confidence
 * is below `sliverConfidence`) into the neighbouring label it shares most border with, in place, a few
 * passes until none is left. Merged pixels get confidence 1 − their old one. Returns the pixels changed.
 */
export function mergeFragments(
  labels: Uint8Array,
  confidence: Float32Array,
  width: number,
  height: number,
  minPixels: number,
  sliverConfidence: number,
): number {
  let changed = 0;
  for (let pass = 0; pass < 4; pass++) {
    const reg = regionsOf(labels, width, height, confidence);
    const doomed = new Uint8Array(reg.count);
    let any = false;
    for (let r = 0; r < reg.count; r++) {
      const a = reg.area[r]!;
      const thin = meanWidth(a, reg.perimeter[r]!) < 3 && reg.confidence[r]! / a < sliverConfidence;
      if (a < minPixels || thin) {
        doomed[r] = 1;
        any = true;
      }
    }
    if (!any) break;
    // Border shared with each neighbouring label, per doomed region.
    const border = new Map<number, Map<number, number>>();
    const count = (r: number, l: number) => {
      let m = border.get(r);
      if (!m) border.set(r, (m = new Map()));
      m.set(l, (m.get(l) ?? 0) + 1);
    };
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        const r = reg.id[i]!;
        if (x + 1 < width) {
          const q = reg.id[i + 1]!;
          if (q !== r) {
            if (doomed[r]) count(r, labels[i + 1]!);
            if (doomed[q]) count(q, labels[i]!);
          }
        }
        if (y + 1 < height) {
          const q = reg.id[i + width]!;
          if (q !== r) {
            if (doomed[r]) count(r, labels[i + width]!);
            if (doomed[q]) count(q, labels[i]!);
          }
        }
      }
    const target = new Int32Array(reg.count).fill(-1);
    for (const [r, m] of border) {
      let best = -1;
      let most = 0;
      for (const [l, k] of m)
        if (k > most || (k === most && l < best)) {
          most = k;
          best = l;
        }
      target[r] = best;
    }
    let passChanged = 0;
    for (let i = 0; i < labels.length; i++) {
      const t = target[reg.id[i]!]!;
      if (t >= 0 && t !== labels[i]) {
        labels[i] = t;
        confidence[i] = 1 - confidence[i]!;
        passChanged++;
      }
    }
    changed += passChanged;
    if (!passChanged) break;
  }
  return changed;
}

/**
 * The draft of an image from its model's probabilities: upsampled to the image's size, refined
 * against it by `options.method`, argmax, then fragments merged away.
 */
export function refineDraft(
  image: RgbPixels,
  probs: ClassProbabilities,
  options: Partial<RefineOptions> = {},
): RefinedDraft {
  const o = { ...DEFAULT_REFINE, ...options };
  const { width: w, height: h } = image;
  const n = w * h;
  const k = probs.classes;
  const factor = Math.max(w / probs.width, h / probs.height);
  const r = Math.max(1, Math.round(o.radius ?? Math.max(8, factor)));
  const labels = new Uint8Array(n);
  const best = new Float32Array(n).fill(-Infinity);
  const entropy = new Float32Array(n);
  const p = new Float32Array(n);
  const q = new Float32Array(n);
  const tmp = new Float32Array(n);

  // What each method needs once, whatever the class.
  let guide: { I: Float32Array; meanI: Float32Array; varI: Float32Array } | null = null;
  let sp: { id: Int32Array; count: number; area: Float64Array; sum: Float64Array } | null = null;
  if (o.method === 'guided') {
    const I = grey(image);
    const meanI = boxMean(I, w, h, r, new Float32Array(n), tmp);
    const sq = new Float32Array(n);
    for (let i = 0; i < n; i++) sq[i] = I[i]! * I[i]!;
    const varI = boxMean(sq, w, h, r, new Float32Array(n), tmp);
    for (let i = 0; i < n; i++) varI[i] = Math.max(0, varI[i]! - meanI[i]! * meanI[i]!);
    guide = { I, meanI, varI };
  } else if (o.method === 'superpixel') {
    const { id, count } = superpixels(image, r);
    const area = new Float64Array(count);
    for (let i = 0; i < n; i++) area[id[i]!] = area[id[i]!]! + 1;
    sp = { id, count, area, sum: new Float64Array(count) };
  }
  const a = guide ? new Float32Array(n) : null;
  const b = guide ? new Float32Array(n) : null;
  const meanP = guide ? new Float32Array(n) : null;

  // A class the model never gives SKIP_BELOW anywhere cannot win a pixel: it is only upsampled (for
  // the entropy), not filtered, which spares most of the work on a 21-class model.
  const peak = new Float32Array(k);
  for (let i = 0; i < probs.data.length; i++) {
    const c = i % k;
    if (probs.data[i]! > peak[c]!) peak[c] = probs.data[i]!;
  }
  for (let c = 0; c < k; c++) {
    upsampleClass(probs, c, w, h, p);
    if (peak[c]! < SKIP_BELOW) q.set(p);
    else if (guide && a && b && meanP) {
      const { I, meanI, varI } = guide;
      boxMean(p, w, h, r, meanP, tmp);
      for (let i = 0; i < n; i++) q[i] = I[i]! * p[i]!;
      boxMean(q, w, h, r, a, tmp); // corr(I, p), for now
      for (let i = 0; i < n; i++) {
        const ai = (a[i]! - meanI[i]! * meanP[i]!) / (varI[i]! + o.eps);
        a[i] = ai;
        b[i] = meanP[i]! - ai * meanI[i]!;
      }
      boxMean(a, w, h, r, q, tmp);
      boxMean(b, w, h, r, meanP, tmp);
      for (let i = 0; i < n; i++) q[i] = q[i]! * I[i]! + meanP[i]!;
    } else if (sp) {
      sp.sum.fill(0);
      for (let i = 0; i < n; i++) sp.sum[sp.id[i]!] = sp.sum[sp.id[i]!]! + p[i]!;
      for (let i = 0; i < n; i++) q[i] = sp.sum[sp.id[i]!]! / sp.area[sp.id[i]!]!;
    } else q.set(p);
    for (let i = 0; i < n; i++) {
      const v = q[i]!;
      if (v > best[i]!) {
        best[i] = v;
        labels[i] = c;
      }
      if (v > 1e-12) entropy[i] = entropy[i]! - Math.min(v, 1) * Math.log(Math.min(v, 1));
    }
  }
  const confidence = new Float32Array(n);
  let sumEntropy = 0;
  for (let i = 0; i < n; i++) {
    confidence[i] = Math.min(1, Math.max(0, best[i]!));
    sumEntropy += entropy[i]!;
  }
  const minPixels = Math.max(FORGIVEN_REGION, Math.round(o.minRegion * n));
  if (o.minRegion > 0 || o.sliverConfidence > 0)
    mergeFragments(labels, confidence, w, h, minPixels, o.sliverConfidence);
  return {
    width: w,
    height: h,
    labels,
    confidence,
    meanEntropy: k > 1 ? Math.min(1, sumEntropy / n / Math.log(k)) : 0,
  };
}

/** Where a draft is unsure, for the draft panel. */
export interface DraftUncertainty {
  /** 1 where the pixel's confidence is below the threshold or its region is thin. */
  mask: Uint8Array;
  /** Share of the image's pixels in `mask`, 0..1. */
  fraction: number;
  /** Share below the confidence threshold. */
  lowConfidence: number;
  /** Share in regions under 4 px of mean width. */
  thin: number;
  /** Connected regions in the draft. */
  regions: number;
}

/** The uncertain pixels of a draft: confidence below `threshold`, or in a region under 4 px wide. */
export function draftUncertainty(
  labels: Uint8Array,
  confidence: ArrayLike<number>,
  width: number,
  height: number,
  threshold = 0.5,
): DraftUncertainty {
  const n = width * height;
  const reg = regionsOf(labels, width, height);
  const thinRegion = new Uint8Array(reg.count);
  for (let r = 0; r < reg.count; r++) thinRegion[r] = meanWidth(reg.area[r]!, reg.perimeter[r]!) < 4 ? 1 : 0;
  const mask = new Uint8Array(n);
  let low = 0;
  let thin = 0;
  let any = 0;
  for (let i = 0; i < n; i++) {
    const l = confidence[i]! < threshold;
    const t = thinRegion[reg.id[i]!] === 1;
    if (l) low++;
    if (t) thin++;
    if (l || t) {
      mask[i] = 1;
      any++;
    }
  }
  const share = (v: number) => (n ? v / n : 0);
  return { mask, fraction: share(any), lowConfidence: share(low), thin: share(thin), regions: reg.count };
}
