// A run's checkpoint as an ONNX file: exported with the metadata another runtime needs to feed it
// (input size, normalisation, letterbox rule, class names and colours), and cached beside the
// checkpoint for ONNX Runtime inference, exported again whenever the checkpoint changes. Engine process.
import pkg from '../../../../package.json';
import type { CheckpointName } from '../../../shared/engineProtocol';
import { LETTERBOX_GREY } from '../../../shared/letterbox';
import type { TrainJob } from '../../../shared/training';
import { WorkbenchError } from '../../../shared/errors';
import { CHECKPOINT_FILES, readRunJob, RunFolder, type DerivedLayout } from '../../common/runFolder';
import { loadCheckpoint } from '../io/checkpoint';
import { getModelSpec } from '../models/registry';
import { exportOnnx, ONNX_INPUT, ONNX_OPSET, ONNX_OUTPUT } from './export';

/** `metadata_props` of an exported run: everything needed to prepare input and read the output. */
export function onnxMetadata(job: TrainJob, checkpoint: CheckpointName): Record<string, string> {
  const spec = getModelSpec(job.settings.model);
  const size = job.settings.inputSize;
  const colours = job.classNames.map((_, i) => job.colormap.slice(i * 3, i * 3 + 3));
  return {
    'segscope.version': pkg.version,
    'segscope.model': spec.id,
    'segscope.checkpoint': checkpoint,
    'segscope.input': `${ONNX_INPUT}: float32 [N, ${size}, ${size}, 3], NHWC, normalised RGB`,
    'segscope.output': `${ONNX_OUTPUT}: float32 [N, ${size}, ${size}, classes], NHWC, before softmax`,
    input_size: String(size),
    normalization: spec.normalization,
    normalization_rule:
      spec.normalization === 'zero-one'
        ? 'RGB 0..255 divided by 255'
        : 'RGB 0..255 reversed to BGR, minus the ImageNet means B 103.939, G 116.779, R 123.68 (Caffe)',
    letterbox:
      `scale = ${size} / max(width, height); resize to round(width·scale) × round(height·scale) ` +
      `(bilinear); centre on a ${size}² square of grey ${LETTERBOX_GREY} at left = round((${size} − w)/2), ` +
      `top = round((${size} − h)/2); undo by cropping that box from the softmax and resizing it back`,
    letterbox_grey: String(LETTERBOX_GREY),
    class_names: JSON.stringify(job.classNames),
    class_colors: JSON.stringify(colours),
  };
}

/** The ONNX bytes of a run's checkpoint. */
export async function exportCheckpoint(runDir: string, checkpoint: CheckpointName): Promise<Uint8Array> {
  const job = await readRunJob(runDir);
  const run = new RunFolder(runDir);
  const dir = run.checkpointDir(checkpoint);
  if (!(await run.hasCheckpoint(checkpoint))) {
    throw new Error(`${dir}: no checkpoint here (model.json is missing)`);
  }
  await run.checkCheckpoint(checkpoint);
  const { model } = await loadCheckpoint(dir);
  try {
    return exportOnnx(model, {
      producerVersion: pkg.version,
      metadata: onnxMetadata(job, checkpoint),
      docString: `Segscope ${job.settings.model} (${dir}), ONNX opset ${ONNX_OPSET}`,
    });
  } finally {
    model.dispose();
  }
}

/** Identifies a checkpoint's contents on disk: both files' sizes and times. */
async function checkpointStamp(run: RunFolder, checkpoint: CheckpointName): Promise<string> {
  const dir = run.checkpointDir(checkpoint);
  const parts = await Promise.all(
    [CHECKPOINT_FILES.model, CHECKPOINT_FILES.weights].map(async (f) => {
      const s = await run.files.stat(`${dir}/${f}`);
      if (!s) throw new Error(`${dir}: no checkpoint here (${f} is missing)`);
      return `${f}:${s.size}:${s.mtimeMs}`;
    }),
  );
  return JSON.stringify({ files: parts, version: pkg.version, opset: ONNX_OPSET });
}

/**
 * The path of the checkpoint's cached ONNX export, written (atomically) when it is missing or was made
 * from other checkpoint files or by another Segscope version. It lives in the run folder, or under
 * `cache` when given (the layout of a read-only run's derived files, in the dataset's workspace).
 */
export async function cachedOnnx(
  runDir: string,
  checkpoint: CheckpointName,
  cache?: DerivedLayout,
): Promise<string> {
  const run = new RunFolder(runDir);
  const layout = cache ?? run.derived;
  const stamp = await checkpointStamp(run, checkpoint);
  const path = layout.onnx(checkpoint);
  const stampPath = layout.onnxStamp(checkpoint);
  const old = await layout.files.readFile(stampPath, 'utf8').catch((err: unknown) => {
    if (err instanceof WorkbenchError) throw err; // a link out is refused, not taken as "no cache"
    return null;
  });
  const have = await layout.files.stat(path);
  if (old === stamp && have) return path;
  const bytes = await exportCheckpoint(runDir, checkpoint);
  await layout.files.writeFile(path, bytes);
  await layout.files.writeFile(stampPath, stamp);
  return path;
}
