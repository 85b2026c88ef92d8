// Compares a folder of predicted label PNGs with a folder of ground-truth label PNGs, pairing files by
// image id, and computes the segmentation metrics over every pair. Reads only. Plain Node, main process.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeLabelPng, LabelFormatError, type DecodedLabel } from '../../shared/labelPng';
import {
  ConfusionMatrix,
  computeMetrics,
  UnknownClassError,
  type SegmentationMetrics,
} from '../../shared/metrics';
import { WorkbenchError } from '../../shared/errors';
import type { ClassDef } from '../../shared/voc';
import { paletteForClasses } from './classes';

/** How many label pairs are read and decoded at once. */
const CONCURRENCY = 8;

/** A pair that could not be compared; the message names the file and what is wrong with it. */
export interface EvalMaskProblem {
  id: string;
  /**
   * `unreadable`: missing permissions, not a PNG, damaged or a kind of PNG that cannot hold labels;
   * `unknown-colors`: an RGB mask with colours that are not the classes' colours; `size-mismatch`: the
   * prediction and the ground truth differ in size; `unknown-class`: an index that is not a class.
   */
  kind: 'unreadable' | 'unknown-colors' | 'size-mismatch' | 'unknown-class';
  message: string;
}

export interface EvalMasksRequest {
  /** Folder of ground-truth label PNGs, `<id>.png`. */
  gtDir: string;
  /** Folder of predicted label PNGs, `<id>.png`; 255 there means "no prediction" and is skipped. */
  predDir: string;
  /** The classes, indexed 0..classes.length-1; their colours read RGB masks. */
  classes: readonly ClassDef[];
  /** Hears (done, total) now and then. */
  onProgress?: (done: number, total: number) => void;
}

export interface EvalMasksResult {
  metrics: SegmentationMetrics;
  /** Pairs that were compared and counted. */
  images: number;
  /** Ids with a ground truth but no prediction, sorted; not counted. */
  missing: string[];
  /** Pairs that could not be compared, sorted by id; not counted. */
  problems: EvalMaskProblem[];
  /** Predictions without a ground truth: ignored, reported only as this count. */
  unmatchedPredictions: number;
}

/** `<id>.png` files of a folder (the extension in any case), by id. */
async function pngFiles(dir: string, role: string): Promise<Map<string, string>> {
  let info;
  try {
    info = await stat(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new WorkbenchError('not-found', `${dir}: the ${role} folder does not exist`);
    throw new WorkbenchError('bad-file', `${dir}: the ${role} folder cannot be read (${code})`);
  }
  if (!info.isDirectory())
    throw new WorkbenchError('not-found', `${dir}: the ${role} folder is not a folder`);
  const entries = await readdir(dir, { withFileTypes: true });
  const files = new Map<string, string>();
  for (const e of entries) {
    if (!e.isFile() && !e.isSymbolicLink()) continue;
    if (!/\.png$/i.test(e.name)) continue;
    files.set(e.name.slice(0, -4), join(dir, e.name));
  }
  return files;
}

type ReadOutcome = { label: DecodedLabel } | { problem: Omit<EvalMaskProblem, 'id'> };

/** Reads and decodes one label file, keeping why it failed. */
async function readLabel(path: string, colormap: Uint8Array): Promise<ReadOutcome> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    return { problem: { kind: 'unreadable', message: `${path}: cannot be read (${code})` } };
  }
  try {
    return { label: decodeLabelPng(bytes, { colormap }) };
  } catch (err) {
    if (!(err instanceof LabelFormatError)) throw err;
    const kind = err.reason === 'unknown-colors' ? 'unknown-colors' : 'unreadable';
    return { problem: { kind, message: `${path}: ${err.message}` } };
  }
}

/** Runs `work` on every item with at most `limit` running at once. */
async function forEachBounded<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Compares every `<id>.png` of `gtDir` with the `<id>.png` of `predDir` and computes the metrics of
 * their summed confusion matrix (see `computeMetrics` for the conventions). Ground-truth pixels that are
 * 255 and predicted pixels that are 255 are left out. A pair with a problem is reported and left out
 * entirely; the result names every such file.
 *
 * @throws WorkbenchError `not-found` when a folder does not exist, `bad-file` when it cannot be listed.
 */
export async function evalMaskFolders(req: EvalMasksRequest): Promise<EvalMasksResult> {
  const numClasses = req.classes.length;
  const names: string[] = new Array<string>(numClasses);
  for (const c of req.classes) {
    if (!Number.isInteger(c.index) || c.index < 0 || c.index >= numClasses || names[c.index] !== undefined) {
      throw new WorkbenchError(
        'bad-request',
        `the classes must have the indices 0..${numClasses - 1} once each; class '${c.name}' has ${c.index}`,
      );
    }
    names[c.index] = c.name;
  }
  const [gtFiles, predFiles] = await Promise.all([
    pngFiles(req.gtDir, 'ground-truth'),
    pngFiles(req.predDir, 'prediction'),
  ]);
  const ids = [...gtFiles.keys()].sort();
  const missing = ids.filter((id) => !predFiles.has(id));
  const paired = ids.filter((id) => predFiles.has(id));
  let unmatchedPredictions = 0;
  for (const id of predFiles.keys()) if (!gtFiles.has(id)) unmatchedPredictions++;

  const colormap = paletteForClasses(req.classes);
  const cm = new ConfusionMatrix(numClasses);
  const problems: EvalMaskProblem[] = [];
  let images = 0;
  let done = 0;
  await forEachBounded(paired, CONCURRENCY, async (id) => {
    const gtPath = gtFiles.get(id)!;
    const predPath = predFiles.get(id)!;
    const [gt, pred] = await Promise.all([readLabel(gtPath, colormap), readLabel(predPath, colormap)]);
    if ('problem' in gt || 'problem' in pred) {
      for (const r of [gt, pred]) if ('problem' in r) problems.push({ id, ...r.problem });
    } else if (gt.label.width !== pred.label.width || gt.label.height !== pred.label.height) {
      problems.push({
        id,
        kind: 'size-mismatch',
        message:
          `${predPath}: the prediction is ${pred.label.width}×${pred.label.height} but the ground truth ` +
          `${gtPath} is ${gt.label.width}×${gt.label.height}`,
      });
    } else {
      try {
        // Synchronous: no other pair can interleave, and a failed add leaves the matrix unchanged.
        cm.add(gt.label.indices, pred.label.indices, { ignorePred255: true });
        images++;
      } catch (err) {
        if (!(err instanceof UnknownClassError)) throw err;
        const path = err.which === 'gt' ? gtPath : predPath;
        problems.push({ id, kind: 'unknown-class', message: `${path}: ${err.message}` });
      }
    }
    if (++done % 50 === 0) req.onProgress?.(done, paired.length);
  });
  req.onProgress?.(paired.length, paired.length);

  // Pairs finish in any order; sort so that the report is the same on every run.
  const order = (a: EvalMaskProblem, b: EvalMaskProblem) =>
    a.id < b.id ? -1 : a.id > b.id ? 1 : a.message < b.message ? -1 : a.message > b.message ? 1 : 0;
  problems.sort(order);
  return { metrics: computeMetrics(cm, names), images, missing, problems, unmatchedPredictions };
}
