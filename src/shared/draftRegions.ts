// One-click corrections of a model's draft, the pure part: the connected region of the draft under a
// click, and accepting it, accepting its whole class, or giving it another class, honouring Protect.
// No DOM; runs in any process (the renderer's region tool, a simulated annotator in bench/).
import { acceptDraft } from './drafts';
import { emptyRect, type PaintTarget, type Protect, type Rect } from './labelMap';

/** What a click on the draft does. */
export type RegionAction =
  /** Take the draft's class inside the clicked region. */
  | { kind: 'accept' }
  /** Take the draft everywhere it has the clicked region's class (every region of it). */
  | { kind: 'acceptClass' }
  /** Give the clicked draft region `classIndex` instead of the draft's class. */
  | { kind: 'reclass'; classIndex: number };

/**
 * The 4-connected region of equal draft class containing pixel (x, y) of a `width`×`height` draft:
 * one byte per pixel, 1 inside. Null when (x, y) is outside the image.
 */
export function draftRegionAt(
  draft: Uint8Array,
  width: number,
  height: number,
  x: number,
  y: number,
): Uint8Array | null {
  const px = Math.floor(x);
  const py = Math.floor(y);
  if (draft.length !== width * height)
    throw new RangeError(`the draft has ${draft.length} pixels, not ${width}×${height}`);
  if (px < 0 || py < 0 || px >= width || py >= height) return null;
  const region = new Uint8Array(width * height);
  const value = draft[py * width + px]!;
  const stack = new Int32Array(width * height);
  let top = 0;
  stack[top++] = py * width + px;
  region[py * width + px] = 1;
  while (top > 0) {
    const i = stack[--top]!;
    const cx = i % width;
    const visit = (j: number): void => {
      if (!region[j] && draft[j] === value) {
        region[j] = 1;
        stack[top++] = j;
      }
    };
    if (cx > 0) visit(i - 1);
    if (cx < width - 1) visit(i + 1);
    if (i >= width) visit(i - width);
    if (i < width * (height - 1)) visit(i + width);
  }
  return region;
}

/**
 * Applies `action` for a click at image pixel (x, y) to `target`, from `draft` (the draft's class
 * indices, one per target pixel), writing only pixels `protect` allows. Returns the box of the pixels
 * that changed (empty when none did, or the click is outside); the caller makes it one undo step.
 */
export function correctDraftAt(
  target: PaintTarget,
  draft: Uint8Array,
  x: number,
  y: number,
  action: RegionAction,
  protect: Protect,
): Rect {
  const { width, height, indices } = target;
  const region = draftRegionAt(draft, width, height, x, y);
  if (!region) return emptyRect();
  if (action.kind === 'accept') return acceptDraft(target, draft, { region, protect });
  if (action.kind === 'acceptClass')
    return acceptDraft(target, draft, { classIndex: draft[Math.floor(y) * width + Math.floor(x)]!, protect });
  const value = action.classIndex;
  let minX = width;
  let maxX = -1;
  let minY = -1;
  let maxY = -1;
  for (let i = 0; i < region.length; i++) {
    if (!region[i]) continue;
    const old = indices[i]!;
    if (old === value) continue;
    if (protect === 'empty' ? old !== 0 && old !== 255 : protect !== 'all' && old !== protect) continue;
    indices[i] = value;
    const px = i % width;
    const py = (i - px) / width;
    if (px < minX) minX = px;
    if (px > maxX) maxX = px;
    if (minY < 0) minY = py;
    maxY = py;
  }
  if (minY < 0) return emptyRect();
  return { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
}
