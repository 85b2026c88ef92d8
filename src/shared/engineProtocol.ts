// Messages between main and the engine process. Requests carry an id; the engine answers each with one
// result, and may send progress for it before. Runs in any process.
import type { BackendInfo, BackendPreference, TrainJob, TrainProgress } from './training';

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
  | { id: number; type: 'cancel' };

export type EngineResult = {
  init: BackendInfo;
  models: ModelInfo[];
  train: { status: 'done' | 'stopped-early' | 'cancelled'; epochs: number; bestMiou: number | null };
  cancel: { cancelling: boolean };
};

export type EngineMessage =
  | { type: 'result'; id: number; ok: true; result: unknown }
  | { type: 'result'; id: number; ok: false; error: string }
  | { type: 'progress'; id: number; progress: TrainProgress }
  | { type: 'ready' };
