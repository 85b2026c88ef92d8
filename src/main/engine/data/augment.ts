// Turns a decoded sample into a model-sized training pair: letterbox onto a grey square (labels padded
// with void), with optional random scale, rotation, flip and HSV jitter. One inverse-mapping pass does
// all the geometry, bilinear for the image and nearest for the label, so the two stay aligned.
// Engine process.
import { letterbox, LETTERBOX_GREY } from '../../../shared/letterbox';
import { VOID_INDEX } from '../../../shared/voc';
import type { RgbImage } from './samples';

/** Which augmentations are on. Each is independent. */
export interface Augmentation {
  scale: boolean;
  rotate: boolean;
  flip: boolean;
  hsv: boolean;
}

export const NO_AUGMENTATION: Augmentation = { scale: false, rotate: false, flip: false, hsv: false };

/** A training pair at the model's input size. */
export interface Pair {
  /** `size`×`size`×3 RGB bytes. */
  image: Uint8Array;
  /** `size`×`size` class indices, 255 where the letterbox padded or the label is void. */
  label: Uint8Array | null;
}

/**
 * Letterboxes `image` (and `label`) onto a `size` square. With `aug` and `random`, applies the switched-on
 * augmentations: scale 0.75–1.25 with a random shift, rotation within ±10°, horizontal flip, and HSV
 * jitter (hue ±0.05 turn, saturation and value ×0.7–1.3).
 */
export function letterboxPair(
  image: RgbImage,
  label: Uint8Array | null,
  size: number,
  aug: Augmentation = NO_AUGMENTATION,
  random: () => number = Math.random,
): Pair {
  const { width: w, height: h, data } = image;
  const zoom = aug.scale ? 0.75 + 0.5 * random() : 1;
  const jitter: [number, number] = aug.scale ? [random() * 2 - 1, random() * 2 - 1] : [0, 0];
  const box = letterbox(w, h, size, zoom, jitter);
  const flip = aug.flip && random() < 0.5;
  const angle = aug.rotate ? ((random() * 2 - 1) * 10 * Math.PI) / 180 : 0;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  // Rotation is about the centre of the placed image.
  const cx = box.left + box.width / 2;
  const cy = box.top + box.height / 2;
  const sx = w / box.width;
  const sy = h / box.height;

  const out = new Uint8Array(size * size * 3);
  const outLabel = label ? new Uint8Array(size * size) : null;
  for (let v = 0; v < size; v++) {
    for (let u = 0; u < size; u++) {
      // Output pixel centre → placed-image coordinates (undo rotation) → source pixel coordinates.
      const du = u + 0.5 - cx;
      const dv = v + 0.5 - cy;
      let px = cos * du + sin * dv + box.width / 2;
      const py = -sin * du + cos * dv + box.height / 2;
      if (flip) px = box.width - px;
      const srcX = px * sx - 0.5;
      const srcY = py * sy - 0.5;
      const o = v * size + u;
      if (srcX < -0.5 || srcY < -0.5 || srcX > w - 0.5 || srcY > h - 0.5) {
        out[o * 3] = out[o * 3 + 1] = out[o * 3 + 2] = LETTERBOX_GREY;
        if (outLabel) outLabel[o] = VOID_INDEX;
        continue;
      }
      const x0 = Math.max(0, Math.floor(srcX));
      const y0 = Math.max(0, Math.floor(srcY));
      const x1 = Math.min(w - 1, x0 + 1);
      const y1 = Math.min(h - 1, y0 + 1);
      const fx = Math.min(1, Math.max(0, srcX - x0));
      const fy = Math.min(1, Math.max(0, srcY - y0));
      const a = (y0 * w + x0) * 3;
      const b = (y0 * w + x1) * 3;
      const c = (y1 * w + x0) * 3;
      const d = (y1 * w + x1) * 3;
      for (let k = 0; k < 3; k++) {
        const top = data[a + k]! + (data[b + k]! - data[a + k]!) * fx;
        const bottom = data[c + k]! + (data[d + k]! - data[c + k]!) * fx;
        out[o * 3 + k] = Math.round(top + (bottom - top) * fy);
      }
      if (outLabel && label) {
        const nx = Math.min(w - 1, Math.max(0, Math.round(srcX)));
        const ny = Math.min(h - 1, Math.max(0, Math.round(srcY)));
        outLabel[o] = label[ny * w + nx]!;
      }
    }
  }
  if (aug.hsv) jitterHsv(out, (random() - 0.5) * 0.1, 0.7 + 0.6 * random(), 0.7 + 0.6 * random());
  return { image: out, label: outLabel };
}

/** Shifts hue by `dh` (in turns) and scales saturation and value, in place. */
export function jitterHsv(rgb: Uint8Array, dh: number, sMul: number, vMul: number): void {
  for (let i = 0; i < rgb.length; i += 3) {
    const r = rgb[i]! / 255;
    const g = rgb[i + 1]! / 255;
    const b = rgb[i + 2]! / 255;
    const max = Math.max(r, g, b);
    const min = Math.min(r, g, b);
    const delta = max - min;
    let hue = 0;
    if (delta > 0) {
      if (max === r) hue = ((g - b) / delta + 6) % 6;
      else if (max === g) hue = (b - r) / delta + 2;
      else hue = (r - g) / delta + 4;
      hue /= 6;
    }
    const sat = max === 0 ? 0 : Math.min(1, (delta / max) * sMul);
    const val = Math.min(1, max * vMul);
    hue = (((hue + dh) % 1) + 1) % 1;
    const h6 = hue * 6;
    const sector = Math.floor(h6);
    const f = h6 - sector;
    const p = val * (1 - sat);
    const q = val * (1 - sat * f);
    const t = val * (1 - sat * (1 - f));
    const [rr, gg, bb] = [
      [val, t, p],
      [q, val, p],
      [p, val, t],
      [p, q, val],
      [t, p, val],
      [val, p, q],
    ][sector % 6]!;
    rgb[i] = Math.round(rr! * 255);
    rgb[i + 1] = Math.round(gg! * 255);
    rgb[i + 2] = Math.round(bb! * 255);
  }
}
