// Training from main and from the CLI: turns the user's settings and the open dataset into an engine job,
// checks that it fits the backend, relays its progress as events, records what the engine cannot (a
// cancel that had to stop it, its death), and cancels within 2 s even when a step takes longer, by
// stopping the engine (the run keeps its last checkpoint). The one launch path of a run. Plain Node,
// main and CLI processes.
import { mkdir } from 'node:fs/promises';
import { basename } from 'node:path';
import {
  DEFAULT_TRAIN_SETTINGS,
  type RunState,
  type TrainJob,
  type TrainSettings,
  startingRunState,
} from '../../shared/training';
import type { EventName, Events } from '../../shared/api';
import type { EngineResult } from '../../shared/engineProtocol';
import { WorkbenchError } from '../../shared/errors';
import { heapProblem } from '../../shared/trainDefaults';
import { RunFolder } from '../common/runFolder';
import type { Dataset } from './dataset';
import { EngineStoppedError, type EngineHost } from './engineHost';
import { assertNotRunning, createRunDir, markRunEnded, ownedHere, runFolder, safeRunsDir } from './runs';

/** How long a cancel may wait for the engine to stop at a batch boundary before it is stopped outright. */
export const CANCEL_GRACE_MS = 1500;

/** How a run ended: the engine's outcome, or the failure (a cancel that stopped the engine included). */
export type RunEnd =
  | { runId: string; status: EngineResult['train']['status']; error: null; outcome: EngineResult['train'] }
  | {
      runId: string;
      status: 'cancelled' | 'interrupted' | 'failed';
      error: string | null;
      outcome: null;
      /** What the engine or its host threw. */
      cause: Error;
    };

interface Active {
  runId: string;
  dir: string;
  done: Promise<RunEnd>;
}

export interface TrainingOptions {
  /**
   * Start the engine again after a cancel had to stop it: the app keeps one running, the CLI exits
   * instead. Default true.
   */
  restartAfterKill?: boolean;
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

/**
 * What training needs of the session that owns it: the open dataset and the event fan-out. An interface
 * rather than the session class, so that this module does not import the session that imports it.
 */
export interface TrainingSession {
  readonly dataset: Dataset;
  emit<E extends EventName>(event: E, payload: Events[E]): void;
}

export class TrainingService {
  private active: Active | null = null;

  constructor(
    private readonly session: TrainingSession,
    readonly engine: EngineHost,
    private readonly options: TrainingOptions = {},
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
   * trained on besides the split's. The run goes in a new folder of the dataset's runs, or in `runDir`
   * (the CLI's `--out`).
   */
  async start(
    partial: Partial<TrainSettings>,
    extraTrainIds: string[] = [],
    runDir?: string,
  ): Promise<{ runId: string; trainImages: number; job: TrainJob }> {
    const ds = this.session.dataset;
    const settings: TrainSettings = {
      ...DEFAULT_TRAIN_SETTINGS,
      ...partial,
      augment: { ...DEFAULT_TRAIN_SETTINGS.augment, ...partial.augment },
    };
    this.assertIdle();
    this.assertFits(settings);
    // Checked before a folder exists, so a bad split leaves nothing behind.
    this.makeJob(ds, settings, '', false);
    let runId: string;
    let dir: string;
    if (runDir) {
      await mkdir(runDir, { recursive: true });
      [runId, dir] = [basename(runDir), runDir];
    } else {
      ({ id: runId, dir } = await createRunDir(await safeRunsDir(ds.root), settings.model));
    }
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
    return { ...(await this.launch(job, runId)), trainImages: job.trainIds.length, job };
  }

  /** Continues run `runId` of the open dataset from its last checkpoint. */
  async resume(runId: string): Promise<{ runId: string }> {
    const ds = this.session.dataset;
    this.assertIdle();
    const { runId: id } = await this.resumeAt(await runFolder(ds.root, runId));
    return { runId: id };
  }

  /**
   * Continues the run in folder `dir` from its last checkpoint; with `epochs`, to that many epochs, which
   * its config then records (the longer run is the run now, for the panel and a later resume).
   */
  async resumeAt(dir: string, epochs?: number): Promise<{ runId: string; job: TrainJob }> {
    this.assertIdle();
    await assertNotRunning(dir);
    const run = new RunFolder(dir);
    const previous = await run.readConfig();
    const settings = { ...previous.settings, epochs: epochs ?? previous.settings.epochs };
    const job: TrainJob = { ...previous, settings, runDir: dir, resume: true };
    this.assertFits(settings);
    if (settings.epochs !== previous.settings.epochs) await run.writeConfig(job);
    return { ...(await this.launch(job, basename(dir))), job };
  }

  /** How the active run ends; null when none is training. */
  whenDone(): Promise<RunEnd> | null {
    return this.active?.done ?? null;
  }

  /** Refuses a run that cannot fit the memory of the backend the engine runs on (the wasm heap). */
  private assertFits(settings: TrainSettings): void {
    const heap = heapProblem(settings, this.engine.getStatus().backend?.name ?? null);
    if (heap) throw new WorkbenchError('bad-request', heap);
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
        (outcome): RunEnd => {
          this.session.emit('training:finished', { runId, status: outcome.status, error: null });
          return { runId, status: outcome.status, error: null, outcome };
        },
        async (err: Error): Promise<RunEnd> => {
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
          return { runId, status, error, outcome: null, cause: err };
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

  /**
   * Asks the engine to stop at the next batch; stops the engine if it has not within `graceMs`
   * (Infinity waits for the batch however long it takes, 0 stops the engine at once).
   */
  async cancel(graceMs = CANCEL_GRACE_MS): Promise<{ cancelled: boolean }> {
    const active = this.active;
    if (!active) return { cancelled: false };
    this.cancelling = true;
    // Not awaited: the engine answers only between batches, and a batch may run for minutes.
    void this.engine.request({ type: 'cancel' }).catch(() => undefined);
    const stopped =
      graceMs === Infinity
        ? await active.done.then(() => true)
        : await Promise.race([
            active.done.then(() => true),
            new Promise<boolean>((resolve) => setTimeout(() => resolve(false), graceMs)),
          ]);
    if (!stopped) {
      // A step can take longer than the grace period (a big model on a CPU): stop the engine instead.
      this.engine.kill('training was cancelled during a long step');
      await active.done;
      if (this.options.restartAfterKill !== false) void this.engine.start().catch(() => undefined);
    }
    return { cancelled: true };
  }
}
