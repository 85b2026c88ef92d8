// The classes of a dataset: the VOC 21 by default, a CVAT labelmap.txt or a labelme class_names.txt
// when the dataset has one, then the user's renames and recolours from the workspace. Plain Node.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  parseClassNamesTxt,
  parseLabelmapTxt,
  vocClasses,
  vocColormap,
  type ClassDef,
} from '../../shared/voc';
import { WorkbenchError } from '../../shared/errors';
import { assertRealInside } from '../common/confine';
import type { ClassEdit } from './workspace';

/** Where the class list came from, for the UI and `segscope info`. */
export type ClassSource = 'voc' | 'labelmap.txt' | 'class_names.txt';

async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new WorkbenchError('bad-file', `${path}: cannot be read (${(err as NodeJS.ErrnoException).code})`);
  }
}

/** Reads the dataset's own class list, if it has one. */
export async function loadBaseClasses(root: string): Promise<{ classes: ClassDef[]; source: ClassSource }> {
  const parsers = [
    ['labelmap.txt', parseLabelmapTxt],
    ['class_names.txt', parseClassNamesTxt],
  ] as const;
  for (const [file, parse] of parsers) {
    await assertRealInside(root, join(root, file)); // a class file linked from elsewhere is refused
    const text = await readOptional(join(root, file));
    if (text === null) continue;
    try {
      return { classes: parse(text), source: file };
    } catch (err) {
      throw new WorkbenchError('bad-file', `${join(root, file)}: ${(err as Error).message}`);
    }
  }
  return { classes: vocClasses(), source: 'voc' };
}

/** Applies the workspace's edits to the base list. */
export function applyClassEdits(base: ClassDef[], edits: ReadonlyMap<number, ClassEdit>): ClassDef[] {
  return base.map((c) => {
    const edit = edits.get(c.index);
    return edit
      ? { ...c, ...(edit.name ? { name: edit.name } : {}), ...(edit.color ? { color: edit.color } : {}) }
      : c;
  });
}

/** The palette for a new label file: the classes' colours over the VOC colormap (so 255 stays void). */
export function paletteForClasses(classes: readonly ClassDef[]): Uint8Array {
  const palette = vocColormap();
  for (const c of classes) if (c.index < 255) palette.set(c.color, c.index * 3);
  return palette;
}
