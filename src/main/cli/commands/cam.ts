// `segscope cam --run RUN_DIR --image IMG --class NAME|INDEX [--layer NAME] [--method M] --out PNG`:
// Grad-CAM of one class for one image with a trained run, written as a jet overlay on the image (alpha
// 0.5) or, with --raw, as the 0..1 map in a 16-bit grayscale PNG. CLI process.
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { encode } from 'fast-png';
import sharp from 'sharp';
import { camToUint16, overlayCam } from '../../../shared/camColormap';
import { CAM_METHODS, DEFAULT_CAM_METHOD, isCamMethod, type CamMethod } from '../../../shared/camMethods';
import type { CheckpointName } from '../../../shared/engineProtocol';
import type { BackendPreference } from '../../../shared/training';
import type { EngineHost } from '../../services/engineHost';
import { usage, UsageError } from '../args';
import { backendOption, runFromArgs, resolveCheckpoint, startEngine } from '../runArgs';

/** Starts an engine on a backend; the command kills it when done. Tests pass one that runs a fresh bundle. */
export type EngineStarter = (backend: BackendPreference) => Promise<EngineHost>;

/** What `--json` prints. */
export interface CamJson {
  out: string;
  layer: string;
  method: CamMethod;
  class: { index: number; name: string };
  width: number;
  height: number;
}

/** `--class` as an index of the run's classes: a number, or a name (case does not matter). */
export function resolveClass(value: string, classNames: readonly string[]): number {
  const choices = () => classNames.map((n, i) => `${i} ${n}`).join(', ');
  if (/^\d+$/.test(value)) {
    const index = Number(value);
    if (index < classNames.length) return index;
    throw new UsageError(
      `--class ${value}: the run has ${classNames.length} classes, 0 to ${classNames.length - 1}: ${choices()}`,
    );
  }
  const exact = classNames.indexOf(value);
  if (exact >= 0) return exact;
  const folded = classNames.findIndex((n) => n.toLowerCase() === value.toLowerCase());
  if (folded >= 0) return folded;
  throw new UsageError(`--class ${JSON.stringify(value)} is not a class of this run; classes: ${choices()}`);
}

/** Decodes the image as the engine does (sharp, RGB, orientation as stored). */
async function readRgb(path: string): Promise<{ width: number; height: number; data: Uint8Array }> {
  const { data, info } = await sharp(path)
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    width: info.width,
    height: info.height,
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

export async function cam(argv: string[], start: EngineStarter = startEngine): Promise<number> {
  const { values } = usage(() =>
    parseArgs({
      args: argv,
      options: {
        run: { type: 'string' },
        image: { type: 'string' },
        class: { type: 'string' },
        layer: { type: 'string' },
        method: { type: 'string' },
        checkpoint: { type: 'string' },
        backend: { type: 'string' },
        out: { type: 'string' },
        raw: { type: 'boolean' },
        json: { type: 'boolean' },
      },
    }),
  );
  if (!values.image) throw new UsageError('cam needs --image IMG');
  if (values.class === undefined) throw new UsageError('cam needs --class NAME|INDEX');
  if (!values.out) throw new UsageError('cam needs --out PNG');
  const method = values.method ?? DEFAULT_CAM_METHOD;
  if (!isCamMethod(method)) throw new UsageError(`--method must be one of ${CAM_METHODS.join(', ')}`);
  const { dir, job } = await runFromArgs(values.run);
  const classIndex = resolveClass(values.class, job.classNames);
  const image = resolve(values.image);
  const info = await stat(image).catch(() => null);
  if (!info?.isFile()) throw new UsageError(`--image ${image}: no such file`);
  // Without --checkpoint: best, or last for a run that has no best (one trained without validation).
  const checkpoint: CheckpointName = await resolveCheckpoint(dir, values.checkpoint);
  const out = resolve(values.out);

  const host = await start(backendOption(values.backend));
  try {
    const { layers, defaultLayer } = await host.request({ type: 'camLayers', runDir: dir, checkpoint });
    const layer = values.layer ?? defaultLayer;
    if (!layers.includes(layer)) {
      throw new UsageError(
        `--layer ${layer}: not a conv layer of ${job.settings.model}; layers: ${layers.join(', ')}`,
      );
    }
    const map = await host.request({
      type: 'cam',
      runDir: dir,
      checkpoint,
      image,
      classIndex,
      layer,
      method,
    });
    let png: Uint8Array;
    if (values.raw) {
      png = encode({
        width: map.width,
        height: map.height,
        data: camToUint16(map.cam),
        depth: 16,
        channels: 1,
      });
    } else {
      const rgb = await readRgb(image);
      if (rgb.width !== map.width || rgb.height !== map.height) {
        throw new Error(
          `${image}: decoded as ${rgb.width}×${rgb.height} here but ${map.width}×${map.height} by the engine`,
        );
      }
      png = encode({
        width: map.width,
        height: map.height,
        data: overlayCam(rgb.data, map.cam, 0.5),
        depth: 8,
        channels: 3,
      });
    }
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, png);
    const name = job.classNames[classIndex]!;
    if (values.json) {
      const result: CamJson = {
        out,
        layer: map.layer,
        method,
        class: { index: classIndex, name },
        width: map.width,
        height: map.height,
      };
      console.log(JSON.stringify(result, null, 2));
    } else {
      console.log(
        `wrote ${out}: ${method} of class ${classIndex} (${name}) at ${map.layer}, ${map.width}×${map.height}` +
          (values.raw ? ', 16-bit map' : ', jet overlay'),
      );
    }
    return 0;
  } finally {
    host.kill('the command finished');
  }
}
