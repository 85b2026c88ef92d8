// The training settings the panel proposes for the backend the engine found, why, and whether a run
// fits the wasm backend's 4 GB heap. Runs in any process (the renderer's panel, main's training service).
import { modelInfo } from './modelCatalog';
import { DEFAULT_TRAIN_SETTINGS, type TrainSettings } from './training';

/**
 * How fast a backend trains: `gpu` for anything but the CPU ones (tensorflow-gpu, webgpu, …),
 * `fast-cpu` for native TensorFlow on the CPU, `cpu` for wasm and the plain JavaScript backend.
 */
export type BackendClass = 'gpu' | 'fast-cpu' | 'cpu';

export function backendClass(backend: string): BackendClass {
  if (backend === 'wasm' || backend === 'cpu') return 'cpu';
  if (backend === 'tensorflow') return 'fast-cpu';
  return 'gpu';
}

/** Proposed settings for a backend, and the sentence the panel shows to say why. */
export interface ProposedDefaults {
  settings: TrainSettings;
  why: string;
}

/**
 * The panel's starting settings on `backend`.
 * - On wasm or cpu: `unet-small` at 128², batch 2, lr 1e-3, 40 epochs. An epoch of voc-mini's 3
 *   training images takes about a second here, one of a few hundred images about a minute, and the
 *   loss falls within the first epochs; at lr 1e-4 a small model learns nothing in a few epochs.
 * - On native TensorFlow on the CPU: `unet-vgg16` at 256², batch 2, lr 1e-4.
 * - On a GPU: the improved U-Net paper's `unet-vgg16`, 512², batch 4, lr 1e-4, 50 epochs.
 */
export function proposedDefaults(backend: string): ProposedDefaults {
  const kind = backendClass(backend);
  if (kind === 'cpu') {
    return {
      settings: {
        ...DEFAULT_TRAIN_SETTINGS,
        model: 'unet-small',
        inputSize: 128,
        batchSize: 2,
        lr: 1e-3,
        epochs: 40,
      },
      why:
        `The engine runs on ${backend}, on the CPU: unet-small at 128², batch 2, lr 1e-3 trains an epoch of a ` +
        'few hundred images in about a minute and learns within a few epochs. The paper’s unet-vgg16 at 512² ' +
        'would not fit the wasm heap.',
    };
  }
  if (kind === 'fast-cpu') {
    return {
      settings: { ...DEFAULT_TRAIN_SETTINGS, model: 'unet-vgg16', inputSize: 256, batchSize: 2, lr: 1e-4 },
      why:
        'The engine runs on native TensorFlow on the CPU: the paper’s unet-vgg16 and lr 1e-4, at 256² and ' +
        'batch 2 so that a step takes seconds rather than minutes.',
    };
  }
  return {
    settings: { ...DEFAULT_TRAIN_SETTINGS },
    why: `The engine runs on ${backend}, a GPU: the improved U-Net paper’s settings, unet-vgg16 at 512², batch 4, lr 1e-4.`,
  };
}

/** The settings the backend's proposal sets; what `settingsFor` reports when it used them. */
const PROPOSED = ['model', 'inputSize', 'batchSize', 'lr', 'epochs'] as const;

/**
 * The settings a run started without the panel (`segscope train`) gets on `backend`: the panel's
 * proposal for it, overridden by what was `given`; a model given without an input size gets the size
 * the panel proposes for that model. `chose` names, in one line, the proposed settings used and why;
 * null when every one was given.
 */
export function settingsFor(
  backend: string,
  given: Partial<TrainSettings>,
): { settings: TrainSettings; chose: string | null } {
  const proposal = proposedDefaults(backend);
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  const settings: TrainSettings = { ...proposal.settings, ...defined };
  if (given.model !== undefined && given.inputSize === undefined) {
    settings.inputSize = proposedInputSize(given.model, backend) ?? settings.inputSize;
  }
  const used = PROPOSED.filter((k) => given[k] === undefined);
  if (!used.length) return { settings, chose: null };
  const words: Record<(typeof PROPOSED)[number], string> = {
    model: settings.model,
    inputSize: `${settings.inputSize}²`,
    batchSize: `batch ${settings.batchSize}`,
    lr: `lr ${settings.lr.toExponential()}`,
    epochs: `${settings.epochs} epochs`,
  };
  const sized =
    given.model !== undefined && used.includes('inputSize')
      ? ` ${settings.inputSize}² is the input size proposed for ${settings.model} there.`
      : '';
  return {
    settings,
    chose:
      `defaults for ${backend}: ${used.map((k) => words[k]).join(', ')}. ` +
      (given.model === undefined ? proposal.why : `What the panel starts with there.${sized}`),
  };
}

/** The input side the panel proposes for `model` on `backend`; null for an unknown model. */
export function proposedInputSize(model: string, backend: string): number | null {
  const info = modelInfo(model);
  if (!info) return null;
  return backendClass(backend) === 'gpu' ? info.defaultInputSize.gpu : info.defaultInputSize.cpu;
}

/** The wasm backend's heap: 32-bit addresses. */
export const WASM_HEAP_BYTES = 4 * 2 ** 30;

/**
 * A rough lower bound on the bytes a training step holds: the weights, their gradients and Adam's two
 * moments (4 copies of the parameters, float32), plus every layer's output for the batch, kept for the
 * backward pass, and as much again for the gradients flowing back through them.
 */
export function trainingBytes(
  settings: Pick<TrainSettings, 'model' | 'inputSize' | 'batchSize'>,
): number | null {
  const info = modelInfo(settings.model);
  if (!info) return null;
  const weights = info.params * 4 * 4;
  const activations = info.activationsPerPixel * settings.inputSize ** 2 * settings.batchSize * 4 * 2;
  return weights + activations;
}

/**
 * Why a run cannot fit the wasm heap, in words, with what to change; null when it may fit or the
 * backend is not wasm. Known: unet-vgg16 at 512², batch 4 runs out of memory on the first step.
 */
export function heapProblem(
  settings: Pick<TrainSettings, 'model' | 'inputSize' | 'batchSize'>,
  backend: string | null,
): string | null {
  if (backend !== 'wasm') return null;
  const bytes = trainingBytes(settings);
  if (bytes === null || bytes < WASM_HEAP_BYTES) return null;
  const gb = (bytes / 2 ** 30).toFixed(1);
  return (
    `${settings.model} at ${settings.inputSize}², batch ${settings.batchSize} needs about ${gb} GB, more ` +
    'than the wasm backend’s 4 GB heap: lower the input size or the batch, or choose a smaller model.'
  );
}
