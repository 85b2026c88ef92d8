// Training from main: turns the user's settings and the open dataset into an engine job, relays its
// progress as events, and cancels within 2 s even when a step takes longer, by stopping the engine
// (the run keeps its last checkpoint). Plain Node, main process.
import {
  DEFAULT_TRAIN_SETTINGS,
  type RunState,
  type TrainJob,
  type TrainSettings,
  startingRunState,
} from '../../shared/training';
import { WorkbenchError } from '../../shared/errors';
import { heapProblem } from '../../shared/trainDefaults';
import { RunFolder } from '../common/runFolder';
import type { Dataset } from './dataset';
import { EngineStoppedError, type EngineHost } from './engineHost';
import { assertNotRunning, createRunDir, markRunEnded, ownedHere, runFolder, safeRunsDir } from './runs';
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
    this.assertIdle();
    const heap = heapProblem(settings, this.engine.getStatus().backend?.name ?? null);
    if (heap) throw new WorkbenchError('bad-request', heap);
    // Checked before a folder exists, so a bad split leaves nothing behind.
    this.makeJob(ds, settings, '', false);
    const { id: runId, dir } = await createRunDir(await safeRunsDir(ds.root), settings.model);
    const job = this.makeJob(ds, settings, dir, false);
    const inSplit = new Set(job.trainIds);
    for (const id of extraTrainIds) {
      if (inSplit.has(id) || !ds.hasLabel(id)) continue;
      inSplit.add(id);
      job.trainIds.push(id);
      job.imageFiles[id] = ds.imageFile(id);
    }
    // Written here as well as by the engine, so the run is listed, and can be marked cancelled, before
    // the engine has built the model. The state first, naming this process until the engine takes over.
    const state: RunState = { ...startingRunState(null), ...ownedHere() };
    const run = new RunFolder(job.runDir);
    await run.writeState(state);
    await run.writeConfig(job);
    return { ...(await this.launch(job, runId)), trainImages: job.trainIds.length };
  }

  async resume(runId: string): Promise<{ runId: string }> {
    const ds = this.session.dataset;
    this.assertIdle();
    const dir = await runFolder(ds.root, runId);
    await assertNotRunning(dir);
    const previous = await new RunFolder(dir).readConfig();
    return this.launch({ ...previous, runDir: dir, resume: true }, runId);
  }

  private assertIdle(): void {
    if (this.active)
      throw new WorkbenchError('conflict', `run ${this.active.runId} is still training; cancel it first`);
  }

  private async launch(job: TrainJob, runId: string): Promise<{ runId: string }> {
    if (this.engine.getStatus().state !== 'ready') {
      try {
        await this.engine.start(job.settings.backend);
      } catch (err) {
        // Nothing will train this run: say so in it rather than leave it `running`.
        await markRunEnded(job.runDir, 'failed', (err as Error).message).catch(() => undefined);
        throw err;
      }
    }
    const done = this.engine
      .request({ type: 'train', job }, (progress) => {
        if (progress.kind !== 'items') this.session.emit('training:progress', progress);
      })
      .then(
        (result) => this.session.emit('training:finished', { runId, status: result.status, error: null }),
        async (err: Error) => {
          // The engine records its own failures; what it cannot record is main's to: a cancel by
          // stopping it, or its death, which leaves the run interrupted and resumable.
          const status = this.cancelling
            ? 'cancelled'
            : err instanceof EngineStoppedError
              ? 'interrupted'
              : 'failed';
          const error = status === 'cancelled' ? null : err.message;
          await markRunEnded(job.runDir, status, error).catch(() => undefined);
          this.session.emit('training:finished', { runId, status, error });
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
