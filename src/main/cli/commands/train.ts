// `segscope train`: trains in a forked engine process on a dataset, printing progress, and writes the
// run folder (DESIGN.md). Ctrl+C cancels at the next batch and keeps the last checkpoint. CLI process.
import { mkdir, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  DEFAULT_TRAIN_SETTINGS,
  describeAdapter,
  type TrainJob,
  type TrainSettings,
} from '../../../shared/training';
import { EngineHost, forkSpawner } from '../../services/engineHost';
import { newRunId, runsDir } from '../../services/runs';
import { TrainingService } from '../../services/training';
import { WorkbenchSession } from '../../services/session';
import { intOption, usage, UsageError } from '../args';
import { openDatasetArg } from '../openDataset';
import { backendOption } from '../runArgs';
import { engineEntry } from '../paths';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

function numberOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number`);
  return n;
}

export async function trainCommand(argv: string[]): Promise<number> {
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
        json: { type: 'boolean' },
      },
    }),
  );
  const backend = backendOption(values.backend);
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

  const session = new WorkbenchSession();
  const host = new EngineHost(forkSpawner(engineEntry));
  const training = new TrainingService(session, host);
  let job: TrainJob;
  if (values.resume) {
    const dir = resolve(values.resume);
    job = {
      ...(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as TrainJob),
      runDir: dir,
      resume: true,
    };
  } else {
    if (!values.dataset) throw new UsageError('train needs --dataset DIR (or --resume RUN_DIR)');
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
    };
    const runDir = values.out ? resolve(values.out) : join(runsDir(ds.root), newRunId(settings.model));
    await mkdir(dirname(runDir), { recursive: true });
    job = training.makeJob(ds, settings, runDir, false);
  }
  await mkdir(job.runDir, { recursive: true });

  const info = await host.start(job.settings.backend);
  const log = (line: string): void => void (values.json ? process.stderr : process.stdout).write(line + '\n');
  log(`backend ${info.name}: ${info.reason}`);
  if (info.adapter) log(`  GPU adapter: ${describeAdapter(info.adapter)}`);
  for (const s of info.skipped) log(`  skipped ${s.name}: ${s.reason}`);
  log(`run ${basename(job.runDir)} → ${job.runDir}`);
  if (!job.resume && job.settings.backboneWeights)
    log(`backbone weights from ${job.settings.backboneWeights}`);
  let cancelled = false;
  process.once('SIGINT', () => {
    cancelled = true;
    log('cancelling at the next batch…');
    void host.request({ type: 'cancel' });
  });
  try {
    const result = await host.request({ type: 'train', job }, (p) => {
      if (p.kind === 'step') {
        if (process.stdout.isTTY && !values.json) {
          process.stdout.write(
            `\repoch ${p.epoch}/${p.epochs} step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)} lr ${p.lr.toExponential(2)} ${p.imagesPerSec.toFixed(1)} img/s eta ${Math.round(p.etaSec)} s   `,
          );
        }
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
    return result.status === 'cancelled' || cancelled ? 1 : 0;
  } finally {
    host.kill('the command finished');
  }
}
