// Model-assisted labelling, the pure part: per-image scores of a draft (its disagreement with the
// label, its uncertainty), the review queue's order, and accepting a draft into a label map inside a
// region, by class or by confidence, honouring Protect. Runs in any process (main ranks, the renderer
// accepts).
import { ConfusionMatrix, computeMetrics, UnknownClassError } from './metrics';
import { emptyRect, type PaintTarget, type Protect, type Rect } from './labelMap';

/** How the review queue orders images. */
export type QueueOrder = 'disagreement' | 'uncertainty' | 'unlabelled';

/** A draft's figures for one image. */
export interface DraftScores {
  /**
   * Mean IoU of the draft against the label (label as ground truth, draft as prediction), computed as
   * `eval-masks` computes it for one pair; null when the image has no label or its label has no class
   * pixels (all void).
   */
  iou: number | null;
  /** 1 − iou; null where iou is. */
  disagreement: number | null;
  /** Mean over pixels of the softmax probability of the draft's class. */
  meanConfidence: number;
  /**
   * Mean over pixels of the softmax's normalised entropy H / ln(C), 0 (one class certain) to 1 (all
   * classes equally likely), as the engine's segmentation measures it.
   */
  uncertainty: number;
}

/** The mean of the confidences. */
export function meanOf(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  return values.length ? sum / values.length : 0;
}

/**
 * Mean IoU of `draft` against `label` over `classNames.length` classes, with eval-masks's conventions
 * (void label pixels are left out, a class absent from both is left out of the mean); null when no class
 * pixel is left or the label holds an index that is not a class.
 */
export function draftIou(label: Uint8Array, draft: Uint8Array, classNames: readonly string[]): number | null {
  const cm = new ConfusionMatrix(classNames.length);
  try {
    cm.add(label, draft, { ignorePred255: true });
  } catch (err) {
    if (err instanceof UnknownClassError) return null;
    throw err;
  }
  return computeMetrics(cm, classNames).miou;
}

/**
 * Scores of a draft; `meanEntropy` is the segmentation's mean normalised entropy, `label` is null for
 * an image without a label.
 */
export function scoreDraft(
  draft: Uint8Array,
  confidence: ArrayLike<number>,
  meanEntropy: number,
  label: Uint8Array | null,
  classNames: readonly string[],
): DraftScores {
  const iou = label ? draftIou(label, draft, classNames) : null;
  const meanConfidence = meanOf(confidence);
  return {
    iou,
    disagreement: iou === null ? null : 1 - iou,
    meanConfidence,
    uncertainty: meanEntropy,
  };
}

/** One image in the review queue. */
export interface QueueEntry {
  id: string;
  hasLabel: boolean;
  disagreement: number | null;
  uncertainty: number;
}

/**
 * The queue's order, most in need of review first.
 * - `disagreement`: labelled images by 1 − IoU descending; unlabelled ones last (nothing to disagree with).
 * - `uncertainty`: by uncertainty descending.
 * - `unlabelled`: unlabelled images first, each group by uncertainty descending.
 * Ties fall back to the id, so the order is the same on every run.
 */
export function rankQueue<T extends QueueEntry>(entries: readonly T[], by: QueueOrder): T[] {
  const key = (e: T): [number, number] => {
    if (by === 'disagreement') return [e.disagreement === null ? 1 : 0, -(e.disagreement ?? 0)];
    if (by === 'uncertainty') return [0, -e.uncertainty];
    return [e.hasLabel ? 1 : 0, -e.uncertainty];
  };
  return [...entries].sort((a, b) => {
    const [a0, a1] = key(a);
    const [b0, b1] = key(b);
    return a0 - b0 || a1 - b1 || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  });
}

/** Which draft pixels an acceptance takes. Every condition that is set must hold. */
export interface AcceptOptions {
  /** Only inside this region: one byte per pixel of the map, non-zero inside. */
  region?: Uint8Array;
  /** Only pixels the draft assigns to this class. */
  classIndex?: number;
  /** Only pixels whose draft confidence is at least `threshold`. */
  confidence?: ArrayLike<number>;
  threshold?: number;
  /** Which existing label pixels may be overwritten, as for the editor's tools. */
  protect: Protect;
}

/**
 * Copies the draft's class into `target` wherever `options` allow; returns the bounding box of the
 * pixels that changed (empty when none did). The caller records the step (one undo step per call).
 */
export function acceptDraft(target: PaintTarget, draft: Uint8Array, options: AcceptOptions): Rect {
  const { width, height, indices } = target;
  const n = width * height;
  if (draft.length !== n) throw new RangeError(`the draft has ${draft.length} pixels, the label ${n}`);
  if (options.region && options.region.length !== n)
    throw new RangeError(`the region has ${options.region.length} pixels, the label ${n}`);
  const useConfidence = options.confidence !== undefined && options.threshold !== undefined;
  if (useConfidence && options.confidence!.length !== n)
    throw new RangeError(`the confidence map has ${options.confidence!.length} pixels, the label ${n}`);
  const { region, classIndex, protect } = options;
  const threshold = options.threshold ?? 0;
  let minX = width;
  let maxX = -1;
  let minY = -1;
  let maxY = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const i = row + x;
      const value = draft[i]!;
      const old = indices[i]!;
      if (old === value) continue;
      if (region && !region[i]) continue;
      if (classIndex !== undefined && value !== classIndex) continue;
      if (useConfidence && options.confidence![i]! < threshold) continue;
      if (protect === 'empty' ? old !== 0 && old !== 255 : protect !== 'all' && old !== protect) continue;
      indices[i] = value;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (minY < 0) minY = y;
      maxY = y;
    }
  }
  if (minY < 0) return emptyRect();
  return { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
}

/** How many pixels of the two maps differ (the simulated annotator's count of corrected pixels). */
export function countDiffering(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new RangeError(`the maps differ in size: ${a.length} and ${b.length}`);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}
