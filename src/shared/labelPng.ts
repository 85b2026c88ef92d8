// Reads and writes label maps as PNG files, keeping class indices and the file's own palette exact.
// Pure code over bytes (no file access) that runs in any process.
import { decode as decodePng, encode as encodePng, type DecodedPng } from 'fast-png';
import { vocColormap, type Rgb } from './voc';

/** A label map: one class index per pixel, row-major, with 255 meaning void. */
export interface LabelMap {
  width: number;
  height: number;
  indices: Uint8Array;
}

/** A label map as read from a file, with the palette to write it back with and the kind of file it was. */
export interface DecodedLabel extends LabelMap {
  /**
   * For a palette file, exactly its PLTE entries (3 bytes each, not padded), so that saving keeps the
   * palette byte for byte. For a grayscale or RGB mask, the colormap the pixels were read with.
   */
  palette: Uint8Array;
  /**
   * `palette`: an indexed PNG; `gray`: the pixel values are the indices; `rgb`: colours mapped through
   * the colormap.
   */
  source: 'palette' | 'gray' | 'rgb';
}

/** Why a PNG could not be read as a label map. */
export type LabelFormatReason = 'corrupt' | 'unsupported' | 'unknown-colors';

/** A colour found in an RGB mask that is not in the colormap. */
export interface UnknownColor {
  color: Rgb;
  /** How many pixels have this colour. */
  count: number;
  /** The first pixel with this colour, in row-major order. */
  first: { x: number; y: number };
}

/**
 * A PNG that is not a usable label map. The message is for people and names no file; the caller adds
 * the path.
 */
export class LabelFormatError extends Error {
  /**
   * `corrupt`: not a PNG or damaged; `unsupported`: a valid PNG of a kind that cannot hold labels;
   * `unknown-colors`: an RGB mask with colours outside the colormap.
   */
  readonly reason: LabelFormatReason;
  /** For `unknown-colors`: the most frequent unknown colours, most pixels first, at most 20; else empty. */
  readonly unknownColors: UnknownColor[];
  /** For `unknown-colors`: how many distinct unknown colours there are in all. Otherwise 0. */
  readonly distinctUnknownColors: number;

  constructor(
    reason: LabelFormatReason,
    message: string,
    details: { unknownColors?: UnknownColor[]; distinctUnknownColors?: number; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'LabelFormatError';
    this.reason = reason;
    this.unknownColors = details.unknownColors ?? [];
    this.distinctUnknownColors = details.distinctUnknownColors ?? 0;
  }
}

const PNG_SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
const MAX_LISTED_UNKNOWN = 20;
// The message stays readable; the full list is on the error object.
const MAX_UNKNOWN_IN_MESSAGE = 5;

// PNG colour types, from the IHDR header.
const ColorType = { Gray: 0, Rgb: 2, Palette: 3, GrayAlpha: 4, Rgba: 6 } as const;

interface Header {
  width: number;
  height: number;
  depth: number;
  colorType: number;
}

const corrupt = (detail: string, cause?: unknown): LabelFormatError =>
  new LabelFormatError('corrupt', `truncated or corrupt PNG data (${detail})`, { cause });

/**
 * Reads IHDR ourselves so that unsupported kinds get a precise message before fast-png spends time on
 * them, and so that tiny or mangled files never reach fast-png's less helpful errors.
 */
function readHeader(bytes: Uint8Array): Header {
  if (bytes.length < PNG_SIGNATURE.length || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) {
    throw new LabelFormatError('corrupt', 'not a PNG file');
  }
  if (bytes.length < 33) throw corrupt('the file ends inside the header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = String.fromCharCode(...bytes.subarray(12, 16));
  if (type !== 'IHDR' || view.getUint32(8) !== 13)
    throw corrupt('the file does not start with an IHDR header');
  const header = {
    width: view.getUint32(16),
    height: view.getUint32(20),
    depth: view.getUint8(24),
    colorType: view.getUint8(25),
  };
  if (header.width === 0 || header.height === 0) {
    throw corrupt(`the header gives a size of ${header.width}×${header.height}`);
  }
  return header;
}

/**
 * Width and height from a PNG's IHDR, read without decoding anything, so a caller can refuse a file
 * whose header claims a huge size before spending memory on it.
 *
 * @throws LabelFormatError `corrupt` when the bytes do not start with a PNG signature and IHDR.
 */
export function pngSize(bytes: Uint8Array): { width: number; height: number } {
  const { width, height } = readHeader(bytes);
  return { width, height };
}

function checkSupported({ depth, colorType }: Header): void {
  const validDepths: Record<number, number[]> = {
    [ColorType.Gray]: [1, 2, 4, 8, 16],
    [ColorType.Rgb]: [8, 16],
    [ColorType.Palette]: [1, 2, 4, 8],
    [ColorType.GrayAlpha]: [8, 16],
    [ColorType.Rgba]: [8, 16],
  };
  const allowed = validDepths[colorType];
  if (!allowed) throw corrupt(`unknown colour type ${colorType}`);
  if (!allowed.includes(depth)) throw corrupt(`bit depth ${depth} is invalid for colour type ${colorType}`);
  if (depth === 16) {
    throw new LabelFormatError(
      'unsupported',
      '16-bit PNG is not a label map (expected an 8-bit palette PNG)',
    );
  }
  if (colorType === ColorType.Gray && depth !== 8) {
    // A 1-bit grayscale image is usually a binary mask whose values mean "on/off", not class indices.
    throw new LabelFormatError(
      'unsupported',
      `${depth}-bit grayscale PNG is not a label map (expected an 8-bit palette or grayscale PNG)`,
    );
  }
}

function runFastPng(bytes: Uint8Array): DecodedPng {
  try {
    // CRCs are cheap next to inflating, and without them a damaged IDAT can decode to wrong labels silently.
    return decodePng(bytes, { checkCrc: true });
  } catch (error) {
    // fast-png reads through a DataView, so running off the end of a cut file surfaces as a RangeError.
    const ranOut = error instanceof RangeError && /outside the bounds/i.test(error.message);
    const detail = ranOut ? 'the file ends early' : error instanceof Error ? error.message : String(error);
    throw corrupt(detail, error);
  }
}

/** Unpacks 1-, 2- or 4-bit rows (high bits first, each row padded to a byte) to one byte per pixel. */
function unpackBits(data: Uint8Array, width: number, height: number, depth: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const stride = Math.ceil((width * depth) / 8);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    const row = y * stride;
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      const byte = data[row + (bit >> 3)] ?? 0;
      out[y * width + x] = (byte >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

/** Alpha is only harmless when every pixel is opaque; anything else would drop information silently. */
function checkOpaque(data: Uint8Array, width: number, channels: number, kind: string): void {
  for (let o = channels - 1, p = 0; o < data.length; o += channels, p++) {
    if (data[o] !== 255) {
      throw new LabelFormatError(
        'unsupported',
        `${kind} mask has transparent pixels (first at x=${p % width},y=${Math.floor(p / width)}); ` +
          'a label map must be fully opaque',
      );
    }
  }
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

function unknownColorsError(found: Map<number, { count: number; firstPixel: number }>, width: number) {
  const all = [...found.entries()]
    .map(([key, { count, firstPixel }]) => ({
      color: [(key >> 16) & 255, (key >> 8) & 255, key & 255] as Rgb,
      count,
      first: { x: firstPixel % width, y: Math.floor(firstPixel / width) },
      firstPixel,
    }))
    // Ties go to the colour seen first, so the order is the same on every run.
    .sort((a, b) => b.count - a.count || a.firstPixel - b.firstPixel);
  const listed: UnknownColor[] = all
    .slice(0, MAX_LISTED_UNKNOWN)
    .map(({ color, count, first }) => ({ color, count, first }));
  const shown = listed
    .slice(0, MAX_UNKNOWN_IN_MESSAGE)
    .map(
      (u) =>
        `(${u.color.join(',')}) at x=${u.first.x},y=${u.first.y} (${plural(u.count, 'pixel', 'pixels')})`,
    );
  const more = all.length - shown.length;
  const message =
    `${plural(all.length, 'colour is', 'colours are')} not in the palette: ${shown.join(', ')}` +
    (more > 0 ? `, and ${more} more` : '');
  return new LabelFormatError('unknown-colors', message, {
    unknownColors: listed,
    distinctUnknownColors: all.length,
  });
}

/**
 * Maps RGB(A) pixels to indices by exact colour match. Unknown colours are collected and reported, never
 * matched to the nearest colour: a guess would put wrong labels into training data without anyone noticing.
 */
function mapColors(
  data: Uint8Array,
  width: number,
  height: number,
  channels: number,
  colormap: Uint8Array,
): Uint8Array {
  const lookup = new Map<number, number>();
  // Filled from the top so that, if the colormap repeats a colour, the lowest index wins.
  for (let i = colormap.length / 3 - 1; i >= 0; i--) {
    lookup.set((colormap[i * 3]! << 16) | (colormap[i * 3 + 1]! << 8) | colormap[i * 3 + 2]!, i);
  }
  const n = width * height;
  const out = new Uint8Array(n);
  let unknown: Map<number, { count: number; firstPixel: number }> | undefined;
  // Masks are mostly long runs of one colour, so remembering the last hit skips most map lookups.
  let lastKey = -1;
  let lastIndex = 0;
  for (let p = 0, o = 0; p < n; p++, o += channels) {
    // o + 2 < data.length holds because the decoder's output size was checked against the header.
    const key = (data[o]! << 16) | (data[o + 1]! << 8) | data[o + 2]!;
    if (key === lastKey) {
      out[p] = lastIndex;
      continue;
    }
    const index = lookup.get(key);
    if (index === undefined) {
      unknown ??= new Map();
      const entry = unknown.get(key);
      if (entry) entry.count++;
      else unknown.set(key, { count: 1, firstPixel: p });
      continue;
    }
    lastKey = key;
    lastIndex = index;
    out[p] = index;
  }
  if (unknown) throw unknownColorsError(unknown, width);
  return out;
}

function checkColormap(colormap: Uint8Array): void {
  if (colormap.length === 0 || colormap.length % 3 !== 0 || colormap.length > 768) {
    throw new RangeError(`colormap must hold 1 to 256 RGB entries, got ${colormap.length} bytes`);
  }
}

/**
 * Decodes a PNG into a label map.
 *
 * - Palette PNGs (bit depth 1, 2, 4 or 8): the indices as stored, one byte per pixel, and the file's PLTE.
 *   Transparency (tRNS) is ignored, since it does not change which class a pixel has.
 * - 8-bit grayscale (and gray+alpha with every pixel opaque): the gray values are the class indices.
 * - 8-bit RGB (and RGBA with every pixel opaque): each colour is looked up exactly in `options.colormap`
 *   (default: the VOC colormap); the first index wins if the colormap repeats a colour.
 *
 * Indices above the palette's last entry are returned as they are; {@link encodeLabelPng} handles them.
 *
 * @throws LabelFormatError `corrupt` for non-PNG or damaged data, `unsupported` for 16-bit images, 1/2/4-bit
 *   grayscale or masks with transparent pixels, and `unknown-colors` for RGB colours not in the colormap.
 * @throws RangeError when `options.colormap` is not 1 to 256 RGB entries.
 */
export function decodeLabelPng(bytes: Uint8Array, options: { colormap?: Uint8Array } = {}): DecodedLabel {
  const header = readHeader(bytes);
  checkSupported(header);
  const { width, height, depth, colorType } = header;
  const colormap = options.colormap ?? vocColormap();
  checkColormap(colormap);

  const png = runFastPng(bytes);
  const data = png.data;
  const channels = png.channels;
  const expected = depth < 8 ? Math.ceil((width * depth) / 8) * height : width * height * channels;
  if (!(data instanceof Uint8Array) || data.length !== expected) {
    throw corrupt('the image data does not match the header');
  }

  if (colorType === ColorType.Palette) {
    const entries = png.palette;
    if (!entries || entries.length === 0) throw corrupt('a palette image without a PLTE palette');
    if (entries.length > 256) throw corrupt(`the PLTE palette has ${entries.length} entries, more than 256`);
    // fast-png gives the palette as [r, g, b] arrays, with alpha appended when there is a tRNS chunk.
    const palette = new Uint8Array(entries.length * 3);
    entries.forEach((rgb, i) => palette.set(rgb.slice(0, 3), i * 3));
    const indices = depth === 8 ? data : unpackBits(data, width, height, depth);
    return { width, height, indices, palette, source: 'palette' };
  }

  if (colorType === ColorType.Gray || colorType === ColorType.GrayAlpha) {
    let indices = data;
    if (channels === 2) {
      checkOpaque(data, width, 2, 'gray+alpha');
      indices = new Uint8Array(width * height);
      for (let p = 0; p < indices.length; p++) indices[p] = data[p * 2]!;
    }
    return { width, height, indices, palette: colormap.slice(), source: 'gray' };
  }

  if (channels === 4) checkOpaque(data, width, 4, 'RGBA');
  const indices = mapColors(data, width, height, channels, colormap);
  return { width, height, indices, palette: colormap.slice(), source: 'rgb' };
}

/**
 * Encodes a label map as an 8-bit palette PNG (colour type 3, no tRNS) whose PLTE is `palette` exactly.
 *
 * If the map uses an index at or beyond the palette's end, the palette is padded to 256 entries with the
 * VOC colormap: a PNG whose pixels point past its palette is invalid and many readers reject it, while
 * padding keeps every given entry unchanged.
 *
 * @throws Error when the size is not positive integers, `indices.length !== width * height`, or the
 *   palette is not 1 to 256 RGB entries.
 */
export function encodeLabelPng(map: LabelMap, palette: Uint8Array): Uint8Array {
  const { width, height, indices } = map;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`label map size must be positive integers, got ${width}×${height}`);
  }
  if (indices.length !== width * height) {
    throw new Error(
      `label map has ${indices.length} indices, but ${width}×${height} needs ${width * height}`,
    );
  }
  if (palette.length === 0 || palette.length % 3 !== 0 || palette.length > 768) {
    throw new Error(`palette must hold 1 to 256 RGB entries (3 bytes each), got ${palette.length} bytes`);
  }
  let maxIndex = 0;
  for (let i = 0; i < indices.length; i++) if (indices[i]! > maxIndex) maxIndex = indices[i]!;
  let full = palette;
  if (maxIndex >= palette.length / 3) {
    full = vocColormap();
    full.set(palette);
  }
  const entries: number[][] = [];
  for (let i = 0; i < full.length; i += 3) entries.push([full[i]!, full[i + 1]!, full[i + 2]!]);
  return encodePng({ width, height, data: indices, channels: 1, depth: 8, palette: entries });
}

/** Counts the pixels of each index: bin i holds how many pixels have index i. */
export function labelHistogram(indices: Uint8Array): Uint32Array {
  const hist = new Uint32Array(256);
  for (let i = 0; i < indices.length; i++) hist[indices[i]!]!++;
  return hist;
}

/**
 * True when only indices 0 and 255 occur, and both do: the classic mistake of saving a black-and-white
 * foreground mask where class indices were expected, which would make every object "void".
 *
 * A real VOC label that holds only background and void pixels matches too, so callers should report
 * this as a warning to look at, not as an error.
 */
export function isBinaryMask(hist: Uint32Array): boolean {
  if (!hist[0] || !hist[255]) return false;
  for (let i = 1; i < 255; i++) if (hist[i]) return false;
  return true;
}
