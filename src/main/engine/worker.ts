// Entry point of the engine process: an Electron utilityProcess in the desktop app, a forked Node
// process for the server and the CLI. The only process that runs tfjs; a native crash or an
// out-of-memory error ends it and nothing else. Engine process.
import type { EngineMessage, EngineRequest, EngineResult, ModelInfo } from '../../shared/engineProtocol';
import type { BackendInfo, BackendPreference } from '../../shared/training';
import { diagnose, healthyBackend, selectBackend } from './backend';
import { checkGpu } from './gpu';
import { refineDraft } from '../../shared/draftRefine';
import {
  classProbabilities,
  evaluateFiles,
  predictFiles,
  segment,
  type Predictor,
  type Segmenter,
} from './infer';
import { loadCheckpoint } from './io/checkpoint';
import { getModelSpec } from './models/registry';
import { MODEL_CATALOG } from '../../shared/modelCatalog';
import type { CheckpointName, DerivedPlace } from '../../shared/engineProtocol';
import type { TrainJob } from '../../shared/training';
import { prepareRun, train } from './train';
import { camLayers, computeCam, computeCamSweep, defaultCamLayer } from './cam';
import { readRgb } from './data/samples';
import { WorkbenchError } from '../../shared/errors';
import { writeFileAtomic } from '../common/atomicFile';
import { derivedLayout, readRunJob, RunFolder } from '../common/runFolder';
import { cachedOnnx, exportCheckpoint } from './onnx/checkpointOnnx';
import { ONNX_OPSET } from './onnx/export';
import { createOrtModel, ortStatus, type OrtStatus } from './onnx/runtime';

interface Port {
  post(message: EngineMessage): void;
  onMessage(handler: (message: EngineRequest) => void): void;
}

function connect(): Port {
  const parentPort = (
    process as unknown as {
      parentPort?: {
        postMessage(m: unknown): void;
        on(e: 'message', f: (e: { data: unknown }) => void): void;
      };
    }
  ).parentPort;
  if (parentPort) {
    return {
      post: (m) => parentPort.postMessage(m),
      onMessage: (h) => parentPort.on('message', (e) => h(e.data as EngineRequest)),
    };
  }
  if (!process.send) throw new Error('the engine must be started by Segscope (no IPC channel)');
  // Ctrl+C in a terminal reaches the whole process group; the CLI turns it into a cancel at the next
  // batch, so the engine must not die of it. When the parent itself dies, the engine goes too, and
  // the run it leaves reads as interrupted.
  process.on('SIGINT', () => undefined);
  process.on('disconnect', () => process.exit(1));
  return {
    post: (m) => process.send!(m),
    onMessage: (h) => process.on('message', (m) => h(m as EngineRequest)),
  };
}

const port = connect();
let backend: BackendInfo | null = null;
let cancelRequested = false;
let training = false;

/** Every model's facts, from the static catalog: listing models never builds one. */
function models(): ModelInfo[] {
  return [...MODEL_CATALOG];
}

/** Loads a run's checkpoint with the settings it was trained with. The caller disposes the model. */
async function predictor(runDir: string, checkpoint: CheckpointName): Promise<Predictor> {
  const job = await readRunJob(runDir);
  const run = new RunFolder(runDir);
  await run.checkCheckpoint(checkpoint);
  const { model } = await loadCheckpoint(run.checkpointDir(checkpoint));
  return {
    model,
    inputSize: job.settings.inputSize,
    normalization: getModelSpec(job.settings.model).normalization,
  };
}

let ort: Promise<OrtStatus> | null = null;

/**
 * What inference runs on: ONNX Runtime on every core when it loads (the checkpoint exported behind the
 * scenes and cached beside it), else the tfjs model. The caller disposes it with `releaseSegmenter`.
 */
async function segmenter(runDir: string, checkpoint: CheckpointName): Promise<Segmenter> {
  ort ??= ortStatus();
  const status = await ort;
  if (!status.available) return predictor(runDir, checkpoint);
  const job = await readRunJob(runDir);
  return {
    ort: await createOrtModel(await cachedOnnx(runDir, checkpoint), status),
    inputSize: job.settings.inputSize,
    normalization: getModelSpec(job.settings.model).normalization,
  };
}

async function releaseSegmenter(s: Segmenter): Promise<void> {
  s.model?.dispose();
  await s.ort?.release();
}

/** The checkpoint the viewer's requests last used, kept loaded so that one CAM after another is quick. */
interface Loaded {
  key: string;
  predictor: Predictor;
  job: TrainJob;
}
let loaded: Loaded | null = null;

/**
 * The predictor of a run's checkpoint, from the cache when it holds that checkpoint unchanged on disk
 * (the key has model.json's time and size, so a checkpoint rewritten by training is loaded again).
 * The previous one is disposed. Call only inside `exclusive`, so no request is using it.
 */
async function cachedPredictor(
  runDir: string,
  checkpoint: CheckpointName,
  derived?: DerivedPlace,
): Promise<Loaded> {
  const run = new RunFolder(runDir);
  const dir = run.checkpointDir(checkpoint);
  const info = await run.files.stat(run.checkpointModel(checkpoint));
  if (!info) throw new Error(`${dir}: no checkpoint here (model.json is missing)`);
  const key = `${runDir}\u0000${checkpoint}\u0000${info.mtimeMs}\u0000${info.size}`;
  if (loaded?.key === key) return loaded;
  dropCached();
  const job = await readRunJob(runDir);
  const p = await predictor(runDir, checkpoint);
  // The viewer segments through ONNX Runtime when it is there; Grad-CAM needs the tfjs model's gradients.
  ort ??= ortStatus();
  const status = await ort;
  if (status.available) {
    try {
      // A read-only (attached) run's ONNX cache lives in the dataset's workspace, not in the run.
      const cache = derived ? derivedLayout(derived.dir, derived.root) : undefined;
      p.ort = await createOrtModel(await cachedOnnx(runDir, checkpoint, cache), status);
    } catch (err) {
      p.model.dispose();
      throw err;
    }
  }
  loaded = { key, job, predictor: p };
  return loaded;
}

function dropCached(): void {
  if (loaded) void releaseSegmenter(loaded.predictor);
  loaded = null;
}

// The viewer's requests share the cached model, so they run one after another: a second checkpoint
// must not replace (and dispose) the model while a CAM is half-way through it.
let queue: Promise<unknown> = Promise.resolve();
function exclusive<T>(job: () => Promise<T>): Promise<T> {
  const run = queue.then(job, job);
  queue = run.catch(() => undefined);
  return run;
}

async function segmentImage(
  req: Extract<EngineRequest, { type: 'segment' }>,
): Promise<EngineResult['segment']> {
  const { predictor: p } = await cachedPredictor(req.runDir, req.checkpoint, req.derived);
  const seg = await segment(p, await readRgb(req.image));
  const counts = new Map<number, number>();
  for (const l of seg.labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  const classes = [...counts].sort((a, b) => a[0] - b[0]).map(([index, pixels]) => ({ index, pixels }));
  return { ...seg, classes };
}

async function draftImage(req: Extract<EngineRequest, { type: 'draft' }>): Promise<EngineResult['draft']> {
  const { predictor: p } = await cachedPredictor(req.runDir, req.checkpoint, req.derived);
  const image = await readRgb(req.image);
  const probs = await classProbabilities(p, image);
  return refineDraft(image, probs, req.refine);
}

async function cam(req: Extract<EngineRequest, { type: 'cam' }>): Promise<EngineResult['cam']> {
  const { predictor: p, job } = await cachedPredictor(req.runDir, req.checkpoint, req.derived);
  const image = await readRgb(req.image);
  const out = await computeCam(p, image, {
    classIndex: req.classIndex,
    layer: req.layer ?? defaultCamLayer(p.model, job.settings.model),
    method: req.method,
    classNames: job.classNames,
  });
  return { layer: out.layer, width: out.width, height: out.height, cam: out.cam, empty: out.empty };
}

async function camSweep(
  req: Extract<EngineRequest, { type: 'camSweep' }>,
): Promise<EngineResult['camSweep']> {
  const { predictor: p, job } = await cachedPredictor(req.runDir, req.checkpoint, req.derived);
  const image = await readRgb(req.image);
  const maps = await computeCamSweep(p, image, {
    classIndex: req.classIndex,
    method: req.method,
    layers: req.layers,
    maxSide: req.maxSide,
    classNames: job.classNames,
  });
  return maps.map((m) => ({ layer: m.layer, width: m.width, height: m.height, cam: m.cam, empty: m.empty }));
}

/** The backend requests run on, selected by the first request that needs one (`auto` unless it names one). */
async function ensureBackend(preference: BackendPreference = 'auto'): Promise<BackendInfo> {
  backend ??= await selectBackend(preference);
  return backend;
}

/** Predicts or evaluates files with a run's checkpoint, reporting progress per file. */
async function withSegmenter<T>(
  req: EngineRequestOf<'predict' | 'eval'>,
  work: (s: Segmenter, progress: (done: number, total: number) => void) => Promise<T>,
): Promise<T> {
  await ensureBackend();
  const s = await segmenter(req.runDir, req.checkpoint);
  const progress = (done: number, total: number): void =>
    port.post({ type: 'progress', id: req.id, progress: { kind: 'items', done, total } });
  try {
    return await work(s, progress);
  } finally {
    await releaseSegmenter(s);
  }
}

async function trainRequest(req: EngineRequestOf<'train'>): Promise<EngineResult['train']> {
  if (training) throw new Error('a training run is already in progress in this engine');
  const on = await ensureBackend(req.job.settings.backend);
  // Training needs the memory more than the viewer needs its model kept loaded.
  void exclusive(async () => dropCached());
  training = true;
  cancelRequested = false;
  try {
    return await train(req.job, {
      progress: (progress) => port.post({ type: 'progress', id: req.id, progress }),
      cancelled: () => cancelRequested,
      backend: on.name,
    });
  } finally {
    training = false;
  }
}

type EngineRequestOf<T extends EngineRequest['type']> = Extract<EngineRequest, { type: T }>;

/** One handler per request type (engineProtocol.ts): a new request is its handler here and its types there. */
const HANDLERS: { [T in EngineRequest['type']]: (req: EngineRequestOf<T>) => Promise<EngineResult[T]> } = {
  init: (req) => ensureBackend(req.backend),
  // Building models needs a backend: without it, a models request that arrives while another request
  // is still selecting one finds tfjs half-initialised and fails.
  models: async () => (await ensureBackend(), models()),
  doctor: async () => diagnose(await ensureBackend()),
  cancel: async () => {
    cancelRequested = true;
    return { cancelling: training };
  },
  predict: (req) =>
    withSegmenter(req, (s, progress) =>
      predictFiles(s, req.files, req.outDir, Uint8Array.from(req.colormap), req.blend, progress),
    ),
  eval: (req) =>
    withSegmenter(req, (s, progress) =>
      evaluateFiles(s, req.pairs, req.classNames, Uint8Array.from(req.colormap), progress),
    ),
  export: async (req) => {
    await ensureBackend();
    const bytes = await exportCheckpoint(req.runDir, req.checkpoint);
    await writeFileAtomic(req.out, bytes);
    return { path: req.out, bytes: bytes.byteLength, opset: ONNX_OPSET };
  },
  segment: async (req) => (await ensureBackend(), exclusive(() => segmentImage(req))),
  draft: async (req) => (await ensureBackend(), exclusive(() => draftImage(req))),
  cam: async (req) => (await ensureBackend(), exclusive(() => cam(req))),
  camSweep: async (req) => (await ensureBackend(), exclusive(() => camSweep(req))),
  camLayers: async (req) => {
    await ensureBackend();
    return exclusive(async () => {
      const { predictor: p, job } = await cachedPredictor(req.runDir, req.checkpoint, req.derived);
      return { layers: camLayers(p.model), defaultLayer: defaultCamLayer(p.model, job.settings.model) };
    });
  },
  prepare: async (req) => {
    const on = await ensureBackend(req.job.settings.backend);
    await prepareRun(req.job, on.name);
    return { runDir: req.job.runDir, normalization: getModelSpec(req.job.settings.model).normalization };
  },
  train: trainRequest,
};

async function handle(req: EngineRequest): Promise<unknown> {
  if (backend && req.type !== 'cancel' && !training) {
    const now = await healthyBackend(backend);
    // A new GPU device: the cached model's tensors lived on the old one and go with it.
    if (now !== backend) loaded = null;
    backend = now;
  }
  const handler = HANDLERS[req.type] as (r: EngineRequest) => Promise<unknown>;
  return handler(req);
}

/** A job's result, unless the GPU failed under it: then its numbers are garbage and the fault is the answer. */
async function checked(req: EngineRequest): Promise<unknown> {
  const result = await handle(req);
  if (req.type !== 'cancel') await checkGpu();
  return result;
}

port.onMessage((req) => {
  checked(req).then(
    (result) => port.post({ type: 'result', id: req.id, ok: true, result }),
    (err: unknown) =>
      port.post({
        type: 'result',
        id: req.id,
        ok: false,
        error: err instanceof Error ? err.message : String(err),
        ...(err instanceof WorkbenchError ? { code: err.code } : {}),
      }),
  );
});
port.post({ type: 'ready' });
