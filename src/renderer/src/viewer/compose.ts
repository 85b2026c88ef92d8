// Turns the viewer's data into bitmaps: the mask through the palette, the blend at an alpha, and the
// Grad-CAM in jet over the photo. All at the image's own size; the panes scale them. Renderer.
import { overlayCam } from '../../../shared/camColormap';

/** The photo's RGBA pixels, read once per image. */
export function imagePixels(image: HTMLImageElement): ImageData {
  const canvas = document.createElement('canvas');
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(image, 0, 0);
  return ctx.getImageData(0, 0, canvas.width, canvas.height);
}

function toCanvas(width: number, height: number, fill: (rgba: Uint8ClampedArray) => void): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d')!;
  const data = ctx.createImageData(width, height);
  fill(data.data);
  ctx.putImageData(data, 0, 0);
  return canvas;
}

/** The label map in its palette colours (RGB triplets for 256 indices). */
export function maskBitmap(
  labels: Uint8Array,
  width: number,
  height: number,
  palette: Uint8Array,
): HTMLCanvasElement {
  return toCanvas(width, height, (rgba) => {
    for (let i = 0; i < labels.length; i++) {
      const c = labels[i]! * 3;
      rgba[i * 4] = palette[c]!;
      rgba[i * 4 + 1] = palette[c + 1]!;
      rgba[i * 4 + 2] = palette[c + 2]!;
      rgba[i * 4 + 3] = 255;
    }
  });
}

/** `alpha` of the class colour over the photo; background (0) shows the photo untouched. */
export function blendBitmap(
  photo: ImageData,
  labels: Uint8Array,
  palette: Uint8Array,
  alpha: number,
): HTMLCanvasElement {
  return toCanvas(photo.width, photo.height, (rgba) => {
    const src = photo.data;
    for (let i = 0; i < labels.length; i++) {
      const v = labels[i]!;
      const a = v === 0 ? 0 : alpha;
      for (let k = 0; k < 3; k++)
        rgba[i * 4 + k] = Math.round(src[i * 4 + k]! * (1 - a) + palette[v * 3 + k]! * a);
      rgba[i * 4 + 3] = 255;
    }
  });
}

/** The heatmap in jet, blended at 0.5 over the photo. */
export function camBitmap(photo: ImageData, cam: Float32Array): HTMLCanvasElement {
  const rgb = new Uint8Array(photo.width * photo.height * 3);
  for (let i = 0; i < rgb.length / 3; i++) {
    rgb[i * 3] = photo.data[i * 4]!;
    rgb[i * 3 + 1] = photo.data[i * 4 + 1]!;
    rgb[i * 3 + 2] = photo.data[i * 4 + 2]!;
  }
  const over = overlayCam(rgb, cam, 0.5);
  return toCanvas(photo.width, photo.height, (rgba) => {
    for (let i = 0; i < over.length / 3; i++) {
      rgba[i * 4] = over[i * 3]!;
      rgba[i * 4 + 1] = over[i * 3 + 1]!;
      rgba[i * 4 + 2] = over[i * 3 + 2]!;
      rgba[i * 4 + 3] = 255;
    }
  });
}

/** A small heatmap alone (for the layer sweep grid), in jet. */
export function camOnlyBitmap(cam: Float32Array, width: number, height: number): HTMLCanvasElement {
  const grey = new Uint8Array(width * height * 3);
  const over = overlayCam(grey, cam, 1);
  return toCanvas(width, height, (rgba) => {
    for (let i = 0; i < width * height; i++) {
      rgba[i * 4] = over[i * 3]!;
      rgba[i * 4 + 1] = over[i * 3 + 1]!;
      rgba[i * 4 + 2] = over[i * 3 + 2]!;
      rgba[i * 4 + 3] = 255;
    }
  });
}
