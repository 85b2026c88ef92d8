// What the commands that use a trained run share: reading its config and starting an engine. CLI process.
import { resolve } from 'node:path';
import { RunFolder } from '../common/runFolder';
import type { CheckpointName } from '../../shared/engineProtocol';
import { BACKEND_PREFERENCES, type BackendPreference, type TrainJob } from '../../shared/training';
import { EngineHost, forkSpawner } from '../services/engineHost';
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
