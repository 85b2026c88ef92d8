// Training from main and from the CLI: turns the user's settings and the open dataset into an engine job,
// checks that it fits the backend, relays its progress as events, records what the engine cannot (a
// cancel that had to stop it, its death), and cancels within 2 s even when a step takes longer, by
// stopping the engine (the run keeps its last checkpoint). A run may instead train on the PyTorch engine
// (services/torchEngine.ts): Segscope's engine prepares it, PyTorch's workers train it, and its progress,
// cancel and end go through the same events. The one launch path of a run. Plain Node, main and CLI
// processes.
import { mkdir } from 'node:fs/promises';
import { basename } from 'node:path';
import {
  DEFAULT_TRAIN_SETTINGS,
  type RunState,
  type TrainJob,
  type TrainSettings,
  startingRunState,
} from '../../shared/training';
import type { EventName, Events, TorchChoice, TorchStatus } from '../../shared/api';
import type { EngineResult } from '../../shared/engineProtocol';
import { WorkbenchError } from '../../shared/errors';
import { modelFacts } from '../../shared/modelCatalog';
import { heapProblem } from '../../shared/trainDefaults';
import { RunFolder } from '../common/runFolder';
import type { Dataset } from './dataset';
import { EngineStoppedError, type EngineHost } from './engineHost';
import { assertNotRunning, createRunDir, markRunEnded, ownedHere, runFolder, safeRunsDir } from './runs';
import { findTorchPython, startTorchRun } from './torchEngine';

/** How long a cancel may wait for the engine to stop at a batch boundary before it is stopped outright. */
export const CANCEL_GRACE_MS = 1500;
/**
 * The same for PyTorch's workers, which finish their batch and write `last` before they exit; stopping
 * them outright loses the epoch in progress, so they get longer.
 */
export const TORCH_CANCEL_GRACE_MS = 15_000;

/** A run on the PyTorch engine: how to run it, and the Python with torch that runs it. */
export interface TorchLaunch extends TorchChoice {
  python: string;
}

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
  /** Asks the run to stop at the next batch. */
  stop(): void;
  /** Stops it at once; the run keeps its last checkpoint. */
  kill(): void;
  /** How long a cancel waits for `stop` before it kills. */
  graceMs: number;
}

export interface TrainingOptions {
  /**
   * Start the engine again after a cancel had to stop it: the app keeps one running, the CLI exits
   * instead. Default true.
   */
  restartAfterKill?: boolean;
  /** The folder of the PyTorch engine's package (python/segscope_torch); without it such runs are refused. */
  pythonDir?: string;
  /**
   * Stop Segscope's engine once it has prepared a run for PyTorch: the CLI has nothing else for it to do,
   * and its memory is better left to the workers. Default false (the app's viewer keeps using it).
   */
  releaseEngineForTorch?: boolean;
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

  private torchLookup: Promise<TorchStatus> | null = null;

  /**
   * Whether a Python with PyTorch is here to train on, with its version and devices. Asked once (it
   * imports torch, which takes seconds), or each time for an `explicit` Python (the CLI's --python).
   */
  torchStatus(explicit?: string): Promise<TorchStatus> {
    const dir = this.options.pythonDir;
    if (!dir)
      return Promise.resolve({
        found: false,
        error: 'this Segscope has no PyTorch engine package (python/segscope_torch)',
      });
    const ask = (): Promise<TorchStatus> =>
      findTorchPython(dir, explicit).then(
        (t): TorchStatus => ({ found: true, python: t.python, info: t.info }),
        (err: Error): TorchStatus => ({ found: false, error: err.message }),
      );
    if (explicit) return ask();
    this.torchLookup ??= ask();
    return this.torchLookup;
  }

  /**
   * How to run `choice` on the Python that `status` found; in plain words why not when there is no
   * torch, or no CUDA device for `cuda`.
   */
  torchLaunch(choice: TorchChoice, status: TorchStatus): TorchLaunch {
    if (!status.found) throw new WorkbenchError('unavailable', status.error);
    const { info, python } = status;
    if (choice.device === 'cuda' && !info.cudaAvailable)
      throw new WorkbenchError(
        'bad-request',
        `cuda: torch ${info.torch} at ${python} has no CUDA device ` +
          `(${info.cuda ? `built for CUDA ${info.cuda}, but no GPU or driver is visible` : 'a CPU-only build'})`,
      );
    if (choice.amp && choice.device !== 'cuda')
      throw new WorkbenchError('bad-request', 'amp (mixed precision) needs the cuda device');
    return { ...choice, python };
  }

  get running(): string | null {
    return this.active?.runId ?? null;
  }

  /** Builds the job for `settings` on the open dataset. */
  makeJob(ds: Dataset, settings: TrainSettings, runDir: string, resume: boolean): TrainJob {
    const trainIds = labelledIds(ds, settings.split);
    const valIds = settings.valSplit ? labelledIds(ds, settings.valSplit) : [];
    // fromEntries defines each id as its own key: an image named `__proto__` stays an entry.
    const imageFiles: Record<string, string> = Object.fromEntries(
      [...trainIds, ...valIds].map((id) => [id, ds.imageFile(id)]),
    );
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
    torch?: TorchLaunch,
  ): Promise<{ runId: string; trainImages: number; job: TrainJob }> {
    const ds = this.session.dataset;
    const settings: TrainSettings = {
      ...DEFAULT_TRAIN_SETTINGS,
      ...partial,
      augment: { ...DEFAULT_TRAIN_SETTINGS.augment, ...partial.augment },
    };
    this.assertIdle();
    // PyTorch's workers are not bound by the wasm heap.
    if (!torch) this.assertFits(settings);
    this.assertTorchUsable(torch);
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
      Object.defineProperty(job.imageFiles, id, {
        value: ds.imageFile(id),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    // Written here as well as by the engine, so the run is listed, and can be marked cancelled, before
    // the engine has built the model. The state first, naming this process until the engine takes over.
    const state: RunState = { ...startingRunState(null), ...ownedHere() };
    const run = new RunFolder(job.runDir);
    await run.writeState(state);
    await run.writeConfig(job);
    return { ...(await this.launch(job, runId, torch)), trainImages: job.trainIds.length, job };
  }

  /** Continues run `runId` of the open dataset from its last checkpoint. */
  async resume(runId: string, torch?: TorchLaunch): Promise<{ runId: string }> {
    const ds = this.session.dataset;
    this.assertIdle();
    const { runId: id } = await this.resumeAt(await runFolder(ds.root, runId), undefined, torch);
    return { runId: id };
  }

  /**
   * Continues the run in folder `dir` from its last checkpoint; with `epochs`, to that many epochs, which
   * its config then records (the longer run is the run now, for the panel and a later resume).
   */
  async resumeAt(
    dir: string,
    epochs?: number,
    torch?: TorchLaunch,
  ): Promise<{ runId: string; job: TrainJob }> {
    this.assertIdle();
    this.assertTorchUsable(torch);
    await assertNotRunning(dir);
    const run = new RunFolder(dir);
    const previous = await run.readConfig();
    const settings = { ...previous.settings, epochs: epochs ?? previous.settings.epochs };
    const job: TrainJob = { ...previous, settings, runDir: dir, resume: true };
    if (!torch) this.assertFits(settings);
    if (settings.epochs !== previous.settings.epochs) await run.writeConfig(job);
    return { ...(await this.launch(job, basename(dir), torch)), job };
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

  private assertTorchUsable(torch: TorchLaunch | undefined): void {
    if (torch && !this.options.pythonDir)
      throw new WorkbenchError(
        'unavailable',
        'this Segscope has no PyTorch engine package (python/segscope_torch)',
      );
  }

  /** Starts Segscope's engine for `job` unless it is running; a run nothing will train is marked failed. */
  private async ensureEngine(job: TrainJob): Promise<void> {
    if (this.engine.getStatus().state === 'ready') return;
    try {
      await this.engine.start(job.settings.backend);
    } catch (err) {
      // Nothing will train this run: say so in it rather than leave it `running`.
      await markRunEnded(job.runDir, 'failed', (err as Error).message).catch(() => undefined);
      throw err;
    }
  }

  /**
   * How a run ends, from the promise of its trainer's outcome: the event, and for a failure what the
   * trainer cannot record itself (a cancel that stopped it, the engine's death, which leaves the run
   * interrupted and resumable).
   */
  private settle(job: TrainJob, runId: string, outcome: Promise<EngineResult['train']>): Promise<RunEnd> {
    return outcome
      .then(
        (result): RunEnd => {
          this.session.emit('training:finished', { runId, status: result.status, error: null });
          return { runId, status: result.status, error: null, outcome: result };
        },
        async (err: Error): Promise<RunEnd> => {
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
  }

  private async launch(job: TrainJob, runId: string, torch?: TorchLaunch): Promise<{ runId: string }> {
    if (torch) return this.launchOnTorch(job, runId, torch);
    await this.ensureEngine(job);
    const done = this.settle(
      job,
      runId,
      this.engine.request({ type: 'train', job }, (progress) => {
        if (progress.kind !== 'items') this.session.emit('training:progress', progress);
      }),
    );
    this.active = {
      runId,
      dir: job.runDir,
      done,
      // Not awaited: the engine answers only between batches, and a batch may run for minutes.
      stop: () => void this.engine.request({ type: 'cancel' }).catch(() => undefined),
      kill: () => {
        // A step can take longer than the grace period (a big model on a CPU): stop the engine instead.
        this.engine.kill('training was cancelled during a long step');
        if (this.options.restartAfterKill !== false)
          void done.then(() => this.engine.start().catch(() => undefined));
      },
      graceMs: CANCEL_GRACE_MS,
    };
    return { runId };
  }

  /**
   * Trains `job` on PyTorch's workers: Segscope's engine first prepares a new run (its `last` at epoch 0,
   * with the initial weights, in the layout both engines read), then the workers take it over.
   */
  private async launchOnTorch(job: TrainJob, runId: string, torch: TorchLaunch): Promise<{ runId: string }> {
    const normalization = modelFacts(job.settings.model)?.normalization;
    if (!normalization) throw new WorkbenchError('bad-request', `unknown model ${job.settings.model}`);
    const launched = performance.now();
    try {
      if (!job.resume) {
        await this.ensureEngine(job);
        await this.engine.request({ type: 'prepare', job });
      }
      this.session.emit('training:progress', {
        kind: 'phase',
        runId,
        phase: 'prepared',
        seconds: (performance.now() - launched) / 1000,
      });
    } catch (err) {
      await markRunEnded(job.runDir, 'failed', (err as Error).message).catch(() => undefined);
      throw err;
    } finally {
      if (this.options.releaseEngineForTorch) this.engine.kill('the PyTorch engine trains the run');
    }
    const run = await startTorchRun({
      python: torch.python,
      packageDir: this.options.pythonDir!,
      runDir: job.runDir,
      nproc: torch.nproc,
      device: torch.device,
      amp: torch.amp,
      normalization,
      resume: job.resume,
      onProgress: (p) => this.session.emit('training:progress', p),
    });
    this.active = {
      runId,
      dir: job.runDir,
      done: this.settle(job, runId, run.done),
      stop: () => run.cancel(),
      kill: () => run.kill(),
      graceMs: TORCH_CANCEL_GRACE_MS,
    };
    return { runId };
  }

  private cancelling = false;

  /**
   * Asks the run to stop at the next batch; stops its trainer (the engine, or PyTorch's workers) if it has
   * not within `graceMs` (by default the trainer's own grace; Infinity waits for the batch however long it
   * takes, 0 stops at once).
   */
  async cancel(graceMs?: number): Promise<{ cancelled: boolean }> {
    const active = this.active;
    if (!active) return { cancelled: false };
    this.cancelling = true;
    active.stop();
    const grace = graceMs ?? active.graceMs;
    const stopped =
      grace === Infinity
        ? await active.done.then(() => true)
        : await Promise.race([
            active.done.then(() => true),
            new Promise<boolean>((resolve) => setTimeout(() => resolve(false), grace)),
          ]);
    if (!stopped) {
      active.kill();
      await active.done;
    }
    return { cancelled: true };
  }
}
