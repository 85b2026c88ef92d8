// A PyTorch run as a self-contained cluster job, and the finished job brought back: `exportTorchJob`
// writes the package, the run folder (config, state, initial weights in checkpoints/last), a run.sh for
// torchrun (--nnodes, c10d --rdzv_endpoint) and a Slurm example; `importTorchJob` checks the trained run
// and copies it into a dataset's runs. Both build in a temporary sibling and rename, so a failure leaves
// nothing behind. Main or CLI process.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { RunState, TrainJob } from '../../shared/training';
import { RUN_FILES, RunFolder } from '../common/runFolder';
import { assertNotRunning, createRunDir, safeRunsDir } from './runs';
import { workerArgs } from './torchEngine';

/** Where an exported job keeps the run folder, next to the package and run.sh. */
export const JOB_RUN_DIR = 'run';

/** The run's state (services read run files through RunFolder, their one owner). */
async function readState(folder: RunFolder): Promise<RunState & { normalization?: string }> {
  const state = await folder.readState();
  if (!state) throw new Error(`${folder.statePath}: the run has no state`);
  return state as RunState & { normalization?: string };
}

/** The `last` checkpoint is whole: model.json parses and each weights file has its manifest's bytes. */
async function checkCheckpoint(dir: string): Promise<void> {
  const path = join(dir, 'model.json');
  let model: { weightsManifest?: { paths: string[]; weights: { shape: number[]; dtype?: string }[] }[] };
  try {
    model = JSON.parse(await readFile(path, 'utf8')) as typeof model;
  } catch (err) {
    throw new Error(`${path}: the run has no readable last checkpoint (${(err as Error).message})`, {
      cause: err,
    });
  }
  for (const group of model.weightsManifest ?? []) {
    const want = group.weights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1) * 4, 0);
    let have = 0;
    for (const p of group.paths) have += (await stat(join(dir, p)).catch(() => ({ size: 0 }))).size;
    if (have !== want)
      throw new Error(`${dir}: its weights files hold ${have} bytes, but model.json lists ${want}`);
  }
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function runScript(job: TrainJob, normalization: string, resume: boolean, nproc: number): string {
  // The same worker command Segscope's own launcher starts, with the run and dataset made parameters.
  const args = workerArgs({ runDir: '@RUN@', device: 'cpu', normalization, resume }).map((a) =>
    a === '@RUN@' ? '"$HERE/run"' : a === 'cpu' ? '"$DEVICE"' : shellQuote(a),
  );
  return `#!/usr/bin/env bash
# Segscope job: ${job.settings.model} on ${job.classNames.length} classes, ${job.settings.epochs} epochs, trained by
# PyTorch DDP under torchrun. Run it once on every node; the run folder (./run) must be on storage rank 0 can
# write. Segscope brings the finished run back with: segscope job import THIS_FOLDER --dataset DATASET
#
# usage: ./run.sh DATASET_DIR      (the dataset folder on this machine: JPEGImages/, ${job.labelDir}/ ...)
# environment (defaults in brackets):
#   NNODES [1]  NPROC_PER_NODE [${nproc}]  RDZV_ENDPOINT [localhost:29500]  RDZV_ID [segscope]
#   DEVICE [cuda]  PYTHON [python3]  TORCHRUN [torchrun]
set -euo pipefail
HERE="$(cd "$(dirname "\${BASH_SOURCE[0]}")" && pwd)"
DATASET="\${1:?usage: run.sh DATASET_DIR}"
DEVICE="\${DEVICE:-cuda}"
export PYTHONPATH="$HERE\${PYTHONPATH:+:$PYTHONPATH}"
exec \${TORCHRUN:-torchrun} --nnodes "\${NNODES:-1}" --nproc_per_node "\${NPROC_PER_NODE:-${nproc}}" \\
  --rdzv_backend c10d --rdzv_endpoint "\${RDZV_ENDPOINT:-localhost:29500}" --rdzv_id "\${RDZV_ID:-segscope}" \\
  ${args.join(' ')} --dataset "$DATASET"
`;
}

function sbatchScript(job: TrainJob): string {
  return `#!/bin/bash
# A Slurm example for this job (edit the resources for your cluster): one run.sh per node, torchrun starts
# one worker per GPU, and the first node hosts the c10d rendezvous.
#   sbatch job.sbatch /path/to/dataset
#SBATCH --job-name=segscope-${job.settings.model}
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=16
#SBATCH --time=24:00:00
set -euo pipefail
DATASET="\${1:?usage: sbatch job.sbatch DATASET_DIR}"
HEAD_NODE="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n1)"
srun env NNODES="$SLURM_NNODES" NPROC_PER_NODE="\${SLURM_GPUS_PER_NODE:-4}" \\
  RDZV_ENDPOINT="$HEAD_NODE:29500" RDZV_ID="$SLURM_JOB_ID" DEVICE=cuda \\
  "$SLURM_SUBMIT_DIR/run.sh" "$DATASET"
`;
}

async function inSibling<T>(target: string, build: (tmp: string) => Promise<T>): Promise<T> {
  const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(3).toString('hex')}.partial`);
  await mkdir(tmp, { recursive: true });
  try {
    const out = await build(tmp);
    await rename(tmp, target);
    return out;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Writes run `runPath` (a run folder, or its config.json) as a cluster job in `out`, which must not exist
 * or be empty. The run's `last` checkpoint is the job's initial weights; a run past epoch 0 resumes.
 */
export async function exportTorchJob(
  runPath: string,
  out: string,
  packageDir: string,
  o: { nproc?: number; epochs?: number } = {},
): Promise<{ out: string; resume: boolean }> {
  const run = resolve(runPath.endsWith(RUN_FILES.config) ? dirname(runPath) : runPath);
  const folder = new RunFolder(run);
  const job = await folder.readConfig();
  await assertNotRunning(run);
  const state = await readState(folder);
  if (state.status === 'done' || state.status === 'stopped-early')
    throw new Error(
      `${run}: is ${state.status}; export a new or cancelled run (train --init-from it for more)`,
    );
  const normalization = state.normalization;
  if (normalization !== 'zero-one' && normalization !== 'imagenet-caffe')
    throw new Error(
      `${folder.statePath}: does not record the input scaling the PyTorch engine needs ` +
        '(start the run with train --engine torch)',
    );
  await checkCheckpoint(folder.checkpointDir('last'));
  const target = resolve(out);
  if (existsSync(target) && (await readdir(target)).length)
    throw new Error(`${target}: already exists and is not empty`);
  if (existsSync(target)) await rm(target, { recursive: true });
  await mkdir(dirname(target), { recursive: true });
  const resume = (state.epoch ?? 0) > 0;
  const epochs = o.epochs ?? job.settings.epochs;
  if (epochs <= (state.epoch ?? 0))
    throw new Error(`${run}: has trained ${state.epoch} epochs already; give --epochs more than that`);
  await inSibling(target, async (tmp) => {
    await cp(join(packageDir, 'segscope_torch'), join(tmp, 'segscope_torch'), {
      recursive: true,
      filter: (src) => !src.includes('__pycache__'),
    });
    await cp(run, join(tmp, JOB_RUN_DIR), { recursive: true });
    if (epochs !== job.settings.epochs)
      await new RunFolder(join(tmp, JOB_RUN_DIR)).writeConfig({
        ...job,
        settings: { ...job.settings, epochs },
      });
    await writeFile(
      join(tmp, 'run.sh'),
      runScript({ ...job, settings: { ...job.settings, epochs } }, normalization, resume, o.nproc ?? 1),
    );
    await chmod(join(tmp, 'run.sh'), 0o755);
    await writeFile(join(tmp, 'job.sbatch'), sbatchScript(job));
  });
  return { out: target, resume };
}

/**
 * Checks the run a job trained (its state ended, its epochs 1..N once each, its last checkpoint whole,
 * its classes the dataset's) and copies it into the dataset's runs; resolves to the new run's folder.
 */
export async function importTorchJob(
  jobPath: string,
  dataset: { root: string; classNames: string[] },
): Promise<{ dir: string; state: RunState }> {
  const given = resolve(jobPath);
  const run = existsSync(join(given, JOB_RUN_DIR, RUN_FILES.config)) ? join(given, JOB_RUN_DIR) : given;
  const folder = new RunFolder(run);
  const job = await folder.readConfig();
  await assertNotRunning(run);
  const state = await readState(folder);
  if (state.status === 'failed')
    throw new Error(`${run}: the run failed: ${state.error ?? 'no reason given'}`);
  if (!['done', 'stopped-early', 'cancelled'].includes(state.status))
    throw new Error(`${run}: the run has not ended (its state is ${state.status})`);
  if (job.classNames.join('\n') !== dataset.classNames.join('\n'))
    throw new Error(
      `${run}: was trained on classes ${job.classNames.join(', ')}, not this dataset's ${dataset.classNames.join(', ')}`,
    );
  const { records, problems } = await folder.readMetrics();
  if (problems.length) throw new Error(`${folder.metricsPath}: ${problems.join('; ')}`);
  const epochs = records.map((r) => r.epoch);
  if (epochs.some((e, i) => e !== i + 1) || epochs.length !== (state.epoch ?? 0))
    throw new Error(
      `${folder.metricsPath}: records epochs ${epochs.join(', ') || 'none'}, but the run is at epoch ${state.epoch}`,
    );
  await checkCheckpoint(folder.checkpointDir('last'));
  const { dir } = await createRunDir(await safeRunsDir(dataset.root), job.settings.model);
  await rm(dir, { recursive: true }); // its fresh id is kept; the copy is built beside it and renamed
  await inSibling(dir, async (tmp) => {
    await cp(run, tmp, { recursive: true });
    await new RunFolder(tmp).writeConfig({ ...job, datasetRoot: dataset.root, runDir: dir, resume: false });
  });
  return { dir, state };
}
