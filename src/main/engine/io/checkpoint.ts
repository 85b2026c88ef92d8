// Saves and loads a model as a tfjs `model.json` plus one `weights.bin`, with plain fs, so checkpoints
// work on every backend (tfjs-node's file:// handler exists only when tfjs-node loads). Each file goes
// through the common atomic writer, so a crash mid-save leaves the previous checkpoint whole and a link
// planted in the folder is never written through. Every failure names the file and what is wrong with
// it. Engine process.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { WorkbenchError } from '../../../shared/errors';
import { makeDir, writeFileAtomic } from '../../common/atomicFile';
import { CHECKPOINT_FILES } from '../../common/runFolder';

/** Writes `model` into `dir` (created when missing): `model.json` and `weights.bin`. */
export async function saveCheckpoint(
  model: tfl.LayersModel,
  dir: string,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await makeDir(dir);
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = artifacts.weightData;
      const bytes =
        weightData === undefined
          ? new Uint8Array(0)
          : new Uint8Array(
              tf.io.concatenateArrayBuffers(Array.isArray(weightData) ? weightData : [weightData]),
            );
      // Weights first: a model.json never points at weights that are not there yet.
      await writeFileAtomic(join(dir, CHECKPOINT_FILES.weights), bytes);
      const modelJson = {
        format: 'layers-model',
        generatedBy: `Segscope (tfjs ${tf.version_core})`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [CHECKPOINT_FILES.weights], weights: artifacts.weightSpecs ?? [] }],
        userDefinedMetadata: extra,
      };
      await writeFileAtomic(join(dir, CHECKPOINT_FILES.model), JSON.stringify(modelJson));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          weightDataBytes: bytes.byteLength,
        },
      };
    }),
  );
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };

/** Bytes the weights of a manifest take in `weights.bin`. */
function manifestBytes(specs: tf.io.WeightsManifestEntry[]): number {
  return specs.reduce((sum, w) => {
    if (w.quantization) throw new Error(`weight ${w.name} is quantized, which Segscope never writes`);
    const per = DTYPE_BYTES[w.dtype];
    if (per === undefined) throw new Error(`weight ${w.name} has an unknown dtype ${w.dtype}`);
    return sum + w.shape.reduce((n, d) => n * d, 1) * per;
  }, 0);
}

/**
 * The model in `dir`, with its saved metadata.
 *
 * @throws WorkbenchError `bad-file` naming `model.json` or `weights.bin` and what is wrong with it: missing,
 *   not JSON, a manifest or topology that does not build, or weights shorter or longer than the manifest.
 */
export async function loadCheckpoint(
  dir: string,
): Promise<{ model: tfl.LayersModel; meta: Record<string, unknown> }> {
  const jsonPath = join(dir, CHECKPOINT_FILES.model);
  const weightsPath = join(dir, CHECKPOINT_FILES.weights);
  let json: {
    modelTopology: object;
    weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
    userDefinedMetadata?: Record<string, unknown>;
  };
  try {
    json = JSON.parse(await readFile(jsonPath, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new WorkbenchError(
      'bad-file',
      `${jsonPath}: cannot be read as a tfjs model (${e.code ? `${e.code}` : e.message})`,
    );
  }
  let expected: number;
  try {
    if (!json || typeof json !== 'object' || !json.modelTopology || !Array.isArray(json.weightsManifest))
      throw new Error('no modelTopology or weightsManifest');
    expected = manifestBytes(json.weightsManifest.flatMap((m) => m.weights));
  } catch (err) {
    throw new WorkbenchError(
      'bad-file',
      `${jsonPath}: is not a tfjs layers model (${(err as Error).message})`,
    );
  }
  let weights: Buffer;
  try {
    weights = await readFile(weightsPath);
  } catch (err) {
    throw new WorkbenchError(
      'bad-file',
      `${weightsPath}: cannot be read (${(err as NodeJS.ErrnoException).code})`,
    );
  }
  // The manifest fixes the size exactly: fewer bytes is a cut file, more is not what was saved.
  if (weights.byteLength !== expected) {
    throw new WorkbenchError(
      'bad-file',
      `${weightsPath}: holds ${weights.byteLength} bytes but ${jsonPath} describes ${expected}` +
        (weights.byteLength < expected ? ' (the file is cut short)' : ' (extra bytes after the weights)'),
    );
  }
  const specs = json.weightsManifest.flatMap((m) => m.weights);
  let model: tfl.LayersModel;
  try {
    model = await tfl.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: specs,
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
      }),
    );
  } catch (err) {
    throw new WorkbenchError(
      'bad-file',
      `${jsonPath}: the model cannot be built from it (${(err as Error).message})`,
    );
  }
  return { model, meta: json.userDefinedMetadata ?? {} };
}
