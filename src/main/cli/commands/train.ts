// `segscope train`: trains in a forked engine process on a dataset, printing progress, and writes the
// run folder (DESIGN.md). Ctrl+C cancels at the next batch, keeps the last checkpoint, marks the run
// cancelled and exits 130; a second Ctrl+C stops the engine at once. CLI process.
import { mkdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { heapProblem } from '../../../shared/trainDefaults';
import {
  DEFAULT_TRAIN_SETTINGS,
  describeAdapter,
  type EpochRecord,
  type RunState,
  type TrainJob,
  type TrainProgress,
  type TrainSettings,
} from '../../../shared/training';
import { writeJsonAtomic } from '../../services/atomicFile';
import { EngineHost, EngineStoppedError, forkSpawner } from '../../services/engineHost';
import {
  assertNotRunning,
  createRunDir,
  markRunEnded,
  readRunConfig,
  safeRunsDir,
} from '../../services/runs';
import { TrainingService } from '../../services/training';
import { WorkbenchSession } from '../../services/session';
import { intOption, usage, UsageError } from '../args';
import { openDatasetArg } from '../openDataset';
import { backendOption } from '../runArgs';
import { engineEntry, pythonDir } from '../paths';
import { findTorchPython, startTorchRun, type TorchPython } from '../../services/torchEngine';
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
        engine: { type: 'string' },
        nproc: { type: 'string' },
        python: { type: 'string' },
        device: { type: 'string' },
        amp: { type: 'boolean' },
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

  const engine = values.engine ?? 'segscope';
  if (engine !== 'segscope' && engine !== 'torch') throw new UsageError('--engine must be segscope or torch');
  const torchOnly = (['nproc', 'python', 'device', 'amp'] as const).filter((k) => values[k] !== undefined);
  if (engine !== 'torch' && torchOnly.length)
    throw new UsageError(`${torchOnly.map((k) => `--${k}`).join(', ')} apply to --engine torch`);
  const nproc = intOption(values.nproc, 'nproc', 1, 1024) ?? 1;
  const device = values.device ?? 'cpu';
  if (device !== 'cpu' && device !== 'cuda') throw new UsageError('--device must be cpu or cuda');
  // Before any folder is made: a missing Python or torch is said at once, in plain words.
  const torch = engine === 'torch' ? await findTorchPython(pythonDir, values.python) : null;
  if (torch && device === 'cuda' && !torch.info.cudaAvailable)
    throw new UsageError(
      `--device cuda: torch ${torch.info.torch} at ${torch.python} has no CUDA device ` +
        `(${torch.info.cuda ? `built for CUDA ${torch.info.cuda}, but no GPU or driver is visible` : 'a CPU-only build'})`,
    );

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
    let parent: TrainJob;
    try {
      parent = JSON.parse(await readFile(join(runDir, 'config.json'), 'utf8')) as TrainJob;
    } catch {
      throw new UsageError(`--init-from ${runDir}: not a Segscope run (no readable config.json)`);
    }
    const has = (name: string) =>
      stat(join(runDir, 'checkpoints', name, 'model.json')).then(
        () => true,
        () => false,
      );
    const name = m[2] ?? ((await has('best')) ? 'best' : 'last');
    if (!(await has(name))) throw new UsageError(`--init-from ${runDir}: has no ${name} checkpoint`);
    initFrom = { dir: join(runDir, 'checkpoints', name), job: parent };
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
    if (!(await stat(join(dir, 'config.json')).catch(() => null)))
      throw new UsageError(`${dir}: not a Segscope run (it has no config.json)`);
    await assertNotRunning(dir);
    const previous = await readRunConfig(dir);
    const state = JSON.parse(
      await readFile(join(dir, 'state.json'), 'utf8').catch(() => '{}'),
    ) as Partial<RunState>;
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
      await writeJsonAtomic(join(dir, 'config.json'), job);
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
  if (torch) {
    return trainOnTorch(job, host, torch, {
      nproc,
      device: device as 'cpu' | 'cuda',
      amp: values.amp ?? false,
      json: values.json ?? false,
      progressMode,
    });
  }

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

/** A progress line as `train` prints it, for both engines. */
function describeStep(p: Extract<TrainProgress, { kind: 'step' }>): string {
  return `epoch ${p.epoch}/${p.epochs} step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)} lr ${p.lr.toExponential(2)} ${p.imagesPerSec.toFixed(1)} img/s eta ${Math.round(p.etaSec)} s`;
}

function describeEpoch(r: EpochRecord): string {
  return (
    `epoch ${r.epoch}: train loss ${r.trainLoss.toFixed(4)}` +
    (r.miou !== null
      ? `, val loss ${r.valLoss!.toFixed(4)}, mIoU ${(100 * r.miou).toFixed(2)}%, pixel acc ${(100 * r.pixelAccuracy!).toFixed(2)}%`
      : '') +
    ` (${r.seconds.toFixed(1)} s)${r.best ? ' best' : ''}`
  );
}

/**
 * `train --engine torch`: Segscope's engine prepares a new run (config, state, `last` at epoch 0 with the
 * initial weights), then PyTorch workers train it (services/torchEngine.ts). Ctrl+C cancels at the next
 * batch on every worker; a second stops them at once.
 */
async function trainOnTorch(
  job: TrainJob,
  host: EngineHost,
  torch: TorchPython,
  o: { nproc: number; device: 'cpu' | 'cuda'; amp: boolean; json: boolean; progressMode: string },
): Promise<number> {
  const log = (line: string): void => void (o.json ? process.stderr : process.stdout).write(line + '\n');
  const started = performance.now();
  let normalization: string;
  try {
    await host.start(job.settings.backend);
    const prepared = job.resume
      ? null
      : await host.request({ type: 'prepare', job: { ...job, settings: { ...job.settings } } });
    // A resumed run's workers recorded the scaling they were given in its state.
    const recorded = job.resume
      ? ((
          JSON.parse(await readFile(join(job.runDir, 'state.json'), 'utf8').catch(() => '{}')) as {
            normalization?: string;
          }
        ).normalization ?? null)
      : null;
    const scaling = prepared?.normalization ?? recorded;
    if (!scaling)
      throw new Error(`${job.runDir}: its state.json does not say how the PyTorch engine scaled the input`);
    normalization = scaling;
  } finally {
    host.kill('the PyTorch engine trains the run');
  }
  const gpus = torch.info.gpus.map((g) => `${g.name} (${(g.memoryBytes / 2 ** 30).toFixed(0)} GiB)`);
  log(
    `engine torch ${torch.info.torch} (${torch.python}, Python ${torch.info.python}) on ${o.device}` +
      (o.device === 'cuda' ? `: ${gpus.join(', ')}` : '') +
      `, ${o.nproc} process${o.nproc > 1 ? 'es' : ''}${o.nproc > 1 ? (o.device === 'cuda' ? ' (DDP, NCCL)' : ' (DDP, gloo)') : ''}`,
  );
  log(`run ${basename(job.runDir)} → ${job.runDir}`);
  if (job.resume) log(`resuming to ${job.settings.epochs} epochs`);
  let loggedStep = 0;
  let firstStep = true;
  const run = await startTorchRun({
    python: torch.python,
    packageDir: pythonDir,
    runDir: job.runDir,
    nproc: o.nproc,
    device: o.device,
    amp: o.amp,
    normalization,
    resume: job.resume,
    onProgress: (p) => {
      if (o.progressMode === 'json') process.stderr.write(JSON.stringify(p) + '\n');
      if (p.kind === 'step') {
        if (firstStep) {
          firstStep = false;
          log(`first step after ${((performance.now() - started) / 1000).toFixed(1)} s`);
        }
        const global = (p.epoch - 1) * p.steps + p.step;
        if (
          !process.stdout.isTTY &&
          o.progressMode === 'lines' &&
          (global - loggedStep >= 10 || global === 1)
        ) {
          loggedStep = global;
          log(describeStep(p));
        }
        if (process.stdout.isTTY && !o.json) process.stdout.write(`\r${describeStep(p)}   `);
      } else if (p.kind === 'epoch') {
        if (process.stdout.isTTY && !o.json) process.stdout.write('\n');
        log(describeEpoch(p.record));
      }
    },
  });
  let cancelled = false;
  const onSigint = (): void => {
    if (!cancelled) {
      cancelled = true;
      log('cancelling at the next batch… (Ctrl+C again to stop at once)');
      run.cancel();
      return;
    }
    log('stopping the workers now; the run keeps its last checkpoint');
    run.kill();
  };
  process.on('SIGINT', onSigint);
  try {
    const result = await run.done;
    if (o.json) console.log(JSON.stringify({ run: job.runDir, engine: 'torch', ...result }));
    else
      log(
        `${result.status}: ${result.epochs} epochs, best mIoU ${result.bestMiou === null ? 'n/a' : (100 * result.bestMiou).toFixed(2) + '%'}`,
      );
    return result.status === 'cancelled' || cancelled ? EXIT_CANCELLED : 0;
  } catch (err) {
    if (cancelled) {
      await markRunEnded(job.runDir, 'cancelled').catch(() => undefined);
      log(`cancelled: the run keeps its last checkpoint in ${job.runDir}`);
      return EXIT_CANCELLED;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
