// The built CLI as a script runs it, with stdout and stderr piped (not a terminal): progress lines and
// `--progress json`, `train --resume RUN --epochs N` extending a run, `predict` falling back from
// `best` to `last` for a run trained without validation, saying so, and `train --backend webgpu` on the
// software adapter through the built engine bundle (the file Electron's utilityProcess also runs).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir, VOC_MINI, VOC_MINI_DEVKIT } from '../helpers/data';
import { ROOT } from './harness';

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return cliWith(process.env, ...args);
}

function cliWith(
  env: NodeJS.ProcessEnv,
  ...args: string[]
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'out/main/cli.js'), ...args], { encoding: 'utf8', env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('segscope CLI, not on a terminal', () => {
  const run = join(tempDir(), 'run');
  const tinyRun = ['--model', 'unet-small', '--input-size', '32', '--batch', '1', '--no-val'];
  const tiny = [...tinyRun, '--backend', 'wasm'];

  it('prints a progress line every 10 steps, and extends a run with --resume --epochs', () => {
    const first = cli(
      'train',
      '--dataset',
      VOC_MINI_DEVKIT,
      '--year',
      '2012',
      ...tiny,
      '--epochs',
      '4',
      '--out',
      run,
    );
    expect(first.status, first.stderr).toBe(0);
    // 3 training images at batch 1 for 4 epochs: 12 steps, so at least one line before the end.
    expect(first.stdout).toMatch(/^epoch \d\/4 step \d\/3 loss \d+\.\d{4}/m);
    expect(readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(4);

    const more = cli('train', '--resume', run, '--epochs', '6', '--progress', 'json');
    expect(more.status, more.stderr).toBe(0);
    expect(more.stdout).toContain('resuming to 6 epochs');
    const events = more.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { kind: string; epoch?: number; record?: { epoch: number } });
    expect(events.filter((e) => e.kind === 'epoch').map((e) => e.record!.epoch)).toEqual([5, 6]);
    expect(events.some((e) => e.kind === 'step')).toBe(true);
    expect(readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(6);
  });

  it('predicts with last when a run has no best, and says so', () => {
    const out = tempDir();
    const r = cli(
      'predict',
      '--run',
      run,
      '--input',
      join(VOC_MINI, 'JPEGImages', '2007_000032.jpg'),
      '--out',
      out,
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${run}: has no best checkpoint (it trained without validation); using last`);
    expect(r.stderr).toContain('segmented 1/1');
    expect(readdirSync(out)).toEqual(['2007_000032.png']);
    const best = cli('predict', '--run', run, '--input', out, '--out', out, '--checkpoint', 'best');
    expect(best.status).toBe(2);
    expect(best.stderr).toContain('has no best checkpoint; use --checkpoint last');
  });

  it('trains with --backend webgpu on the software adapter, through the built engine', () => {
    const gpuRun = join(tempDir(), 'gpu-run');
    const r = cliWith(
      { ...process.env, SEGSCOPE_WEBGPU_ADAPTER: 'software' },
      'train',
      '--dataset',
      VOC_MINI_DEVKIT,
      '--year',
      '2012',
      ...tinyRun,
      '--backend',
      'webgpu',
      '--epochs',
      '2',
      '--out',
      gpuRun,
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^backend webgpu: WebGPU through Dawn on a software adapter, llvmpipe/m);
    expect(r.stdout).toMatch(/^ {2}GPU adapter: llvmpipe.*software\)$/m);
    const records = readFileSync(join(gpuRun, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { epoch: number; trainLoss: number });
    expect(records.map((x) => x.epoch)).toEqual([1, 2]);
    for (const x of records) expect(Number.isFinite(x.trainLoss) && x.trainLoss > 0).toBe(true);
    const state = JSON.parse(readFileSync(join(gpuRun, 'state.json'), 'utf8')) as { status: string };
    expect(state.status).toBe('done');
  }, 120_000);
});

describe('segscope CLI starts lazily', () => {
  /** The modules `args` resolved, as the import log recorded them. */
  function loaded(...args: string[]): string[] {
    const log = join(tempDir(), 'imports.log');
    const r = spawnSync(
      process.execPath,
      ['--import', join(ROOT, 'tests/helpers/importLog.mjs'), join(ROOT, 'out/main/cli.js'), ...args],
      { encoding: 'utf8', env: { ...process.env, SEGSCOPE_IMPORT_LOG: log } },
    );
    expect(r.status, r.stderr).toBeLessThanOrEqual(1);
    return readFileSync(log, 'utf8').trim().split('\n');
  }
  const heavy = /@tensorflow|\/webgpu\/|onnxruntime|\/out\/main\/engine\.js|\/ws\//;
  const native = /\/sharp\//;
  // Commands that read a dataset parse its workspace files through schemas, so zod is theirs to load;
  // the help and the model list read no file and load not even that.
  const schemas = /\/zod\//;

  it('loads no tfjs, engine, server or native binding for --help, models and info', () => {
    for (const args of [['--help'], ['models'], ['info', VOC_MINI_DEVKIT], ['check', '--help']]) {
      const mods = loaded(...args);
      const readsFiles = args[0] === 'info';
      expect(mods.length).toBeGreaterThan(0);
      expect({
        args,
        heavy: mods.filter((m) => heavy.test(m) || native.test(m) || (!readsFiles && schemas.test(m))),
      }).toEqual({ args, heavy: [] });
    }
  });

  it('loads no tfjs or engine for check', () => {
    const mods = loaded('check', VOC_MINI_DEVKIT);
    expect(mods.filter((m) => heavy.test(m))).toEqual([]);
  });
});

describe('segscope CLI starts quietly', () => {
  it("sends the GPU binding's start-up messages to the log that doctor names", () => {
    const logs = tempDir();
    const { XDG_RUNTIME_DIR: _unset, ...env } = process.env;
    const r = cliWith({ ...env, SEGSCOPE_LOG_DIR: logs }, 'doctor');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/XDG_RUNTIME_DIR|Warning: /);
    expect(r.stdout).toContain(join(logs, 'engine.log'));
    expect(readFileSync(join(logs, 'engine.log'), 'utf8')).toContain('XDG_RUNTIME_DIR');
  });
});
