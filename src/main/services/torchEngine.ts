// Runs a prepared run folder on the PyTorch engine (python/segscope_torch): finds a Python that imports
// torch, starts one worker per process with the variables torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK,
// MASTER_ADDR, MASTER_PORT), so the workers are the ones a cluster's torchrun would start, streams their
// progress, forwards a cancel, and ends the run failed with a dying worker's last lines. Main or CLI process.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { delimiter, join } from 'node:path';
import { RUN_FILES } from '../common/runLayout';
import type { TorchInfo } from '../../shared/api';
import type { EpochRecord, RunState, TrainProgress } from '../../shared/training';
import { writeJsonAtomic } from '../common/atomicFile';

/** A Python with torch, found by `findTorchPython`. */
export interface TorchPython {
  python: string;
  info: TorchInfo;
}

/** How many of a worker's last output lines a failure quotes. */
const LAST_LINES = 12;
/** The prefix of rank 0's progress lines on stdout (train.py's emit). */
const PROGRESS_PREFIX = '@segscope ';

function env(packageDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const path = process.env.PYTHONPATH ? `${packageDir}${delimiter}${process.env.PYTHONPATH}` : packageDir;
  return { ...process.env, PYTHONPATH: path, PYTHONUNBUFFERED: '1', ...extra };
}

function run(
  python: string,
  args: string[],
  packageDir: string,
): Promise<{ code: number | null; out: string; err: string; missing: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(python, args, { env: env(packageDir), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e: NodeJS.ErrnoException) =>
      resolve({ code: null, out, err: e.message, missing: e.code === 'ENOENT' }),
    );
    child.on('close', (code) => resolve({ code, out, err, missing: false }));
  });
}

/**
 * The Pythons to try, in order: `explicit` (--python) alone when given; else $SEGSCOPE_PYTHON, `python3`
 * on PATH, /usr/bin/python3 and `python`. The first python3 on PATH often has no torch (a pyenv), so each
 * is asked in turn.
 */
export function pythonCandidates(explicit?: string | null): string[] {
  if (explicit) return [explicit];
  const list = [process.env.SEGSCOPE_PYTHON, 'python3', '/usr/bin/python3', 'python'].filter(
    (p): p is string => !!p,
  );
  return [...new Set(list)];
}

/**
 * The first candidate Python that imports torch, with torch's version and devices.
 *
 * @throws Error in plain words: no Python at all, or Pythons without torch (naming each and why).
 */
export async function findTorchPython(packageDir: string, explicit?: string | null): Promise<TorchPython> {
  const tried: string[] = [];
  for (const python of pythonCandidates(explicit)) {
    const r = await run(python, ['-m', 'segscope_torch', 'info'], packageDir);
    if (r.missing) {
      tried.push(`${python}: not found`);
      continue;
    }
    if (r.code === 0) {
      try {
        return { python, info: JSON.parse(r.out.trim().split('\n').pop() ?? '') as TorchInfo };
      } catch {
        tried.push(`${python}: printed no torch report`);
        continue;
      }
    }
    const why = /No module named '?torch'?/.test(r.err)
      ? 'has no torch (install PyTorch for it: pip install torch)'
      : `fails: ${lastLines(r.err, 2).join(' | ') || `exit ${r.code}`}`;
    tried.push(`${python}: ${why}`);
  }
  const none = tried.every((t) => t.endsWith('not found'));
  throw new Error(
    (none ? 'no Python was found' : 'no Python with PyTorch was found') +
      ` (${tried.join('; ')}); install Python 3 with PyTorch, or name one with --python PATH or $SEGSCOPE_PYTHON`,
  );
}

async function readState(path: string): Promise<RunState | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as RunState;
  } catch {
    return null;
  }
}

function lastLines(text: string, n: number): string[] {
  return text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim())
    .slice(-n);
}

/** A free TCP port on this machine for the workers' rendezvous. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export interface TorchRunOptions {
  python: string;
  packageDir: string;
  runDir: string;
  /** Worker processes on this machine (one per GPU, or CPU slots). */
  nproc: number;
  device: 'cpu' | 'cuda';
  amp?: boolean;
  /** The model's input scaling, from the registry (registry.ts's ModelSpec.normalization). */
  normalization: string;
  resume: boolean;
  /** Seconds the workers wait for each other before they give up with a message naming the rendezvous. */
  rendezvousTimeoutS?: number;
  onProgress(p: TrainProgress): void;
}

export interface TorchRunOutcome {
  status: 'done' | 'stopped-early' | 'cancelled';
  epochs: number;
  bestMiou: number | null;
}

/** A PyTorch run in progress: `cancel()` asks every worker to stop at the next batch. */
export interface TorchRun {
  done: Promise<TorchRunOutcome>;
  cancel(): void;
  /** Stops every worker at once (a second Ctrl+C); the run keeps its last checkpoint. */
  kill(): void;
}

/** The worker command line: what a cluster's torchrun runs too (job export writes the same). */
export function workerArgs(
  o: Pick<TorchRunOptions, 'runDir' | 'device' | 'amp' | 'normalization' | 'resume'>,
): string[] {
  return [
    '-m',
    'segscope_torch',
    'train',
    '--run',
    o.runDir,
    '--normalization',
    o.normalization,
    '--device',
    o.device,
    ...(o.amp ? ['--amp'] : []),
    ...(o.resume ? ['--resume'] : []),
  ];
}

/** Starts the workers of a prepared run (see prepareRun in engine/train.ts). */
export async function startTorchRun(o: TorchRunOptions): Promise<TorchRun> {
  const port = await freePort();
  const threads = Math.max(1, Math.floor(availableParallelism() / o.nproc));
  const workers: { child: ChildProcess; tail: string[] }[] = [];
  let cancelling = false;
  let failure: Error | null = null;
  const metricsPath = join(o.runDir, RUN_FILES.metrics);
  // Epoch records come from the run folder, as any reader of the run sees them.
  let seenRecords = existsSync(metricsPath)
    ? (await readFile(metricsPath, 'utf8')).split('\n').filter((l) => l.trim()).length
    : 0;
  const runId = o.runDir.split(/[\\/]/).filter(Boolean).pop() ?? '';
  const pollMetrics = async (): Promise<void> => {
    const text = await readFile(metricsPath, 'utf8').catch(() => '');
    const lines = text.split('\n').filter((l) => l.trim());
    for (const line of lines.slice(seenRecords)) {
      try {
        o.onProgress({ kind: 'epoch', runId, record: JSON.parse(line) as EpochRecord });
      } catch {
        break; // a line still being written; read it next time
      }
      seenRecords++;
    }
  };
  const poll = setInterval(() => void pollMetrics(), 500);

  for (let rank = 0; rank < o.nproc; rank++) {
    const child = spawn(o.python, [...workerArgs(o), '--threads', String(threads)], {
      env: env(o.packageDir, {
        RANK: String(rank),
        LOCAL_RANK: String(rank),
        WORLD_SIZE: String(o.nproc),
        LOCAL_WORLD_SIZE: String(o.nproc),
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(port),
        OMP_NUM_THREADS: String(threads),
        SEGSCOPE_RDZV_TIMEOUT: String(o.rendezvousTimeoutS ?? 120),
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: a terminal's Ctrl+C reaches Segscope, which forwards it once, by pid.
      detached: true,
    });
    const worker = { child, tail: [] as string[] };
    const keep = (text: string): void => {
      for (const line of text.split('\n')) {
        if (!line.trim() || line.startsWith(PROGRESS_PREFIX)) continue;
        worker.tail.push(line);
        if (worker.tail.length > LAST_LINES) worker.tail.shift();
      }
    };
    let pending = '';
    child.stdout!.on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (rank === 0 && line.startsWith(PROGRESS_PREFIX)) {
          try {
            const p = JSON.parse(line.slice(PROGRESS_PREFIX.length)) as TrainProgress;
            if (p.kind === 'step' || p.kind === 'phase') o.onProgress(p);
          } catch {
            keep(line);
          }
        } else keep(line);
      }
    });
    child.stderr!.on('data', (d: Buffer) => keep(d.toString()));
    workers.push(worker);
  }

  const signalAll = (sig: NodeJS.Signals): void => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill(sig);
  };
  const exits = workers.map(
    (w, rank) =>
      new Promise<void>((resolve) => {
        w.child.on('error', (err) => {
          failure ??= new Error(`PyTorch worker ${rank} could not start (${err.message})`);
          resolve();
        });
        w.child.on('exit', (code, signal) => {
          if ((code !== 0 || signal) && !failure && !(cancelling && signal)) {
            failure = new Error(
              `PyTorch worker ${rank} of ${o.nproc} died (${signal ? `signal ${signal}` : `exit code ${code}`}); its last lines:\n` +
                w.tail.map((l) => `  ${l}`).join('\n'),
            );
            // The others would wait for it forever in their next collective.
            signalAll('SIGTERM');
            setTimeout(() => signalAll('SIGKILL'), 5000).unref();
          }
          resolve();
        });
      }),
  );

  const done = Promise.all(exits).then(async () => {
    clearInterval(poll);
    await pollMetrics();
    const statePath = join(o.runDir, RUN_FILES.state);
    const state = await readState(statePath);
    if (failure) {
      await writeJsonAtomic(statePath, {
        ...(state ?? {}),
        status: 'failed',
        error: failure.message,
        endedAt: new Date().toISOString(),
        pid: null,
        host: null,
        heartbeatAt: null,
      });
      throw failure;
    }
    if (!state || state.status === 'running' || state.status === 'failed') {
      const message = state?.error ?? 'the PyTorch workers ended without finishing the run';
      throw new Error(message);
    }
    return {
      status: state.status as TorchRunOutcome['status'],
      epochs: state.epoch,
      bestMiou: state.bestMiou,
    };
  });
  return {
    done,
    cancel: () => {
      cancelling = true;
      signalAll('SIGINT');
    },
    kill: () => {
      cancelling = true;
      signalAll('SIGKILL');
    },
  };
}
