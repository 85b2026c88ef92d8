// `segscope train`: trains in a forked engine process on a dataset, printing progress, and writes the
// run folder (DESIGN.md). Ctrl+C cancels at the next batch, keeps the last checkpoint, marks the run
// cancelled and exits 130; a second Ctrl+C stops the engine at once. CLI process.
import { mkdir, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { heapProblem } from '../../../shared/trainDefaults';
import {
  DEFAULT_TRAIN_SETTINGS,
  describeAdapter,
  type RunState,
  type TrainJob,
  type TrainSettings,
} from '../../../shared/training';
import { RUN_FILES, RunFolder } from '../../common/runFolder';
import type { CheckpointName } from '../../../shared/engineProtocol';
import { EngineHost, EngineStoppedError, forkSpawner } from '../../services/engineHost';
import { assertNotRunning, createRunDir, markRunEnded, safeRunsDir } from '../../services/runs';
import { TrainingService } from '../../services/training';
import { WorkbenchSession } from '../../services/session';
import { intOption, usage, UsageError } from '../args';
import { openDatasetArg } from '../openDataset';
import { backendOption } from '../runArgs';
import { engineEntry } from '../paths';
import type { EngineStarter } from './cam';

function numberOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number`);
  return n;
}

/** Exit status of a run cancelled with Ctrl+C, as shells report a command ended by SIGINT. */
export const EXIT_CANCELLED = 130;

/** `start` replaces the built engine (tests pass one that runs a fresh bundle). */
export async function trainCommand(argv: string[], start?: EngineStarter): Promise<number> {
  const { values } = usage(() =>
    parseArgs({
      args: argv,
      options: {
        dataset: { type: 'string' },
        year: { type: 'string' },
        model: { type: 'string' },
        epochs: { type: 'string' },
        batch: { type: 'string' },
        'input-size': { type: 'string' },
        lr: { type: 'string' },
        optimizer: { type: 'string' },
        schedule: { type: 'string' },
        split: { type: 'string' },
        'val-split': { type: 'string' },
        'no-val': { type: 'boolean' },
        'no-augment': { type: 'boolean' },
        backend: { type: 'string' },
        out: { type: 'string' },
        resume: { type: 'string' },
        seed: { type: 'string' },
        'backbone-weights': { type: 'string' },
        progress: { type: 'string' },
        'init-from': { type: 'string' },
        json: { type: 'boolean' },
      },
    }),
  );
  const backend = backendOption(values.backend);
  const progressMode = values.progress ?? 'lines';
  if (progressMode !== 'lines' && progressMode !== 'json')
    throw new UsageError('--progress must be lines or json');
  if (values.optimizer && values.optimizer !== 'adam' && values.optimizer !== 'sgd') {
    throw new UsageError('--optimizer must be adam or sgd');
  }
  if (values.schedule && !['cos', 'step', 'constant'].includes(values.schedule)) {
    throw new UsageError('--schedule must be cos, step or constant');
  }

  let backboneWeights: string | null = null;
  if (values['backbone-weights'] !== undefined) {
    if (values.resume) throw new UsageError('--backbone-weights applies to a new run, not to --resume');
    backboneWeights = resolve(values['backbone-weights']);
    const info = await stat(backboneWeights).catch(() => null);
    if (!info?.isFile()) throw new UsageError(`--backbone-weights: ${backboneWeights} is not a file`);
  }

  // --init-from RUN_DIR[:best|last]: fine-tune that run's checkpoint (best when it has one, else last).
  let initFrom: { dir: string; job: TrainJob } | null = null;
  if (values['init-from'] !== undefined) {
    if (values.resume) throw new UsageError('--init-from applies to a new run, not to --resume');
    const m = /^(.*?)(?::(best|last))?$/.exec(values['init-from'])!;
    const runDir = resolve(m[1]!);
    const parentRun = new RunFolder(runDir);
    let parent: TrainJob;
    try {
      parent = await parentRun.readConfig();
    } catch (err) {
      throw new UsageError(`--init-from ${runDir}: not a Segscope run (${(err as Error).message})`);
    }
    const name: CheckpointName =
      (m[2] as CheckpointName | undefined) ?? ((await parentRun.hasCheckpoint('best')) ? 'best' : 'last');
    if (!(await parentRun.hasCheckpoint(name)))
      throw new UsageError(`--init-from ${runDir}: has no ${name} checkpoint`);
    initFrom = { dir: parentRun.checkpointDir(name), job: parent };
  }

  const session = new WorkbenchSession();
  const host = start ? await start(backend) : new EngineHost(forkSpawner(engineEntry));
  const training = new TrainingService(session, host);
  let job: TrainJob;
  if (values.resume) {
    const dir = resolve(values.resume);
    // Only --epochs changes a resumed run; anything else would make it a different run.
    const fixed = ['dataset', 'model', 'batch', 'input-size', 'lr', 'optimizer', 'schedule', 'split'];
    const given = fixed.filter((k) => values[k as keyof typeof values] !== undefined);
    if (given.length)
      throw new UsageError(
        `--resume continues a run with its own settings; only --epochs may change (drop ${given.map((k) => `--${k}`).join(', ')})`,
      );
    const run = new RunFolder(dir);
    if (!(await run.isRun().catch(() => false)))
      throw new UsageError(`${dir}: not a Segscope run (it has no ${RUN_FILES.config})`);
    await assertNotRunning(dir);
    const previous = await run.readConfig();
    const state: Partial<RunState> = (await run.readState().catch(() => null)) ?? {};
    const done = state.epoch ?? 0;
    let epochs = previous.settings.epochs;
    if (values.epochs !== undefined) {
      epochs = intOption(values.epochs, 'epochs', 1, 100_000)!;
      if (epochs <= done)
        throw new UsageError(
          `${dir}: has already trained ${done} epochs; --epochs ${epochs} would add none (give more than ${done})`,
        );
    } else if (done >= epochs) {
      throw new UsageError(`${dir}: has trained all its ${epochs} epochs; add --epochs N to extend it`);
    }
    job = { ...previous, settings: { ...previous.settings, epochs }, runDir: dir, resume: true };
    if (epochs !== previous.settings.epochs) {
      // The longer run is the run now: its config says so, for the panel and for a later resume.
      await run.writeConfig(job);
    }
  } else {
    if (!values.dataset) throw new UsageError('train needs --dataset DIR (or --resume RUN_DIR)');
    // A fine-tuning run keeps the model and input size of the run it starts from.
    values.model ??= initFrom?.job.settings.model;
    values['input-size'] ??= initFrom ? String(initFrom.job.settings.inputSize) : undefined;
    if (!values.model) throw new UsageError('train needs --model ID (see segscope models)');
    const ds = await openDatasetArg(values.dataset, values.year);
    const settings: TrainSettings = {
      ...DEFAULT_TRAIN_SETTINGS,
      model: values.model,
      backend,
      ...(values.epochs ? { epochs: intOption(values.epochs, 'epochs', 1, 100_000)! } : {}),
      ...(values.batch ? { batchSize: intOption(values.batch, 'batch', 1, 1024)! } : {}),
      ...(values['input-size']
        ? { inputSize: intOption(values['input-size'], 'input-size', 16, 4096)! }
        : {}),
      ...(values.lr ? { lr: numberOption(values.lr, 'lr')! } : {}),
      ...(values.optimizer ? { optimizer: values.optimizer as 'adam' | 'sgd' } : {}),
      ...(values.schedule ? { schedule: values.schedule as 'cos' | 'step' | 'constant' } : {}),
      ...(values.split ? { split: values.split } : {}),
      ...(values['val-split'] ? { valSplit: values['val-split'] } : {}),
      ...(values['no-val'] ? { valSplit: null } : {}),
      ...(values['no-augment'] ? { augment: { scale: false, rotate: false, flip: false, hsv: false } } : {}),
      ...(values.seed ? { seed: intOption(values.seed, 'seed', 0, 2 ** 31)! } : {}),
      backboneWeights,
      initFrom: initFrom?.dir ?? null,
    };
    training.makeJob(ds, settings, '', false); // a bad split fails here, before any folder is made
    let runDir: string;
    if (values.out) {
      runDir = resolve(values.out);
      await mkdir(dirname(runDir), { recursive: true });
    } else {
      runDir = (await createRunDir(await safeRunsDir(ds.root), settings.model)).dir;
    }
    job = training.makeJob(ds, settings, runDir, false);
  }
  await mkdir(job.runDir, { recursive: true });

  const info = await host.start(job.settings.backend);
  const heap = heapProblem(job.settings, info.name);
  if (heap) {
    host.kill('the run does not fit');
    throw new UsageError(heap);
  }
  const log = (line: string): void => void (values.json ? process.stderr : process.stdout).write(line + '\n');
  log(`backend ${info.name}: ${info.reason}`);
  if (info.adapter) log(`  GPU adapter: ${describeAdapter(info.adapter)}`);
  if (job.resume) log(`resuming to ${job.settings.epochs} epochs`);
  if (job.settings.batchSize > job.trainIds.length)
    log(
      `note: batch ${job.settings.batchSize} is larger than the ${job.trainIds.length} labelled images of split ${job.settings.split}; each epoch is one step of ${job.trainIds.length}`,
    );
  for (const s of info.skipped) log(`  skipped ${s.name}: ${s.reason}`);
  log(`run ${basename(job.runDir)} → ${job.runDir}`);
  if (!job.resume && job.settings.initFrom) log(`starting from ${job.settings.initFrom}`);
  if (!job.resume && job.settings.backboneWeights)
    log(`backbone weights from ${job.settings.backboneWeights}`);
  let cancelled = false;
  let loggedStep = 0;
  const onSigint = (): void => {
    if (!cancelled) {
      cancelled = true;
      log('cancelling at the next batch… (Ctrl+C again to stop at once)');
      void host.request({ type: 'cancel' }).catch(() => undefined);
      return;
    }
    log('stopping the engine now; the run keeps its last checkpoint');
    host.kill('cancelled with a second Ctrl+C');
  };
  process.on('SIGINT', onSigint);
  try {
    const result = await host.request({ type: 'train', job }, (p) => {
      if (progressMode === 'json' && p.kind !== 'items') process.stderr.write(JSON.stringify(p) + '\n');
      if (p.kind === 'step') {
        const line = `epoch ${p.epoch}/${p.epochs} step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)} lr ${p.lr.toExponential(2)} ${p.imagesPerSec.toFixed(1)} img/s eta ${Math.round(p.etaSec)} s`;
        // Not on a terminal (a log, a pipe, CI): a line every 10 steps rather than nothing. Step events
        // are throttled, so count from the last line printed rather than by multiples of 10.
        const global = (p.epoch - 1) * p.steps + p.step;
        if (!process.stdout.isTTY && progressMode === 'lines' && global - loggedStep >= 10) {
          loggedStep = global;
          log(line);
        }
        if (process.stdout.isTTY && !values.json) process.stdout.write(`\r${line}   `);
      } else if (p.kind === 'epoch') {
        const r = p.record;
        if (process.stdout.isTTY && !values.json) process.stdout.write('\n');
        log(
          `epoch ${r.epoch}: train loss ${r.trainLoss.toFixed(4)}` +
            (r.miou !== null
              ? `, val loss ${r.valLoss!.toFixed(4)}, mIoU ${(100 * r.miou).toFixed(2)}%, pixel acc ${(100 * r.pixelAccuracy!).toFixed(2)}%`
              : '') +
            ` (${r.seconds.toFixed(1)} s)${r.best ? ' best' : ''}`,
        );
      }
    });
    if (values.json) console.log(JSON.stringify({ run: job.runDir, ...result }));
    else
      log(
        `${result.status}: ${result.epochs} epochs, best mIoU ${result.bestMiou === null ? 'n/a' : (100 * result.bestMiou).toFixed(2) + '%'}`,
      );
    return result.status === 'cancelled' || cancelled ? EXIT_CANCELLED : 0;
  } catch (err) {
    // What the engine could not write itself: a cancel that had to stop it, or its death.
    const status = cancelled ? 'cancelled' : err instanceof EngineStoppedError ? 'interrupted' : 'failed';
    await markRunEnded(job.runDir, status, status === 'cancelled' ? null : (err as Error).message).catch(
      () => undefined,
    );
    if (cancelled) {
      log(`cancelled: the run keeps its last checkpoint in ${job.runDir}`);
      return EXIT_CANCELLED;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
    host.kill('the command finished');
  }
}
