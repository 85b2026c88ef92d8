// Training from main: turns the user's settings and the open dataset into an engine job, relays its
// progress as events, and cancels within 2 s even when a step takes longer, by stopping the engine
// (the run keeps its last checkpoint). Plain Node, main process.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DEFAULT_TRAIN_SETTINGS,
  type RunState,
  type TrainJob,
  type TrainSettings,
} from '../../shared/training';
import { WorkbenchError } from '../../shared/errors';
import { writeJsonAtomic } from './atomicFile';
import type { Dataset } from './dataset';
import type { EngineHost } from './engineHost';
import { makeRunDir, markRunCancelled, newRunId, runFolder } from './runs';
import type { WorkbenchSession } from './session';

/** How long a cancel may wait for the engine to stop at a batch boundary before it is stopped outright. */
export const CANCEL_GRACE_MS = 1500;

interface Active {
  runId: string;
  dir: string;
  done: Promise<void>;
}

/** Ids of a split that have both an image and a label. */
function labelledIds(ds: Dataset, split: string): string[] {
  const ids = ds.splits.get(split);
  if (!ids) {
    const known = [...ds.splits.keys()].join(', ') || 'none';
    throw new WorkbenchError('not-found', `${ds.root}: no split ${JSON.stringify(split)} (splits: ${known})`);
  }
  return ids.filter((id) => ds.hasImage(id) && ds.hasLabel(id));
}

export class TrainingService {
  private active: Active | null = null;

  constructor(
    private readonly session: WorkbenchSession,
    readonly engine: EngineHost,
  ) {}

  get running(): string | null {
    return this.active?.runId ?? null;
  }

  /** Builds the job for `settings` on the open dataset. */
  makeJob(ds: Dataset, settings: TrainSettings, runDir: string, resume: boolean): TrainJob {
    const trainIds = labelledIds(ds, settings.split);
    const valIds = settings.valSplit ? labelledIds(ds, settings.valSplit) : [];
    const imageFiles: Record<string, string> = {};
    for (const id of [...trainIds, ...valIds]) imageFiles[id] = ds.imageFile(id);
    const classes = ds.classes();
    return {
      settings,
      datasetRoot: ds.root,
      labelDir: ds.labelDir,
      classNames: classes.map((c) => c.name),
      colormap: [...ds.newLabelPalette()],
      trainIds,
      valIds,
      imageFiles,
      runDir,
      resume,
    };
  }

  /**
   * Starts a new run. `extraTrainIds` (labelled images, e.g. the reviewed ones of a fine-tuning) are
   * trained on besides the split's.
   */
  async start(
    partial: Partial<TrainSettings>,
    extraTrainIds: string[] = [],
  ): Promise<{ runId: string; trainImages: number }> {
    const ds = this.session.dataset;
    const settings: TrainSettings = {
      ...DEFAULT_TRAIN_SETTINGS,
      ...partial,
      augment: { ...DEFAULT_TRAIN_SETTINGS.augment, ...partial.augment },
    };
    const runId = newRunId(settings.model);
    this.assertIdle();
    const job = this.makeJob(ds, settings, join(ds.root, '.segscope', 'runs', runId), false);
    const inSplit = new Set(job.trainIds);
    for (const id of extraTrainIds) {
      if (inSplit.has(id) || !ds.hasLabel(id)) continue;
      inSplit.add(id);
      job.trainIds.push(id);
      job.imageFiles[id] = ds.imageFile(id);
    }
    await makeRunDir(ds.root, runId);
    // Written here as well as by the engine, so the run is listed, and can be marked cancelled, before
    // the engine has built the model.
    await writeJsonAtomic(join(job.runDir, 'config.json'), job);
    const state: RunState = {
      status: 'running',
      epoch: 0,
      bestMiou: null,
      bestEpoch: null,
      backend: null,
      startedAt: new Date().toISOString(),
      endedAt: null,
      error: null,
    };
    await writeJsonAtomic(join(job.runDir, 'state.json'), state);
    return { ...(await this.launch(job, runId)), trainImages: job.trainIds.length };
  }

  async resume(runId: string): Promise<{ runId: string }> {
    const ds = this.session.dataset;
    this.assertIdle();
    const dir = await runFolder(ds.root, runId);
    const previous = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as TrainJob;
    return this.launch({ ...previous, runDir: dir, resume: true }, runId);
  }

  private assertIdle(): void {
    if (this.active)
      throw new WorkbenchError('conflict', `run ${this.active.runId} is still training; cancel it first`);
  }

  private async launch(job: TrainJob, runId: string): Promise<{ runId: string }> {
    if (this.engine.getStatus().state !== 'ready') await this.engine.start(job.settings.backend);
    const done = this.engine
      .request({ type: 'train', job }, (progress) => {
        if (progress.kind !== 'items') this.session.emit('training:progress', progress);
      })
      .then(
        (result) => this.session.emit('training:finished', { runId, status: result.status, error: null }),
        async (err: Error) => {
          const cancelled = this.cancelling;
          if (cancelled) await markRunCancelled(job.runDir).catch(() => undefined);
          this.session.emit('training:finished', {
            runId,
            status: cancelled ? 'cancelled' : 'failed',
            error: cancelled ? null : err.message,
          });
        },
      )
      .finally(() => {
        this.active = null;
        this.cancelling = false;
      });
    this.active = { runId, dir: job.runDir, done };
    return { runId };
  }

  private cancelling = false;

  /** Asks the engine to stop at the next batch; stops the engine if it has not within the grace period. */
  async cancel(): Promise<{ cancelled: boolean }> {
    const active = this.active;
    if (!active) return { cancelled: false };
    this.cancelling = true;
    // Not awaited: the engine answers only between batches, and a batch may run for minutes.
    void this.engine.request({ type: 'cancel' }).catch(() => undefined);
    const stopped = await Promise.race([
      active.done.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), CANCEL_GRACE_MS)),
    ]);
    if (!stopped) {
      // A step can take longer than the grace period (a big model on a CPU): stop the engine instead.
      this.engine.kill('training was cancelled during a long step');
      await active.done;
      void this.engine.start().catch(() => undefined);
    }
    return { cancelled: true };
  }
}
