// The dataset's workspace, `<dataset>/.segscope/`: review status, class edits and which labels
// Segscope created, each a small JSON file written atomically. A damaged file makes its part read-only
// (and is reported) instead of stopping the dataset from opening. Plain Node, main process.
import { dirname, join } from 'node:path';
import type { ReviewStatus, WorkspaceFileName, WorkspaceProblem } from '../../shared/api';
import type { Rgb } from '../../shared/voc';
import { WorkbenchError } from '../../shared/errors';
import { sweepTempFiles, writeJsonAtomic } from '../common/atomicFile';
import { assertRealInside } from '../common/confine';
import { backUpDamaged, emptyContent, readWorkspaceFile, type WorkspaceContent } from './workspaceFiles';

/** A user's rename or recolour of one class; kept here, never written into the labels. */
export interface ClassEdit {
  name?: string;
  color?: Rgb;
}

export const WORKSPACE_DIR = '.segscope';

/** The files whose part of the workspace is held by this class (attached runs are the runs service's). */
const OWN_FILES = ['review.json', 'classes.json', 'labels.json'] as const;
type OwnFile = (typeof OWN_FILES)[number];

export class Workspace {
  readonly dir: string;
  private done = new Set<string>();
  private edits = new Map<number, ClassEdit>();
  private created = new Set<string>();
  /** Damaged files by name; while a file is here its part is read-only and the file is never written. */
  private readonly damaged = new Map<WorkspaceFileName, WorkspaceProblem>();

  private constructor(dir: string) {
    this.dir = dir;
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
   * must stay inside the dataset (DESIGN.md). A damaged file is not: see {@link problems}.
   */
  static async load(root: string): Promise<Workspace> {
    const dir = join(root, WORKSPACE_DIR);
    // The folder first: when it is the link, the refusal names it, not whichever file lost the race.
    await assertRealInside(root, dir);
    await Promise.all([...OWN_FILES, 'attached-runs.json'].map((f) => assertRealInside(root, join(dir, f))));
    const ws = new Workspace(dir);
    await Promise.all([...OWN_FILES.map((f) => ws.reload(f)), ws.checkAttached()]);
    await sweepTempFiles(dir);
    return ws;
  }

  /** Reads one of this class's files again, taking its content or recording its problem. */
  private async reload(file: OwnFile): Promise<void> {
    const read = await readWorkspaceFile(this.dir, file);
    if (!read.ok) {
      this.damaged.set(file, read.problem);
      return;
    }
    this.damaged.delete(file);
    this.take(file, read.value);
  }

  private take(file: OwnFile, value: WorkspaceContent<OwnFile>): void {
    if (file === 'review.json') this.done = new Set((value as WorkspaceContent<'review.json'>).done);
    else if (file === 'labels.json')
      this.created = new Set((value as WorkspaceContent<'labels.json'>).created);
    else {
      const { edits } = value as WorkspaceContent<'classes.json'>;
      this.edits = new Map(Object.entries(edits).map(([k, v]) => [Number(k), v]));
    }
  }

  /** attached-runs.json belongs to the runs service; it is checked here so that opening reports it. */
  private async checkAttached(): Promise<void> {
    const read = await readWorkspaceFile(this.dir, 'attached-runs.json');
    if (read.ok) this.damaged.delete('attached-runs.json');
    else this.damaged.set('attached-runs.json', read.problem);
  }

  /** The damaged files of this workspace, in the order of WORKSPACE_FILES. */
  problems(): WorkspaceProblem[] {
    return [...this.damaged.values()].sort((a, b) => a.file.localeCompare(b.file));
  }

  /** Throws `bad-file` when `file` is damaged, saying how the user gets its part back. */
  private assertWritable(file: WorkspaceFileName, what: string): void {
    const problem = this.damaged.get(file);
    if (!problem) return;
    throw new WorkbenchError(
      'bad-file',
      `${problem.message}; ${what} is read-only until you fix that file or reset it ` +
        '(Segscope backs the damaged one up first)',
    );
  }

  /**
   * Replaces damaged `file` with an empty one after backing it up; a file fixed on disk meanwhile is
   * read as it is. Resolves to the backup's path, or null when nothing was reset.
   */
  async reset(file: WorkspaceFileName): Promise<string | null> {
    const path = await this.inside(join(this.dir, file));
    const read = await readWorkspaceFile(this.dir, file);
    if (read.ok) {
      // Fixed by hand (or never damaged): its content is taken, nothing is written.
      this.damaged.delete(file);
      if (file !== 'attached-runs.json') this.take(file, read.value as WorkspaceContent<OwnFile>);
      return null;
    }
    const backup = await backUpDamaged(this.dir, file);
    const empty = emptyContent(file);
    await writeJsonAtomic(path, empty);
    this.damaged.delete(file);
    if (file !== 'attached-runs.json') this.take(file, empty as WorkspaceContent<OwnFile>);
    return backup;
  }

  review(id: string): ReviewStatus {
    return this.done.has(id) ? 'done' : 'todo';
  }

  async setReview(ids: string[], status: ReviewStatus): Promise<void> {
    this.assertWritable('review.json', 'the review status');
    for (const id of ids) {
      if (status === 'done') this.done.add(id);
      else this.done.delete(id);
    }
    await writeJsonAtomic(await this.inside(join(this.dir, 'review.json')), {
      version: 1,
      done: [...this.done].sort(),
    } satisfies WorkspaceContent<'review.json'>);
  }

  classEdits(): ReadonlyMap<number, ClassEdit> {
    return this.edits;
  }

  async editClass(index: number, edit: ClassEdit): Promise<void> {
    this.assertWritable('classes.json', 'renaming and recolouring classes');
    this.edits.set(index, { ...this.edits.get(index), ...edit });
    const edits = Object.fromEntries([...this.edits].map(([k, v]) => [String(k), v]));
    await writeJsonAtomic(await this.inside(join(this.dir, 'classes.json')), { version: 1, edits });
  }

  wasCreated(id: string): boolean {
    return this.created.has(id);
  }

  /**
   * Records that Segscope created the label of `id`. With labels.json damaged this is kept in memory
   * only: the label is saved all the same, and at worst a later save backs up a label it need not have.
   */
  async markCreated(id: string): Promise<void> {
    this.created.add(id);
    if (this.damaged.has('labels.json')) return;
    await writeJsonAtomic(await this.inside(join(this.dir, 'labels.json')), {
      version: 1,
      created: [...this.created].sort(),
    } satisfies WorkspaceContent<'labels.json'>);
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
