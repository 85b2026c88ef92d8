// An open dataset: its index, classes and workspace, the filtered image list, and the only place
// that turns an image id into a file path. Plain Node, main process.
import { join } from 'node:path';
import type { DatasetSummary, ImageFilter, ReviewStatus } from '../../shared/api';
import type { ClassDef } from '../../shared/voc';
import { WorkbenchError } from '../../shared/errors';
import { sweepTempFiles } from '../common/atomicFile';
import { applyClassEdits, loadBaseClasses, paletteForClasses, type ClassSource } from './classes';
import { ID_PATTERN, resolveInside } from '../common/confine';
import { indexVocRoot, type VocIndex } from './vocFolder';
import { Workspace, type ClassEdit } from './workspace';

/** Pseudo-split of the images that are in no split file. */
export const UNLISTED = 'unlisted';

/** One row of the image list before the transport adds its URLs. */
export interface ImageRow {
  id: string;
  hasLabel: boolean;
  splits: string[];
  review: ReviewStatus;
}

export class Dataset {
  readonly ids: string[];
  private readonly splitsOf = new Map<string, string[]>();
  private baseClasses: ClassDef[];

  private constructor(
    private readonly index: VocIndex,
    base: { classes: ClassDef[]; source: ClassSource },
    readonly workspace: Workspace,
  ) {
    this.ids = [...index.images.keys()];
    this.baseClasses = base.classes;
    this.classSource = base.source;
    for (const [name, ids] of index.splits) {
      for (const id of ids) {
        const list = this.splitsOf.get(id);
        if (list) list.push(name);
        else this.splitsOf.set(id, [name]);
      }
    }
  }

  readonly classSource: ClassSource;

  static async open(root: string): Promise<Dataset> {
    const [index, base, workspace] = await Promise.all([
      indexVocRoot(root),
      loadBaseClasses(root),
      Workspace.load(root),
    ]);
    await sweepTempFiles(join(root, index.labelDir));
    return new Dataset(index, base, workspace);
  }

  get root(): string {
    return this.index.root;
  }
  get name(): string {
    return this.index.name;
  }
  get labelDir(): string {
    return this.index.labelDir;
  }
  /** Split name to listed ids, as in the split files (ids without an image included). */
  get splits(): ReadonlyMap<string, readonly string[]> {
    return this.index.splits;
  }

  hasImage(id: string): boolean {
    return this.index.images.has(id);
  }
  hasLabel(id: string): boolean {
    return this.index.labels.has(id);
  }
  splitsOfImage(id: string): string[] {
    return this.splitsOf.get(id) ?? [];
  }

  classes(): ClassDef[] {
    return applyClassEdits(this.baseClasses, this.workspace.classEdits());
  }

  /** The palette a label file gets when Segscope creates it. */
  newLabelPalette(): Uint8Array {
    return paletteForClasses(this.classes());
  }

  async editClass(index: number, edit: ClassEdit): Promise<void> {
    if (!this.baseClasses.some((c) => c.index === index)) {
      throw new WorkbenchError('not-found', `class ${index} is not one of this dataset's classes`);
    }
    await this.workspace.editClass(index, edit);
  }

  summary(): DatasetSummary {
    const splits = [...this.index.splits].map(([name, ids]) => ({
      name,
      count: ids.filter((id) => this.index.images.has(id)).length,
    }));
    const unlisted = this.ids.filter((id) => !this.splitsOf.has(id)).length;
    return {
      root: this.root,
      name: this.name,
      labelDir: this.labelDir,
      imageCount: this.ids.length,
      labeledCount: this.index.labels.size,
      classes: this.classes(),
      classSource: this.classSource,
      splits,
      unlistedCount: unlisted,
    };
  }

  /** The image list under a filter, one window of it. */
  list(filter: ImageFilter, offset: number, limit: number): { total: number; rows: ImageRow[] } {
    const search = filter.search?.toLowerCase();
    // Ids in a queue's order that are not images here (a stale queue) are left out.
    const ids = filter.order ? filter.order.filter((id) => this.index.images.has(id)) : this.ids;
    const matches = ids.filter((id) => {
      if (filter.split !== undefined) {
        const splits = this.splitsOf.get(id);
        if (filter.split === UNLISTED ? splits !== undefined : !splits?.includes(filter.split)) return false;
      }
      if (filter.labeled !== undefined && this.index.labels.has(id) !== filter.labeled) return false;
      if (filter.review !== undefined && this.workspace.review(id) !== filter.review) return false;
      return !search || id.toLowerCase().includes(search);
    });
    const rows = matches.slice(offset, offset + limit).map((id) => this.row(id));
    return { total: matches.length, rows };
  }

  row(id: string): ImageRow {
    return {
      id,
      hasLabel: this.index.labels.has(id),
      splits: this.splitsOfImage(id),
      review: this.workspace.review(id),
    };
  }

  /** Checks that `id` names an image of this dataset; every id from a request passes through here. */
  assertImage(id: string): void {
    if (!ID_PATTERN.test(id))
      throw new WorkbenchError('outside-root', `${JSON.stringify(id)}: not a valid image id`);
    if (!this.index.images.has(id)) {
      throw new WorkbenchError(
        'not-found',
        `${JSON.stringify(id)}: no such image in ${join(this.root, 'JPEGImages')}`,
      );
    }
  }

  imagePath(id: string): string {
    this.assertImage(id);
    return resolveInside(this.root, 'JPEGImages', this.index.images.get(id)!);
  }

  /** File name of image `id` in `JPEGImages/`. */
  imageFile(id: string): string {
    this.assertImage(id);
    return this.index.images.get(id)!;
  }

  labelPath(id: string): string {
    this.assertImage(id);
    return resolveInside(this.root, this.index.labelDir, `${id}.png`);
  }

  /** Records that a label file now exists for `id`. */
  noteLabelWritten(id: string): void {
    this.index.labels.add(id);
  }

  async setReview(ids: string[], status: ReviewStatus): Promise<void> {
    for (const id of ids) this.assertImage(id);
    await this.workspace.setReview(ids, status);
  }
}
