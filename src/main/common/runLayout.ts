// The names of a run folder's files and folders, and its layout: data with no imports, so that the
// CLI's --help can name them without loading zod (RunFolder, in runFolder.ts, reads and writes them).
// Plain Node; any process.
//
// Layout of a run folder `<run>/` (a dataset's own runs live in `<dataset>/.segscope/runs/<id>/`):
//
//   config.json                 the TrainJob the run was started with (settings, dataset, ids); written
//                               once at the start, after state.json, and read to resume, infer and export
//   state.json                  RunState: status, last completed epoch, best, owner pid/host/heartbeat
//   metrics.jsonl               one EpochRecord a line, appended after each epoch
//   steps.jsonl                 one StepsRecord a line ({epoch, steps, losses}), appended after each epoch
//   eval.json                   RunEvaluation of the best checkpoint
//   checkpoints/last/           model.json + weights.bin (tfjs layers format): the resume point
//   checkpoints/best/           the same, of the epoch with the best validation mIoU
//   checkpoints/<name>/model.onnx, model.onnx.stamp
//                               the ONNX Runtime cache of that checkpoint and what it was made from
//   export/<run-id>-<name>.onnx what `runs:export` writes
//
// The ONNX cache and the exports are derived files: for a run attached from elsewhere (only read), they
// go to `<dataset>/.segscope/attached/<run-id>/` instead, in the same layout (see `derivedLayout` in runFolder.ts).
import type { CheckpointName } from '../../shared/engineProtocol';

/** File names at the top of a run folder. */
export const RUN_FILES = {
  config: 'config.json',
  state: 'state.json',
  metrics: 'metrics.jsonl',
  steps: 'steps.jsonl',
  eval: 'eval.json',
} as const;

/** The folder of checkpoints, and the files of one checkpoint. */
export const CHECKPOINTS_DIR = 'checkpoints';
export const CHECKPOINT_FILES = {
  model: 'model.json',
  weights: 'weights.bin',
  onnx: 'model.onnx',
  onnxStamp: 'model.onnx.stamp',
} as const;
export const CHECKPOINT_NAMES: readonly CheckpointName[] = ['last', 'best'];
export const EXPORT_DIR = 'export';
