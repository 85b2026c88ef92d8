// `segscope train`: trains through the same TrainingService as the panel (one launch path: the heap check,
// the cancel and what a failure leaves in the run folder), in a forked engine, printing progress. With no
// setting given it trains what the panel would start with on the backend found, and says so. Ctrl+C
// cancels at the next batch, keeps the last checkpoint, marks the run cancelled and exits 130; a second
// Ctrl+C stops the engine at once. CLI process.
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Events, TorchInfo } from '../../../shared/api';
import { WorkbenchError } from '../../../shared/errors';
import { settingsFor } from '../../../shared/trainDefaults';
import { numberProblem, TRAIN_CHOICES, TRAIN_NUMBERS, type NumberSetting } from '../../../shared/trainFields';
import {
  describeAdapter,
  type RunState,
  type TrainJob,
  type TorchPhase,
  type TrainProgress,
  type TrainSettings,
} from '../../../shared/training';
import type { Dataset } from '../../services/dataset';
import { EngineHost, forkSpawner } from '../../services/engineHost';
import { RUN_FILES, RunFolder } from '../../common/runFolder';
import type { CheckpointName } from '../../../shared/engineProtocol';
import { TrainingService, type TorchLaunch, type TrainingSession } from '../../services/training';
import { intOption, usage, UsageError } from '../args';
import { openDatasetArg } from '../openDataset';
import { backendOption } from '../runArgs';
import { engineEntry, pythonDir } from '../paths';
import type { EngineStarter } from './cam';

/** Exit status of a run cancelled with Ctrl+C, as shells report a command ended by SIGINT. */
export const EXIT_CANCELLED = 130;

/** The numeric settings that have a flag, keyed by the flag. */
const NUMBER_FLAGS = Object.fromEntries(
  (Object.keys(TRAIN_NUMBERS) as NumberSetting[]).flatMap((k) => {
    const flag = (TRAIN_NUMBERS[k] as { flag?: string }).flag;
    return flag ? [[flag, k]] : [];
  }),
) as Record<string, NumberSetting>;

/** The value of a numeric flag, checked against the settings table; undefined when not given. */
function numberFlag(values: Record<string, unknown>, field: NumberSetting): number | undefined {
  const flag = (TRAIN_NUMBERS[field] as { flag?: string }).flag!;
  const raw = values[flag];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  const problem = numberProblem(field, raw === '' ? NaN : n, `--${flag}`);
  if (problem) throw new UsageError(problem);
  return n;
}

function choiceFlag<K extends keyof typeof TRAIN_CHOICES>(
  value: string | undefined,
  key: K,
): (typeof TRAIN_CHOICES)[K][number] | undefined {
  if (value === undefined) return undefined;
  const choices: readonly string[] = TRAIN_CHOICES[key];
  if (!choices.includes(value))
    throw new UsageError(`--${key} must be ${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}`);
  return value as (typeof TRAIN_CHOICES)[K][number];
}

const OPTIONS = {
  dataset: { type: 'string' },
  year: { type: 'string' },
  model: { type: 'string' },
  ...Object.fromEntries(Object.keys(NUMBER_FLAGS).map((f) => [f, { type: 'string' }])),
  optimizer: { type: 'string' },
  schedule: { type: 'string' },
  split: { type: 'string' },
  'val-split': { type: 'string' },
  'no-val': { type: 'boolean' },
  'no-augment': { type: 'boolean' },
  backend: { type: 'string' },
  out: { type: 'string' },
  resume: { type: 'string' },
  'backbone-weights': { type: 'string' },
  progress: { type: 'string' },
  'init-from': { type: 'string' },
  json: { type: 'boolean' },
  engine: { type: 'string' },
  nproc: { type: 'string' },
  python: { type: 'string' },
  device: { type: 'string' },
  amp: { type: 'boolean' },
} as const;

type Values = Record<string, string | boolean | undefined>;

/** `--init-from RUN_DIR[:best|last]`: that run's checkpoint (best when it has one, else last), and its job. */
async function initFromArg(value: string): Promise<{ dir: string; job: TrainJob }> {
  const m = /^(.*?)(?::(best|last))?$/.exec(value)!;
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
  return { dir: parentRun.checkpointDir(name), job: parent };
}

/** `--resume RUN_DIR [--epochs N]`: the folder and the epochs to extend it to, refused in words. */
async function resumeArg(values: Values): Promise<{ dir: string; epochs: number | undefined }> {
  const dir = resolve(values.resume as string);
  // Only --epochs changes a resumed run; anything else would make it a different run.
  const fixed = ['dataset', 'model', 'batch', 'input-size', 'lr', 'optimizer', 'schedule', 'split'];
  const given = fixed.filter((k) => values[k] !== undefined);
  if (given.length)
    throw new UsageError(
      `--resume continues a run with its own settings; only --epochs may change (drop ${given.map((k) => `--${k}`).join(', ')})`,
    );
  const run = new RunFolder(dir);
  if (!(await run.isRun().catch(() => false)))
    throw new UsageError(`${dir}: not a Segscope run (it has no ${RUN_FILES.config})`);
  const previous = await run.readConfig();
  const state: Partial<RunState> = (await run.readState().catch(() => null)) ?? {};
  const done = state.epoch ?? 0;
  const epochs = numberFlag(values, 'epochs');
  if (epochs !== undefined) {
    if (epochs <= done)
      throw new UsageError(
        `${dir}: has already trained ${done} epochs; --epochs ${epochs} would add none (give more than ${done})`,
      );
  } else if (done >= previous.settings.epochs) {
    throw new UsageError(
      `${dir}: has trained all its ${previous.settings.epochs} epochs; add --epochs N to extend it`,
    );
  }
  return { dir, epochs };
}

/** The settings given on the command line; the backend's defaults fill in the rest (settingsFor). */
function givenSettings(values: Values): Partial<TrainSettings> {
  const given: Partial<TrainSettings> = {
    model: values.model as string | undefined,
    optimizer: choiceFlag(values.optimizer as string | undefined, 'optimizer'),
    schedule: choiceFlag(values.schedule as string | undefined, 'schedule'),
    split: values.split as string | undefined,
  };
  for (const field of Object.values(NUMBER_FLAGS)) {
    const n = numberFlag(values, field);
    if (n !== undefined) (given as Record<string, number>)[field] = n;
  }
  if (values['val-split']) given.valSplit = values['val-split'] as string;
  if (values['no-val']) given.valSplit = null;
  if (values['no-augment']) given.augment = { scale: false, rotate: false, flip: false, hsv: false };
  return given;
}

/** Prints the engine's progress as lines (a terminal's one updating line, or one every 10 steps). */
function progressPrinter(mode: 'lines' | 'json', json: boolean, log: (line: string) => void) {
  let loggedStep = 0;
  return (p: TrainProgress): void => {
    if (mode === 'json') process.stderr.write(JSON.stringify(p) + '\n');
    if (p.kind === 'step') {
      const line = `epoch ${p.epoch}/${p.epochs} step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)} lr ${p.lr.toExponential(2)} ${p.imagesPerSec.toFixed(1)} img/s eta ${Math.round(p.etaSec)} s`;
      // Not on a terminal (a log, a pipe, CI): a line every 10 steps rather than nothing. Step events
      // are throttled, so count from the last line printed rather than by multiples of 10.
      const global = (p.epoch - 1) * p.steps + p.step;
      if (!process.stdout.isTTY && mode === 'lines' && global - loggedStep >= 10) {
        loggedStep = global;
        log(line);
      }
      if (process.stdout.isTTY && !json) process.stdout.write(`\r${line}   `);
    } else if (p.kind === 'epoch') {
      const r = p.record;
      if (process.stdout.isTTY && !json) process.stdout.write('\n');
      log(
        `epoch ${r.epoch}: train loss ${r.trainLoss.toFixed(4)}` +
          (r.miou !== null
            ? `, val loss ${r.valLoss!.toFixed(4)}, mIoU ${(100 * r.miou).toFixed(2)}%, pixel acc ${(100 * r.pixelAccuracy!).toFixed(2)}%`
            : '') +
          ` (${r.seconds.toFixed(1)} s)${r.best ? ' best' : ''}`,
      );
    }
  };
}

/**
 * Where the time before a PyTorch run's first step went: the command starting Segscope's engine and
 * finding torch, Segscope preparing the run, the workers starting (torch's import, the rendezvous,
 * loading the run), and the first step's own compute; and all of it beyond torch's import.
 */
function firstStepLine(
  total: number,
  launchedAfter: number | null,
  phases: ReadonlyMap<TorchPhase, number>,
): string {
  const s = (v: number) => `${v.toFixed(1)} s`;
  const prepared = phases.get('prepared');
  const imported = phases.get('torch-imported');
  const ready = phases.get('ready');
  if (launchedAfter === null || prepared === undefined || imported === undefined || ready === undefined)
    return `first step after ${s(total)}`;
  const rendezvous = phases.get('rendezvous');
  const parts = [
    `starting Segscope's engine and finding torch ${s(launchedAfter)}`,
    `preparing the run ${s(prepared)}`,
    `the workers' start ${s(ready)} (torch's import ${s(imported)}${rendezvous !== undefined ? `, rendezvous at ${s(rendezvous)}` : ''})`,
    `the first step itself ${s(Math.max(0, total - launchedAfter - prepared - ready))}`,
  ];
  return `first step after ${s(total)}, ${s(total - imported)} of it beyond torch's import: ${parts.join(', ')}`;
}

/** `start` replaces the built engine (tests pass one that runs a fresh bundle). */
export async function trainCommand(argv: string[], start?: EngineStarter): Promise<number> {
  const { values } = usage(() => parseArgs({ args: argv, options: OPTIONS }));
  const v = values as Values;
  const backend = backendOption(values.backend as string | undefined);
  const progressMode = (values.progress as string | undefined) ?? 'lines';
  if (progressMode !== 'lines' && progressMode !== 'json')
    throw new UsageError('--progress must be lines or json');
  const given = values.resume ? {} : givenSettings(v);

  const engine = (values.engine as string | undefined) ?? 'segscope';
  if (engine !== 'segscope' && engine !== 'torch') throw new UsageError('--engine must be segscope or torch');
  const torchOnly = (['nproc', 'python', 'device', 'amp'] as const).filter((k) => values[k] !== undefined);
  if (engine !== 'torch' && torchOnly.length)
    throw new UsageError(`${torchOnly.map((k) => `--${k}`).join(', ')} apply to --engine torch`);
  const nproc = intOption(values.nproc as string | undefined, 'nproc', 1, 64) ?? 1;
  const device = (values.device as string | undefined) ?? 'cpu';
  if (device !== 'cpu' && device !== 'cuda') throw new UsageError('--device must be cpu or cuda');
  if (values.amp && device !== 'cuda') throw new UsageError('--amp applies to --device cuda');

  let backboneWeights: string | null = null;
  if (values['backbone-weights'] !== undefined) {
    if (values.resume) throw new UsageError('--backbone-weights applies to a new run, not to --resume');
    backboneWeights = resolve(values['backbone-weights'] as string);
    const info = await stat(backboneWeights).catch(() => null);
    if (!info?.isFile()) throw new UsageError(`--backbone-weights: ${backboneWeights} is not a file`);
  }
  let initFrom: { dir: string; job: TrainJob } | null = null;
  if (values['init-from'] !== undefined) {
    if (values.resume) throw new UsageError('--init-from applies to a new run, not to --resume');
    initFrom = await initFromArg(values['init-from'] as string);
    // A fine-tuning run keeps the model and input size of the run it starts from.
    given.model ??= initFrom.job.settings.model;
    given.inputSize ??= initFrom.job.settings.inputSize;
  }
  const resuming = values.resume ? await resumeArg(v) : null;
  if (!resuming && !values.dataset) throw new UsageError('train needs --dataset DIR (or --resume RUN_DIR)');
  const ds: Dataset | null = resuming
    ? null
    : await openDatasetArg(values.dataset as string, v.year as string);

  const json = !!values.json;
  const log = (line: string): void => void (json ? process.stderr : process.stdout).write(line + '\n');
  const printProgress = progressPrinter(progressMode, json, log);
  let firstStepAt: number | null = engine === 'torch' ? performance.now() : null;
  const phases = new Map<TorchPhase, number>();
  let launchedAfter: number | null = null;
  const session: TrainingSession = {
    get dataset(): Dataset {
      if (!ds) throw new WorkbenchError('no-dataset', 'no dataset is open');
      return ds;
    },
    emit(event, payload) {
      if (event !== 'training:progress') return;
      const p = payload as Events['training:progress'];
      if (p.kind === 'phase') {
        phases.set(p.phase, p.seconds);
        // `prepared` counts from the launch: what came before it is the command's own start-up.
        if (p.phase === 'prepared' && firstStepAt !== null)
          launchedAfter = (performance.now() - firstStepAt) / 1000 - p.seconds;
      }
      if (firstStepAt !== null && p.kind === 'step') {
        log(firstStepLine((performance.now() - firstStepAt) / 1000, launchedAfter, phases));
        firstStepAt = null;
      }
      printProgress(p);
    },
  };
  const host = start ? await start(backend) : new EngineHost(forkSpawner(engineEntry));
  // The CLI exits after a cancel: an engine stopped by one is not started again; nor is it kept while
  // PyTorch trains.
  const training = new TrainingService(session, host, {
    restartAfterKill: false,
    pythonDir,
    releaseEngineForTorch: true,
  });
  // Finding torch (a Python that imports it) overlaps the engine's start; both come before any folder
  // is made, so a missing Python or torch is said at once, in plain words.
  const torchLookup = engine === 'torch' ? training.torchStatus(values.python as string | undefined) : null;
  const takeTorch = async (): Promise<{ launch: TorchLaunch; info: TorchInfo } | null> => {
    if (!torchLookup) return null;
    const status = await torchLookup;
    try {
      const launch = training.torchLaunch({ nproc, device, amp: !!values.amp }, status);
      return status.found ? { launch, info: status.info } : null;
    } catch (err) {
      if (err instanceof WorkbenchError && err.code === 'bad-request')
        throw new UsageError(`--device ${err.message}`);
      throw err;
    }
  };
  let onSigint: (() => void) | null = null;
  try {
    const starting = host.start(
      resuming ? (await new RunFolder(resuming.dir).readConfig()).settings.backend : backend,
    );
    // A missing torch is the message even when the engine also fails to start.
    const [found] = await Promise.all([takeTorch(), starting.catch(() => undefined)]);
    const torch = found?.launch;
    const torchInfo = found?.info ?? null;
    const info = await starting;
    log(`backend ${info.name}: ${info.reason}`);
    if (info.adapter) log(`  GPU adapter: ${describeAdapter(info.adapter)}`);

    if (torch && torchInfo) {
      const gpus = torchInfo.gpus.map((g) => `${g.name} (${(g.memoryBytes / 2 ** 30).toFixed(0)} GiB)`);
      const ddp = torch.nproc > 1 ? (torch.device === 'cuda' ? ' (DDP, NCCL)' : ' (DDP, gloo)') : '';
      log(
        `engine torch ${torchInfo.torch} (${torch.python}, Python ${torchInfo.python}) on ${torch.device}` +
          (torch.device === 'cuda' ? `: ${gpus.join(', ')}` : '') +
          `, ${torch.nproc} process${torch.nproc > 1 ? 'es' : ''}${ddp}`,
      );
    }

    let job: TrainJob;
    let chose: string | null = null;
    try {
      if (resuming) {
        job = (await training.resumeAt(resuming.dir, resuming.epochs, torch)).job;
      } else {
        const proposed = settingsFor(info.name, given);
        chose = proposed.chose;
        const out = values.out ? resolve(values.out as string) : undefined;
        const settings = { ...proposed.settings, backend, backboneWeights, initFrom: initFrom?.dir ?? null };
        job = (await training.start(settings, [], out, torch)).job;
      }
    } catch (err) {
      // A run that cannot fit the backend is bad usage, as any other setting out of bounds.
      if (err instanceof WorkbenchError && err.code === 'bad-request') throw new UsageError(err.message);
      throw err;
    }
    if (job.resume) log(`resuming to ${job.settings.epochs} epochs`);
    if (job.settings.batchSize > job.trainIds.length)
      log(
        `note: batch ${job.settings.batchSize} is larger than the ${job.trainIds.length} labelled images of split ${job.settings.split}; each epoch is one step of ${job.trainIds.length}`,
      );
    for (const s of info.skipped) log(`  skipped ${s.name}: ${s.reason}`);
    if (chose) log(chose);
    log(`run ${basename(job.runDir)} → ${job.runDir}`);
    if (!job.resume && job.settings.initFrom) log(`starting from ${job.settings.initFrom}`);
    if (!job.resume && job.settings.backboneWeights)
      log(`backbone weights from ${job.settings.backboneWeights}`);

    let cancelled = false;
    onSigint = (): void => {
      if (!cancelled) {
        cancelled = true;
        log('cancelling at the next batch… (Ctrl+C again to stop at once)');
        void training.cancel(Infinity);
        return;
      }
      log('stopping the engine now; the run keeps its last checkpoint');
      void training.cancel(0);
    };
    process.on('SIGINT', onSigint);
    const end = await training.whenDone()!;
    if (end.outcome) {
      const result = end.outcome;
      if (json)
        console.log(JSON.stringify({ run: job.runDir, ...(torch ? { engine: 'torch' } : {}), ...result }));
      else
        log(
          `${result.status}: ${result.epochs} epochs, best mIoU ${result.bestMiou === null ? 'n/a' : (100 * result.bestMiou).toFixed(2) + '%'}`,
        );
      return result.status === 'cancelled' || cancelled ? EXIT_CANCELLED : 0;
    }
    if (end.status === 'cancelled') {
      log(`cancelled: the run keeps its last checkpoint in ${job.runDir}`);
      return EXIT_CANCELLED;
    }
    throw end.cause;
  } finally {
    if (onSigint) process.off('SIGINT', onSigint);
    host.kill('the command finished');
  }
}
