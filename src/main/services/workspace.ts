// The dataset's workspace, `<dataset>/.segscope/`: review status, class edits and which labels
// Segscope created, each a small JSON file written atomically. Plain Node, main process.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ReviewStatus } from '../../shared/api';
import type { Rgb } from '../../shared/voc';
import { WorkbenchError } from '../../shared/errors';
import { sweepTempFiles, writeJsonAtomic } from '../common/atomicFile';
import { assertRealInside } from '../common/confine';

/** A user's rename or recolour of one class; kept here, never written into the labels. */
export interface ClassEdit {
  name?: string;
  color?: Rgb;
}

interface ReviewFile {
  version: 1;
  done: string[];
}
interface ClassesFile {
  version: 1;
  edits: Record<string, ClassEdit>;
}
interface LabelsFile {
  version: 1;
  /** Label files Segscope wrote for images that had none; they need no backup. */
  created: string[];
}

export const WORKSPACE_DIR = '.segscope';

async function readJson<T>(path: string, fallback: T): Promise<T> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw new WorkbenchError('bad-file', `${path}: cannot be read (${(err as NodeJS.ErrnoException).code})`);
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new WorkbenchError('bad-file', `${path}: is not valid JSON; fix or delete it to reset that state`);
  }
}

export class Workspace {
  readonly dir: string;
  private readonly done: Set<string>;
  private readonly edits: Map<number, ClassEdit>;
  private readonly created: Set<string>;

  private constructor(dir: string, review: ReviewFile, classes: ClassesFile, labels: LabelsFile) {
    this.dir = dir;
    this.done = new Set(review.done);
    this.edits = new Map(Object.entries(classes.edits).map(([k, v]) => [Number(k), v]));
    this.created = new Set(labels.created);
  }

  /** The dataset root this workspace belongs to. */
  get root(): string {
    return dirname(this.dir);
  }

  /**
   * Checks, just before a write, that `path` in the workspace still leads inside the dataset (a link
   * may have been made since it was opened); resolves to the path.
   */
  async inside(path: string): Promise<string> {
    await assertRealInside(this.root, path);
    return path;
  }

  /**
   * Reads the workspace of `root`; a dataset opened for the first time gets an empty one. A workspace
   * (or a file in it) that is a link to somewhere outside the dataset is refused: Segscope's writes
   * must stay inside the dataset (DESIGN.md).
   */
  static async load(root: string): Promise<Workspace> {
    const dir = join(root, WORKSPACE_DIR);
    // The folder first: when it is the link, the refusal names it, not whichever file lost the race.
    await assertRealInside(root, dir);
    await Promise.all(
      ['review.json', 'classes.json', 'labels.json'].map((f) => assertRealInside(root, join(dir, f))),
    );
    const [review, classes, labels] = await Promise.all([
      readJson<ReviewFile>(join(dir, 'review.json'), { version: 1, done: [] }),
      readJson<ClassesFile>(join(dir, 'classes.json'), { version: 1, edits: {} }),
      readJson<LabelsFile>(join(dir, 'labels.json'), { version: 1, created: [] }),
    ]);
    await sweepTempFiles(dir);
    return new Workspace(dir, review, classes, labels);
  }

  review(id: string): ReviewStatus {
    return this.done.has(id) ? 'done' : 'todo';
  }

  async setReview(ids: string[], status: ReviewStatus): Promise<void> {
    for (const id of ids) {
      if (status === 'done') this.done.add(id);
      else this.done.delete(id);
    }
    await writeJsonAtomic(await this.inside(join(this.dir, 'review.json')), {
      version: 1,
      done: [...this.done].sort(),
    } satisfies ReviewFile);
  }

  classEdits(): ReadonlyMap<number, ClassEdit> {
    return this.edits;
  }

  async editClass(index: number, edit: ClassEdit): Promise<void> {
    this.edits.set(index, { ...this.edits.get(index), ...edit });
    const edits = Object.fromEntries([...this.edits].map(([k, v]) => [String(k), v]));
    await writeJsonAtomic(await this.inside(join(this.dir, 'classes.json')), {
      version: 1,
      edits,
    } satisfies ClassesFile);
  }

  wasCreated(id: string): boolean {
    return this.created.has(id);
  }

  async markCreated(id: string): Promise<void> {
    this.created.add(id);
    await writeJsonAtomic(await this.inside(join(this.dir, 'labels.json')), {
      version: 1,
      created: [...this.created].sort(),
    } satisfies LabelsFile);
  }

  /** Where the original of a label is kept before Segscope first overwrites it. */
  backupPath(labelDir: string, id: string): string {
    return join(this.dir, 'backup', labelDir, `${id}.png`);
  }

  /** Where the thumbnail of an image is cached. */
  thumbPath(id: string): string {
    return join(this.dir, 'cache', 'thumbs', `${id}.jpg`);
  }
}
