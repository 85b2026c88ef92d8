// Training runs of a dataset, as kept under `<dataset>/.segscope/runs/<run-id>/`: reading them for the
// panel (a run whose process is gone reads as `interrupted`), and making the folder of a new one.
// Plain Node, main process.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import {
  DEFAULT_TRAIN_SETTINGS,
  MAX_BATCH_POINTS,
  type RunState,
  type RunSummary,
  startingRunState,
} from '../../shared/training';
import { WorkbenchError } from '../../shared/errors';
import type { DerivedPlace } from '../../shared/engineProtocol';
import { writeJsonAtomic } from '../common/atomicFile';
import { assertRealInside, Confined, removeTree } from '../common/confine';
import { RUN_FILES, RunFolder, type StepsRecord } from '../common/runFolder';
import { WORKSPACE_DIR } from './workspace';

export function runsDir(root: string): string {
  return join(root, WORKSPACE_DIR, 'runs');
}

/** The runs folder of the dataset at `root`, refused when a link leads it outside the dataset. */
export async function safeRunsDir(root: string): Promise<string> {
  const dir = runsDir(root);
  await assertRealInside(root, dir);
  return dir;
}

/**
 * A new run id: the start time to the millisecond, the model and a random tag, sortable, safe as a
 * folder name. The tag keeps two runs started in the same millisecond apart.
 */
export function newRunId(model: string, now = new Date()): string {
  const time = now.toISOString().replace(/[:.]/g, '-').slice(0, 23);
  return `${time}-${model.replace(/[^A-Za-z0-9-]/g, '')}-${randomBytes(3).toString('hex')}`;
}

/** Makes the folder of a new run under `parent` with a fresh id; never reuses an existing folder. */
export async function createRunDir(parent: string, model: string): Promise<{ id: string; dir: string }> {
  await mkdir(parent, { recursive: true });
  for (;;) {
    const id = newRunId(model);
    const dir = join(parent, id);
    try {
      await mkdir(dir); // not recursive: fails when another run took this id
      return { id, dir };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** A live run refreshes its heartbeat well within this; one silent for longer is taken as dead. */
export const STALE_MS = 30 * 60_000;

/** Whether process `pid` exists on this machine. */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * The status to show for a run's state: `running` only while the process that writes it is alive
 * (and has said so within {@link STALE_MS}); otherwise `interrupted`, which can be resumed.
 */
export function liveStatus(state: RunState, now = Date.now()): RunState['status'] {
  if (state.status !== 'running') return state.status;
  const beat = Date.parse(state.heartbeatAt ?? state.startedAt);
  if (!Number.isFinite(beat) || now - beat > STALE_MS) return 'interrupted';
  if (typeof state.pid !== 'number') return 'interrupted'; // written by a version without owners
  if (state.host && state.host !== hostname()) return 'running'; // only the heartbeat can tell
  return processAlive(state.pid) ? 'running' : 'interrupted';
}

/** The owner fields of a state written by this process. */
export function ownedHere(): Pick<RunState, 'pid' | 'host' | 'heartbeatAt'> {
  return { pid: process.pid, host: hostname(), heartbeatAt: new Date().toISOString() };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** A JSON file of the workspace, or null when it is missing or unreadable. */
async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return null;
  }
}

/** The state shown for a run whose state file is missing or damaged. */
function unknownState(error: string | null): RunState {
  // The state is written before the config, so a run without one was cut short before it began.
  return {
    status: 'interrupted',
    epoch: 0,
    bestMiou: null,
    bestEpoch: null,
    backend: null,
    startedAt: '',
    endedAt: null,
    error,
  };
}

/** `reading` a run file, with a damaged one turned into a problem of the run (null instead). */
async function orProblem<T>(problems: string[], reading: Promise<T>): Promise<T | null> {
  try {
    return await reading;
  } catch (err) {
    problems.push((err as Error).message);
    return null;
  }
}

/**
 * Reads one run folder; null when it is not a run (no config). A damaged file of the run (a config,
 * state or evaluation of the wrong shape, a jsonl line that is not a record) does not hide it: the run
 * is listed with `problem` naming the file and what is wrong, and what could be read.
 */
export async function readRun(dir: string, id: string): Promise<RunSummary | null> {
  const run = new RunFolder(dir);
  // A config that is a link out of the run is refused below, and the run listed as broken with it.
  const refused = (err: unknown) => err instanceof WorkbenchError && err.code === 'outside-root';
  if (!(await run.isRun().catch(refused))) return null;
  const problems: string[] = [];
  const job = await orProblem(problems, run.readConfig());
  const state = await orProblem(problems, run.readState());
  const metrics = await orProblem(problems, run.readMetrics());
  const steps = await orProblem(problems, run.readSteps());
  const evaluation = await orProblem(problems, run.readEval());
  problems.push(...(metrics?.problems ?? []), ...(steps?.problems ?? []));
  const summary: RunSummary = {
    id,
    dir,
    settings: job?.settings ?? { ...DEFAULT_TRAIN_SETTINGS, epochs: 0 },
    state: state ? { ...state, status: liveStatus(state) } : unknownState(null),
    epochs: metrics?.records ?? [],
    hasLast: await run.hasCheckpoint('last').catch(() => false),
    hasBest: await run.hasCheckpoint('best').catch(() => false),
    evaluation,
    batchLosses: batchLosses(steps?.records ?? []),
  };
  return problems.length ? { ...summary, problem: problems.join('; ') } : summary;
}

/** The run's batch losses by global step, averaged in buckets down to at most MAX_BATCH_POINTS. */
function batchLosses(records: StepsRecord[]): { step: number; loss: number }[] {
  const points: { step: number; loss: number }[] = [];
  for (const rec of records) {
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
  const dir = await safeRunsDir(root);
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
  // Through the dataset's confinement: the file linked out of the dataset is refused, naming it.
  const path = await new Confined(root).check(join(root, WORKSPACE_DIR, ATTACHED_FILE));
  const file = await readJson<{ version: 1; runs: unknown }>(path);
  const runs = file && typeof file === 'object' ? file.runs : null;
  // Only the entries that are paths: one of another shape is not a run the user attached.
  return Object.fromEntries(
    Object.entries(runs && typeof runs === 'object' ? runs : {}).filter(
      (e): e is [string, string] => typeof e[1] === 'string' && e[1].length > 0,
    ),
  );
}

/**
 * Lists the run folder `path`, trained elsewhere, with the dataset's runs; resolves to its id. A folder
 * of the dataset's own runs resolves to its id as it is. Nothing in the run folder is changed.
 */
export async function attachRun(root: string, path: string): Promise<string> {
  const dir = resolve(path);
  const run = new RunFolder(dir);
  if (!(await run.isRun().catch(() => false)))
    throw new WorkbenchError(
      'not-found',
      `${dir}: not a Segscope run folder (it has no ${RUN_FILES.config})`,
    );
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
  // A run attached from elsewhere lives where the user keeps it; the dataset's own stay inside it.
  const attached = (await readAttached(root))[id];
  const dir = attached ?? join(await safeRunsDir(root), id);
  if (!attached) await assertRealInside(root, dir);
  if (!(await new RunFolder(dir).isRun().catch(() => false)))
    throw new WorkbenchError('not-found', `${dir}: no such run`);
  return dir;
}

/**
 * Records how a run ended when its engine could not (it was stopped or died, or it failed before it
 * wrote a state): only a state still `running` is changed.
 */
export async function markRunEnded(
  dir: string,
  status: 'cancelled' | 'failed' | 'interrupted',
  error: string | null = null,
): Promise<void> {
  const run = new RunFolder(dir);
  const state = await run.readState().catch(() => null);
  if (state && state.status !== 'running') return;
  const base: RunState = state ?? startingRunState(null);
  await run.writeState({ ...base, status, error, endedAt: new Date().toISOString(), pid: null });
}

/** Records in a run's state that main cancelled it by stopping the engine. */
export function markRunCancelled(dir: string): Promise<void> {
  return markRunEnded(dir, 'cancelled');
}

/**
 * Where the derived files (ONNX cache, exports) of run `id` of the dataset at `root` go: its own folder
 * for a run of the dataset's, `<dataset>/.segscope/attached/<id>/` for one attached from elsewhere,
 * which is only read. `dir` is the run's folder, from `runFolder`.
 */
export function derivedPlace(root: string, id: string, dir: string): DerivedPlace {
  if (resolve(dir) === resolve(runsDir(root), id)) return { dir, root: dir };
  return { dir: join(root, WORKSPACE_DIR, ATTACHED_DERIVED_DIR, id), root };
}

/** The workspace folder of attached runs' derived files. */
const ATTACHED_DERIVED_DIR = 'attached';

/** Throws `conflict` when the run in `dir` is still being trained by a live process. */
export async function assertNotRunning(dir: string): Promise<void> {
  const state = await new RunFolder(dir).readState().catch(() => null);
  if (state && liveStatus(state) === 'running') {
    throw new WorkbenchError(
      'conflict',
      `${dir}: is still being trained by process ${state.pid}; cancel it before resuming`,
    );
  }
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
    // Its derived files (ONNX cache, exports) were the dataset's, made for it: they go with it.
    await new Confined(root).remove(derivedPlace(root, id, dir).dir);
    return dir;
  }
  // Never through a link: one planted inside the run is unlinked, not followed.
  await removeTree(dir);
  return dir;
}
