// The jet colormap and the helpers that turn a Grad-CAM map into something to look at: normalisation to
// 0..1 and the overlay of jet colours on the photo. Pure code that runs in any process (the engine, the
// CLI and the viewer).

/**
 * Matplotlib's `jet` as piecewise-linear segments per channel: `[x, value]` knots, value 0..1. OpenCV's
 * COLORMAP_JET samples the same curves, so both libraries agree to within a level or two.
 */
const JET_SEGMENTS: readonly (readonly (readonly [number, number])[])[] = [
  [
    [0, 0],
    [0.35, 0],
    [0.66, 1],
    [0.89, 1],
    [1, 0.5],
  ],
  [
    [0, 0],
    [0.125, 0],
    [0.375, 1],
    [0.64, 1],
    [0.91, 0],
    [1, 0],
  ],
  [
    [0, 0.5],
    [0.11, 1],
    [0.34, 1],
    [0.65, 0],
    [1, 0],
  ],
];

function segmentValue(knots: readonly (readonly [number, number])[], x: number): number {
  for (let i = 1; i < knots.length; i++) {
    const [x1, y1] = knots[i]!;
    if (x <= x1) {
      const [x0, y0] = knots[i - 1]!;
      return y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
    }
  }
  return knots[knots.length - 1]![1];
}

/**
 * The jet colour of `value` (clamped to 0..1; NaN counts as 0), as 8-bit RGB rounded to nearest.
 *
 * Follows matplotlib's `jet` segment data exactly: 0 → (0, 0, 128) dark blue, 0.5 → (123, 255, 123),
 * 1 → (128, 0, 0) dark red. Matplotlib's own `bytes=True` output truncates instead, so it reads one level
 * lower where the value is not whole (e.g. (0, 0, 127) at 0).
 */
export function jet(value: number): [number, number, number] {
  const x = Number.isNaN(value) ? 0 : Math.min(1, Math.max(0, value));
  return [
    Math.round(segmentValue(JET_SEGMENTS[0]!, x) * 255),
    Math.round(segmentValue(JET_SEGMENTS[1]!, x) * 255),
    Math.round(segmentValue(JET_SEGMENTS[2]!, x) * 255),
  ];
}

/** `jet(i / 255)` for i = 0..255, as 768 bytes of RGB: the lookup table `overlayCam` uses. */
export const JET_LUT: Uint8Array = (() => {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) lut.set(jet(i / 255), i * 3);
  return lut;
})();

/** The `JET_LUT` entry of `value` (clamped to 0..1; NaN counts as 0): round(value × 255). */
export function jetIndex(value: number): number {
  if (!(value > 0)) return 0;
  if (value >= 1) return 255;
  return Math.round(value * 255);
}

/**
 * Normalises a CAM to 0..1 in place, as pytorch-grad-cam's `scale_cam_image` does: subtract the minimum,
 * then divide by the new maximum. A constant map (all zeros, say) becomes all zeros rather than NaN.
 *
 * @returns `values`, normalised
 */
export function normalizeCam(values: Float32Array): Float32Array {
  if (values.length === 0) return values;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const range = max - min;
  if (!(range > 0) || !Number.isFinite(range)) return values.fill(0);
  for (let i = 0; i < values.length; i++) values[i] = (values[i]! - min) / range;
  return values;
}

/**
 * Jet colours of `cam` blended over an image: `alpha` of the colour plus `1 − alpha` of the photo, rounded.
 *
 * @param rgb the image, `width × height × 3` bytes, row-major
 * @param cam one value 0..1 per pixel, same order
 * @returns `width × height × 3` bytes of RGB
 */
export function overlayCam(rgb: Uint8Array, cam: Float32Array, alpha = 0.5): Uint8Array {
  if (rgb.length !== cam.length * 3) {
    throw new Error(
      `overlayCam: ${rgb.length} RGB bytes for ${cam.length} CAM values (expected 3 per value)`,
    );
  }
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < cam.length; i++) {
    const c = jetIndex(cam[i]!) * 3;
    for (let k = 0; k < 3; k++) {
      const o = i * 3 + k;
      out[o] = Math.round(rgb[o]! * (1 - alpha) + JET_LUT[c + k]! * alpha);
    }
  }
  return out;
}

/**
 * A 0..1 CAM as 16-bit grey levels, 0..65535 rounded, for a lossless PNG of the raw map.
 */
export function camToUint16(cam: Float32Array): Uint16Array {
  const out = new Uint16Array(cam.length);
  for (let i = 0; i < cam.length; i++) {
    const v = cam[i]!;
    out[i] = v > 0 ? (v >= 1 ? 65535 : Math.round(v * 65535)) : 0;
  }
  return out;
}
