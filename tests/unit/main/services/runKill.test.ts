// Kills a tiny training run (unet-small at 32², a copy of voc-mini) at seeded random moments: its
// engine, the `segscope train` process, or the server process that started it. After every kill the
// run must read as interrupted (or done), never as running; each resume goes on from there, and the
// run ends done with every epoch in metrics.jsonl exactly once. Also Ctrl+C on the CLI, early
// validation failures, and run ids of runs started at once.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { rng } from '../../../../src/shared/random';
import type { EpochRecord, RunState, TrainSettings } from '../../../../src/shared/training';
import { createRunDir, listRuns, liveStatus } from '../../../../src/main/services/runs';
import { bundleForNode } from '../../../helpers/bundle';
import { copyVocMini, tempDir } from '../../../helpers/data';

const EPOCHS = 20;
const SETTINGS: Partial<TrainSettings> = {
  model: 'unet-small',
  inputSize: 32,
  batchSize: 2,
  epochs: EPOCHS,
  lr: 2e-3,
  schedule: 'constant',
  augment: { scale: false, rotate: false, flip: false, hsv: false },
  backend: 'wasm',
  split: 'train',
  valSplit: 'val',
};
const CLI_ARGS = ['--model', 'unet-small', '--input-size', '32', '--batch', '2', '--epochs', String(EPOCHS)];
const CLI_TAIL = ['--lr', '0.002', '--schedule', 'constant', '--no-augment', '--backend', 'wasm'];

let child: string;
let engine: string;
beforeAll(async () => {
  engine = await bundleForNode('src/main/engine/worker.ts');
  child = await bundleForNode('tests/helpers/trainChild.ts');
}, 120_000);

interface Started {
  proc: ChildProcess;
  exited: Promise<number | string>;
  output: () => string;
}

function start(args: string[]): Started {
  const proc = spawn(process.execPath, [child, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | string>((resolve) =>
    proc.on('exit', (code, signal) => resolve(signal ?? code ?? -1)),
  );
  return { proc, exited, output: () => output };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readState(runDir: string): RunState | null {
  try {
    return JSON.parse(readFileSync(join(runDir, 'state.json'), 'utf8')) as RunState;
  } catch {
    return null;
  }
}

/** Waits until the engine (a process other than `parent`) has taken over the run's state; its pid. */
async function enginePid(runDir: string, parent: number, within = 60_000): Promise<number> {
  const until = Date.now() + within;
  for (;;) {
    const s = readState(runDir);
    // A resumed run still shows its previous, dead engine until the new one writes.
    if (s?.status === 'running' && typeof s.pid === 'number' && s.pid !== parent && alive(s.pid))
      return s.pid;
    if (s && ['done', 'failed', 'cancelled'].includes(s.status))
      throw new Error(`the run ended as ${s.status} before the kill: ${s.error}`);
    if (Date.now() > until) throw new Error(`no engine took over ${runDir}`);
    await sleep(20);
  }
}

async function waitDead(pid: number): Promise<void> {
  for (let i = 0; i < 500 && alive(pid); i++) await sleep(20);
  expect(alive(pid), `process ${pid} still alive`).toBe(false);
}

async function statusOf(root: string, runDir: string): Promise<RunState['status']> {
  const runs = await listRuns(root);
  const run = runs.find((r) => r.dir === runDir);
  expect(run, `${runDir} is listed`).toBeDefined();
  return run!.state.status;
}

function epochsOf(runDir: string): number[] {
  let text: string;
  try {
    text = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8');
  } catch {
    return []; // killed before its first epoch ended
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as EpochRecord).epoch);
}

/** Whose process is killed: the engine, or the process that started it (the CLI or the server). */
type Who = 'engine' | 'cli' | 'server';

/**
 * Starts (or resumes) the run through `via`, kills `who` after `delay` ms of training, and returns the
 * run folder with the status it then reads as.
 */
async function killOnce(
  root: string,
  via: 'cli' | 'server',
  who: Who,
  delay: number,
  runDir: string | null,
): Promise<{ runDir: string; status: RunState['status'] }> {
  const runsRoot = join(root, '.segscope', 'runs');
  const started =
    via === 'cli'
      ? start(
          runDir
            ? ['cli', engine, '--resume', runDir]
            : [
                'cli',
                engine,
                '--dataset',
                root,
                ...CLI_ARGS,
                ...CLI_TAIL,
                '--out',
                join(runsRoot, 'cli-run'),
              ],
        )
      : start([
          'server',
          engine,
          root,
          JSON.stringify(SETTINGS),
          ...(runDir ? [runDir.split('/').pop()!] : []),
        ]);
  let dir = runDir;
  if (!dir) {
    if (via === 'cli') dir = join(runsRoot, 'cli-run');
    else {
      for (let i = 0; i < 3000 && !/run (\S+)/.test(started.output()); i++) await sleep(20);
      dir = join(runsRoot, /run (\S+)/.exec(started.output())![1]!);
    }
  }
  const pid = await enginePid(dir, started.proc.pid!);
  await sleep(delay);
  const victim = who === 'engine' ? pid : started.proc.pid!;
  try {
    process.kill(victim, 'SIGKILL');
  } catch {
    // it may have finished already
  }
  await waitDead(pid);
  if (who === 'engine' && via === 'server') {
    // The server outlives its engine; it records the run as interrupted and goes on serving.
    for (let i = 0; i < 250 && (readState(dir)?.status ?? 'running') === 'running'; i++) await sleep(20);
    started.proc.kill('SIGKILL');
  }
  await started.exited;
  return { runDir: dir, status: await statusOf(root, dir) };
}

describe('runs killed at random points', () => {
  it('read as interrupted after every kill and resume to done with no epoch repeated', async () => {
    const random = rng(4242);
    const root = copyVocMini();
    const plan: [via: 'cli' | 'server', who: Who][][] = [
      [
        ['cli', 'cli'],
        ['cli', 'engine'],
        ['server', 'server'],
        ['server', 'engine'],
      ],
      [
        ['server', 'engine'],
        ['server', 'server'],
        ['cli', 'cli'],
      ],
    ];
    const seen: string[] = [];
    for (const kills of plan) {
      let runDir: string | null = null;
      let status: RunState['status'] = 'running';
      for (const [via, who] of kills) {
        if (status === 'done') break;
        const delay = Math.floor(random() * 1200);
        ({ runDir, status } = await killOnce(root, via, who, delay, runDir));
        seen.push(`${via}/${who}@${delay}ms→${status}`);
        expect(['interrupted', 'done'], seen.join(', ')).toContain(status);
        // The epochs written so far are each there once, in order.
        const epochs = epochsOf(runDir!);
        expect(epochs, seen.join(', ')).toEqual(epochs.map((_, i) => i + 1));
      }
      if (status !== 'done') {
        const final = start(['cli', engine, '--resume', runDir!]);
        expect(await final.exited, final.output()).toBe(0);
      }
      expect(await statusOf(root, runDir!)).toBe('done');
      expect(epochsOf(runDir!)).toEqual(Array.from({ length: EPOCHS }, (_, i) => i + 1));
      const last = JSON.parse(readFileSync(join(runDir!, 'checkpoints', 'last', 'model.json'), 'utf8'));
      expect(last.userDefinedMetadata.epoch).toBe(EPOCHS);
      const state = readState(runDir!)!;
      expect(state).toMatchObject({ status: 'done', epoch: EPOCHS, pid: null });
      // No temporary file of a write that a kill cut short is left behind.
      const files = readdirSync(runDir!, { recursive: true }) as string[];
      expect(files.filter((f) => /tmp$/.test(f))).toEqual([]);
    }
    console.log(`run kills (seed 4242): ${seen.join(', ')}`);
  }, 300_000);

  it('Ctrl+C on segscope train stops at the next batch, keeps last, marks the run cancelled and exits 130', async () => {
    const root = copyVocMini();
    const runDir = join(tempDir(), 'run');
    const cli = start(['cli', engine, '--dataset', root, ...CLI_ARGS, ...CLI_TAIL, '--out', runDir]);
    const pid = await enginePid(runDir, cli.proc.pid!);
    // A terminal's Ctrl+C reaches the whole process group: the CLI and its engine.
    process.kill(pid, 'SIGINT');
    process.kill(cli.proc.pid!, 'SIGINT');
    expect(await cli.exited, cli.output()).toBe(130);
    const state = readState(runDir)!;
    expect(state.status).toBe('cancelled');
    expect(state.epoch).toBeLessThan(EPOCHS);
    expect(readFileSync(join(runDir, 'checkpoints', 'last', 'model.json'), 'utf8')).toContain('"epoch"');
    expect(cli.output()).toMatch(/cancelling at the next batch/);
  }, 120_000);

  it('ends early validation failures as failed with the error kept, never as running', async () => {
    const root = copyVocMini();
    const cases: [string[], RegExp][] = [
      [['--model', 'no-such-model'], /no-such-model/],
      [['--model', 'unet-small', '--input-size', '40'], /multiple of 16/],
    ];
    for (const [args, message] of cases) {
      const runDir = join(tempDir(), 'run');
      const cli = start(['cli', engine, '--dataset', root, ...args, '--backend', 'wasm', '--out', runDir]);
      expect(await cli.exited, cli.output()).toBe(1);
      const state = readState(runDir)!;
      expect(state.status).toBe('failed');
      expect(state.error).toMatch(message);
      expect(liveStatus(state)).toBe('failed');
    }
    // An empty split fails before any run folder is made.
    const empty = start(['cli', engine, '--dataset', root, '--model', 'unet-small', '--split', 'nope']);
    expect(await empty.exited).toBe(1);
    expect(empty.output()).toMatch(/no split "nope"/);
  }, 120_000);

  it('reads a running state as interrupted once its process is gone or silent', () => {
    const now = Date.now();
    const base: RunState = {
      status: 'running',
      epoch: 3,
      bestMiou: null,
      bestEpoch: null,
      backend: 'wasm',
      startedAt: new Date(now - 60_000).toISOString(),
      endedAt: null,
      error: null,
    };
    const beat = new Date(now - 1000).toISOString();
    expect(liveStatus({ ...base, pid: process.pid, heartbeatAt: beat }, now)).toBe('running');
    expect(liveStatus({ ...base, pid: 2 ** 22 + 12345, heartbeatAt: beat }, now)).toBe('interrupted');
    expect(
      liveStatus({ ...base, pid: process.pid, heartbeatAt: new Date(now - 31 * 60_000).toISOString() }, now),
    ).toBe('interrupted');
    // A run on another machine: only its heartbeat can tell.
    expect(liveStatus({ ...base, pid: 1, host: 'elsewhere', heartbeatAt: beat }, now)).toBe('running');
    expect(liveStatus(base, now)).toBe('interrupted'); // no owner: written before owners existed
    expect(liveStatus({ ...base, status: 'done' }, now)).toBe('done');
  });

  it('gives runs started in the same millisecond folders of their own', async () => {
    const parent = tempDir();
    const made = await Promise.all(Array.from({ length: 20 }, () => createRunDir(parent, 'unet-small')));
    expect(new Set(made.map((m) => m.dir)).size).toBe(20);
  });
});
