// Checks of the training form, field by field, in words a person uses, with the same limits main's
// schema enforces (api.ts). Runs in any process; the panel shows each message beside its field.
import { modelInfo } from './modelCatalog';
import type { TrainSettings } from './training';

/** The bounds of each numeric field; the panel puts them on its inputs as min and max. */
export const TRAIN_LIMITS = {
  epochs: { min: 1, max: 10_000 },
  batchSize: { min: 1, max: 256 },
  inputSize: { min: 16, max: 2048 },
  lr: { min: 0, max: 10 },
  momentum: { min: 0, max: 1 },
  weightDecay: { min: 0, max: 1 },
  freezeEpochs: { min: 0, max: 10_000 },
  patience: { min: 1, max: 10_000 },
} as const;

export type TrainField = keyof typeof TRAIN_LIMITS | 'split' | 'valSplit';

const LABELS: Record<keyof typeof TRAIN_LIMITS, string> = {
  epochs: 'Epochs',
  batchSize: 'Batch',
  inputSize: 'Input size',
  lr: 'Learning rate',
  momentum: 'Momentum',
  weightDecay: 'Weight decay',
  freezeEpochs: 'Frozen encoder epochs',
  patience: 'Early stopping',
};

const WHOLE = new Set<keyof typeof TRAIN_LIMITS>([
  'epochs',
  'batchSize',
  'inputSize',
  'freezeEpochs',
  'patience',
]);

/** A field's value as the form holds it: a number, or '' / null when the box is empty. */
function numberProblem(field: keyof typeof TRAIN_LIMITS, value: unknown): string | null {
  const { min, max } = TRAIN_LIMITS[field];
  const label = LABELS[field];
  if (typeof value !== 'number' || !Number.isFinite(value)) return `${label}: enter a number`;
  if (WHOLE.has(field)) {
    if (!Number.isInteger(value) || value < min || value > max)
      return `${label} must be a whole number from ${min} to ${max}`;
    return null;
  }
  if (field === 'lr')
    return value > 0 && value <= max ? null : `${label} must be above 0 and at most ${max}, e.g. 0.001`;
  return value >= min && value <= max ? null : `${label} must be from ${min} to ${max}`;
}

/**
 * What is wrong with each field of `s`, by field; empty when the form can start a run.
 *
 * @param splitSizes images per split of the open dataset, to say when a batch is larger than the split
 */
export function trainFieldErrors(
  s: TrainSettings,
  splitSizes: ReadonlyMap<string, number>,
): Partial<Record<TrainField, string>> {
  const errors: Partial<Record<TrainField, string>> = {};
  for (const field of Object.keys(TRAIN_LIMITS) as (keyof typeof TRAIN_LIMITS)[]) {
    if (field === 'patience' && s.patience === null) continue;
    if (field === 'momentum' && s.optimizer !== 'sgd') continue;
    const problem = numberProblem(field, s[field]);
    if (problem) errors[field] = problem;
  }
  const info = modelInfo(s.model);
  if (!errors.inputSize && info && s.inputSize % info.sizeMultiple !== 0) {
    const lower = Math.max(info.sizeMultiple, s.inputSize - (s.inputSize % info.sizeMultiple));
    errors.inputSize = `${s.model} needs an input size that is a multiple of ${info.sizeMultiple}, e.g. ${lower} or ${lower + info.sizeMultiple}`;
  }
  const count = splitSizes.get(s.split);
  if (count === undefined)
    errors.split = `Choose a train split; this dataset has ${[...splitSizes.keys()].join(', ') || 'none'}`;
  else if (count === 0) errors.split = `Split ${s.split} has no images`;
  else if (!errors.batchSize && s.batchSize > count)
    errors.batchSize = `Batch ${s.batchSize} is larger than split ${s.split} (${count} images); each epoch would be a single smaller step. Use ${count} or less.`;
  if (s.valSplit !== null && !splitSizes.has(s.valSplit))
    errors.valSplit = `This dataset has no split ${s.valSplit}; choose another or none`;
  return errors;
}
