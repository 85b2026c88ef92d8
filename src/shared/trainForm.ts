// Checks of the training form, field by field, in words a person uses, with the limits of the one
// settings table (trainFields.ts) that main's schema is built from too. Runs in any process; the panel
// shows each message beside its field.
import { modelInfo } from './modelCatalog';
import { numberProblem, TRAIN_NUMBERS, type NumberSetting } from './trainFields';
import type { TrainSettings } from './training';

type FormNumber = {
  [K in NumberSetting]: (typeof TRAIN_NUMBERS)[K]['inForm'] extends true ? K : never;
}[NumberSetting];

/** The numeric fields the form checks, in the table's order. */
const FORM_NUMBERS = (Object.keys(TRAIN_NUMBERS) as NumberSetting[]).filter(
  (k): k is FormNumber => TRAIN_NUMBERS[k].inForm,
);

/** The bounds of each numeric field of the form (from trainFields.ts); the panel puts them on its inputs. */
export const TRAIN_LIMITS = Object.fromEntries(
  FORM_NUMBERS.map((k) => [k, { min: TRAIN_NUMBERS[k].min, max: TRAIN_NUMBERS[k].max }]),
) as { readonly [K in FormNumber]: { readonly min: number; readonly max: number } };

export type TrainField = FormNumber | 'split' | 'valSplit';

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
  for (const field of FORM_NUMBERS) {
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
