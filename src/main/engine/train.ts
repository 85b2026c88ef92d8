// The training loop: batches from the dataset, the loss, the optimiser and its schedule, frozen
// encoder epochs, validation mIoU each epoch, checkpoints `last` and `best`, resume, early stopping,
// and cancel between batches. Writes the run folder so that a kill at any moment leaves a consistent
// point to resume from. Engine process.
import { mkdir, readdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, isAbsolute, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { ConfusionMatrix, computeMetrics, type SegmentationMetrics } from '../../shared/metrics';
import { BACKBONES } from '../../shared/modelCatalog';
import {
  startingRunState,
  type BackendName,
  type EpochRecord,
  type RunEvaluation,
  type RunState,
  type TrainJob,
  type TrainProgress,
} from '../../shared/training';
import { rng } from '../../shared/random';
import { letterboxPair } from './data/augment';
import { SampleCache } from './data/samples';
import { makeDir, TEMP_SUFFIX } from '../common/atomicFile';
import { RunFolder } from '../common/runFolder';
import { loadCheckpoint, saveCheckpoint } from './io/checkpoint';
import { loadKerasWeights } from './io/kerasWeights';
import { assertWeightsFitGpu, checkGpu, gpuFailureMessage, settledGpuFault } from './gpu';
import { maskedCrossEntropy, softDiceLoss } from './loss';
import { cachedOnnx } from './onnx/checkpointOnnx';
import { getModelSpec, normalizeInput, type ModelSpec } from './models/registry';

export interface TrainHooks {
  progress(p: TrainProgress): void;
  cancelled(): boolean;
  backend: BackendName | null;
  /**
   * Prepare the run and return before the first batch: build the model (initFrom, backbone weights), write
   * config.json, state.json and `last` at epoch 0. Another engine (PyTorch) then trains the run from it.
   */
  prepareOnly?: boolean;
}

export interface TrainOutcome {
  status: 'done' | 'stopped-early' | 'cancelled';
  epochs: number;
  bestMiou: number | null;
}

/** Learning rate of `epoch` (0-based) under the schedule. */
export function scheduledLr(
  base: number,
  schedule: 'cos' | 'step' | 'constant',
  epoch: number,
  epochs: number,
): number {
  if (schedule === 'cos')
    return base * 0.01 + base * 0.99 * 0.5 * (1 + Math.cos((Math.PI * epoch) / Math.max(1, epochs)));
  if (schedule === 'step')
    return base * Math.pow(0.1, Math.floor(epoch / Math.max(1, Math.ceil(epochs / 3))));
  return base;
}

/** Layers of the model's pretrained encoder (its backbone's names), frozen during the first `freezeEpochs`. */
function isEncoderLayer(spec: ModelSpec, name: string): boolean {
  return spec.backbone !== null && BACKBONES[spec.backbone].encoderLayer.test(name);
}

export interface Batch {
  x: tf.Tensor4D;
  y: tf.Tensor3D;
}

function makeBatch(images: Uint8Array[], labels: Uint8Array[], size: number, spec: ModelSpec): Batch {
  return tf.tidy(() => {
    const pixels = new Float32Array(images.length * size * size * 3);
    images.forEach((img, i) => pixels.set(img, i * size * size * 3));
    const ints = new Int32Array(labels.length * size * size);
    labels.forEach((lab, i) => ints.set(lab, i * size * size));
    const x = normalizeInput(tf.tensor4d(pixels, [images.length, size, size, 3]), spec.normalization);
    return { x, y: tf.tensor3d(ints, [labels.length, size, size], 'int32') };
  });
}

/** What a training step minimises; the PyTorch engine's twin (python/segscope_torch/losses.py) matches it. */
export interface LossTerms {
  /** Per-class weights `[classes]`, or none. */
  weights?: tf.Tensor1D;
  dice: boolean;
  weightDecay: number;
  /** The kernels the L2 penalty covers: the trained ones. */
  kernels: tf.Variable[];
}

/**
 * The training loss of `model` on `batch` (run in training mode): masked cross-entropy, plus soft Dice when
 * asked, plus weightDecay / 2 · Σ‖kernel‖².
 */
export function trainingLoss(model: tfl.LayersModel, batch: Batch, terms: LossTerms): tf.Scalar {
  const logits = model.apply(batch.x, { training: true }) as tf.Tensor4D;
  let total = maskedCrossEntropy(logits, batch.y, terms.weights);
  if (terms.dice) total = tf.add(total, softDiceLoss(logits, batch.y));
  if (terms.weightDecay > 0 && terms.kernels.length) {
    const l2 = tf.addN(terms.kernels.map((k) => tf.sum(tf.square(k))));
    total = tf.add(total, tf.mul(l2, terms.weightDecay / 2));
  }
  return total as tf.Scalar;
}

/** Per-class weights: median frequency over each class's frequency (classes never seen get 0). */
async function balancedWeights(cache: SampleCache, ids: string[], numClasses: number): Promise<Float32Array> {
  const counts = new Float64Array(numClasses);
  for (const id of ids) {
    const { label } = await cache.get(id);
    if (!label) continue;
    for (let i = 0; i < label.length; i++) {
      const v = label[i]!;
      if (v < numClasses) counts[v]!++;
    }
  }
  const total = counts.reduce((a, b) => a + b, 0) || 1;
  const freqs = [...counts].map((c) => c / total);
  const seen = freqs.filter((f) => f > 0).sort((a, b) => a - b);
  const median = seen[Math.floor(seen.length / 2)] ?? 1;
  return Float32Array.from(freqs, (f) => (f > 0 ? median / f : 0));
}

/** Sets the backbone from a Keras `.h5` file (settings.backboneWeights); throws naming the file and the problem. */
async function loadBackboneWeights(model: tfl.LayersModel, path: string): Promise<void> {
  if (!isAbsolute(path) || !/\.(h5|hdf5)$/i.test(path))
    throw new Error(`backbone weights must be given as the absolute path of a .h5 file; got '${path}'`);
  await loadKerasWeights(model, path);
}

/** `model`, unless a weight is too large for the GPU, which is refused before the run writes anything. */
function fitsOrDisposed(id: string, model: tfl.LayersModel): tfl.LayersModel {
  try {
    assertWeightsFitGpu(id, model.weights);
    return model;
  } catch (err) {
    model.dispose();
    throw err;
  }
}

/**
 * The model of another run's checkpoint, for a run that fine-tunes it (settings.initFrom). Its input
 * size and class count must be this run's; the error names the checkpoint and what differs.
 */
async function initialModel(dir: string, numClasses: number, size: number): Promise<tfl.LayersModel> {
  if (!isAbsolute(dir))
    throw new Error(`initFrom must be the absolute path of a checkpoint folder; got '${dir}'`);
  const { model } = await loadCheckpoint(dir);
  const input = model.inputs[0]!.shape;
  const output = model.outputs[0]!.shape;
  const problem =
    input[1] !== size || input[2] !== size
      ? `its input is ${input[1]}×${input[2]}, this run's is ${size}×${size}`
      : output[output.length - 1] !== numClasses
        ? `it predicts ${output[output.length - 1]} classes, the dataset has ${numClasses}`
        : null;
  if (problem) {
    model.dispose();
    throw new Error(`${dir}: cannot be fine-tuned here: ${problem}`);
  }
  return model;
}

/** How often a running run says it is alive, between epochs, so readers can tell it from a dead one. */
const HEARTBEAT_MS = 10_000;

/**
 * Writes the run's state. While running it names this process, so a reader can tell a live run from
 * one whose engine was killed; an ended run names none.
 */
async function writeState(runDir: string, state: RunState): Promise<void> {
  const owner =
    state.status === 'running'
      ? { pid: process.pid, host: hostname(), heartbeatAt: new Date().toISOString() }
      : { pid: null, host: null, heartbeatAt: null };
  await new RunFolder(runDir).writeState({ ...state, ...owner });
}

/** What `last` records besides the weights: with it, the run can be put back as it was at that epoch. */
interface LastMeta {
  epoch: number;
  record?: EpochRecord;
  bestMiou?: number | null;
  bestEpoch?: number | null;
  /** Present when this epoch became `best`: what the run's evaluation file holds for it. */
  evaluation?: RunEvaluation;
}

/**
 * Puts a run folder back to the epoch its `last` checkpoint holds. Per epoch the engine writes `last`
 * (the commit point, carrying the epoch's record and best), then `best`, then the metrics line, then
 * the state, so a kill can leave the later ones behind or ahead: metrics lines past that epoch (or
 * repeated, or torn) are dropped, a missing one restored, and a `best` that the kill left unwritten
 * is written from `last`; temporary files a kill left are removed.
 */
async function restoreResumePoint(
  job: TrainJob,
  model: tfl.LayersModel,
  meta: Partial<LastMeta>,
  state: RunState,
): Promise<RunState> {
  const epoch = typeof meta.epoch === 'number' ? meta.epoch : state.epoch;
  const run = new RunFolder(job.runDir);
  // A kill during a write leaves its temporary file; only this engine trains the run now. (`.<pid>.tmp`
  // is the name older versions used.)
  for (const dir of run.writeFolders) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.endsWith(TEMP_SUFFIX) || /\.\d+\.tmp$/.test(n)))
      await rm(join(dir, name), { force: true });
  }
  const { records, text } = await run.readMetrics();
  const byEpoch = new Map<number, EpochRecord>();
  for (const r of records) if (r.epoch <= epoch) byEpoch.set(r.epoch, r);
  if (meta.record && meta.record.epoch === epoch) byEpoch.set(epoch, meta.record);
  const kept = [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
  const rewritten = kept.map((r) => JSON.stringify(r) + '\n').join('');
  if (rewritten !== text) await run.writeMetrics(kept);

  let { bestMiou, bestEpoch } = state;
  if (meta.bestMiou !== undefined) bestMiou = meta.bestMiou;
  if (meta.bestEpoch !== undefined) bestEpoch = meta.bestEpoch;
  if (meta.evaluation) {
    const bestDir = run.checkpointDir('best');
    const bestJson = await run.files.readFile(run.checkpointModel('best'), 'utf8').catch(() => null);
    let bestAt: unknown;
    try {
      bestAt =
        bestJson &&
        (JSON.parse(bestJson) as { userDefinedMetadata?: { epoch?: unknown } }).userDefinedMetadata?.epoch;
    } catch {
      bestAt = null; // a damaged best is rewritten below
    }
    if (bestAt !== epoch) {
      await run.checkCheckpoint('best');
      await saveCheckpoint(model, bestDir, { epoch, miou: bestMiou });
      await run.writeEval(meta.evaluation);
    }
  }
  return { ...state, epoch, bestMiou, bestEpoch };
}

/**
 * Trains as `job` says, reporting through `hooks`. Resolves when the run ends (all epochs, early stop,
 * or cancel); a failure, a bad setting found before the first batch included, rejects after
 * the run's state records it with its message.
 */
export async function train(job: TrainJob, hooks: TrainHooks): Promise<TrainOutcome> {
  try {
    return await trainRun(job, hooks);
  } catch (err) {
    const message = describeFailure(err);
    const run = new RunFolder(job.runDir);
    const previous = await run.readState().catch(() => null);
    const failed: RunState = {
      ...(previous ?? { epoch: 0, bestMiou: null, bestEpoch: null, startedAt: new Date().toISOString() }),
      status: 'failed',
      backend: hooks.backend,
      endedAt: new Date().toISOString(),
      error: message,
    };
    // The failure itself is what the caller must hear, even when the folder cannot take the state. A
    // resume whose state cannot be read leaves that file as it is, for the user to look at.
    if (job.resume && previous === null) throw err;
    await mkdir(job.runDir, { recursive: true })
      .then(() => writeState(job.runDir, failed))
      .catch(() => undefined);
    if (!job.resume) {
      if (!(await run.isRun().catch(() => true))) await run.writeConfig(job).catch(() => undefined);
    }
    throw message === (err as Error).message ? err : new Error(message, { cause: err });
  }
}

/** Everything one run's phases share: the job, its model and optimiser, and where the loop is. */
interface Run {
  job: TrainJob;
  s: TrainJob['settings'];
  spec: ModelSpec;
  hooks: TrainHooks;
  runId: string;
  size: number;
  numClasses: number;
  cache: SampleCache;
  model: tfl.LayersModel;
  state: RunState;
  optimizer: tf.Optimizer;
  /** Per-class loss weights (`classWeights: balanced`), or undefined. */
  weights: tf.Tensor1D | undefined;
  random: () => number;
  steps: number;
  /** Where the loop is, for a GPU failure's message. */
  at: { epoch: number; step: number };
  /** Throughput, throttling and heartbeat clocks (performance.now() milliseconds). */
  clock: { startedAt: number; imagesDone: number; lastProgress: number; lastBeat: number };
}

/** Refuses a job that cannot train, before the run folder is touched. */
function checkJob(job: TrainJob, spec: ModelSpec, hooks: TrainHooks): void {
  const s = job.settings;
  const size = s.inputSize;
  if (size % spec.sizeMultiple !== 0) {
    throw new Error(
      `${spec.id} needs an input size that is a multiple of ${spec.sizeMultiple}; ${size} is not`,
    );
  }
  if (job.trainIds.length === 0) throw new Error(`split ${s.split} has no labelled images to train on`);
  if (hooks.backend && spec.tooLargeFor?.includes(hooks.backend)) {
    throw new Error(
      `${spec.id} is too large to train on ${hooks.backend} (its memory cannot hold the weights, gradients ` +
        `and optimizer state); train it on webgpu or tensorflow-gpu, or pick a smaller model`,
    );
  }
}

/** A resumed run: its `last` model and the state its folder is put back to (restoreResumePoint). */
async function resumeModel(
  job: TrainJob,
  spec: ModelSpec,
  hooks: TrainHooks,
): Promise<{ model: tfl.LayersModel; state: RunState; startEpoch: number }> {
  const run = new RunFolder(job.runDir);
  await run.checkCheckpoint('last');
  const last = await loadCheckpoint(run.checkpointDir('last'));
  const model = fitsOrDisposed(spec.id, last.model);
  let state: RunState;
  try {
    const read = await run.readState();
    if (!read) throw new Error('it is missing');
    state = read;
  } catch (err) {
    model.dispose();
    throw new Error(`${run.statePath}: cannot be read as a run state (${(err as Error).message})`, {
      cause: err,
    });
  }
  try {
    state = await restoreResumePoint(job, model, last.meta as Partial<LastMeta>, state);
  } catch (err) {
    model.dispose();
    throw err;
  }
  const startEpoch = state.epoch;
  state = { ...state, status: 'running', endedAt: null, error: null, backend: hooks.backend };
  return { model, state, startEpoch };
}

/**
 * A new run: writes its state and config, builds (or loads, to fine-tune) the model, sets the backbone
 * weights and saves `last` at epoch 0.
 */
async function newModel(
  job: TrainJob,
  spec: ModelSpec,
  hooks: TrainHooks,
): Promise<{ model: tfl.LayersModel; state: RunState; startEpoch: number }> {
  const s = job.settings;
  const numClasses = job.classNames.length;
  const state = startingRunState(hooks.backend);
  // The state first: a folder with a config always has a state naming its owner.
  await writeState(job.runDir, state);
  // A failure here ends the run as failed with its message (see train()).
  const model = fitsOrDisposed(
    spec.id,
    s.initFrom
      ? await initialModel(s.initFrom, numClasses, s.inputSize)
      : spec.build({ numClasses, inputSize: s.inputSize, seed: s.seed }),
  );
  const run = new RunFolder(job.runDir);
  await run.writeConfig(job);
  try {
    // Before the first checkpoint, so `last` at epoch 0 already holds the pretrained backbone.
    if (s.backboneWeights) await loadBackboneWeights(model, s.backboneWeights);
    // A usable `last` exists from the start, so a cancel or crash at any moment leaves one.
    await run.checkCheckpoint('last');
    await saveCheckpoint(model, run.checkpointDir('last'), { epoch: 0 } satisfies LastMeta);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { model, state, startEpoch: 0 };
}

/**
 * Writes a new run folder as training would start it (config.json, state.json, `last` at epoch 0 with the
 * initial weights) and stops there, for the PyTorch engine to train: its twin keeps this checkpoint's
 * topology and rewrites only the weights.
 */
export async function prepareRun(job: TrainJob, backend: BackendName | null): Promise<void> {
  if (job.resume) throw new Error('a resumed run is already prepared');
  await train(job, { progress: () => undefined, cancelled: () => false, backend, prepareOnly: true });
}

async function trainRun(job: TrainJob, hooks: TrainHooks): Promise<TrainOutcome> {
  const s = job.settings;
  const spec = getModelSpec(s.model);
  checkJob(job, spec, hooks);
  await makeDir(new RunFolder(job.runDir).checkpointsDir);

  const cache = new SampleCache({
    imagePath: (id) =>
      join(
        job.datasetRoot,
        'JPEGImages',
        Object.hasOwn(job.imageFiles, id) ? job.imageFiles[id]! : `${id}.jpg`,
      ),
    labelPath: (id) => join(job.datasetRoot, job.labelDir, `${id}.png`),
    colormap: Uint8Array.from(job.colormap),
  });
  const numClasses = job.classNames.length;
  const opened = job.resume ? await resumeModel(job, spec, hooks) : await newModel(job, spec, hooks);
  const { model, startEpoch } = opened;
  await writeState(job.runDir, opened.state);
  if (hooks.prepareOnly) {
    model.dispose();
    return { status: 'done', epochs: 0, bestMiou: null };
  }
  const lastBeat = performance.now();

  const optimizer = s.optimizer === 'adam' ? tf.train.adam(s.lr) : tf.train.momentum(s.lr, s.momentum);
  const weights =
    s.classWeights === 'balanced'
      ? tf.tensor1d(await balancedWeights(cache, job.trainIds, numClasses))
      : undefined;
  const run: Run = {
    job,
    s,
    spec,
    hooks,
    runId: basename(job.runDir),
    size: s.inputSize,
    numClasses,
    cache,
    model,
    state: opened.state,
    optimizer,
    weights,
    random: rng(s.seed + startEpoch * 7919),
    steps: Math.ceil(job.trainIds.length / s.batchSize),
    at: { epoch: startEpoch, step: 0 },
    clock: { startedAt: performance.now(), imagesDone: 0, lastProgress: 0, lastBeat },
  };
  let sinceBest = 0;
  let outcome: TrainOutcome['status'] = 'done';

  try {
    for (let epoch = startEpoch; epoch < s.epochs; epoch++) {
      run.at.epoch = epoch;
      const lr = scheduledLr(s.lr, s.schedule, epoch, s.epochs);
      const epochStart = performance.now();
      const losses = await trainEpoch(run, epoch, lr);
      if (losses === null) {
        outcome = 'cancelled';
        break;
      }
      const { val, best } = await endEpoch(run, epoch, lr, losses, epochStart);
      sinceBest = best ? 0 : sinceBest + 1;
      if (s.patience !== null && val !== null && sinceBest >= s.patience) {
        outcome = 'stopped-early';
        break;
      }
    }
    run.state = { ...run.state, status: outcome, endedAt: new Date().toISOString() };
    await writeState(job.runDir, run.state);
    return { status: outcome, epochs: run.state.epoch, bestMiou: run.state.bestMiou };
  } catch (err) {
    // A GPU fault explains the error it caused: say what to change, and which `last` is intact.
    const fault = await settledGpuFault();
    if (!fault) throw err;
    const message = gpuFailureMessage(fault, {
      batch: s.batchSize,
      inputSize: run.size,
      epoch: run.at.epoch + 1,
      step: run.at.step + 1,
      lastEpoch: run.state.epoch,
    });
    throw new Error(message, { cause: err });
  } finally {
    optimizer.dispose();
    weights?.dispose();
    model.dispose();
  }
}

/**
 * One epoch's optimisation steps over the shuffled training ids, reporting progress and keeping the
 * heartbeat. Returns every batch loss, or null when the run was cancelled between batches.
 */
async function trainEpoch(run: Run, epoch: number, lr: number): Promise<number[] | null> {
  const { job, s, spec, hooks, model, optimizer, size, steps, clock } = run;
  (optimizer as unknown as { learningRate: number }).learningRate = lr;
  const frozen = epoch < s.freezeEpochs;
  const vars = model.layers
    .filter((l) => !(frozen && isEncoderLayer(spec, l.name)))
    .flatMap((l) => l.trainableWeights.map((w) => w.read() as tf.Variable));
  const kernels = vars.filter((v) => /kernel/.test(v.name));

  const order = [...job.trainIds];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(run.random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  /** Every batch loss of the epoch, kept in the run's steps file so that a past run shows its curve. */
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    if (hooks.cancelled()) return null;
    run.at.step = step;
    const ids = order.slice(step * s.batchSize, (step + 1) * s.batchSize);
    // Decoded in parallel, augmented in batch order: the random draws must not follow which decode
    // finished first, or the same seed would give another run.
    const samples = await Promise.all(ids.map((id) => run.cache.get(id)));
    const pairs = samples.map((sample) =>
      letterboxPair(sample.image, sample.label, size, s.augment, run.random),
    );
    const batch = makeBatch(
      pairs.map((p) => p.image),
      pairs.map((p) => p.label!),
      size,
      spec,
    );
    let loss: number;
    try {
      const cost = optimizer.minimize(
        () =>
          trainingLoss(model, batch, {
            weights: run.weights,
            dice: s.dice,
            weightDecay: s.weightDecay,
            kernels,
          }),
        true,
        vars,
      );
      loss = (await cost!.data())[0]!;
      cost!.dispose();
      // After a GPU error the loss and the weights are garbage: stop before they are used or saved.
      await checkGpu();
    } finally {
      tf.dispose([batch.x, batch.y]);
    }
    if (!Number.isFinite(loss))
      throw new Error(
        `the loss became ${loss} at epoch ${epoch + 1}, step ${step + 1}; try a lower learning rate`,
      );
    losses.push(loss);
    clock.imagesDone += ids.length;
    const now = performance.now();
    if (now - clock.lastProgress > 100 || step === steps - 1) {
      clock.lastProgress = now;
      const perSec = clock.imagesDone / ((now - clock.startedAt) / 1000);
      const remaining = (s.epochs - epoch) * job.trainIds.length - (step + 1) * s.batchSize;
      hooks.progress({
        kind: 'step',
        runId: run.runId,
        epoch: epoch + 1,
        epochs: s.epochs,
        step: step + 1,
        steps,
        loss,
        lr,
        imagesPerSec: perSec,
        etaSec: Math.max(0, remaining / Math.max(perSec, 1e-9)),
      });
    }
    if (now - clock.lastBeat > HEARTBEAT_MS) {
      clock.lastBeat = now;
      await writeState(job.runDir, run.state);
    }
  }
  return losses;
}

/**
 * The end of an epoch: validation, its record, and the run folder's commit of it (`last`, then `best`
 * and the evaluation, then the metrics and steps lines, then the state), and the epoch event.
 */
async function endEpoch(
  run: Run,
  epoch: number,
  lr: number,
  losses: number[],
  epochStart: number,
): Promise<{ val: Awaited<ReturnType<typeof validate>> | null; best: boolean }> {
  const { job, s, spec, model, state, size, steps } = run;
  const lossSum = losses.reduce((a, b) => a + b, 0);
  const val = job.valIds.length
    ? await validate(model, spec, run.cache, job.valIds, size, s.batchSize, run.numClasses, job.classNames)
    : null;
  await checkGpu();
  const best = val !== null && val.miou !== null && (state.bestMiou === null || val.miou > state.bestMiou);
  const record: EpochRecord = {
    epoch: epoch + 1,
    trainLoss: lossSum / steps,
    valLoss: val?.loss ?? null,
    miou: val?.miou ?? null,
    pixelAccuracy: val?.pixelAccuracy ?? null,
    lr,
    seconds: (performance.now() - epochStart) / 1000,
    best,
  };
  // The best checkpoint's validation, per class, for the panel's table and confusion matrix.
  const evaluation: RunEvaluation | undefined = best
    ? {
        epoch: epoch + 1,
        split: s.valSplit ?? '',
        inputSize: size,
        resolution: 'input',
        checkpoint: 'best',
        metrics: val!.metrics,
      }
    : undefined;
  if (best) {
    state.bestMiou = val!.miou;
    state.bestEpoch = epoch + 1;
  }
  // `last` is the commit point of the epoch: it carries what the files after it hold, so a resume
  // can restore them whatever a kill cut short (restoreResumePoint).
  const meta: LastMeta = {
    epoch: epoch + 1,
    record,
    bestMiou: state.bestMiou,
    bestEpoch: state.bestEpoch,
    ...(evaluation ? { evaluation } : {}),
  };
  const folder = new RunFolder(job.runDir);
  // Checked each time: a link planted in the run's checkpoints while it trains is never written through.
  await folder.checkCheckpoint('last');
  await saveCheckpoint(model, folder.checkpointDir('last'), { ...meta });
  if (evaluation) {
    await folder.checkCheckpoint('best');
    await saveCheckpoint(model, folder.checkpointDir('best'), {
      epoch: epoch + 1,
      miou: val!.miou,
    });
    await folder.writeEval(evaluation);
    // The viewer segments through this export: made now, its first segmentation need not wait for it.
    // A failure only defers the export to that first use, which reports it.
    await cachedOnnx(job.runDir, 'best').catch(() => undefined);
  }
  await folder.appendMetrics(record);
  // Batch losses for the panel's batch-loss chart of past runs; a reader keeps an epoch's last line,
  // so a line repeated by a kill and resume does no harm.
  await folder.appendSteps({ epoch: epoch + 1, steps, losses: losses.map((l) => Math.fround(l)) });
  state.epoch = epoch + 1;
  await writeState(job.runDir, state);
  run.clock.lastBeat = performance.now();
  run.hooks.progress({ kind: 'epoch', runId: run.runId, record });
  return { val, best };
}

/**
 * A failure as a person can act on it. The wasm backend reports running out of its heap (4 GB at
 * most, less in practice) as a bare "Aborted()".
 */
export function describeFailure(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/^Aborted\(/.test(message)) {
    return (
      'the wasm backend ran out of memory (its heap cannot grow further); ' +
      'try a smaller model, input size or batch, or a tensorflow backend'
    );
  }
  return message;
}

/** Validation at the input size: mean loss, mIoU and pixel accuracy over letterboxed samples. */
async function validate(
  model: tfl.LayersModel,
  spec: ModelSpec,
  cache: SampleCache,
  ids: string[],
  size: number,
  batchSize: number,
  numClasses: number,
  classNames: string[],
): Promise<{
  loss: number;
  miou: number | null;
  pixelAccuracy: number | null;
  metrics: SegmentationMetrics;
}> {
  const cm = new ConfusionMatrix(numClasses);
  let lossSum = 0;
  let batches = 0;
  for (let i = 0; i < ids.length; i += batchSize) {
    const chunk = ids.slice(i, i + batchSize);
    const pairs = await Promise.all(
      chunk.map(async (id) => {
        const sample = await cache.get(id);
        return letterboxPair(sample.image, sample.label, size);
      }),
    );
    const labels = pairs.map((p) => p.label!);
    const batch = makeBatch(
      pairs.map((p) => p.image),
      labels,
      size,
      spec,
    );
    const [lossT, predT] = tf.tidy(() => {
      const logits = model.predict(batch.x) as tf.Tensor4D;
      return [maskedCrossEntropy(logits, batch.y), tf.argMax(logits, -1)];
    });
    lossSum += (await lossT.data())[0]!;
    const pred = await predT.data();
    tf.dispose([lossT, predT, batch.x, batch.y]);
    const plane = size * size;
    labels.forEach((gt, k) => cm.add(gt, Uint8Array.from(pred.subarray(k * plane, (k + 1) * plane))));
    batches++;
  }
  const m = computeMetrics(cm, classNames);
  return { loss: lossSum / Math.max(1, batches), miou: m.miou, pixelAccuracy: m.pixel_accuracy, metrics: m };
}
