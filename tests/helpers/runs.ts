// Training jobs on voc-mini for tests: the quick settings that overfit it (unet-small at 64², no
// augmentation, wasm) and a job that trains and validates on all five images.
import { join } from 'node:path';
import { DEFAULT_TRAIN_SETTINGS, type TrainJob, type TrainSettings } from '../../src/shared/training';
import { vocColormap, VOC_CLASS_NAMES } from '../../src/shared/voc';
import { tempDir, VOC_MINI, VOC_MINI_IDS } from './data';

/** Settings that make unet-small memorise voc-mini within seconds per epoch on wasm. */
export const QUICK_SETTINGS: Partial<TrainSettings> = {
  model: 'unet-small',
  inputSize: 64,
  batchSize: 5,
  lr: 2e-3,
  schedule: 'constant',
  augment: { scale: false, rotate: false, flip: false, hsv: false },
  backend: 'wasm',
};

/** A job on the read-only voc-mini (train and val: all five images), writing to `runDir`. */
export function vocMiniJob(settings: Partial<TrainSettings>, runDir = join(tempDir(), 'run')): TrainJob {
  return {
    settings: { ...DEFAULT_TRAIN_SETTINGS, ...QUICK_SETTINGS, ...settings },
    datasetRoot: VOC_MINI,
    labelDir: 'SegmentationClass',
    classNames: [...VOC_CLASS_NAMES],
    colormap: [...vocColormap()],
    trainIds: VOC_MINI_IDS,
    valIds: VOC_MINI_IDS,
    imageFiles: Object.fromEntries(VOC_MINI_IDS.map((id) => [id, `${id}.jpg`])),
    runDir,
    resume: false,
  };
}
