// Tests for the label PNG codec on the real VOC labels, with PIL as an independent check of reads and writes.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  decodeLabelPng,
  encodeLabelPng,
  isBinaryMask,
  labelHistogram,
  LabelFormatError,
  type LabelFormatReason,
  type LabelMap,
} from '../../../src/shared/labelPng';
import { vocColormap } from '../../../src/shared/voc';
import { tempDir, VOC_MINI, VOC_VAL_LABELS } from '../../helpers/data';

const LABEL_FILES = [join(VOC_MINI, 'SegmentationClass'), VOC_VAL_LABELS].flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.png'))
    .sort()
    .map((f) => join(dir, f)),
);
const labelFile = (id: string) => LABEL_FILES.find((f) => basename(f) === `${id}.png`)!;

interface PilInfo {
  mode: string;
  size: [number, number];
  sha256: string;
  palette: number[] | null;
  transparency: boolean;
}

// One interpreter for a whole batch of files: starting Python with numpy costs far more than reading them.
const PIL_SCRIPT = `
import hashlib, json, sys
import numpy as np
from PIL import Image
out = {}
for f in sys.argv[1:]:
    im = Image.open(f)
    im.load()
    a = np.ascontiguousarray(np.array(im), dtype=np.uint8)
    out[f] = {'mode': im.mode, 'size': list(im.size), 'sha256': hashlib.sha256(a.tobytes()).hexdigest(),
              'palette': im.getpalette(), 'transparency': 'transparency' in im.info}
print(json.dumps(out))
`;

function readWithPil(files: string[]): Record<string, PilInfo> {
  const out = execFileSync('/usr/bin/python3', ['-c', PIL_SCRIPT, ...files], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out) as Record<string, PilInfo>;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** The chunks of a PNG, walked by hand so that assertions about the file do not trust the codec. */
function pngChunks(bytes: Uint8Array): { type: string; data: Uint8Array }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks: { type: string; data: Uint8Array }[] = [];
  for (let off = 8; off + 8 <= bytes.length;) {
    const len = view.getUint32(off);
    chunks.push({
      type: String.fromCharCode(...bytes.subarray(off + 4, off + 8)),
      data: bytes.subarray(off + 8, off + 8 + len),
    });
    off += 12 + len;
  }
  return chunks;
}

function ihdr(bytes: Uint8Array) {
  const data = pngChunks(bytes)[0]!.data;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return { width: view.getUint32(0), height: view.getUint32(4), depth: data[8], colorType: data[9] };
}

/**
 * Where two byte arrays first differ, or null when they are equal. Faster than toEqual on large typed
 * arrays (which compares element by element through the generic matcher) and says where they differ.
 */
function firstDifference(a: Uint8Array, b: Uint8Array): string | null {
  if (a.length !== b.length) return `lengths ${a.length} and ${b.length}`;
  if (Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length))) {
    return null;
  }
  const i = a.findIndex((v, k) => v !== b[k]);
  return `byte ${i}: ${a[i]} vs ${b[i]}`;
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error, but none was thrown');
}

function expectLabelError(fn: () => unknown, reason: LabelFormatReason): LabelFormatError {
  const error = catchError(fn);
  expect(error).toBeInstanceOf(LabelFormatError);
  const labelError = error as LabelFormatError;
  expect(labelError.reason).toBe(reason);
  return labelError;
}

/** Paints a label map with the colormap, as RGB (3 channels) or opaque RGBA (4). */
function paint(indices: Uint8Array, cmap: Uint8Array, channels: 3 | 4): Uint8Array {
  const out = new Uint8Array(indices.length * channels);
  indices.forEach((v, p) => {
    out.set(cmap.subarray(v * 3, v * 3 + 3), p * channels);
    if (channels === 4) out[p * 4 + 3] = 255;
  });
  return out;
}

/** Packs one index per byte into PNG rows of `depth` bits, most significant bits first. */
function packBits(indices: Uint8Array, width: number, height: number, depth: number): Uint8Array {
  const stride = Math.ceil((width * depth) / 8);
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      out[y * stride + (bit >> 3)]! |= indices[y * width + x]! << (8 - depth - (bit & 7));
    }
  }
  return out;
}

function paletteEntries(palette: Uint8Array): number[][] {
  const entries: number[][] = [];
  for (let i = 0; i < palette.length; i += 3) entries.push([...palette.subarray(i, i + 3)]);
  return entries;
}

/** A deterministic byte generator, so a failing fuzz case can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) & 255;
  };
}

const realLabel = (id: string) => decodeLabelPng(readFileSync(labelFile(id)));

describe('the real VOC labels', () => {
  let pil: Record<string, PilInfo>;
  beforeAll(() => {
    pil = readWithPil(LABEL_FILES);
  });

  it('are all there: 5 in voc-mini and 40 in voc-val-labels', () => {
    expect(LABEL_FILES).toHaveLength(45);
  });

  it.each(LABEL_FILES.map((f) => [basename(f), f]))(
    '%s decodes as PIL reads it and round-trips exactly',
    (_name, file) => {
      const bytes = readFileSync(file);
      const label = decodeLabelPng(bytes);
      const header = ihdr(bytes);
      const info = pil[file]!;

      expect(label.source).toBe('palette');
      expect([label.width, label.height]).toEqual([header.width, header.height]);
      expect(info.mode).toBe('P');
      expect([label.width, label.height]).toEqual(info.size);
      expect(label.indices).toHaveLength(label.width * label.height);
      expect(sha256(label.indices)).toBe(info.sha256);
      expect(label.palette).toHaveLength(768);
      expect(firstDifference(label.palette, vocColormap())).toBeNull();

      const again = decodeLabelPng(encodeLabelPng(label, label.palette));
      expect(firstDifference(again.indices, label.indices)).toBeNull();
      expect(firstDifference(again.palette, label.palette)).toBeNull();
      expect([again.width, again.height, again.source]).toEqual([label.width, label.height, 'palette']);

      const hist = labelHistogram(label.indices);
      expect(hist.reduce((a, b) => a + b, 0)).toBe(label.width * label.height);
      expect(hist[0]).toBeGreaterThan(0);
      expect(isBinaryMask(hist)).toBe(false);
    },
  );

  it('decodes from a view at an odd offset into a larger buffer', () => {
    const bytes = readFileSync(labelFile('2007_000032'));
    const backing = new Uint8Array(bytes.length + 7);
    backing.set(bytes, 7);
    expect(
      firstDifference(decodeLabelPng(backing.subarray(7)).indices, decodeLabelPng(bytes).indices),
    ).toBeNull();
  });
});

describe('files written by encodeLabelPng', () => {
  const dir = tempDir('segscope-labelpng-');
  const written = new Map<string, { file: string; map: LabelMap; palette: Uint8Array; bytes: Uint8Array }>();
  let pil: Record<string, PilInfo>;

  const shortPalette = Uint8Array.from([0, 0, 0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 250, 251, 252]);
  const small = { width: 7, height: 3, indices: Uint8Array.from({ length: 21 }, (_, i) => i % 5) };

  beforeAll(() => {
    const add = (name: string, map: LabelMap, palette: Uint8Array) => {
      const bytes = encodeLabelPng(map, palette);
      const file = join(dir, `${name}.png`);
      writeFileSync(file, bytes);
      written.set(name, { file, map, palette, bytes });
    };
    for (const f of LABEL_FILES) {
      const label = decodeLabelPng(readFileSync(f));
      add(basename(f, '.png'), label, label.palette);
    }
    add('short-palette', small, shortPalette);
    add('padded', { ...small, indices: small.indices.map((v, i) => (i === 4 ? 255 : v)) }, shortPalette);
    add('one-pixel', { width: 1, height: 1, indices: Uint8Array.of(3) }, vocColormap());
    pil = readWithPil([...written.values()].map((w) => w.file));
  });

  it('open in PIL as mode P with the same size, indices and palette, and no transparency', () => {
    expect(written.size).toBe(48);
    for (const [name, { file, map, bytes }] of written) {
      const info = pil[file]!;
      const palette = decodeLabelPng(bytes).palette;
      expect(info.mode, name).toBe('P');
      expect(info.size, name).toEqual([map.width, map.height]);
      expect(info.sha256, name).toBe(sha256(map.indices));
      expect(info.palette!.slice(0, palette.length), name).toEqual([...palette]);
      expect(info.transparency, name).toBe(false);
      expect(ihdr(bytes), name).toEqual({ width: map.width, height: map.height, depth: 8, colorType: 3 });
      expect(
        pngChunks(bytes).map((c) => c.type),
        name,
      ).toEqual(['IHDR', 'PLTE', 'IDAT', 'IEND']);
    }
  });

  it('keep a short palette exactly as given, without padding', () => {
    const { bytes } = written.get('short-palette')!;
    expect(pngChunks(bytes)[1]!.data).toEqual(shortPalette);
    const back = decodeLabelPng(bytes);
    expect(back.palette).toEqual(shortPalette);
    expect(back.indices).toEqual(small.indices);
  });

  it('pad the palette with the VOC colormap when an index is past its end', () => {
    const { bytes, map } = written.get('padded')!;
    const back = decodeLabelPng(bytes);
    expect(back.indices).toEqual(map.indices);
    expect(back.palette).toHaveLength(768);
    expect(back.palette.subarray(0, 15)).toEqual(shortPalette);
    expect(back.palette.subarray(15)).toEqual(vocColormap().subarray(15));
  });

  it('write a file palette PLTE byte for byte, so a save does not change a foreign palette', () => {
    const real = readFileSync(labelFile('2007_000033'));
    const { bytes } = written.get('2007_000033')!;
    expect(firstDifference(pngChunks(bytes)[1]!.data, pngChunks(real)[1]!.data)).toBeNull();
  });
});

describe('other PNG kinds', () => {
  const label = realLabel('2007_000032');
  const cmap = vocColormap();

  it('reads 8-bit grayscale as class indices, with the colormap as palette', () => {
    const gray = encodePng({
      width: label.width,
      height: label.height,
      data: label.indices,
      channels: 1,
      depth: 8,
    });
    expect(ihdr(gray).colorType).toBe(0);
    const back = decodeLabelPng(gray);
    expect(back.source).toBe('gray');
    expect(firstDifference(back.indices, label.indices)).toBeNull();
    expect(firstDifference(back.palette, cmap)).toBeNull();

    const custom = Uint8Array.from([1, 2, 3, 4, 5, 6]);
    expect(decodeLabelPng(gray, { colormap: custom }).palette).toEqual(custom);
  });

  it('reads gray+alpha when every pixel is opaque, and refuses transparency', () => {
    const ga = new Uint8Array(label.indices.length * 2);
    label.indices.forEach((v, p) => {
      ga[p * 2] = v;
      ga[p * 2 + 1] = 255;
    });
    const png = (data: Uint8Array) =>
      encodePng({ width: label.width, height: label.height, data, channels: 2, depth: 8 });
    const back = decodeLabelPng(png(ga));
    expect(back.source).toBe('gray');
    expect(firstDifference(back.indices, label.indices)).toBeNull();
    ga[(3 * label.width + 2) * 2 + 1] = 0;
    const error = expectLabelError(() => decodeLabelPng(png(ga)), 'unsupported');
    expect(error.message).toMatch(/transparent pixels \(first at x=2,y=3\)/);
  });

  it('maps an RGB mask painted from a real label back to the same indices', () => {
    const rgb = paint(label.indices, cmap, 3);
    const png = encodePng({ width: label.width, height: label.height, data: rgb, channels: 3, depth: 8 });
    const back = decodeLabelPng(png);
    expect(back.source).toBe('rgb');
    expect(firstDifference(back.indices, label.indices)).toBeNull();
    expect(firstDifference(back.palette, cmap)).toBeNull();
  });

  it('maps opaque RGBA the same way, and refuses a mask with a transparent pixel', () => {
    const rgba = paint(label.indices, cmap, 4);
    const png = () =>
      encodePng({ width: label.width, height: label.height, data: rgba, channels: 4, depth: 8 });
    expect(firstDifference(decodeLabelPng(png()).indices, label.indices)).toBeNull();
    rgba[(10 * label.width + 20) * 4 + 3] = 254;
    const error = expectLabelError(() => decodeLabelPng(png()), 'unsupported');
    expect(error.message).toMatch(/^RGBA mask has transparent pixels \(first at x=20,y=10\)/);
  });

  it('maps RGB through a custom colormap, the first index winning on a repeated colour', () => {
    const colormap = Uint8Array.from([0, 0, 0, 255, 0, 0, 0, 255, 0, 255, 0, 0]);
    const rgb = Uint8Array.from([0, 0, 0, 255, 0, 0, 0, 255, 0, 255, 0, 0]);
    const png = encodePng({ width: 2, height: 2, data: rgb, channels: 3, depth: 8 });
    expect([...decodeLabelPng(png, { colormap }).indices]).toEqual([0, 1, 2, 1]);
  });

  it('reports unknown RGB colours with counts and first positions, never guessing', () => {
    const rgb = paint(label.indices, cmap, 3);
    const set = (x: number, y: number, c: number[]) => rgb.set(c, (y * label.width + x) * 3);
    for (let x = 10; x < 17; x++) set(x, 4, [12, 34, 56]);
    set(100, 200, [1, 2, 3]);
    set(5, 201, [1, 2, 3]);
    set(499, 280, [1, 2, 3]);
    const png = encodePng({ width: label.width, height: label.height, data: rgb, channels: 3, depth: 8 });
    const error = expectLabelError(() => decodeLabelPng(png), 'unknown-colors');
    expect(error.distinctUnknownColors).toBe(2);
    expect(error.unknownColors).toEqual([
      { color: [12, 34, 56], count: 7, first: { x: 10, y: 4 } },
      { color: [1, 2, 3], count: 3, first: { x: 100, y: 200 } },
    ]);
    expect(error.message).toBe(
      '2 colours are not in the palette: (12,34,56) at x=10,y=4 (7 pixels), ' +
        '(1,2,3) at x=100,y=200 (3 pixels)',
    );
  });

  it('lists at most 20 unknown colours but gives their total', () => {
    const rgb = paint(label.indices, cmap, 3);
    // 30 distinct colours, colour k on k+1 pixels of row k, so the order by count is known.
    for (let k = 0; k < 30; k++) {
      for (let x = 0; x <= k; x++) rgb.set([1, 1, k + 1], (k * label.width + x) * 3);
    }
    const png = encodePng({ width: label.width, height: label.height, data: rgb, channels: 3, depth: 8 });
    const error = expectLabelError(() => decodeLabelPng(png), 'unknown-colors');
    expect(error.distinctUnknownColors).toBe(30);
    expect(error.unknownColors).toHaveLength(20);
    expect(error.unknownColors[0]).toEqual({ color: [1, 1, 30], count: 30, first: { x: 0, y: 29 } });
    expect(error.unknownColors[19]!.count).toBe(11);
    expect(error.message).toMatch(
      /^30 colours are not in the palette: \(1,1,30\) at x=0,y=29 \(30 pixels\), /,
    );
    expect(error.message).toMatch(/, and 25 more$/);
  });

  it('says "1 colour ... (1 pixel)" for a single stray pixel', () => {
    const rgb = paint(label.indices, cmap, 3);
    rgb.set([9, 9, 9], 0);
    const png = encodePng({ width: label.width, height: label.height, data: rgb, channels: 3, depth: 8 });
    const error = expectLabelError(() => decodeLabelPng(png), 'unknown-colors');
    expect(error.message).toBe('1 colour is not in the palette: (9,9,9) at x=0,y=0 (1 pixel)');
  });

  it.each([1, 2, 4])('expands %i-bit palette PNGs to one index per pixel, as PIL does', (depth) => {
    const width = 13; // odd, so rows end in a partly used byte
    const height = 5;
    const indices = Uint8Array.from({ length: width * height }, (_, i) => (i * 7 + (i >> 3)) % (1 << depth));
    const palette = cmap.slice(0, (1 << depth) * 3);
    const bytes = encodePng({
      width,
      height,
      data: packBits(indices, width, height, depth),
      channels: 1,
      depth: depth as 1 | 2 | 4,
      palette: paletteEntries(palette),
    });
    expect(ihdr(bytes).depth).toBe(depth);
    const label = decodeLabelPng(bytes);
    expect(label.source).toBe('palette');
    expect(label.indices).toEqual(indices);
    expect(label.palette).toEqual(palette);

    const file = join(tempDir('segscope-lowbit-'), 'low.png');
    writeFileSync(file, bytes);
    expect(readWithPil([file])[file]!.sha256).toBe(sha256(indices));
  });

  it('keeps the PLTE colours of a palette with transparency and drops tRNS on save', () => {
    const entries = [
      [0, 0, 0, 0],
      [128, 0, 0, 255],
      [0, 128, 0, 128],
    ];
    const bytes = encodePng({
      width: 3,
      height: 1,
      data: Uint8Array.of(0, 1, 2),
      channels: 1,
      depth: 8,
      palette: entries,
    });
    expect(pngChunks(bytes).map((c) => c.type)).toContain('tRNS');
    const label = decodeLabelPng(bytes);
    expect([...label.palette]).toEqual([0, 0, 0, 128, 0, 0, 0, 128, 0]);
    expect(pngChunks(encodeLabelPng(label, label.palette)).map((c) => c.type)).not.toContain('tRNS');
  });

  it('reads Adam7-interlaced palette PNGs', () => {
    const bytes = encodePng(
      {
        width: label.width,
        height: label.height,
        data: label.indices,
        channels: 1,
        depth: 8,
        palette: paletteEntries(cmap),
      },
      { interlace: 'Adam7' },
    );
    expect(firstDifference(decodeLabelPng(bytes).indices, label.indices)).toBeNull();
  });

  it('returns indices past the end of a short palette as they are, and pads on save', () => {
    const bytes = encodePng({
      width: 2,
      height: 1,
      data: Uint8Array.of(1, 9),
      channels: 1,
      depth: 8,
      palette: [
        [1, 2, 3],
        [4, 5, 6],
      ],
    });
    const label = decodeLabelPng(bytes);
    expect([...label.indices]).toEqual([1, 9]);
    expect(label.palette).toHaveLength(6);
    expect(decodeLabelPng(encodeLabelPng(label, label.palette)).palette).toHaveLength(768);
  });

  it('pads exactly when the largest index equals the palette length, not before', () => {
    const five = vocColormap().slice(0, 15);
    const fits = decodeLabelPng(encodeLabelPng({ width: 2, height: 1, indices: Uint8Array.of(0, 4) }, five));
    expect(fits.palette).toEqual(five);
    const past = decodeLabelPng(encodeLabelPng({ width: 2, height: 1, indices: Uint8Array.of(0, 5) }, five));
    expect(past.palette).toHaveLength(768);
    expect([...past.indices]).toEqual([0, 5]);
  });
});

describe('broken and unsupported files', () => {
  const real = new Uint8Array(readFileSync(labelFile('2007_000032')));

  it('rejects a file cut in half, and every other cut, as corrupt', () => {
    const half = expectLabelError(() => decodeLabelPng(real.subarray(0, real.length >> 1)), 'corrupt');
    expect(half.message).toBe('truncated or corrupt PNG data (the file ends early)');
    for (let cut = 0; cut < real.length; cut += 17) {
      expectLabelError(() => decodeLabelPng(real.subarray(0, cut)), 'corrupt');
    }
    expectLabelError(() => decodeLabelPng(real.subarray(0, real.length - 1)), 'corrupt');
  });

  it('rejects random bytes and an empty file as not a PNG', () => {
    const next = prng(42);
    const random = Uint8Array.from({ length: 2048 }, next);
    expect(expectLabelError(() => decodeLabelPng(random), 'corrupt').message).toBe('not a PNG file');
    expect(expectLabelError(() => decodeLabelPng(new Uint8Array(0)), 'corrupt').message).toBe(
      'not a PNG file',
    );
    const text = new TextEncoder().encode('<html>not found</html>');
    expect(expectLabelError(() => decodeLabelPng(text), 'corrupt').message).toBe('not a PNG file');
  });

  it('rejects a PNG signature followed by garbage as corrupt', () => {
    const next = prng(7);
    for (let n = 0; n < 20; n++) {
      const bytes = Uint8Array.from({ length: 8 + n * 10 }, next);
      bytes.set(real.subarray(0, 8));
      expectLabelError(() => decodeLabelPng(bytes), 'corrupt');
    }
  });

  it('rejects any single flipped byte, thanks to the CRCs, and lets no other error type out', () => {
    for (let pos = 0; pos < real.length; pos += 7) {
      const damaged = real.slice();
      damaged[pos]! ^= 0xff;
      const error = catchError(() => decodeLabelPng(damaged));
      expect(error, `byte ${pos}`).toBeInstanceOf(LabelFormatError);
    }
  });

  it('rejects 16-bit grayscale and RGB as unsupported', () => {
    const gray16 = encodePng({ width: 4, height: 4, data: new Uint16Array(16), channels: 1, depth: 16 });
    const error = expectLabelError(() => decodeLabelPng(gray16), 'unsupported');
    expect(error.message).toMatch(/^16-bit PNG is not a label map/);
    const rgb16 = encodePng({ width: 2, height: 2, data: new Uint16Array(12), channels: 3, depth: 16 });
    expectLabelError(() => decodeLabelPng(rgb16), 'unsupported');
  });

  it('rejects 1-bit grayscale as unsupported', () => {
    const gray1 = encodePng({ width: 8, height: 2, data: Uint8Array.of(0xf0, 0x0f), channels: 1, depth: 1 });
    expect(expectLabelError(() => decodeLabelPng(gray1), 'unsupported').message).toMatch(/^1-bit grayscale/);
  });

  it('rejects a bad colormap option as a programming error, not a file error', () => {
    const gray = encodePng({ width: 1, height: 1, data: Uint8Array.of(0), channels: 1, depth: 8 });
    expect(() => decodeLabelPng(gray, { colormap: new Uint8Array(4) })).toThrow(RangeError);
    expect(() => decodeLabelPng(gray, { colormap: new Uint8Array(771) })).toThrow(RangeError);
  });
});

describe('encodeLabelPng argument checks', () => {
  const cmap = vocColormap();

  it('throws a clear error when the indices do not fit the size', () => {
    expect(() => encodeLabelPng({ width: 3, height: 2, indices: new Uint8Array(5) }, cmap)).toThrow(
      'label map has 5 indices, but 3×2 needs 6',
    );
    expect(() => encodeLabelPng({ width: 0, height: 2, indices: new Uint8Array(0) }, cmap)).toThrow(
      /size must be positive integers/,
    );
    expect(() => encodeLabelPng({ width: 1.5, height: 2, indices: new Uint8Array(3) }, cmap)).toThrow(
      /size must be positive integers/,
    );
  });

  it('throws when the palette is not 1 to 256 whole RGB entries', () => {
    const map = { width: 1, height: 1, indices: Uint8Array.of(0) };
    for (const n of [0, 4, 771]) {
      expect(() => encodeLabelPng(map, new Uint8Array(n))).toThrow(/palette must hold 1 to 256 RGB entries/);
    }
    expect(decodeLabelPng(encodeLabelPng(map, Uint8Array.of(9, 8, 7))).palette).toEqual(
      Uint8Array.of(9, 8, 7),
    );
  });

  it('encodes a view at an offset into a larger array', () => {
    const backing = Uint8Array.from({ length: 30 }, (_, i) => i % 21);
    const map = { width: 4, height: 5, indices: backing.subarray(3, 23) };
    expect(decodeLabelPng(encodeLabelPng(map, cmap)).indices).toEqual(backing.subarray(3, 23));
  });
});

describe('labelHistogram and isBinaryMask', () => {
  it('counts pixels per index', () => {
    const hist = labelHistogram(Uint8Array.of(0, 0, 3, 255, 3, 3));
    expect(hist).toHaveLength(256);
    expect([hist[0], hist[3], hist[255], hist[1]]).toEqual([2, 3, 1, 0]);
  });

  it('flags only maps made of 0 and 255 with both present', () => {
    const binary = (values: number[]) => isBinaryMask(labelHistogram(Uint8Array.from(values)));
    expect(binary([0, 255, 255, 0])).toBe(true);
    expect(binary([0, 0])).toBe(false);
    expect(binary([255, 255])).toBe(false);
    expect(binary([0, 1, 1])).toBe(false);
    expect(binary([0, 255, 15])).toBe(false);
    expect(binary([])).toBe(false);
  });
});
