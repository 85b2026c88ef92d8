// What the commands that use a trained run share: reading its config and starting an engine. CLI process.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { CheckpointName } from '../../shared/engineProtocol';
import { BACKEND_PREFERENCES, type BackendPreference, type TrainJob } from '../../shared/training';
import { EngineHost, forkSpawner } from '../services/engineHost';
import { UsageError } from './args';
import { engineEntry } from './paths';

export async function readRunConfig(runDir: string | undefined): Promise<{ dir: string; job: TrainJob }> {
  if (!runDir) throw new UsageError('name a run with --run RUN_DIR');
  const dir = resolve(runDir);
  try {
    return { dir, job: JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as TrainJob };
  } catch {
    throw new UsageError(`${dir}: not a Segscope run (no readable config.json)`);
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
