// Letterbox geometry: how an image of any size is scaled, without distortion, and centred on a square
// of the model's input size, and how to map back. Runs in any process (the engine uses it for training
// and inference; the viewer to undo it).

/** Where the scaled image sits inside the square. */
export interface Letterbox {
  /** Side of the square input. */
  size: number;
  /** Scale from source pixels to input pixels. */
  scale: number;
  /** Scaled image size, in input pixels. */
  width: number;
  height: number;
  /** Offset of the scaled image inside the square. */
  left: number;
  top: number;
}

/** Grey of the padding, as in the reference implementations. */
export const LETTERBOX_GREY = 128;

/**
 * The letterbox of a `srcWidth`×`srcHeight` image in a `size`² square, optionally scaled further by
 * `zoom` (training augmentation; the image may then overflow the square and be cropped) and shifted
 * by `jitter` in [-1, 1] of the free space on each axis (0 centres).
 */
export function letterbox(
  srcWidth: number,
  srcHeight: number,
  size: number,
  zoom = 1,
  jitter: readonly [number, number] = [0, 0],
): Letterbox {
  const scale = (size / Math.max(srcWidth, srcHeight)) * zoom;
  const width = Math.max(1, Math.round(srcWidth * scale));
  const height = Math.max(1, Math.round(srcHeight * scale));
  const freeX = size - width;
  const freeY = size - height;
  const left = Math.round((freeX / 2) * (1 + jitter[0]));
  const top = Math.round((freeY / 2) * (1 + jitter[1]));
  return { size, scale, width, height, left, top };
}
