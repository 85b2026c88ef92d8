// `segscope rank --run RUN_DIR [--split S] --by disagreement|uncertainty|unlabelled [--json]`: drafts
// the images of a split that have no cached draft yet, then prints the review queue, the images most
// in need of review first, with their scores. CLI process.
import { parseArgs } from 'node:util';
import type { RankResult } from '../../../shared/api';
import type { QueueOrder } from '../../../shared/drafts';
import type { EngineHost } from '../../services/engineHost';
import { DraftService, draftSource } from '../../services/drafts';
import { WorkbenchSession } from '../../services/session';
import { usage, UsageError } from '../args';
import { backendOption, checkpointOption, runFromArgs, startEngine } from '../runArgs';
import type { EngineStarter } from './cam';

const ORDERS: readonly QueueOrder[] = ['disagreement', 'uncertainty', 'unlabelled'];

/** What `--json` prints: the queue in order. `score` is the value the queue is sorted by. */
export interface RankJson {
  run: string;
  checkpoint: 'best' | 'last';
  by: QueueOrder;
  split: string | null;
  images: {
    id: string;
    score: number | null;
    iou: number | null;
    disagreement: number | null;
    /** Mean normalised softmax entropy H / ln(C), 0..1. */
    uncertainty: number;
    mean_confidence: number;
    labelled: boolean;
    review: 'todo' | 'done';
  }[];
}

function scoreOf(e: RankResult['entries'][number], by: QueueOrder): number | null {
  return by === 'disagreement' ? e.disagreement : e.uncertainty;
}

export async function rank(argv: string[], start: EngineStarter = startEngine): Promise<number> {
  const { values } = usage(() =>
    parseArgs({
      args: argv,
      options: {
        run: { type: 'string' },
        split: { type: 'string' },
        by: { type: 'string' },
        checkpoint: { type: 'string' },
        backend: { type: 'string' },
        json: { type: 'boolean' },
      },
    }),
  );
  const by = (values.by ?? 'disagreement') as QueueOrder;
  if (!ORDERS.includes(by)) throw new UsageError(`--by must be one of ${ORDERS.join(', ')}`);
  const backend = backendOption(values.backend);
  const { dir, job } = await runFromArgs(values.run);
  const session = new WorkbenchSession();
  const opened = await session.open(job.datasetRoot);
  if (opened.kind !== 'opened')
    throw new UsageError(`${job.datasetRoot}: the run's dataset is not a dataset`);
  const src = await draftSource(
    dir,
    values.checkpoint === undefined ? undefined : checkpointOption(values.checkpoint),
  );
  let host: EngineHost | null = null;
  const drafts = new DraftService(session, () => host!);
  const log = (line: string): void => void (values.json ? process.stderr : process.stdout).write(line + '\n');
  try {
    let result = await drafts.rank(src, values.split, by);
    if (result.pending.length) {
      log(`drafting ${result.pending.length} images with ${src.runId} (${src.checkpoint})…`);
      host = await start(backend);
      await drafts.predictAll(src, values.split, (done, total) => {
        if (process.stderr.isTTY) process.stderr.write(`\r${done}/${total}`);
      });
      if (process.stderr.isTTY) process.stderr.write('\n');
      result = await drafts.rank(src, values.split, by);
    }
    if (values.json) {
      const out: RankJson = {
        run: dir,
        checkpoint: result.checkpoint,
        by,
        split: result.split,
        images: result.entries.map((e) => ({
          id: e.id,
          score: scoreOf(e, by),
          iou: e.iou,
          disagreement: e.disagreement,
          uncertainty: e.uncertainty,
          mean_confidence: e.meanConfidence,
          labelled: e.hasLabel,
          review: e.review,
        })),
      };
      console.log(JSON.stringify(out, null, 2));
    } else {
      const fmt = (v: number | null) => (v === null ? '   n/a' : v.toFixed(4));
      console.log(
        `# ${src.runId} (${src.checkpoint}), by ${by}${values.split ? `, split ${values.split}` : ''}`,
      );
      console.log('rank  score   iou     conf    id');
      result.entries.forEach((e, i) =>
        console.log(
          `${String(i + 1).padStart(4)}  ${fmt(scoreOf(e, by))}  ${fmt(e.iou)}  ${fmt(e.meanConfidence)}  ${e.id}${e.hasLabel ? '' : ' (no label)'}`,
        ),
      );
    }
    return 0;
  } finally {
    (host as EngineHost | null)?.kill('the command finished');
  }
}
