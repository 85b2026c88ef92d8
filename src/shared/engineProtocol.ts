// Messages between main and the engine process. Requests carry an id; the engine answers each with one
// result, and may send progress for it before. Runs in any process.
import type { SegmentationMetrics } from './metrics';
import type { BackendInfo, BackendPreference, TrainJob, TrainProgress } from './training';

/** Progress of a job over a list of images (predict, eval). */
export interface ItemsProgress {
  kind: 'items';
  done: number;
  total: number;
}

/** Which checkpoint of a run to use. */
export type CheckpointName = 'best' | 'last';

/** One model the engine can build. */
export interface ModelInfo {
  id: string;
  title: string;
  /** Parameters for 21 classes. */
  params: number;
  /** Input sides must be multiples of this. */
  sizeMultiple: number;
  /** Every conv layer, in build order: the Grad-CAM layer picker's list. */
  convLayers: string[];
}

export type EngineRequest =
  | { id: number; type: 'init'; backend: BackendPreference }
  | { id: number; type: 'models' }
  | { id: number; type: 'train'; job: TrainJob }
  | { id: number; type: 'cancel' }
  | {
      id: number;
      type: 'predict';
      runDir: string;
      checkpoint: CheckpointName;
      files: string[];
      outDir: string;
      blend: boolean;
      /** 768 bytes of RGB: the palette of the written PNGs and the blend colours. */
      colormap: number[];
    }
  | {
      id: number;
      type: 'eval';
      runDir: string;
      checkpoint: CheckpointName;
      pairs: { image: string; label: string }[];
      classNames: string[];
      colormap: number[];
    };

export type EngineResult = {
  init: BackendInfo;
  models: ModelInfo[];
  train: { status: 'done' | 'stopped-early' | 'cancelled'; epochs: number; bestMiou: number | null };
  cancel: { cancelling: boolean };
  predict: { written: string[] };
  eval: SegmentationMetrics;
};

export type EngineMessage =
  | { type: 'result'; id: number; ok: true; result: unknown }
  | { type: 'result'; id: number; ok: false; error: string }
  | { type: 'progress'; id: number; progress: TrainProgress | ItemsProgress }
  | { type: 'ready' };
