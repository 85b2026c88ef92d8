// Training settings, progress and run records: what the panel and the CLI set, what the engine reports,
// and what a run folder holds. Runs in any process.
import { z } from 'zod';
import { BACKEND_PREFERENCES, type BackendName } from './backends';
import type { SegmentationMetrics } from './metrics';
import {
  TRAIN_CHOICES,
  TRAIN_NUMBERS,
  TRAIN_TEXT_MAX,
  type NumberField,
  type NumberSetting,
} from './trainFields';

export { BACKEND_PREFERENCES, BACKENDS, type BackendName, type BackendPreference } from './backends';

/** The GPU adapter the webgpu backend runs on, as the adapter reports it. */
export interface GpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU rasteriser posing as a GPU (llvmpipe, SwiftShader, lavapipe): `auto` never picks one. */
  software: boolean;
  /** The API Dawn drives it through: the platform's own, or OpenGL ES in compatibility mode. */
  api: 'Vulkan' | 'Metal' | 'D3D12' | 'OpenGL ES';
}

/** One line naming a GPU adapter, e.g. "nvidia hopper, NVIDIA H200 (Vulkan)". */
export function describeAdapter(a: GpuAdapterInfo): string {
  const vendor = [a.vendor, a.architecture].filter(Boolean).join(' ');
  const name = [vendor, a.device, a.description].filter(Boolean).join(', ') || 'an unnamed adapter';
  return `${name} (${a.api}${a.software ? ', software' : ''})`;
}

/** The backend the engine runs on, and why each faster one was passed over. */
export interface BackendInfo {
  name: BackendName;
  reason: string;
  skipped: { name: string; reason: string }[];
  /** Set when the backend is webgpu; absent on the others. */
  adapter?: GpuAdapterInfo;
}

/** What `segscope doctor` reports: each backend and why it was or was not used, adapters, packages. */
export interface Diagnosis {
  /** What `auto` picked. */
  backend: BackendInfo;
  /** Every backend in the `auto` order: in use, skipped (with why), or not tried (a faster one won). */
  backends: { name: BackendName; status: 'in use' | 'skipped' | 'not tried'; reason: string }[];
  /** Every adapter Dawn found, hardware and software. */
  adapters: GpuAdapterInfo[];
  /** The optional packages the engine may use. */
  packages: { name: string; version: string | null; note: string }[];
}

/** A numeric setting's schema, from the table's bounds (also what a run's config is read against). */
export function numberSchema(field: NumberSetting): z.ZodNumber {
  const f: NumberField = TRAIN_NUMBERS[field];
  const n = f.whole ? z.number().int() : z.number();
  return (f.aboveMin ? n.gt(f.min) : n.min(f.min)).max(f.max);
}

const splitName = z.string().min(1).max(TRAIN_TEXT_MAX.split);
const filePath = z.string().max(TRAIN_TEXT_MAX.path);

/** Which augmentations are applied to training samples. */
export const AUGMENT_SCHEMA = z
  .object({ scale: z.boolean(), rotate: z.boolean(), flip: z.boolean(), hsv: z.boolean() })
  .strict();
export type AugmentSettings = z.output<typeof AUGMENT_SCHEMA>;

/**
 * What the user chooses before training: the one schema of training settings. `TrainSettings` is its
 * type; main validates `training:start` against it (api.ts), and its bounds come from trainFields.ts.
 */
export const TRAIN_SETTINGS_SCHEMA = z
  .object({
    model: z.string().min(1).max(TRAIN_TEXT_MAX.model),
    epochs: numberSchema('epochs'),
    batchSize: numberSchema('batchSize'),
    /** Side of the square (letterboxed) input. */
    inputSize: numberSchema('inputSize'),
    lr: numberSchema('lr'),
    optimizer: z.enum(TRAIN_CHOICES.optimizer),
    /** SGD momentum. */
    momentum: numberSchema('momentum'),
    /** L2 penalty on the kernels, added to the loss. */
    weightDecay: numberSchema('weightDecay'),
    schedule: z.enum(TRAIN_CHOICES.schedule),
    /** Epochs with the pretrained encoder frozen before it is trained too. */
    freezeEpochs: numberSchema('freezeEpochs'),
    split: splitName,
    /** Null to train without validation. */
    valSplit: splitName.nullable(),
    augment: AUGMENT_SCHEMA,
    /** Adds a soft Dice term to the cross-entropy. */
    dice: z.boolean(),
    /** `balanced` weights each class by median frequency / its frequency in the training labels. */
    classWeights: z.enum(TRAIN_CHOICES.classWeights),
    /** Stop after this many epochs without a better validation mIoU; null never stops early. */
    patience: numberSchema('patience').nullable(),
    seed: numberSchema('seed'),
    backend: z.enum(BACKEND_PREFERENCES),
    /**
     * Absolute path of a Keras applications `.h5` file (e.g. `vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`)
     * whose ImageNet weights are set on the backbone, by layer name, when a new run builds its model; null
     * (or absent, in runs from before this setting) starts from random weights.
     */
    backboneWeights: filePath.nullable().optional(),
    /**
     * Absolute path of a checkpoint folder (`<run>/checkpoints/best|last`) whose model a new run starts
     * from instead of a fresh one: fine-tuning. Null or absent starts fresh. Set by main and the CLI only:
     * the `training:start` request leaves it out.
     */
    initFrom: filePath.nullable().optional(),
  })
  .strict();

/** What the user chooses before training (see `TRAIN_SETTINGS_SCHEMA`). */
export type TrainSettings = z.output<typeof TRAIN_SETTINGS_SCHEMA>;

/** The defaults of the improved U-Net paper: Adam, lr 1e-4, cosine schedule, input 512, batch 4. */
export const DEFAULT_TRAIN_SETTINGS: TrainSettings = {
  model: 'unet-vgg16',
  epochs: 50,
  batchSize: 4,
  inputSize: 512,
  lr: 1e-4,
  optimizer: 'adam',
  momentum: 0.9,
  weightDecay: 0,
  schedule: 'cos',
  freezeEpochs: 0,
  split: 'train',
  valSplit: 'val',
  augment: { scale: true, rotate: false, flip: true, hsv: true },
  dice: false,
  classWeights: 'none',
  patience: null,
  seed: 1,
  backend: 'auto',
  backboneWeights: null,
};

/** Everything the engine needs to train: the settings plus the resolved dataset and run folder. */
export interface TrainJob {
  settings: TrainSettings;
  datasetRoot: string;
  labelDir: string;
  classNames: string[];
  /** RGB triplets for 256 indices: maps RGB masks to classes. */
  colormap: number[];
  trainIds: string[];
  valIds: string[];
  /** Image file name in `JPEGImages/` of every id above (the extension varies). */
  imageFiles: Record<string, string>;
  runDir: string;
  /** Continue the run in `runDir` from its last checkpoint. */
  resume: boolean;
}

/** One line of a run's metrics (the layout: src/main/common/runFolder.ts). */
export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  valLoss: number | null;
  miou: number | null;
  pixelAccuracy: number | null;
  lr: number;
  seconds: number;
  /** True when this epoch's checkpoint became `best`. */
  best: boolean;
}

/** Progress of a training run, throttled to about 10 events a second. */
export type TrainProgress =
  | {
      kind: 'step';
      runId: string;
      epoch: number;
      epochs: number;
      step: number;
      steps: number;
      loss: number;
      lr: number;
      imagesPerSec: number;
      etaSec: number;
    }
  | { kind: 'epoch'; runId: string; record: EpochRecord }
  /**
   * A start-up phase of a run on the PyTorch engine: `prepared` (Segscope's engine wrote the run, seconds
   * since the launch), then from rank 0 `torch-imported`, `rendezvous` and `ready` (seconds since that
   * worker started).
   */
  | { kind: 'phase'; runId: string; phase: TorchPhase; seconds: number };

/** The start-up phases a run on the PyTorch engine reports, in order. */
export type TorchPhase = 'prepared' | 'torch-imported' | 'rendezvous' | 'ready';

/**
 * `interrupted`: the run was `running` but the process that ran it is gone (killed, crashed, the
 * machine restarted). Main writes it when it sees its engine die; readers derive it from a `running`
 * state whose process is gone. An interrupted run can be resumed.
 */
export type RunStatus = 'running' | 'done' | 'stopped-early' | 'cancelled' | 'failed' | 'interrupted';

/** The state file of a run folder (the layout: src/main/common/runFolder.ts). */
export interface RunState {
  status: RunStatus;
  /** Last completed epoch (0 before the first). */
  epoch: number;
  bestMiou: number | null;
  bestEpoch: number | null;
  backend: BackendName | null;
  startedAt: string;
  endedAt: string | null;
  error: string | null;
  /** The process that writes this run while it is `running` (absent in runs from older versions). */
  pid?: number | null;
  /** The machine that process runs on: a pid means nothing on another one. */
  host?: string | null;
  /** When that process last said it was alive; refreshed during training. */
  heartbeatAt?: string | null;
}

/** The state of a run that starts now and has finished no epoch. */
export function startingRunState(backend: BackendName | null): RunState {
  return {
    status: 'running',
    epoch: 0,
    bestMiou: null,
    bestEpoch: null,
    backend,
    startedAt: new Date().toISOString(),
    endedAt: null,
    error: null,
  };
}

/** The evaluation file of a run: the validation of its best checkpoint. */
export interface RunEvaluation {
  epoch: number;
  split: string;
  /** The model's input size. */
  inputSize: number;
  /** `input`: the validation during training, on letterboxed inputs; `original`: `segscope eval`, at full size. */
  resolution: 'input' | 'original';
  /** The checkpoint evaluated. */
  checkpoint: 'best' | 'last';
  metrics: SegmentationMetrics;
}

/** A run as listed in the panel. */
export interface RunSummary {
  id: string;
  dir: string;
  settings: TrainSettings;
  state: RunState;
  epochs: EpochRecord[];
  hasLast: boolean;
  hasBest: boolean;
  evaluation: RunEvaluation | null;
  /**
   * The batch losses of the run's steps file, by global step (`(epoch - 1) * steps + step`), averaged into at
   * most `MAX_BATCH_POINTS` points; absent for runs from before it was kept.
   */
  batchLosses?: { step: number; loss: number }[];
  /**
   * Set when a file of the run is damaged (a run file of the wrong shape, a line that is not a record):
   * which file and what is wrong. The run is still listed, with what could be read.
   */
  problem?: string;
}

/** At most this many batch-loss points are listed per run: enough for a chart, small on the wire. */
export const MAX_BATCH_POINTS = 1000;
