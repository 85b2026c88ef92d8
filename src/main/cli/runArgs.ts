// What the commands that use a trained run share: reading its config and starting an engine. CLI process.
import { readdir, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { RunFolder } from '../common/runFolder';
import type { CheckpointName } from '../../shared/engineProtocol';
import { BACKEND_PREFERENCES, type BackendPreference, type TrainJob } from '../../shared/training';
import { EngineHost, forkSpawner } from '../services/engineHost';
import { IMAGE_EXTENSIONS } from '../services/vocFolder';
import { UsageError } from './args';
import { engineEntry } from './paths';

/** The run that `--run RUN_DIR` names and its job; one that cannot be read is a usage error saying why. */
export async function runFromArgs(runDir: string | undefined): Promise<{ dir: string; job: TrainJob }> {
  if (!runDir) throw new UsageError('name a run with --run RUN_DIR');
  const dir = resolve(runDir);
  try {
    return { dir, job: await new RunFolder(dir).readConfig() };
  } catch (err) {
    throw new UsageError(`${dir}: not a Segscope run (${(err as Error).message})`);
  }
}

export function checkpointOption(value: string | undefined): CheckpointName {
  if (value === undefined) return 'best';
  if (value !== 'best' && value !== 'last') throw new UsageError('--checkpoint must be best or last');
  return value;
}

const BACKENDS: readonly string[] = BACKEND_PREFERENCES;

export function backendOption(value: string | undefined): BackendPreference {
  const backend = value ?? 'auto';
  if (!BACKENDS.includes(backend)) throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}`);
  return backend as BackendPreference;
}

/** A forked engine on the chosen backend; the caller kills it when done. */
export async function startEngine(backend: BackendPreference): Promise<EngineHost> {
  const host = new EngineHost(forkSpawner(engineEntry));
  await host.start(backend);
  return host;
}

function hasCheckpoint(dir: string, name: CheckpointName): Promise<boolean> {
  return new RunFolder(dir).hasCheckpoint(name).catch(() => false);
}

/**
 * The checkpoint a command uses: `--checkpoint` as given, or `best`, falling back to `last` (and saying
 * so on stderr) for a run that has no best, one trained without validation.
 */
export async function resolveCheckpoint(dir: string, value: string | undefined): Promise<CheckpointName> {
  const asked = checkpointOption(value);
  if (await hasCheckpoint(dir, asked)) return asked;
  if (value === undefined && (await hasCheckpoint(dir, 'last'))) {
    console.error(`${dir}: has no best checkpoint (it trained without validation); using last`);
    return 'last';
  }
  const other: CheckpointName = asked === 'best' ? 'last' : 'best';
  if (await hasCheckpoint(dir, other))
    throw new UsageError(`${dir}: has no ${asked} checkpoint; use --checkpoint ${other}`);
  throw new UsageError(`${dir}: has no checkpoint yet (the run never saved one)`);
}

/**
 * Reports `done` of `total` items on stderr: in place on a terminal, and otherwise a line every
 * `every` items and at the end, so that a log or a pipe shows progress too.
 */
export function itemProgress(verb: string, done: number, total: number, every = 10): void {
  if (process.stderr.isTTY) process.stderr.write(`\r${verb} ${done}/${total}${done === total ? '\n' : ''}`);
  else if (done % every === 0 || done === total) process.stderr.write(`${verb} ${done}/${total}\n`);
}

/** The image files `--input` names: one file, or the jpg, jpeg and png files of a folder, sorted. */
export async function inputFiles(input: string): Promise<string[]> {
  const path = resolve(input);
  const info = await stat(path).catch(() => null);
  if (!info) throw new UsageError(`--input ${path}: no such file or folder`);
  if (info.isFile()) return [path];
  const names = (await readdir(path)).filter((n) =>
    (IMAGE_EXTENSIONS as readonly string[]).includes(extname(n).toLowerCase()),
  );
  if (names.length === 0) throw new UsageError(`--input ${path}: holds no jpg, jpeg or png images`);
  return names.sort().map((n) => join(path, n));
}

/** The flags of the commands that apply a run's checkpoint to images (predict, draft). */
export const IMAGE_RUN_OPTIONS = {
  run: { type: 'string' },
  input: { type: 'string' },
  out: { type: 'string' },
  checkpoint: { type: 'string' },
  backend: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** What those flags name, checked: the run and its job, the checkpoint, the images and the output folder. */
export async function imageRunArgs(
  command: string,
  values: { run?: string; input?: string; out?: string; checkpoint?: string },
): Promise<{ dir: string; job: TrainJob; checkpoint: CheckpointName; files: string[]; outDir: string }> {
  if (!values.input) throw new UsageError(`${command} needs --input IMG|DIR`);
  if (!values.out) throw new UsageError(`${command} needs --out DIR`);
  const { dir, job } = await runFromArgs(values.run);
  const checkpoint = await resolveCheckpoint(dir, values.checkpoint);
  const files = await inputFiles(values.input);
  return { dir, job, checkpoint, files, outDir: resolve(values.out) };
}
