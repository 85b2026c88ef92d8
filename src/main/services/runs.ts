// Training runs of a dataset, as kept under `<dataset>/.segscope/runs/<run-id>/`: reading them for the
// panel and making the folder of a new one. Plain Node, main process.
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import {
  MAX_BATCH_POINTS,
  type EpochRecord,
  type RunEvaluation,
  type RunState,
  type RunSummary,
  type TrainJob,
} from '../../shared/training';
import { WorkbenchError } from '../../shared/errors';
import { writeJsonAtomic } from './atomicFile';
import { WORKSPACE_DIR } from './workspace';

export function runsDir(root: string): string {
  return join(root, WORKSPACE_DIR, 'runs');
}

/** A new run id: the start time and the model, sortable, safe as a folder name. */
export function newRunId(model: string, now = new Date()): string {
  return `${now.toISOString().replace(/[:.]/g, '-').slice(0, 19)}-${model.replace(/[^A-Za-z0-9-]/g, '')}`;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** A JSON file of a run, or null when it is missing or unreadable (a run written by an older engine). */
async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return null;
  }
}

/** Reads one run folder; null when it is not a run (no config.json). */
export async function readRun(dir: string, id: string): Promise<RunSummary | null> {
  let job: TrainJob;
  try {
    job = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as TrainJob;
  } catch {
    return null;
  }
  const state = await readJson<RunState>(join(dir, 'state.json'));
  const lines = await readFile(join(dir, 'metrics.jsonl'), 'utf8').catch(() => '');
  const epochs = lines
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as EpochRecord];
      } catch {
        return []; // a line cut short by a crash
      }
    });
  return {
    id,
    dir,
    settings: job.settings,
    // A run whose engine has not written its state yet is starting.
    state: state ?? {
      status: 'running',
      epoch: 0,
      bestMiou: null,
      bestEpoch: null,
      backend: null,
      startedAt: '',
      endedAt: null,
      error: null,
    },
    epochs,
    hasLast: await exists(join(dir, 'checkpoints', 'last', 'model.json')),
    hasBest: await exists(join(dir, 'checkpoints', 'best', 'model.json')),
    evaluation: await readJson<RunEvaluation>(join(dir, 'eval.json')),
    batchLosses: await readBatchLosses(dir),
  };
}

/** The run's batch losses by global step, averaged in buckets down to at most MAX_BATCH_POINTS. */
async function readBatchLosses(dir: string): Promise<{ step: number; loss: number }[]> {
  const text = await readFile(join(dir, 'steps.jsonl'), 'utf8').catch(() => '');
  const points: { step: number; loss: number }[] = [];
  for (const line of text.split('\n')) {
    let rec: { epoch: number; steps: number; losses: number[] };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      continue; // blank, or cut short by a crash
    }
    // A resumed run may repeat an epoch; the later record wins.
    const first = (rec.epoch - 1) * rec.steps;
    while (points.length && points.at(-1)!.step > first) points.pop();
    rec.losses.forEach((loss, i) => points.push({ step: first + i + 1, loss }));
  }
  if (points.length <= MAX_BATCH_POINTS) return points;
  const size = Math.ceil(points.length / MAX_BATCH_POINTS);
  const out: { step: number; loss: number }[] = [];
  for (let i = 0; i < points.length; i += size) {
    const bucket = points.slice(i, i + size);
    out.push({ step: bucket.at(-1)!.step, loss: bucket.reduce((a, p) => a + p.loss, 0) / bucket.length });
  }
  return out;
}

/** Every run of the dataset at `root`, its own and those attached from elsewhere, newest first. */
export async function listRuns(root: string): Promise<RunSummary[]> {
  const dir = runsDir(root);
  const names = await readdir(dir).catch(() => [] as string[]);
  const attached = Object.entries(await readAttached(root));
  const runs = await Promise.all([
    ...names.map((name) => readRun(join(dir, name), name)),
    ...attached.map(([id, path]) => readRun(path, id)),
  ]);
  return runs.filter((r): r is RunSummary => r !== null).sort((a, b) => (a.id < b.id ? 1 : -1));
}

/**
 * Run folders trained elsewhere (`segscope train --out …`) that the user opened with this dataset, by
 * id: `<dataset>/.segscope/attached-runs.json`. Only folders the user chose are listed here.
 */
const ATTACHED_FILE = 'attached-runs.json';

async function readAttached(root: string): Promise<Record<string, string>> {
  const file = await readJson<{ version: 1; runs: Record<string, string> }>(
    join(root, WORKSPACE_DIR, ATTACHED_FILE),
  );
  return file?.runs ?? {};
}

/**
 * Lists the run folder `path`, trained elsewhere, with the dataset's runs; resolves to its id. A folder
 * of the dataset's own runs resolves to its id as it is. Nothing in the run folder is changed.
 */
export async function attachRun(root: string, path: string): Promise<string> {
  const dir = resolve(path);
  if (!(await exists(join(dir, 'config.json'))))
    throw new WorkbenchError('not-found', `${dir}: not a Segscope run folder (it has no config.json)`);
  const own = relative(runsDir(root), dir);
  if (own && !own.startsWith('..') && !own.includes('/') && !own.includes('\\')) return own;
  const runs = await readAttached(root);
  const known = Object.entries(runs).find(([, p]) => p === dir);
  if (known) return known[0];
  const base =
    basename(dir)
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .replace(/^\.+/, '') || 'run';
  let id = base;
  for (let n = 2; runs[id] || (await exists(join(runsDir(root), id))); n++) id = `${base}-${n}`;
  await writeJsonAtomic(join(root, WORKSPACE_DIR, ATTACHED_FILE), {
    version: 1,
    runs: { ...runs, [id]: dir },
  });
  return id;
}

/** The folder of run `id` of the dataset; throws when there is no such run. */
export async function runFolder(root: string, id: string): Promise<string> {
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(id) || id.startsWith('.')) {
    throw new WorkbenchError('bad-request', `${JSON.stringify(id)}: not a run id`);
  }
  const attached = (await readAttached(root))[id];
  const dir = attached ?? join(runsDir(root), id);
  if (!(await exists(join(dir, 'config.json')))) throw new WorkbenchError('not-found', `${dir}: no such run`);
  return dir;
}

/** Records in a run's state that main cancelled it by stopping the engine. */
export async function markRunCancelled(dir: string): Promise<void> {
  const path = join(dir, 'state.json');
  const state = JSON.parse(await readFile(path, 'utf8')) as RunState;
  if (state.status !== 'running') return;
  await writeJsonAtomic(path, { ...state, status: 'cancelled', endedAt: new Date().toISOString() });
}

export async function makeRunDir(root: string, id: string): Promise<string> {
  const dir = join(runsDir(root), id);
  await mkdir(dir, { recursive: true });
  return dir;
}

/**
 * Deletes run `id` of the dataset (its whole folder); resolves to the folder. A run attached from
 * elsewhere is only taken off the list: its folder is not the dataset's to delete.
 */
export async function deleteRun(root: string, id: string): Promise<string> {
  const dir = await runFolder(root, id);
  const runs = await readAttached(root);
  if (runs[id]) {
    delete runs[id];
    await writeJsonAtomic(join(root, WORKSPACE_DIR, ATTACHED_FILE), { version: 1, runs });
    return dir;
  }
  await rm(dir, { recursive: true, force: true });
  return dir;
}
