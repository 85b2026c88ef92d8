// PASCAL VOC class definitions, the VOC colormap and parsers for the class lists other tools export.
// Pure data code that runs in any process.

/** Class index that marks void pixels (object borders, ambiguous areas); never a real class. */
export const VOID_INDEX = 255;

/** The 21 PASCAL VOC class names, in index order; index 0 is background. */
export const VOC_CLASS_NAMES: readonly string[] = Object.freeze([
  'background',
  'aeroplane',
  'bicycle',
  'bird',
  'boat',
  'bottle',
  'bus',
  'car',
  'cat',
  'chair',
  'cow',
  'diningtable',
  'dog',
  'horse',
  'motorbike',
  'person',
  'pottedplant',
  'sheep',
  'sofa',
  'train',
  'tvmonitor',
]);

/** An RGB colour, each component 0..255. */
export type Rgb = readonly [number, number, number];

/** One class of a dataset: its index in the label maps, its name and its display colour. */
export interface ClassDef {
  index: number;
  name: string;
  color: Rgb;
}

// Label maps carry 8-bit indices and 255 is void, so at most 255 real classes fit.
const MAX_CLASSES = 255;

let colormapCache: Uint8Array | undefined;

/**
 * The standard 256-entry VOC colormap as 768 bytes (r, g, b per index): index 1 is (128,0,0), 15 is
 * (192,128,128) and 255 (void) is (224,224,192). Returns a fresh copy, so callers may modify it.
 */
export function vocColormap(): Uint8Array {
  if (!colormapCache) {
    const cmap = new Uint8Array(256 * 3);
    for (let i = 0; i < 256; i++) {
      // The VOC devkit spreads the index bits over the channels, most significant first, so that
      // neighbouring indices get clearly different colours.
      let r = 0;
      let g = 0;
      let b = 0;
      let c = i;
      for (let bit = 7; bit >= 0; bit--) {
        r |= (c & 1) << bit;
        g |= ((c >> 1) & 1) << bit;
        b |= ((c >> 2) & 1) << bit;
        c >>= 3;
      }
      cmap[i * 3] = r;
      cmap[i * 3 + 1] = g;
      cmap[i * 3 + 2] = b;
    }
    colormapCache = cmap;
  }
  return colormapCache.slice();
}

function colormapColor(cmap: Uint8Array, index: number): Rgb {
  return [cmap[index * 3] ?? 0, cmap[index * 3 + 1] ?? 0, cmap[index * 3 + 2] ?? 0];
}

/** The 21 VOC classes with their colormap colours. */
export function vocClasses(): ClassDef[] {
  const cmap = vocColormap();
  return VOC_CLASS_NAMES.map((name, index) => ({ index, name, color: colormapColor(cmap, index) }));
}

/** Splits text into lines with their 1-based numbers, accepting both \n and \r\n endings. */
function numberedLines(text: string): { line: number; text: string }[] {
  // Notepad-style editors prepend a BOM, which would otherwise stick to the first name.
  return text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .map((t, i) => ({ line: i + 1, text: t.trim() }));
}

function checkDuplicate(seen: Map<string, number>, name: string, line: number): void {
  const first = seen.get(name);
  if (first !== undefined) {
    throw new Error(`line ${line}: class name '${name}' is already used on line ${first}`);
  }
  seen.set(name, line);
}

function checkCount(count: number, line: number): void {
  if (count > MAX_CLASSES) {
    throw new Error(`line ${line}: more than ${MAX_CLASSES} classes (index 255 is reserved for void)`);
  }
}

/**
 * Parses a CVAT "Segmentation mask 1.1" `labelmap.txt`: lines of `name:r,g,b:parts:actions`, with `#`
 * comment lines. A class's index is its position among the non-comment, non-empty lines.
 *
 * @throws Error naming the line on a malformed line, a colour component outside 0..255, a repeated
 *   name, more than 255 classes, or a file with no classes at all.
 */
export function parseLabelmapTxt(text: string): ClassDef[] {
  const classes: ClassDef[] = [];
  const seen = new Map<string, number>();
  for (const { line, text: raw } of numberedLines(text)) {
    if (raw === '' || raw.startsWith('#')) continue;
    const fields = raw.split(':');
    const name = (fields[0] ?? '').trim();
    const colorField = fields[1];
    if (name === '' || colorField === undefined) {
      throw new Error(`line ${line}: expected 'name:r,g,b::', got '${raw}'`);
    }
    const parts = colorField.split(',').map((p) => p.trim());
    if (parts.length !== 3 || parts.some((p) => !/^\d+$/.test(p))) {
      throw new Error(
        `line ${line}: colour of '${name}' must be three integers 'r,g,b', got '${colorField}'`,
      );
    }
    const [r, g, b] = parts.map(Number) as [number, number, number];
    for (const v of [r, g, b]) {
      if (v > 255) {
        throw new Error(`line ${line}: colour component ${v} of '${name}' is outside 0..255`);
      }
    }
    checkDuplicate(seen, name, line);
    checkCount(classes.length + 1, line);
    classes.push({ index: classes.length, name, color: [r, g, b] });
  }
  if (classes.length === 0) throw new Error('the labelmap lists no classes');
  return classes;
}

/**
 * Parses a labelme-style `class_names.txt`: one class name per line, blank lines ignored. A leading
 * `__ignore__` is skipped and `_background_` is read as `background`, as labelme's converter does.
 * Colours come from the VOC colormap by index, since the file has none.
 *
 * @throws Error naming the line on a repeated name, an `__ignore__` that is not first, more than 255
 *   classes, or a file with no classes at all.
 */
export function parseClassNamesTxt(text: string): ClassDef[] {
  const cmap = vocColormap();
  const classes: ClassDef[] = [];
  const seen = new Map<string, number>();
  let firstName = true;
  for (const { line, text: raw } of numberedLines(text)) {
    if (raw === '') continue;
    const isFirst = firstName;
    firstName = false;
    if (raw === '__ignore__') {
      // labelme maps __ignore__ to -1, which only means something as the very first entry.
      if (isFirst) continue;
      throw new Error(`line ${line}: '__ignore__' may only be the first name`);
    }
    const name = raw === '_background_' ? 'background' : raw;
    checkDuplicate(seen, name, line);
    checkCount(classes.length + 1, line);
    classes.push({ index: classes.length, name, color: colormapColor(cmap, classes.length) });
  }
  if (classes.length === 0) throw new Error('the class list names no classes');
  return classes;
}
