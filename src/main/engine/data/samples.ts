// Reads training samples in the engine process: decodes an image to RGB and its label to indices, so
// pixels never cross IPC, and keeps decoded samples in a bounded cache between epochs. Engine process.
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { describePixelLimit, MAX_IMAGE_PIXELS } from '../../../shared/imageLimits';
import { decodeLabelPng, pngSize } from '../../../shared/labelPng';

/** An image as RGB bytes, row-major, 3 bytes per pixel. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A decoded image with its label map (255 = void). */
export interface Sample {
  id: string;
  image: RgbImage;
  label: Uint8Array | null;
}

/**
 * Decodes any image sharp reads (JPEG, PNG, …) to RGB. EXIF orientation is left as stored, as labels are.
 * An image over the pixel limit is refused from its header, before it is decoded.
 */
export async function readRgb(path: string): Promise<RgbImage> {
  try {
    // sharp checks its pixel limit against the header, before it decodes anything.
    const { data, info } = await sharp(path, { limitInputPixels: MAX_IMAGE_PIXELS })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 channels, got ${info.channels}`);
    return {
      width: info.width,
      height: info.height,
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    };
  } catch (err) {
    const message = (err as Error).message;
    if (/pixel limit/i.test(message)) throw new Error(`${path}: is ${describePixelLimit()}`, { cause: err });
    throw new Error(`${path}: is not a readable image (${message})`, { cause: err });
  }
}

/**
 * Reads a label PNG (palette, grayscale, or RGB through `colormap`). Its header must declare its image's
 * size, which is checked before anything is inflated.
 */
export async function readLabel(
  path: string,
  colormap: Uint8Array,
  width: number,
  height: number,
): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new Error(`${path}: cannot be read (${(err as NodeJS.ErrnoException).code})`, { cause: err });
  }
  const named = (err: unknown) => new Error(`${path}: ${(err as Error).message}`, { cause: err });
  let declared;
  try {
    declared = pngSize(bytes);
  } catch (err) {
    throw named(err);
  }
  if (declared.width !== width || declared.height !== height) {
    throw new Error(
      `${path}: the label is ${declared.width}×${declared.height} but its image is ${width}×${height}`,
    );
  }
  let label;
  try {
    label = decodeLabelPng(bytes, { colormap });
  } catch (err) {
    throw named(err);
  }
  return label.indices;
}

/** Where sample `id` lives. */
export interface SampleSource {
  imagePath(id: string): string;
  labelPath(id: string): string | null;
  colormap: Uint8Array;
}

/** Decoded samples, kept up to `budgetBytes`; the least recently used go first. */
export class SampleCache {
  private readonly entries = new Map<string, Sample>();
  private bytes = 0;

  constructor(
    private readonly source: SampleSource,
    private readonly budgetBytes = 1024 ** 3,
  ) {}

  async get(id: string): Promise<Sample> {
    const hit = this.entries.get(id);
    if (hit) {
      this.entries.delete(id);
      this.entries.set(id, hit);
      return hit;
    }
    const image = await readRgb(this.source.imagePath(id));
    const labelPath = this.source.labelPath(id);
    const label = labelPath
      ? await readLabel(labelPath, this.source.colormap, image.width, image.height)
      : null;
    const sample = { id, image, label };
    const size = image.data.byteLength + (label?.byteLength ?? 0);
    if (size <= this.budgetBytes) {
      this.entries.set(id, sample);
      this.bytes += size;
      for (const [key, old] of this.entries) {
        if (this.bytes <= this.budgetBytes) break;
        this.entries.delete(key);
        this.bytes -= old.image.data.byteLength + (old.label?.byteLength ?? 0);
      }
    }
    return sample;
  }
}
