// Tests for the VOC class definitions, the colormap and the class-list parsers.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  parseClassNamesTxt,
  parseLabelmapTxt,
  VOC_CLASS_NAMES,
  vocClasses,
  vocColormap,
  VOID_INDEX,
} from '../../../src/shared/voc';
import { VOC_MINI, VOC_VAL_LABELS } from '../../helpers/data';

/** The raw PLTE payload of a PNG, read by walking the chunks, so no PNG library is involved. */
function rawPlte(bytes: Uint8Array): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let off = 8; off + 8 <= bytes.length;) {
    const len = view.getUint32(off);
    const type = String.fromCharCode(...bytes.subarray(off + 4, off + 8));
    if (type === 'PLTE') return bytes.slice(off + 8, off + 8 + len);
    off += 12 + len;
  }
  throw new Error('no PLTE chunk');
}

const CVAT_VOC_LABELMAP = `# label:color_rgb:parts:actions
background:0,0,0::
aeroplane:128,0,0::
bicycle:0,128,0::
bird:128,128,0::
`;

describe('VOC constants', () => {
  it('names the 21 classes in the devkit order, void at 255', () => {
    expect(VOID_INDEX).toBe(255);
    expect(VOC_CLASS_NAMES).toHaveLength(21);
    expect(VOC_CLASS_NAMES[0]).toBe('background');
    expect(VOC_CLASS_NAMES[15]).toBe('person');
    expect(VOC_CLASS_NAMES[20]).toBe('tvmonitor');
    expect(VOC_CLASS_NAMES.join(' ')).toBe(
      'background aeroplane bicycle bird boat bottle bus car cat chair cow diningtable dog horse ' +
        'motorbike person pottedplant sheep sofa train tvmonitor',
    );
  });
});

describe('vocColormap', () => {
  it('gives the known colours of the VOC devkit', () => {
    const cmap = vocColormap();
    expect(cmap).toHaveLength(768);
    const at = (i: number) => [...cmap.subarray(i * 3, i * 3 + 3)];
    expect(at(0)).toEqual([0, 0, 0]);
    expect(at(1)).toEqual([128, 0, 0]);
    expect(at(2)).toEqual([0, 128, 0]);
    expect(at(7)).toEqual([128, 128, 128]);
    expect(at(15)).toEqual([192, 128, 128]);
    expect(at(20)).toEqual([0, 64, 128]);
    expect(at(255)).toEqual([224, 224, 192]);
  });

  it('gives every index a different colour, so RGB masks can be mapped back without ambiguity', () => {
    const cmap = vocColormap();
    const keys = new Set<number>();
    for (let i = 0; i < 256; i++) keys.add((cmap[i * 3]! << 16) | (cmap[i * 3 + 1]! << 8) | cmap[i * 3 + 2]!);
    expect(keys.size).toBe(256);
  });

  it('equals the PLTE of real VOC label files byte for byte', () => {
    for (const file of [
      join(VOC_MINI, 'SegmentationClass/2007_000032.png'),
      join(VOC_VAL_LABELS, '2011_002578.png'),
    ]) {
      expect(Buffer.from(vocColormap()).equals(rawPlte(readFileSync(file)))).toBe(true);
    }
  });

  it('returns a fresh copy each time', () => {
    const a = vocColormap();
    a[3] = 1;
    expect(vocColormap()[3]).toBe(128);
  });
});

describe('vocClasses', () => {
  it('pairs each VOC name with its index and colormap colour', () => {
    const classes = vocClasses();
    expect(classes).toHaveLength(21);
    classes.forEach((c, i) => {
      expect(c.index).toBe(i);
      expect(c.name).toBe(VOC_CLASS_NAMES[i]);
    });
    expect(classes[15]).toEqual({ index: 15, name: 'person', color: [192, 128, 128] });
    expect(classes[0]!.color).toEqual([0, 0, 0]);
  });
});

describe('parseLabelmapTxt', () => {
  it('reads the CVAT Segmentation mask 1.1 layout in order, skipping the header', () => {
    const classes = parseLabelmapTxt(CVAT_VOC_LABELMAP);
    expect(classes).toEqual([
      { index: 0, name: 'background', color: [0, 0, 0] },
      { index: 1, name: 'aeroplane', color: [128, 0, 0] },
      { index: 2, name: 'bicycle', color: [0, 128, 0] },
      { index: 3, name: 'bird', color: [128, 128, 0] },
    ]);
  });

  it('accepts CRLF, blank lines, a BOM, extra spaces and filled-in parts/actions fields', () => {
    const text =
      '\uFEFF# label:color_rgb:parts:actions\r\n\r\n' +
      'background:0,0,0::\r\n  road : 128, 64,128:wheel:drive\r\n';
    expect(parseLabelmapTxt(text)).toEqual([
      { index: 0, name: 'background', color: [0, 0, 0] },
      { index: 1, name: 'road', color: [128, 64, 128] },
    ]);
  });

  it('matches the VOC classes for the full VOC labelmap that CVAT exports', () => {
    const cmap = vocColormap();
    const text =
      '# label:color_rgb:parts:actions\n' +
      VOC_CLASS_NAMES.map((n, i) => `${n}:${cmap[i * 3]},${cmap[i * 3 + 1]},${cmap[i * 3 + 2]}::`).join('\n');
    expect(parseLabelmapTxt(text)).toEqual(vocClasses());
  });

  it('names the line of a malformed entry', () => {
    const withLine = (bad: string) => `# label:color_rgb:parts:actions\nbackground:0,0,0::\n${bad}\n`;
    expect(() => parseLabelmapTxt(withLine('cat'))).toThrow(/^line 3: expected 'name:r,g,b::'/);
    expect(() => parseLabelmapTxt(withLine(':1,2,3::'))).toThrow(/^line 3: /);
    expect(() => parseLabelmapTxt(withLine('cat:1,2::'))).toThrow(/^line 3: colour of 'cat' must be three/);
    expect(() => parseLabelmapTxt(withLine('cat:1,2,3,4::'))).toThrow(/^line 3: /);
    expect(() => parseLabelmapTxt(withLine('cat:1,-2,3::'))).toThrow(/^line 3: /);
    expect(() => parseLabelmapTxt(withLine('cat:1,x,3::'))).toThrow(/^line 3: /);
    expect(() => parseLabelmapTxt(withLine('cat:1,2.5,3::'))).toThrow(/^line 3: /);
  });

  it('rejects a colour component outside 0..255 with its line', () => {
    expect(() => parseLabelmapTxt('background:0,0,0::\n\ncat:12,256,0::')).toThrow(
      "line 3: colour component 256 of 'cat' is outside 0..255",
    );
    expect(parseLabelmapTxt('cat:255,255,255::')[0]!.color).toEqual([255, 255, 255]);
  });

  it('rejects repeated names, more than 255 classes and an empty list', () => {
    expect(() => parseLabelmapTxt('cat:1,2,3::\ndog:1,2,4::\ncat:1,2,5::')).toThrow(
      "line 3: class name 'cat' is already used on line 1",
    );
    const lines = (n: number) => Array.from({ length: n }, (_, i) => `c${i}:0,0,${i % 256}::`).join('\n');
    expect(parseLabelmapTxt(lines(255))).toHaveLength(255);
    expect(() => parseLabelmapTxt(lines(256))).toThrow(/^line 256: more than 255 classes/);
    expect(() => parseLabelmapTxt('# label:color_rgb:parts:actions\n\n')).toThrow(/no classes/);
  });
});

describe('parseClassNamesTxt', () => {
  it('reads labelme class_names.txt: skips __ignore__, maps _background_, VOC colours by index', () => {
    const classes = parseClassNamesTxt('__ignore__\n_background_\naeroplane\n\nbicycle\n');
    expect(classes).toEqual([
      { index: 0, name: 'background', color: [0, 0, 0] },
      { index: 1, name: 'aeroplane', color: [128, 0, 0] },
      { index: 2, name: 'bicycle', color: [0, 128, 0] },
    ]);
  });

  it('reads a plain list with CRLF endings as is', () => {
    const classes = parseClassNamesTxt('background\r\nroad\r\n  car  \r\n');
    expect(classes.map((c) => c.name)).toEqual(['background', 'road', 'car']);
    expect(classes[2]!.color).toEqual([0, 128, 0]);
  });

  it('gives the VOC classes for the VOC names', () => {
    expect(parseClassNamesTxt(VOC_CLASS_NAMES.join('\n'))).toEqual(vocClasses());
  });

  it('names the line of a late __ignore__ or a repeated name, and rejects an empty list', () => {
    expect(() => parseClassNamesTxt('background\n\n__ignore__\n')).toThrow(
      "line 3: '__ignore__' may only be the first name",
    );
    expect(() => parseClassNamesTxt('_background_\ncat\nbackground\n')).toThrow(
      "line 3: class name 'background' is already used on line 1",
    );
    expect(() => parseClassNamesTxt('\n__ignore__\n\n')).toThrow(/no classes/);
  });

  it('allows 255 classes and rejects the 256th', () => {
    const names = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`).join('\n');
    expect(parseClassNamesTxt(names(255))).toHaveLength(255);
    expect(() => parseClassNamesTxt(`__ignore__\n${names(256)}`)).toThrow(/^line 257: more than 255/);
  });
});
