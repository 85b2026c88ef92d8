// Messages between main and the engine process. Requests carry an id; the engine answers each with one
// result, and may send progress for it before. Runs in any process.
import type { CamMethod } from './camMethods';
import type { RefineOptions } from './draftRefine';
import type { ErrorCode } from './errors';
import type { SegmentationMetrics } from './metrics';
import type { ModelInfo } from './modelCatalog';
import type { BackendInfo, BackendPreference, Diagnosis, TrainJob, TrainProgress } from './training';

/** Progress of a job over a list of images (predict, eval). */
export interface ItemsProgress {
  kind: 'items';
  done: number;
  total: number;
}

/** Which checkpoint of a run to use. */
export type CheckpointName = 'best' | 'last';

/** The Grad-CAM methods the engine offers (pytorch-grad-cam's GradCAM, GradCAMPlusPlus, HiResCAM). */
export type { CamMethod };

/** A Grad-CAM heatmap of one layer, 0..1, row-major at `width`×`height`. */
export interface CamMap {
  layer: string;
  width: number;
  height: number;
  cam: Float32Array;
  /** Nothing at the layer raises the class's score: the weighted sum is nowhere positive, the map all 0. */
  empty: boolean;
}

/** One model the engine can build: the static catalog entry. */
export type { ModelInfo };

/**
 * Where the engine keeps a run's derived files (its ONNX Runtime cache): `dir`, in the run folder's
 * layout, confined to `root`. For a run of the dataset's own both are the run folder; for a run
 * attached from elsewhere, which is only read, `dir` is in the open dataset's workspace and `root` is
 * the dataset. Left out, the run folder itself.
 */
export interface DerivedPlace {
  dir: string;
  root: string;
}

export type EngineRequest =
  | { id: number; type: 'init'; backend: BackendPreference }
  | { id: number; type: 'models' }
  | { id: number; type: 'doctor' }
  | { id: number; type: 'train'; job: TrainJob }
  /** Writes a new run's folder and initial checkpoint without training it (the PyTorch engine trains it). */
  | { id: number; type: 'prepare'; job: TrainJob }
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
    }
  | {
      /** Segments one image with a run: labels and confidences at its size, and the classes present. */
      id: number;
      type: 'segment';
      runDir: string;
      checkpoint: CheckpointName;
      derived?: DerivedPlace;
      /** Path of the image file. */
      image: string;
    }
  | {
      /**
       * The draft of one image with a run, refined against the image (`draftRefine`); `refine` overrides
       * the app's defaults (the click bench compares methods with it).
       */
      id: number;
      type: 'draft';
      runDir: string;
      checkpoint: CheckpointName;
      derived?: DerivedPlace;
      image: string;
      refine?: Partial<RefineOptions>;
    }
  | {
      /** The layers Grad-CAM can use for a run's model, and the one it uses by default. */
      id: number;
      type: 'camLayers';
      runDir: string;
      checkpoint: CheckpointName;
      derived?: DerivedPlace;
    }
  | {
      /** Grad-CAM of one class at one layer (the model's default layer when left out), at the image's size. */
      id: number;
      type: 'cam';
      runDir: string;
      checkpoint: CheckpointName;
      derived?: DerivedPlace;
      image: string;
      classIndex: number;
      layer?: string;
      method: CamMethod;
    }
  | {
      /** Grad-CAM of one class at each of `layers`, from one forward and one backward pass. */
      id: number;
      type: 'camSweep';
      runDir: string;
      checkpoint: CheckpointName;
      derived?: DerivedPlace;
      image: string;
      classIndex: number;
      method: CamMethod;
      layers: string[];
      /** Each map is downsized so that its longer side is at most this. */
      maxSide: number;
    }
  | {
      /** Writes a run's checkpoint as an ONNX file (opset 17, with Segscope's metadata) at `out`. */
      id: number;
      type: 'export';
      runDir: string;
      checkpoint: CheckpointName;
      out: string;
    };

export type EngineResult = {
  init: BackendInfo;
  models: ModelInfo[];
  doctor: Diagnosis;
  train: { status: 'done' | 'stopped-early' | 'cancelled'; epochs: number; bestMiou: number | null };
  /** `normalization`: how the model scales its input (the registry's), which the PyTorch workers need. */
  prepare: { runDir: string; normalization: string };
  cancel: { cancelling: boolean };
  predict: { written: string[] };
  eval: SegmentationMetrics;
  segment: {
    width: number;
    height: number;
    /** Argmax class per pixel. */
    labels: Uint8Array;
    /** Softmax probability of the argmax class per pixel. */
    confidence: Float32Array;
    /** Mean over pixels of the softmax's entropy / ln(classes), 0..1. */
    meanEntropy: number;
    /** Every class with at least one pixel, by index. */
    classes: { index: number; pixels: number }[];
  };
  draft: {
    width: number;
    height: number;
    /** Class per pixel of the refined draft. */
    labels: Uint8Array;
    /** Probability of the pixel's class, 0..1. */
    confidence: Float32Array;
    /** Mean normalised entropy of the refined probabilities, 0..1. */
    meanEntropy: number;
  };
  camLayers: { layers: string[]; defaultLayer: string };
  cam: CamMap;
  camSweep: CamMap[];
  export: { path: string; bytes: number; opset: number };
};

export type EngineMessage =
  | { type: 'result'; id: number; ok: true; result: unknown }
  | {
      type: 'result';
      id: number;
      ok: false;
      error: string;
      /** Set when the failure is a known kind (a damaged checkpoint file is `bad-file`). */
      code?: ErrorCode;
    }
  | { type: 'progress'; id: number; progress: TrainProgress | ItemsProgress }
  | { type: 'ready' };
