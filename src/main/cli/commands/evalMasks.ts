// `segscope eval-masks --gt DIR --pred DIR [--dataset DIR] [--json]`: compares two folders of label PNGs
// and prints IoU, precision, recall and F1 per class and their means. Exits 1 when a prediction is
// missing or a pair could not be compared. CLI process.
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { SegmentationMetrics } from '../../../shared/metrics';
import { vocClasses } from '../../../shared/voc';
import { evalMaskFolders, type EvalMaskProblem } from '../../services/evalMasks';
import { metricsJson, printMetricsTable } from './metricsTable';
import { usage, UsageError } from '../args';
import { openDatasetArg } from '../openDataset';

/** The `--json` shape, documented in the README: the counts, then the metrics' keys at the top level. */
export type EvalMasksJson = {
  images: number;
  missing: string[];
  problems: EvalMaskProblem[];
} & SegmentationMetrics;

async function folderArg(value: string | undefined, option: string, what: string): Promise<string> {
  if (!value) throw new UsageError(`eval-masks needs --${option} DIR, the folder of the ${what}`);
  let isDir: boolean;
  try {
    isDir = (await stat(value)).isDirectory();
  } catch {
    throw new UsageError(`--${option} ${value}: no such folder`);
  }
  if (!isDir) throw new UsageError(`--${option} ${value}: is a file, not a folder`);
  return value;
}

/** A fraction as a percentage with two decimals, or — when it is undefined. */
const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

export async function evalMasks(argv: string[]): Promise<number> {
  const { values } = usage(() =>
    parseArgs({
      args: argv,
      options: {
        gt: { type: 'string' },
        pred: { type: 'string' },
        dataset: { type: 'string' },
        year: { type: 'string' },
        json: { type: 'boolean' },
      },
    }),
  );
  const gtDir = await folderArg(values.gt, 'gt', 'ground-truth label PNGs');
  const predDir = await folderArg(values.pred, 'pred', 'predicted label PNGs');
  if (values.year !== undefined && values.dataset === undefined) {
    throw new UsageError('--year only applies with --dataset');
  }
  const classes = values.dataset
    ? (await openDatasetArg(await folderArg(values.dataset, 'dataset', 'dataset'), values.year)).classes()
    : vocClasses();

  const tty = !values.json && process.stderr.isTTY;
  const result = await evalMaskFolders({
    gtDir,
    predDir,
    classes,
    onProgress: (done, total) => {
      if (tty) process.stderr.write(`\rcompared ${done}/${total}`);
    },
  });
  if (tty) process.stderr.write('\n');
  const { metrics, images, missing, problems, unmatchedPredictions } = result;
  if (unmatchedPredictions > 0) {
    console.error(
      `note: ${unmatchedPredictions} ${unmatchedPredictions === 1 ? 'prediction has' : 'predictions have'} ` +
        `no ground truth in ${gtDir} and ${unmatchedPredictions === 1 ? 'was' : 'were'} ignored`,
    );
  }
  if (images === 0 && missing.length === 0 && problems.length === 0) {
    console.error(`segscope eval-masks: ${gtDir} holds no label PNGs`);
  }

  if (values.json) {
    const out: EvalMasksJson = { images, missing, problems, ...metrics };
    console.log(metricsJson(out));
  } else {
    console.log(
      `${count(images, 'image')} compared, ${count(missing.length, 'missing prediction')}, ` +
        `${count(problems.length, 'problem')}`,
    );
    for (const id of missing) console.log(`  missing       ${id}: no ${id}.png in ${predDir}`);
    for (const p of problems) console.log(`  ${p.kind.padEnd(13)} ${p.id}: ${p.message}`);
    printMetricsTable(metrics);
  }
  return images === 0 || missing.length > 0 || problems.length > 0 ? 1 : 0;
}
