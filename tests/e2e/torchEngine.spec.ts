// The PyTorch engine end to end, through the built CLI and Debian's python3-torch, on voc-mini:
// `train --engine torch --nproc 2` (two DDP workers on gloo, started by Segscope with torchrun's
// variables) runs to done; its run then works in Segscope's own engine (segment, Grad-CAM, ONNX export
// that onnx's checker accepts, fine-tuning from it); Ctrl+C mid-run ends `cancelled` with a `last`, and
// `--resume` ends `done` with no epoch repeated; a worker killed mid-run ends the run `failed` with that
// worker's last lines; a missing Python or torch is said in plain words.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { copyVocMini, tempDir, VOC_MINI, VOC_MINI_DEVKIT } from '../helpers/data';
import { ROOT } from './harness';

const PYTHON = process.env.SEGSCOPE_PYTHON ?? '/usr/bin/python3';
const CLI = join(ROOT, 'out/main/cli.js');
const env = { ...process.env, SEGSCOPE_PYTHON: PYTHON };
const tiny = ['--dataset', VOC_MINI_DEVKIT, '--year', '2012', '--model', 'unet-small', '--input-size', '32'];

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
const epochsOf = (run: string): number[] =>
  readFileSync(join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { epoch: number }).epoch);

/** Polls `check` until it holds (the machine is shared and busy), or fails after `ms`. */
async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The CLI started in the background, its output collected, for signals mid-run. */
function background(...args: string[]) {
  const child = spawn(process.execPath, [CLI, ...args], { env });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, out, exit };
}

describe('segscope train --engine torch', () => {
  const run = join(tempDir(), 'torch-run');
  /** The cancelled run, exported as a cluster job before it is resumed here. */
  const job = join(tempDir(), 'torch-job');

  it('trains on two DDP processes to done, and the run works in Segscope’s engine', () => {
    const r = cli(
      'train',
      ...tiny,
      '--engine',
      'torch',
      '--nproc',
      '2',
      '--batch',
      '1',
      '--epochs',
      '2',
      '--out',
      run,
    );
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^engine torch .* on cpu, 2 processes \(DDP, gloo\)$/m);
    // Where the time before the first step went, torch's own import told apart.
    expect(r.stdout).toMatch(
      /^first step after \d+\.\d s, \d+\.\d s of it beyond torch's import: starting Segscope's engine and finding torch \d+\.\d s, preparing the run \d+\.\d s, the workers' start \d+\.\d s \(torch's import \d+\.\d s, rendezvous at \d+\.\d s\), the first step itself \d+\.\d s$/m,
    );
    expect(r.stdout).toMatch(/^epoch 1: train loss \d+\.\d{4}, val loss/m);
    const state = readJson<{ status: string; epoch: number; engine: string; world: number }>(
      join(run, 'state.json'),
    );
    expect(state).toMatchObject({ status: 'done', epoch: 2, engine: 'torch', world: 2 });
    expect(epochsOf(run)).toEqual([1, 2]);
    expect(existsSync(join(run, 'checkpoints', 'best', 'weights.bin'))).toBe(true);
    expect(
      readJson<{ metrics: { per_class: unknown[] } }>(join(run, 'eval.json')).metrics.per_class,
    ).toHaveLength(21);

    const image = join(VOC_MINI, 'JPEGImages', '2007_000032.jpg');
    const out = tempDir();
    const predicted = cli('predict', '--run', run, '--input', image, '--out', out);
    expect(predicted.status, predicted.stderr).toBe(0);
    expect(existsSync(join(out, '2007_000032.png'))).toBe(true);
    // Grad-CAM of the class the run predicts most on this image (PIL reads the palette PNG as indices).
    const mostPredicted = spawnSync(
      PYTHON,
      [
        '-c',
        `import numpy, PIL.Image as I; print(numpy.bincount(numpy.asarray(I.open(${JSON.stringify(join(out, '2007_000032.png'))})).ravel()).argmax())`,
      ],
      { encoding: 'utf8' },
    ).stdout.trim();
    expect(mostPredicted).toMatch(/^\d+$/);
    const cam = cli(
      'cam',
      '--run',
      run,
      '--image',
      image,
      '--class',
      mostPredicted,
      '--out',
      join(out, 'cam.png'),
    );
    expect(cam.status, cam.stderr).toBe(0);
    expect(existsSync(join(out, 'cam.png'))).toBe(true);
    const onnx = join(out, 'model.onnx');
    const exported = cli('export', '--run', run, '--out', onnx);
    expect(exported.status, exported.stderr).toBe(0);
    const checked = spawnSync(
      PYTHON,
      ['-c', `import onnx; onnx.checker.check_model(onnx.load(${JSON.stringify(onnx)})); print('ok')`],
      {
        encoding: 'utf8',
      },
    );
    expect(checked.stdout.trim(), checked.stderr).toBe('ok');

    const tuned = join(tempDir(), 'tuned');
    const fine = cli(
      'train',
      '--dataset',
      VOC_MINI_DEVKIT,
      '--year',
      '2012',
      '--init-from',
      run,
      '--batch',
      '1',
      '--epochs',
      '1',
      '--backend',
      'wasm',
      '--out',
      tuned,
    );
    expect(fine.status, fine.stderr).toBe(0);
    expect(readJson<{ status: string }>(join(tuned, 'state.json')).status).toBe('done');
  }, 240_000);

  it('cancels on Ctrl+C with a last checkpoint, and resumes to done with no epoch repeated', async () => {
    const cancelled = join(tempDir(), 'torch-cancel');
    const bg = background(
      'train',
      ...tiny,
      '--engine',
      'torch',
      '--nproc',
      '2',
      '--batch',
      '1',
      '--epochs',
      '40',
      '--no-val',
      '--out',
      cancelled,
    );
    await until(() => existsSync(join(cancelled, 'metrics.jsonl')), 120_000, 'the first epoch');
    bg.child.kill('SIGINT');
    expect(await bg.exit, bg.out.stderr + bg.out.stdout).toBe(130);
    const state = readJson<{ status: string; epoch: number }>(join(cancelled, 'state.json'));
    expect(state.status).toBe('cancelled');
    expect(state.epoch).toBeLessThan(40);
    expect(existsSync(join(cancelled, 'checkpoints', 'last', 'model.json'))).toBe(true);
    const before = epochsOf(cancelled);
    expect(before).toEqual(before.map((_, i) => i + 1));
    const exported = cli('job', 'export', cancelled, '--out', job, '--epochs', String(state.epoch + 1));
    expect(exported.status, exported.stderr).toBe(0);

    const resumed = cli(
      'train',
      '--resume',
      cancelled,
      '--engine',
      'torch',
      '--nproc',
      '2',
      '--epochs',
      String(state.epoch + 2),
    );
    expect(resumed.status, resumed.stderr + resumed.stdout).toBe(0);
    expect(readJson<{ status: string }>(join(cancelled, 'state.json')).status).toBe('done');
    const after = epochsOf(cancelled);
    expect(after).toEqual(after.map((_, i) => i + 1));
    expect(after).toHaveLength(state.epoch + 2);
  }, 240_000);

  it('exports a cancelled run as a torchrun job whose finished run imports into a dataset', () => {
    const script = readFileSync(join(job, 'run.sh'), 'utf8');
    expect(script).toMatch(/--nnodes "\$\{NNODES:-1\}"/);
    expect(script).toMatch(/--rdzv_backend c10d --rdzv_endpoint "\$\{RDZV_ENDPOINT:-localhost:29500\}"/);
    expect(spawnSync('bash', ['-n', join(job, 'job.sbatch')]).status).toBe(0);
    expect(existsSync(join(job, 'segscope_torch', 'train.py'))).toBe(true);
    expect(existsSync(join(job, 'run', 'checkpoints', 'last', 'model.json'))).toBe(true);
    // The cluster keeps the dataset elsewhere: the path in the config must not be what the job reads.
    const configPath = join(job, 'run', 'config.json');
    const config = readJson<{ datasetRoot: string; settings: { epochs: number } }>(configPath);
    writeFileSync(configPath, JSON.stringify({ ...config, datasetRoot: '/nonexistent/on-the-cluster' }));
    // Debian's torchrun fails at launch here (its elastic agent), so this stand-in checks run.sh's flags
    // and starts the module as rank 0 of 1 with the variables torchrun sets; the workers are the real ones.
    const shim = join(tempDir(), 'torchrun');
    writeFileSync(
      shim,
      `#!/bin/sh
while [ "$1" != "-m" ]; do
  case "$1" in --nnodes|--nproc_per_node|--rdzv_backend|--rdzv_endpoint|--rdzv_id) shift 2;; *) echo "torchrun stand-in: unexpected $1" >&2; exit 9;; esac
done
RANK=0 LOCAL_RANK=0 WORLD_SIZE=1 LOCAL_WORLD_SIZE=1 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500 exec "$PYTHON" "$@"
`,
    );
    chmodSync(shim, 0o755);
    const ran = spawnSync('bash', [join(job, 'run.sh'), VOC_MINI], {
      encoding: 'utf8',
      env: { ...env, TORCHRUN: shim, PYTHON, DEVICE: 'cpu', OMP_NUM_THREADS: '1' },
    });
    expect(ran.status, ran.stderr).toBe(0);
    const state = readJson<{ status: string; epoch: number }>(join(job, 'run', 'state.json'));
    expect(state).toMatchObject({ status: 'done', epoch: config.settings.epochs });
    expect(epochsOf(join(job, 'run'))).toEqual(
      Array.from({ length: config.settings.epochs }, (_, i) => i + 1),
    );

    const dataset = copyVocMini();
    const imported = cli('job', 'import', job, '--dataset', dataset);
    expect(imported.status, imported.stderr).toBe(0);
    const dir = /as (\S+)$/m.exec(imported.stdout)?.[1] ?? '';
    expect(dir.startsWith(join(dataset, '.segscope', 'runs'))).toBe(true);
    expect(readJson<{ datasetRoot: string }>(join(dir, 'config.json')).datasetRoot).toBe(dataset);
    expect(readJson<{ status: string }>(join(dir, 'state.json')).status).toBe('done');
    // A finished run is not a job to export again.
    const again = cli('job', 'export', run, '--out', join(tempDir(), 'again'));
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/is done; export a new or cancelled run/);
  }, 120_000);

  it('ends the run failed with the last lines of a worker that dies', async () => {
    const dying = join(tempDir(), 'torch-die');
    const bg = background(
      'train',
      ...tiny,
      '--engine',
      'torch',
      '--nproc',
      '2',
      '--batch',
      '1',
      '--epochs',
      '40',
      '--no-val',
      '--out',
      dying,
    );
    let pid = 0;
    await until(
      () => {
        const s = existsSync(join(dying, 'state.json'))
          ? (JSON.parse(readFileSync(join(dying, 'state.json'), 'utf8')) as { engine?: string; pid?: number })
          : {};
        pid = s.engine === 'torch' && s.pid ? s.pid : 0;
        return pid > 0;
      },
      120_000,
      'the workers to start',
    );
    process.kill(pid, 'SIGKILL'); // rank 0, the pid its state names
    expect(await bg.exit).toBe(1);
    expect(bg.out.stderr).toMatch(/PyTorch worker 0 of 2 died \(signal SIGKILL\); its last lines:/);
    const state = readJson<{ status: string; error: string }>(join(dying, 'state.json'));
    expect(state.status).toBe('failed');
    expect(state.error).toMatch(/worker 0 of 2 died/);
  }, 240_000);

  it('says in plain words when there is no Python, or no torch', () => {
    const none = cli(
      'train',
      ...tiny,
      '--engine',
      'torch',
      '--python',
      '/nonexistent/python3',
      '--out',
      join(tempDir(), 'x'),
    );
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/no Python was found \(\/nonexistent\/python3: not found\)/);
    const fake = join(tempDir(), 'python-without-torch');
    writeFileSync(fake, `#!/bin/sh\necho "ModuleNotFoundError: No module named 'torch'" >&2\nexit 1\n`);
    chmodSync(fake, 0o755);
    const target = join(tempDir(), 'y');
    const noTorch = cli('train', ...tiny, '--engine', 'torch', '--python', fake, '--out', target);
    expect(noTorch.status).toBe(1);
    expect(noTorch.stderr).toMatch(/no Python with PyTorch was found \(.*has no torch/);
    expect(existsSync(target)).toBe(false);
    const cuda = cli(
      'train',
      ...tiny,
      '--engine',
      'torch',
      '--device',
      'cuda',
      '--out',
      join(tempDir(), 'z'),
    );
    expect(cuda.status).toBe(2);
    expect(cuda.stderr).toMatch(/--device cuda: torch .* has no CUDA device/);
  });
});
