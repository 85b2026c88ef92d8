// The one table of training settings' limits and choices: main's schema (training.ts), the panel's form
// checks (trainForm.ts), and the CLI's flags, their parsing and their help are all built from it. Plain
// data with no imports, so that the CLI's help can read it without loading anything. Runs in any process.

/** A numeric setting: its bounds, whether it is whole, and how a person and the CLI name it. */
export interface NumberField {
  /** The form's label, which also starts its messages. */
  label: string;
  min: number;
  max: number;
  /** Whole numbers only. */
  whole: boolean;
  /** The value must be above `min` rather than at least it (a learning rate of 0 trains nothing). */
  aboveMin?: boolean;
  /** The `segscope train` flag that sets it, when it has one. */
  flag?: string;
  /** What the flag's help says it is. */
  help?: string;
  /** Checked field by field in the panel's form (the seed has no field there). */
  inForm: boolean;
}

/** Every numeric training setting, keyed as `TrainSettings` names it. */
export const TRAIN_NUMBERS = {
  epochs: {
    label: 'Epochs',
    min: 1,
    max: 10_000,
    whole: true,
    flag: 'epochs',
    help: 'epochs to train; with --resume, the total to extend the run to',
    inForm: true,
  },
  batchSize: {
    label: 'Batch',
    min: 1,
    max: 256,
    whole: true,
    flag: 'batch',
    help: 'images per step',
    inForm: true,
  },
  inputSize: {
    label: 'Input size',
    min: 16,
    max: 2048,
    whole: true,
    flag: 'input-size',
    help: "side of the square input, a multiple of the model's size multiple",
    inForm: true,
  },
  lr: {
    label: 'Learning rate',
    min: 0,
    max: 10,
    whole: false,
    aboveMin: true,
    flag: 'lr',
    help: 'learning rate',
    inForm: true,
  },
  momentum: { label: 'Momentum', min: 0, max: 1, whole: false, inForm: true },
  weightDecay: { label: 'Weight decay', min: 0, max: 1, whole: false, inForm: true },
  freezeEpochs: { label: 'Frozen encoder epochs', min: 0, max: 10_000, whole: true, inForm: true },
  patience: { label: 'Early stopping', min: 1, max: 10_000, whole: true, inForm: true },
  seed: {
    label: 'Seed',
    min: 0,
    max: 2 ** 31,
    whole: true,
    flag: 'seed',
    help: 'weight initialisation and shuffling seed',
    inForm: false,
  },
} as const satisfies Record<string, NumberField>;

export type NumberSetting = keyof typeof TRAIN_NUMBERS;

/** The settings chosen from a list, with their choices. */
export const TRAIN_CHOICES = {
  optimizer: ['adam', 'sgd'],
  schedule: ['cos', 'step', 'constant'],
  classWeights: ['none', 'balanced'],
} as const;

/** The longest split name, model id and path a setting may hold. */
export const TRAIN_TEXT_MAX = { split: 255, model: 50, path: 4096 } as const;

/**
 * What is wrong with `value` for the numeric setting `field`, in words starting with `label` (the
 * form's label, or the CLI's flag); null when it is within the table's bounds.
 */
export function numberProblem(
  field: NumberSetting,
  value: unknown,
  label: string = TRAIN_NUMBERS[field].label,
): string | null {
  const f: NumberField = TRAIN_NUMBERS[field];
  if (typeof value !== 'number' || !Number.isFinite(value)) return `${label}: enter a number`;
  if (f.whole) {
    if (!Number.isInteger(value) || value < f.min || value > f.max)
      return `${label} must be a whole number from ${f.min} to ${f.max}`;
    return null;
  }
  if (f.aboveMin)
    return value > f.min && value <= f.max
      ? null
      : `${label} must be above ${f.min} and at most ${f.max}, e.g. 0.001`;
  return value >= f.min && value <= f.max ? null : `${label} must be from ${f.min} to ${f.max}`;
}

/** The bounds of a numeric setting as help text shows them: `1–256`, or `above 0, at most 10`. */
export function describeBounds(field: NumberSetting): string {
  const f: NumberField = TRAIN_NUMBERS[field];
  return f.aboveMin ? `above ${f.min}, at most ${f.max}` : `${f.min}–${f.max}`;
}
