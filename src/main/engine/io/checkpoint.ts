// Saves and loads a model as a tfjs `model.json` plus one `weights.bin`, with plain fs, so checkpoints
// work on every backend (tfjs-node's file:// handler exists only when tfjs-node loads). Each file is
// written to a temporary name and renamed, so a crash mid-save leaves the previous checkpoint whole.
// Engine process.
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/** Writes a file through a temporary name and a rename, so readers see the old or the new file whole. */
export async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
}

/** Writes `model` into `dir` (created when missing): `model.json` and `weights.bin`. */
export async function saveCheckpoint(
  model: tfl.LayersModel,
  dir: string,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await mkdir(dir, { recursive: true });
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
      await writeAtomic(join(dir, 'weights.bin'), bytes);
      const modelJson = {
        format: 'layers-model',
        generatedBy: `Segscope (tfjs ${tf.version_core})`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
        userDefinedMetadata: extra,
      };
      await writeAtomic(join(dir, 'model.json'), JSON.stringify(modelJson));
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

/** The model in `dir`, with its saved metadata. */
export async function loadCheckpoint(
  dir: string,
): Promise<{ model: tfl.LayersModel; meta: Record<string, unknown> }> {
  let json: {
    modelTopology: object;
    weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
    userDefinedMetadata?: Record<string, unknown>;
  };
  try {
    json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
  } catch (err) {
    throw new Error(
      `${join(dir, 'model.json')}: cannot be read as a tfjs model (${(err as Error).message})`,
      {
        cause: err,
      },
    );
  }
  const weights = await readFile(join(dir, 'weights.bin'));
  const specs = json.weightsManifest.flatMap((m) => m.weights);
  const model = await tfl.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: specs,
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
    }),
  );
  return { model, meta: json.userDefinedMetadata ?? {} };
}
