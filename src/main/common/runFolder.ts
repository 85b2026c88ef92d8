// The run folder: the one owner of reading and writing its files, for the engine, the services and the
// CLI (and the layout the PyTorch engine writes too); the names and the layout are in runLayout.ts.
// Plain Node; any process.
//
// jsonl files are appended, so a kill can leave the last line cut short: such a line is skipped.
// A line that parses but has the wrong shape, or a JSON file of the wrong shape, is a problem that
// names the file and what is wrong.
import { join } from 'node:path';
import { z } from 'zod';
import { WorkbenchError } from '../../shared/errors';
import type { CheckpointName } from '../../shared/engineProtocol';
import { MODEL_IDS } from '../../shared/modelCatalog';
import {
  numberSchema,
  type EpochRecord,
  type RunEvaluation,
  type RunState,
  type TrainJob,
} from '../../shared/training';
import { Confined } from './confine';
import { CHECKPOINT_FILES, CHECKPOINT_NAMES, CHECKPOINTS_DIR, EXPORT_DIR, RUN_FILES } from './runLayout';

export { CHECKPOINT_FILES, CHECKPOINT_NAMES, CHECKPOINTS_DIR, EXPORT_DIR, RUN_FILES };

/** One line of `steps.jsonl`: every batch loss of one epoch. */
export interface StepsRecord {
  epoch: number;
  steps: number;
  losses: number[];
}

const finite = z.number().refine(Number.isFinite, 'expected a finite number');
const count = z.number().int().min(0);

// The model and the sizes the engine allocates from are checked here, so a config naming a model this
// Segscope lacks, or an input of a million pixels a side, is refused naming the file, not met as an
// internal error (or an allocation) in the engine. Epochs stay open: a resumed run may pass the form's max.
const settingsSchema = z.looseObject({
  model: z.string().refine((id) => (MODEL_IDS as readonly string[]).includes(id), {
    error: (issue) =>
      `unknown model ${JSON.stringify(issue.input)} (this Segscope has ${MODEL_IDS.join(', ')})`,
  }),
  epochs: z.number().int().min(1),
  batchSize: numberSchema('batchSize'),
  inputSize: numberSchema('inputSize'),
  split: z.string(),
  valSplit: z.string().nullable(),
});

const configSchema = z.looseObject({
  settings: settingsSchema,
  datasetRoot: z.string(),
  labelDir: z.string(),
  classNames: z.array(z.string()),
  colormap: z.array(z.number()),
  trainIds: z.array(z.string()),
  valIds: z.array(z.string()),
  imageFiles: z.record(z.string(), z.string()).optional(),
  runDir: z.string(),
  resume: z.boolean(),
});

// Only the status and the epoch are required: a state written by an older engine (or by hand) may
// lack the rest, which reads as "not known".
const stateSchema = z.looseObject({
  status: z.enum(['running', 'done', 'stopped-early', 'cancelled', 'failed', 'interrupted']),
  epoch: count,
  bestMiou: z.number().nullable().default(null),
  bestEpoch: count.nullable().default(null),
  backend: z.string().nullable().default(null),
  startedAt: z.string().default(''),
  endedAt: z.string().nullable().default(null),
  error: z.string().nullable().default(null),
  pid: z.number().int().nullable().optional(),
  host: z.string().nullable().optional(),
  heartbeatAt: z.string().nullable().optional(),
});

const epochSchema = z.looseObject({
  epoch: z.number().int().min(1),
  trainLoss: z.number(),
  valLoss: z.number().nullable(),
  miou: z.number().nullable(),
  pixelAccuracy: z.number().nullable(),
  lr: z.number(),
  seconds: z.number(),
  best: z.boolean(),
});

const stepsSchema = z.looseObject({
  epoch: z.number().int().min(1),
  steps: z.number().int().min(1),
  losses: z.array(finite),
});

const evalSchema = z.looseObject({
  epoch: count,
  split: z.string(),
  inputSize: z.number().int().min(1),
  resolution: z.enum(['input', 'original']),
  checkpoint: z.enum(['best', 'last']),
  metrics: z.looseObject({ miou: z.number().nullable().optional() }),
});

/**
 * The job of the run in `runDir`, as the engine reads it before predicting, exporting or resuming.
 *
 * @throws WorkbenchError `bad-file` (or `outside-root`) saying the folder is not a Segscope run and why,
 *   naming the file: the code survives the trip to main, so a bad config is never `internal`.
 */
export async function readRunJob(runDir: string): Promise<TrainJob> {
  try {
    return await new RunFolder(runDir).readConfig();
  } catch (err) {
    const code = err instanceof WorkbenchError ? err.code : 'bad-file';
    throw new WorkbenchError(code, `${runDir}: not a Segscope run (${(err as Error).message})`);
  }
}

/** `settings.model: expected string, received undefined`: zod's first issue, in one line. */
function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0]!;
  return `${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`;
}

/** What each JSON file is, in a refusal: "`path`: is not a run state (…)". */
const WHAT = {
  config: 'a run configuration',
  state: 'a run state',
  eval: 'a run evaluation',
} as const;

/** Parses `text`, the JSON file at `path`, through `schema`; a bad one is `bad-file` naming the path. */
function parseJsonFile<T>(path: string, text: string, schema: z.ZodType, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new WorkbenchError(
      'bad-file',
      `${path}: is not ${what} (not valid JSON: ${(err as Error).message})`,
    );
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new WorkbenchError('bad-file', `${path}: is not ${what} (${firstIssue(parsed.error)})`);
  return parsed.data as T;
}

/**
 * The records of a jsonl file. A line that is not JSON was cut short by a kill during an append and is
 * skipped; a line that is JSON of the wrong shape is skipped and reported in `problems`, naming the
 * file and the line. The one record parser of the project.
 */
export function parseRecords<T>(
  path: string,
  text: string,
  schema: z.ZodType,
): { records: T[]; problems: string[] } {
  const records: T[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return; // a line cut short by a kill
    }
    const parsed = schema.safeParse(value);
    if (parsed.success) records.push(parsed.data as T);
    else problems.push(`${path}: line ${i + 1} is not a record (${firstIssue(parsed.error)})`);
  });
  return { records, problems };
}

/** The schema of each jsonl file's lines, for readers outside this module (the PyTorch engine's tests). */
export const RECORD_SCHEMAS = { metrics: epochSchema, steps: stepsSchema } as const;

/** Paths of the derived files of a run (its ONNX cache and exports) under `base`. */
export interface DerivedLayout {
  base: string;
  /** The root these files are confined to: the run folder, or the dataset of the workspace. */
  files: Confined;
  onnx(checkpoint: CheckpointName): string;
  onnxStamp(checkpoint: CheckpointName): string;
  exportDir: string;
  exportFile(runId: string, checkpoint: CheckpointName): string;
}

/**
 * The derived-file layout under `base`, confined to `root`: the run folder itself, or a workspace folder
 * (`root` being the dataset) for an attached run.
 */
export function derivedLayout(base: string, root = base): DerivedLayout {
  return {
    base,
    files: new Confined(root, root === base ? 'the run' : 'the dataset'),
    onnx: (c) => join(base, CHECKPOINTS_DIR, c, CHECKPOINT_FILES.onnx),
    onnxStamp: (c) => join(base, CHECKPOINTS_DIR, c, CHECKPOINT_FILES.onnxStamp),
    exportDir: join(base, EXPORT_DIR),
    exportFile: (runId, c) => join(base, EXPORT_DIR, `${runId}-${c}.onnx`),
  };
}

/**
 * One run folder, confined to itself: every read and write of its files goes through here, and no
 * link in it leads one outside it.
 */
export class RunFolder {
  readonly files: Confined;

  constructor(readonly dir: string) {
    this.files = new Confined(dir, 'the run');
  }

  get configPath(): string {
    return join(this.dir, RUN_FILES.config);
  }
  get statePath(): string {
    return join(this.dir, RUN_FILES.state);
  }
  get metricsPath(): string {
    return join(this.dir, RUN_FILES.metrics);
  }
  get stepsPath(): string {
    return join(this.dir, RUN_FILES.steps);
  }
  get evalPath(): string {
    return join(this.dir, RUN_FILES.eval);
  }
  get checkpointsDir(): string {
    return join(this.dir, CHECKPOINTS_DIR);
  }
  checkpointDir(name: CheckpointName): string {
    return join(this.dir, CHECKPOINTS_DIR, name);
  }
  checkpointModel(name: CheckpointName): string {
    return join(this.checkpointDir(name), CHECKPOINT_FILES.model);
  }
  /** The derived files kept in the run folder itself (a run of the dataset's own, or one the CLI names). */
  get derived(): DerivedLayout {
    return derivedLayout(this.dir);
  }
  /** The folders temporary files of an interrupted write can be left in. */
  get writeFolders(): string[] {
    return [this.dir, ...CHECKPOINT_NAMES.map((c) => this.checkpointDir(c))];
  }

  /** Whether the folder holds a config.json at all (what makes a folder a run). */
  isRun(): Promise<boolean> {
    return this.files.exists(this.configPath);
  }

  /** Whether checkpoint `name` has been saved (its model.json is a file). */
  async hasCheckpoint(name: CheckpointName): Promise<boolean> {
    const info = await this.files.stat(this.checkpointModel(name));
    return info?.isFile() ?? false;
  }

  /**
   * Checks, before a checkpoint is loaded, that neither of its files is a link leading outside the run
   * (they are read with plain fs by tfjs's loader); a refusal names the file.
   */
  async checkCheckpoint(name: CheckpointName): Promise<void> {
    const dir = this.checkpointDir(name);
    await this.files.check(join(dir, CHECKPOINT_FILES.model));
    await this.files.check(join(dir, CHECKPOINT_FILES.weights));
  }

  /** The text of `path`, or null when it is missing; other read failures are `bad-file` naming it. */
  private async text(path: string): Promise<string | null> {
    try {
      return await this.files.readFile(path, 'utf8');
    } catch (err) {
      if (err instanceof WorkbenchError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return null;
      throw new WorkbenchError('bad-file', `${path}: cannot be read (${code ?? (err as Error).message})`);
    }
  }

  /** The job in config.json; a missing or damaged one is `bad-file`, naming the file. */
  async readConfig(): Promise<TrainJob> {
    const text = await this.text(this.configPath);
    if (text === null) throw new WorkbenchError('bad-file', `${this.configPath}: cannot be read (ENOENT)`);
    return parseJsonFile<TrainJob>(this.configPath, text, configSchema, WHAT.config);
  }

  writeConfig(job: TrainJob): Promise<string> {
    return this.files.writeJson(this.configPath, job);
  }

  /** state.json, or null when there is none; a damaged one is `bad-file`, naming it. */
  async readState(): Promise<RunState | null> {
    const text = await this.text(this.statePath);
    return text === null ? null : parseJsonFile<RunState>(this.statePath, text, stateSchema, WHAT.state);
  }

  writeState(state: RunState): Promise<string> {
    return this.files.writeJson(this.statePath, state);
  }

  /** eval.json, or null when there is none; a damaged one is `bad-file`, naming it. */
  async readEval(): Promise<RunEvaluation | null> {
    const text = await this.text(this.evalPath);
    return text === null ? null : parseJsonFile<RunEvaluation>(this.evalPath, text, evalSchema, WHAT.eval);
  }

  writeEval(evaluation: RunEvaluation): Promise<string> {
    return this.files.writeFile(this.evalPath, JSON.stringify(evaluation) + '\n');
  }

  /** The epoch records of metrics.jsonl, with the lines of the wrong shape as problems. */
  async readMetrics(): Promise<{ records: EpochRecord[]; problems: string[]; text: string }> {
    const text = (await this.text(this.metricsPath)) ?? '';
    return { ...parseRecords<EpochRecord>(this.metricsPath, text, epochSchema), text };
  }

  /** Rewrites metrics.jsonl with exactly `records` (atomically). */
  writeMetrics(records: EpochRecord[]): Promise<string> {
    return this.files.writeFile(this.metricsPath, records.map((r) => JSON.stringify(r) + '\n').join(''));
  }

  appendMetrics(record: EpochRecord): Promise<void> {
    return this.files.appendFile(this.metricsPath, JSON.stringify(record) + '\n');
  }

  /** The records of steps.jsonl, with the lines of the wrong shape as problems. */
  async readSteps(): Promise<{ records: StepsRecord[]; problems: string[] }> {
    const text = (await this.text(this.stepsPath)) ?? '';
    return parseRecords<StepsRecord>(this.stepsPath, text, stepsSchema);
  }

  appendSteps(record: StepsRecord): Promise<void> {
    return this.files.appendFile(this.stepsPath, JSON.stringify(record) + '\n');
  }
}
