// `segscope eval --dataset DIR --run RUN_DIR [--split val] [--json]`: a run's metrics on a split at
// full resolution, written to the run's evaluation file too. CLI process.
import { parseArgs } from 'node:util';
import type { RunEvaluation } from '../../../shared/training';
import { RunFolder } from '../../common/runFolder';
import { usage, UsageError } from '../args';
import { openDatasetArg } from '../openDataset';
import { backendOption, resolveCheckpoint, itemProgress, runFromArgs, startEngine } from '../runArgs';
import { metricsJson, printMetricsTable } from './metricsTable';

export async function evalRun(argv: string[]): Promise<number> {
  const { values } = usage(() =>
    parseArgs({
      args: argv,
      options: {
        dataset: { type: 'string' },
        year: { type: 'string' },
        run: { type: 'string' },
        split: { type: 'string' },
        checkpoint: { type: 'string' },
        backend: { type: 'string' },
        json: { type: 'boolean' },
      },
    }),
  );
  const { dir, job } = await runFromArgs(values.run);
  const ds = await openDatasetArg(values.dataset, values.year);
  const split = values.split ?? 'val';
  const ids = ds.splits.get(split);
  if (!ids)
    throw new UsageError(
      `${ds.root}: no split ${split} (splits: ${[...ds.splits.keys()].join(', ') || 'none'})`,
    );
  const labelled = ids.filter((id) => ds.hasImage(id) && ds.hasLabel(id));
  if (labelled.length === 0) throw new UsageError(`split ${split} has no labelled images`);
  const checkpoint = await resolveCheckpoint(dir, values.checkpoint);
  const host = await startEngine(backendOption(values.backend));
  try {
    const metrics = await host.request(
      {
        type: 'eval',
        runDir: dir,
        checkpoint,
        pairs: labelled.map((id) => ({ image: ds.imagePath(id), label: ds.labelPath(id) })),
        classNames: job.classNames,
        colormap: [...ds.newLabelPalette()],
      },
      (p) => {
        if (p.kind === 'items') itemProgress('evaluated', p.done, p.total);
      },
    );
    const evaluation: RunEvaluation = {
      epoch: 0,
      split,
      inputSize: job.settings.inputSize,
      resolution: 'original',
      checkpoint,
      metrics,
    };
    await new RunFolder(dir).writeEval(evaluation);
    if (values.json) console.log(metricsJson({ images: labelled.length, split, checkpoint, ...metrics }));
    else printMetricsTable(metrics);
    return 0;
  } finally {
    host.kill('the command finished');
  }
}
