// Pictures of the model's draft for the editor's overlay, at image resolution: the draft hatched and
// outlined in its class colours (so it is never mistaken for the solid label), or where label and
// draft differ. Renderer.
import { VOID_INDEX } from '../../../shared/voc';

/** Hatch period and stripe width in image pixels. */
const HATCH = 6;
const STRIPE = 2;
/** Alpha of the faint tint between stripes. */
const TINT = 40;
/** The disagreement colour: magenta, which no VOC class uses. */
const DIFF = [255, 0, 255];

function picture(width: number, height: number): { canvas: HTMLCanvasElement; image: ImageData } {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  return { canvas, image: new ImageData(width, height) };
}

/**
 * The draft in its class colours: diagonal stripes with a faint tint between them, and solid outlines
 * where the class changes. Background (0) is left clear.
 */
export function drawDraft(
  labels: Uint8Array,
  width: number,
  height: number,
  palette: Uint8Array,
): HTMLCanvasElement {
  const { canvas, image } = picture(width, height);
  const px = image.data;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const c = labels[i]!;
      const edge =
        (x + 1 < width && labels[i + 1] !== c) ||
        (y + 1 < height && labels[i + width] !== c) ||
        (x > 0 && labels[i - 1] !== c) ||
        (y > 0 && labels[i - width] !== c);
      if (c === 0 && !edge) continue;
      // On an edge between background and a class, the outline takes the class's colour.
      const k = c === 0 ? maxNeighbour(labels, width, height, x, y) : c;
      const o = i * 4;
      px[o] = palette[k * 3]!;
      px[o + 1] = palette[k * 3 + 1]!;
      px[o + 2] = palette[k * 3 + 2]!;
      px[o + 3] = edge || (x + y) % HATCH < STRIPE ? 255 : TINT;
    }
  }
  canvas.getContext('2d')!.putImageData(image, 0, 0);
  return canvas;
}

function maxNeighbour(labels: Uint8Array, width: number, height: number, x: number, y: number): number {
  let best = 0;
  for (const [dx, dy] of [
    [1, 0],
    [-1, 0],
    [0, 1],
    [0, -1],
  ] as const) {
    const nx = x + dx;
    const ny = y + dy;
    if (nx >= 0 && ny >= 0 && nx < width && ny < height) best = Math.max(best, labels[ny * width + nx]!);
  }
  return best;
}

/** Magenta wherever the label (void pixels aside) and the draft differ; clear elsewhere. */
export function drawDisagreement(
  label: Uint8Array,
  draft: Uint8Array,
  width: number,
  height: number,
): HTMLCanvasElement {
  const { canvas, image } = picture(width, height);
  const px = image.data;
  for (let i = 0; i < label.length; i++) {
    if (label[i] === draft[i] || label[i] === VOID_INDEX) continue;
    px.set(DIFF, i * 4);
    px[i * 4 + 3] = 200;
  }
  canvas.getContext('2d')!.putImageData(image, 0, 0);
  return canvas;
}
