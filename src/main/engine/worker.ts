// Entry point of the engine process: an Electron utilityProcess in the desktop app, a forked Node
// process for the server and the CLI. The only process that runs tfjs; a native crash or an
// out-of-memory error ends it and nothing else. Engine process.
import type { EngineMessage, EngineRequest, ModelInfo } from '../../shared/engineProtocol';
import type { BackendInfo } from '../../shared/training';
import { selectBackend } from './backend';
import { evaluateFiles, predictFiles, type Predictor } from './infer';
import { loadCheckpoint } from './io/checkpoint';
import { convLayerNames, getModelSpec, MODELS, MODEL_IDS } from './models/registry';
import type { CheckpointName } from '../../shared/engineProtocol';
import type { TrainJob } from '../../shared/training';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { train } from './train';

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
  return {
    post: (m) => process.send!(m),
    onMessage: (h) => process.on('message', (m) => h(m as EngineRequest)),
  };
}

const port = connect();
let backend: BackendInfo | null = null;
let cancelRequested = false;
let training = false;

async function models(): Promise<ModelInfo[]> {
  return MODEL_IDS.map((id) => {
    const spec = MODELS[id];
    // The smallest input the model accepts: parameter counts and layer names do not depend on it.
    const model = spec.build({ numClasses: 21, inputSize: spec.sizeMultiple * 2 });
    try {
      return {
        id,
        title: spec.title,
        params: model.countParams(),
        sizeMultiple: spec.sizeMultiple,
        convLayers: convLayerNames(model),
      };
    } finally {
      model.dispose();
    }
  });
}

/** Loads a run's checkpoint with the settings it was trained with. The caller disposes the model. */
async function predictor(runDir: string, checkpoint: CheckpointName): Promise<Predictor> {
  let job: TrainJob;
  try {
    job = JSON.parse(await readFile(join(runDir, 'config.json'), 'utf8')) as TrainJob;
  } catch (err) {
    throw new Error(`${runDir}: not a Segscope run (no readable config.json)`, { cause: err });
  }
  const { model } = await loadCheckpoint(join(runDir, 'checkpoints', checkpoint));
  return {
    model,
    inputSize: job.settings.inputSize,
    normalization: getModelSpec(job.settings.model).normalization,
  };
}

async function handle(req: EngineRequest): Promise<unknown> {
  switch (req.type) {
    case 'init':
      if (!backend) backend = await selectBackend(req.backend);
      return backend;
    case 'models':
      return models();
    case 'cancel':
      cancelRequested = true;
      return { cancelling: training };
    case 'predict':
    case 'eval': {
      if (!backend) backend = await selectBackend('auto');
      const p = await predictor(req.runDir, req.checkpoint);
      const progress = (done: number, total: number): void =>
        port.post({ type: 'progress', id: req.id, progress: { kind: 'items', done, total } });
      try {
        return req.type === 'predict'
          ? await predictFiles(p, req.files, req.outDir, Uint8Array.from(req.colormap), req.blend, progress)
          : await evaluateFiles(p, req.pairs, req.classNames, Uint8Array.from(req.colormap), progress);
      } finally {
        p.model.dispose();
      }
    }
    case 'train': {
      if (training) throw new Error('a training run is already in progress in this engine');
      if (!backend) backend = await selectBackend(req.job.settings.backend);
      training = true;
      cancelRequested = false;
      try {
        return await train(req.job, {
          progress: (progress) => port.post({ type: 'progress', id: req.id, progress }),
          cancelled: () => cancelRequested,
          backend: backend.name,
        });
      } finally {
        training = false;
      }
    }
  }
}

port.onMessage((req) => {
  handle(req).then(
    (result) => port.post({ type: 'result', id: req.id, ok: true, result }),
    (err: unknown) =>
      port.post({
        type: 'result',
        id: req.id,
        ok: false,
        error: err instanceof Error ? err.message : String(err),
      }),
  );
});
port.post({ type: 'ready' });
