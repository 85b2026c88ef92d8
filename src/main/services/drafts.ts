// Model-assisted labelling in main: drafts of an image or a whole split by a run's checkpoint (the
// engine's probabilities refined against the image by shared/draftRefine.ts), cached per run and
// checkpoint, the review queue ranked from them, and fine-tuning a run on the reviewed images as a new
// run. Each job is bound to the dataset that was open when it started: opening another one meanwhile
// never sends its images or drafts into this one's cache (a background drafting finishes against its
// own root). Plain Node, main process.
import { basename } from 'node:path';
import type { DraftResult, RankEntry, RankResult } from '../../shared/api';
import type { CheckpointName, DerivedPlace } from '../../shared/engineProtocol';
import { draftIou, rankQueue, scoreDraft, type QueueOrder } from '../../shared/drafts';
import type { TrainJob, TrainSettings } from '../../shared/training';
import { WorkbenchError } from '../../shared/errors';
import { assertRealInside } from '../common/confine';
import { RunFolder } from '../common/runFolder';
import type { Dataset } from './dataset';
import { DraftCache, DRAFT_META_VERSION, fileVersion, type DraftMeta } from './draftCache';
import { imageSize } from './imageFiles';
import { readLabel } from './labels';
import { derivedPlace, runFolder } from './runs';
import type { EngineHost } from './engineHost';
import type { WorkbenchSession } from './session';

/** A run folder and the checkpoint of it that drafts come from. */
export interface DraftSource {
  runId: string;
  runDir: string;
  checkpoint: CheckpointName;
  job: TrainJob;
  /** Where the engine keeps the run's derived files (its ONNX cache): see `derivedPlace`. */
  derived?: DerivedPlace;
}

/** Reads a run folder's job and picks its checkpoint (without a choice: best when there is one, else last). */
export async function draftSource(runDir: string, checkpoint?: CheckpointName): Promise<DraftSource> {
  const run = new RunFolder(runDir);
  let job: TrainJob;
  try {
    job = await run.readConfig();
  } catch (err) {
    if ((err as WorkbenchError).code === 'outside-root') throw err;
    throw new WorkbenchError('not-found', `${runDir}: not a Segscope run (${(err as Error).message})`);
  }
  const name = checkpoint ?? ((await run.hasCheckpoint('best')) ? 'best' : 'last');
  if (!(await run.hasCheckpoint(name)))
    throw new WorkbenchError('not-found', `${runDir}: has no ${name} checkpoint yet`);
  return { runId: basename(runDir), runDir, checkpoint: name, job };
}

/**
 * The draft of one image file as the editor shows it and `segscope draft` writes it: the engine's
 * probabilities refined against the image by `draftRefine` (its defaults).
 */
export function refinedDraft(engine: EngineHost, src: DraftSource, image: string) {
  return engine.request({
    type: 'draft',
    runDir: src.runDir,
    checkpoint: src.checkpoint,
    image,
    ...(src.derived ? { derived: src.derived } : {}),
  });
}

interface Background {
  runId: string;
  checkpoint: CheckpointName;
  cancelled: boolean;
}

export class DraftService {
  private background: Background | null = null;

  /** `engine` is the session's by default; the CLI passes the one it started. */
  constructor(
    private readonly session: WorkbenchSession,
    private readonly engine: () => EngineHost = () => session.training.engine,
  ) {}

  /** The source of a run of dataset `ds` (the open one when left out), by id. */
  async source(
    runId: string,
    checkpoint?: CheckpointName,
    ds: Dataset = this.session.dataset,
  ): Promise<DraftSource> {
    const dir = await runFolder(ds.root, runId);
    return { ...(await draftSource(dir, checkpoint)), derived: derivedPlace(ds.root, runId, dir) };
  }

  private cache(ds: Dataset, src: DraftSource): Promise<DraftCache> {
    return DraftCache.open(
      ds.root,
      src.runId,
      src.checkpoint,
      new RunFolder(src.runDir).checkpointDir(src.checkpoint),
    );
  }

  private classNames(ds: Dataset): string[] {
    return ds.classes().map((c) => c.name);
  }

  /** The image's size from its header: a cached draft of another size was made from another image. */
  private async size(ds: Dataset, id: string): Promise<{ width: number; height: number }> {
    const image = ds.imagePath(id);
    await assertRealInside(ds.root, image);
    return imageSize(image);
  }

  /** Makes and caches the draft of `id` with the engine; resolves to the full-precision result. */
  private async make(ds: Dataset, src: DraftSource, cache: DraftCache, id: string) {
    const image = ds.imagePath(id);
    await assertRealInside(ds.root, image);
    const seg = await refinedDraft(this.engine(), src, image);
    const scores = await this.scoreAgainstLabel(ds, id, seg.labels, seg.confidence, seg.meanEntropy);
    const made: Omit<DraftMeta, 'checkpoint'> = {
      version: DRAFT_META_VERSION,
      width: seg.width,
      height: seg.height,
      meanConfidence: scores.meanConfidence,
      meanEntropy: scores.uncertainty,
      score: { iou: scores.iou, labelVersion: scores.labelVersion },
    };
    const meta = await cache.write(
      id,
      { labels: seg.labels, confidence: seg.confidence },
      made,
      ds.newLabelPalette(),
    );
    return { seg, meta };
  }

  private async scoreAgainstLabel(
    ds: Dataset,
    id: string,
    labels: Uint8Array,
    confidence: ArrayLike<number>,
    meanEntropy: number,
  ) {
    const labelVersion = await fileVersion(ds.labelPath(id));
    const label = labelVersion ? (await readLabel(ds, id)).indices : null;
    return { ...scoreDraft(labels, confidence, meanEntropy, label, this.classNames(ds)), labelVersion };
  }

  /** The draft of one image, from the cache when it holds one, with its scores against the label now. */
  async predict(req: { runId: string; checkpoint?: CheckpointName; imageId: string }): Promise<DraftResult> {
    const ds = this.session.dataset;
    ds.assertImage(req.imageId);
    const src = await this.source(req.runId, req.checkpoint, ds);
    const cache = await this.cache(ds, src);
    const hit = await cache.read(req.imageId, await this.size(ds, req.imageId));
    const made = hit ? null : await this.make(ds, src, cache, req.imageId);
    const draft = made
      ? made.seg
      : {
          labels: hit!.labels,
          confidence: hit!.confidence,
          width: hit!.meta.width,
          height: hit!.meta.height,
        };
    const meta = made ? made.meta : hit!.meta;
    const scores = await this.freshScore(ds, cache, req.imageId, meta, draft.labels);
    return {
      runId: src.runId,
      checkpoint: src.checkpoint,
      imageId: req.imageId,
      width: draft.width,
      height: draft.height,
      labels: draft.labels,
      confidence: draft.confidence,
      cached: hit !== null,
      iou: scores.iou,
      disagreement: scores.iou === null ? null : 1 - scores.iou,
      meanConfidence: meta.meanConfidence,
      uncertainty: meta.meanEntropy,
    };
  }

  /**
   * The draft's IoU against the label as it is on disk now: the cached score when the label has not
   * changed since, else computed again from the cached draft (no engine needed) and stored.
   */
  private async freshScore(
    ds: Dataset,
    cache: DraftCache,
    id: string,
    meta: DraftMeta,
    labels?: Uint8Array,
  ): Promise<{ iou: number | null }> {
    const labelVersion = await fileVersion(ds.labelPath(id));
    if (meta.score && meta.score.labelVersion === labelVersion) return meta.score;
    const draftLabels = labels ?? (await cache.read(id))?.labels;
    if (!draftLabels) return { iou: null };
    const iou = labelVersion
      ? draftIou((await readLabel(ds, id)).indices, draftLabels, this.classNames(ds))
      : null;
    await cache.setScore(id, { ...meta, score: { iou, labelVersion } });
    return { iou };
  }

  /** Ids of a split of `ds`, or every image; throws naming the known splits. */
  private ids(ds: Dataset, split?: string): string[] {
    if (split === undefined) return [...ds.ids];
    const ids = ds.splits.get(split);
    if (!ids) {
      const known = [...ds.splits.keys()].join(', ') || 'none';
      throw new WorkbenchError(
        'not-found',
        `${ds.root}: no split ${JSON.stringify(split)} (splits: ${known})`,
      );
    }
    return ids.filter((id) => ds.hasImage(id));
  }

  /**
   * Drafts every image of `split` not yet cached, one after another, calling `progress` after each.
   * Resolves when all are done or `cancelled()` turns true between two images. `ds` is the dataset
   * the drafts are of (the open one when left out); it stays the same to the end.
   */
  async predictAll(
    src: DraftSource,
    split: string | undefined,
    progress: (done: number, total: number) => void,
    cancelled: () => boolean = () => false,
    ds: Dataset = this.session.dataset,
  ): Promise<{ status: 'done' | 'cancelled'; total: number; cached: number }> {
    const cache = await this.cache(ds, src);
    const ids = this.ids(ds, split);
    const todo: string[] = [];
    for (const id of ids) if (!(await cache.meta(id, await this.size(ds, id)))) todo.push(id);
    const cached = ids.length - todo.length;
    progress(cached, ids.length);
    for (const [i, id] of todo.entries()) {
      if (cancelled()) return { status: 'cancelled', total: ids.length, cached };
      await this.make(ds, src, cache, id);
      progress(cached + i + 1, ids.length);
    }
    return { status: 'done', total: ids.length, cached };
  }

  /** Starts drafting a split in the background; events report its progress and its end. */
  async startPredictAll(req: {
    runId: string;
    checkpoint?: CheckpointName;
    split?: string;
  }): Promise<{ total: number; cached: number }> {
    if (this.background)
      throw new WorkbenchError('conflict', `drafts of run ${this.background.runId} are still being made`);
    const ds = this.session.dataset;
    const src = await this.source(req.runId, req.checkpoint, ds);
    const ids = this.ids(ds, req.split);
    const cache = await this.cache(ds, src);
    let cached = 0;
    // A quick count for the answer (no image headers read); the drafting itself also checks each size.
    for (const id of ids) if (await cache.meta(id)) cached++;
    const job: Background = { runId: src.runId, checkpoint: src.checkpoint, cancelled: false };
    this.background = job;
    let lastEmit = 0;
    const finished = (status: 'done' | 'cancelled' | 'failed', error: string | null) =>
      this.session.emit('drafts:finished', { runId: src.runId, checkpoint: src.checkpoint, status, error });
    void this.predictAll(
      src,
      req.split,
      (done, all) => {
        // About ten events a second at most, and always the last one.
        const now = Date.now();
        if (done < all && now - lastEmit < 100) return;
        lastEmit = now;
        this.session.emit('drafts:progress', {
          runId: src.runId,
          checkpoint: src.checkpoint,
          done,
          total: all,
        });
      },
      () => job.cancelled,
      ds,
    )
      .then(
        (r) => finished(r.status, null),
        (err: Error) => finished('failed', err.message),
      )
      .finally(() => {
        if (this.background === job) this.background = null;
      });
    return { total: ids.length, cached };
  }

  cancel(): { cancelled: boolean } {
    if (!this.background) return { cancelled: false };
    this.background.cancelled = true;
    return { cancelled: true };
  }

  /** The review queue of run `runId` of the open dataset (both looked up once, at the start). */
  async rankRun(req: {
    runId: string;
    checkpoint?: CheckpointName;
    split?: string;
    by: QueueOrder;
  }): Promise<RankResult> {
    const ds = this.session.dataset;
    return this.rank(await this.source(req.runId, req.checkpoint, ds), req.split, req.by, ds);
  }

  /** The review queue from the cached drafts of `split` (all images when left out) of `ds`. */
  async rank(
    src: DraftSource,
    split: string | undefined,
    by: QueueOrder,
    ds: Dataset = this.session.dataset,
  ): Promise<RankResult> {
    const cache = await this.cache(ds, src);
    const entries: RankEntry[] = [];
    const pending: string[] = [];
    for (const id of this.ids(ds, split)) {
      const meta = await cache.meta(id);
      if (!meta) {
        pending.push(id);
        continue;
      }
      const { iou } = await this.freshScore(ds, cache, id, meta);
      entries.push({
        id,
        hasLabel: ds.hasLabel(id),
        review: ds.workspace.review(id),
        iou,
        disagreement: iou === null ? null : 1 - iou,
        uncertainty: meta.meanEntropy,
        meanConfidence: meta.meanConfidence,
      });
    }
    return {
      runId: src.runId,
      checkpoint: src.checkpoint,
      by,
      split: split ?? null,
      entries: rankQueue(entries, by),
      pending: pending.sort(),
    };
  }

  /**
   * Starts a new run that continues `runId`'s checkpoint on its train split plus every reviewed image
   * with a label, for `epochs` (default 1) without validation, in the background.
   */
  async finetune(req: { runId: string; checkpoint?: CheckpointName; epochs?: number }) {
    const ds = this.session.dataset;
    const src = await this.source(req.runId, req.checkpoint, ds);
    // The run is made in the open dataset: one opened while the source was read is not this job's.
    if (this.session.dataset !== ds)
      throw new WorkbenchError(
        'conflict',
        `${ds.root}: another dataset was opened while the fine-tuning was being prepared; start it again`,
      );
    const reviewed = ds.ids.filter((id) => ds.workspace.review(id) === 'done' && ds.hasLabel(id));
    const parent = src.job.settings;
    const settings: Partial<TrainSettings> = {
      ...parent,
      epochs: req.epochs ?? 1,
      valSplit: null,
      schedule: 'constant',
      freezeEpochs: 0,
      patience: null,
      backboneWeights: null,
      initFrom: new RunFolder(src.runDir).checkpointDir(src.checkpoint),
    };
    const { runId, trainImages } = await this.session.training.start(settings, reviewed);
    return { runId, parent: src.runId, trainImages, reviewed: reviewed.length };
  }
}
