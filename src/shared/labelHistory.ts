// Undo history for the mask editor: each step (a stroke, a fill, a polygon) is kept as the bounding box of
// its changed pixels before and after, never as a copy of the map. Runs in any process (used by the
// renderer's editor).
import {
  clipRect,
  emptyRect,
  isEmptyRect,
  readRect,
  unionRect,
  writeRect,
  type PaintTarget,
  type Rect,
} from './labelMap';

/** One undoable step: the rect and its pixels before and after (row-major, `rect.width * rect.height`). */
export interface Patch {
  rect: Rect;
  before: Uint8Array;
  after: Uint8Array;
}

/** Limits of a {@link LabelHistory}. */
export interface LabelHistoryOptions {
  /** Most steps kept for undo; the oldest is dropped beyond it. Default 200. */
  maxSteps?: number;
  /**
   * Most bytes of patch pixels (before + after, undo and redo together) kept; the oldest steps are dropped
   * beyond it, except the newest, so the last edit can always be undone. Default 256 MiB.
   */
  maxBytes?: number;
}

interface Step {
  patch: Patch;
  /** The revision of the map once this step is applied; unique within the history. */
  id: number;
}

const DEFAULT_MAX_STEPS = 200;
const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;

/**
 * Records edits of one label map as patches, with undo and redo.
 *
 * The protocol per step: `begin()`; for each change, `touch(rect)` BEFORE writing the pixels of `rect`
 * (`segmentBounds` and `polygonBounds` give that rect ahead of painting; a flood fill, whose extent is
 * unknown in advance, touches the whole map); `commit()` at the end, or `cancel()` to roll back.
 *
 * How `touch` stays cheap: the first time a row is touched within a step, the whole row is copied from the
 * still unmodified map into a snapshot buffer the size of the map, allocated once and reused by every step.
 * A pointer move therefore copies only the rows it reaches for the first time, and a whole step copies each
 * row at most once. `commit` compares the snapshot with the map inside the touched area to find the bounding
 * box of the pixels that really changed, and keeps only that box, before and after.
 *
 * Call `clear()` whenever `target` gets a new map (new `indices`, or a new size).
 */
export class LabelHistory {
  private readonly target: PaintTarget;
  private readonly maxSteps: number;
  private readonly maxBytes: number;
  private undoSteps: Step[] = [];
  private redoSteps: Step[] = [];
  private bytes = 0;
  private nextId = 1;
  /** The revision of the state below the oldest kept step. */
  private baseRevision = 0;
  private open = false;
  /** Union of the rects touched in the open step. */
  private touched: Rect = emptyRect();
  /** The map's pixels before the open step, valid on rows flagged in `captured`. */
  private snapshot: Uint8Array = new Uint8Array(0);
  private captured: Uint8Array = new Uint8Array(0);

  /**
   * @param target the map being edited; read afresh on every call, so its `indices` may be swapped for a
   *   new map's as long as `clear()` is called.
   * @param options step and memory limits (maxSteps an integer >= 1, maxBytes >= 0).
   */
  constructor(target: PaintTarget, options: LabelHistoryOptions = {}) {
    const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    if (!Number.isInteger(maxSteps) || maxSteps < 1)
      throw new RangeError(`maxSteps must be >= 1, got ${maxSteps}`);
    if (!(maxBytes >= 0)) throw new RangeError(`maxBytes must be >= 0, got ${maxBytes}`);
    this.target = target;
    this.maxSteps = maxSteps;
    this.maxBytes = maxBytes;
  }

  /**
   * Starts a step. If one is already open it is committed first: a lost pointer-up must not lose the edit.
   */
  begin(): void {
    if (this.open) this.commit();
    const { width, height } = this.target;
    if (this.snapshot.length !== width * height) this.snapshot = new Uint8Array(width * height);
    if (this.captured.length !== height) this.captured = new Uint8Array(height);
    else this.captured.fill(0);
    this.touched = emptyRect();
    this.open = true;
  }

  /**
   * Declares that the pixels of `rect` (clipped to the map) are about to change in the open step; call it
   * before writing them, as often as needed (overlaps are free). Throws when no step is open, since an
   * edit made outside a step could not be undone.
   */
  touch(rect: Rect): void {
    if (!this.open) throw new Error('LabelHistory.touch() called outside begin()/commit()');
    const { width, height, indices } = this.target;
    const r = clipRect(rect, width, height);
    if (isEmptyRect(r)) return;
    this.touched = unionRect(this.touched, r);
    const captured = this.captured;
    const end = r.y + r.height;
    let y = r.y;
    while (y < end) {
      if (captured[y]) {
        y++;
        continue;
      }
      // Copy each run of not-yet-captured rows with one `set`.
      let y2 = y + 1;
      while (y2 < end && !captured[y2]) y2++;
      this.snapshot.set(indices.subarray(y * width, y2 * width), y * width);
      captured.fill(1, y, y2);
      y = y2;
    }
  }

  /**
   * Ends the open step and returns its patch (do not modify it), trimmed to the bounding box of the pixels
   * that changed; returns null, recording nothing and keeping the redo steps, when no pixel changed or no
   * step was open. Recording a step clears the redo steps and drops the oldest steps beyond the limits.
   */
  commit(): Patch | null {
    if (!this.open) return null;
    this.open = false;
    const rect = this.changedRect();
    if (!rect) return null;
    const w = this.target.width;
    const before = new Uint8Array(rect.width * rect.height);
    for (let y = 0; y < rect.height; y++) {
      const start = (rect.y + y) * w + rect.x;
      before.set(this.snapshot.subarray(start, start + rect.width), y * rect.width);
    }
    const patch: Patch = { rect, before, after: readRect(this.target, rect) };
    for (const s of this.redoSteps) this.bytes -= patchBytes(s.patch);
    this.redoSteps = [];
    this.undoSteps.push({ patch, id: this.nextId++ });
    this.bytes += patchBytes(patch);
    while (
      this.undoSteps.length > this.maxSteps ||
      (this.bytes > this.maxBytes && this.undoSteps.length > 1)
    ) {
      const dropped = this.undoSteps.shift()!;
      this.bytes -= patchBytes(dropped.patch);
      // The state the dropped step led to is now the oldest reachable one.
      this.baseRevision = dropped.id;
    }
    return patch;
  }

  /** Bounding box of the pixels of the open step that differ from the snapshot, or null when none do. */
  private changedRect(): Rect | null {
    const u = this.touched;
    if (isEmptyRect(u)) return null;
    const w = this.target.width;
    const idx = this.target.indices;
    const snap = this.snapshot;
    let minX = w;
    let maxX = -1;
    let minY = -1;
    let maxY = -1;
    for (let y = u.y, yEnd = u.y + u.height; y < yEnd; y++) {
      const row = y * w;
      const end = row + u.x + u.width;
      let a = row + u.x;
      while (a < end && snap[a] === idx[a]) a++;
      if (a === end) continue;
      if (minY < 0) minY = y;
      maxY = y;
      if (a - row < minX) minX = a - row;
      // From the right, only as far as could still widen the box.
      const stop = row + Math.max(maxX, a - row);
      let b = end - 1;
      while (b > stop && snap[b] === idx[b]) b--;
      if (b - row > maxX) maxX = b - row;
    }
    if (minY < 0) return null;
    return { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 };
  }

  /** Abandons the open step, putting back the pixels it had changed. Does nothing when none is open. */
  cancel(): void {
    if (!this.open) return;
    this.open = false;
    const u = this.touched;
    if (isEmptyRect(u)) return;
    const w = this.target.width;
    const idx = this.target.indices;
    for (let y = u.y, yEnd = u.y + u.height; y < yEnd; y++) {
      const start = y * w + u.x;
      idx.set(this.snapshot.subarray(start, start + u.width), start);
    }
  }

  /**
   * Reverts the newest step (committing an open step first, so undo mid-stroke undoes the stroke so far).
   * Returns the rect to redraw, or null when there is nothing to undo.
   */
  undo(): Rect | null {
    if (this.open) this.commit();
    const step = this.undoSteps.pop();
    if (!step) return null;
    writeRect(this.target, step.patch.rect, step.patch.before);
    this.redoSteps.push(step);
    return { ...step.patch.rect };
  }

  /**
   * Re-applies the newest undone step (committing an open step first, which clears redo if it changed
   * anything). Returns the rect to redraw, or null when there is nothing to redo.
   */
  redo(): Rect | null {
    if (this.open) this.commit();
    const step = this.redoSteps.pop();
    if (!step) return null;
    writeRect(this.target, step.patch.rect, step.patch.after);
    this.undoSteps.push(step);
    return { ...step.patch.rect };
  }

  /** Whether {@link undo} would revert a step. */
  get canUndo(): boolean {
    return this.undoSteps.length > 0;
  }

  /** Whether {@link redo} would re-apply a step. */
  get canRedo(): boolean {
    return this.redoSteps.length > 0;
  }

  /** Number of steps that can be undone. */
  get size(): number {
    return this.undoSteps.length;
  }

  /** Bytes of patch pixels held (before + after, undo and redo steps together), as limited by maxBytes. */
  get byteSize(): number {
    return this.bytes;
  }

  /** Whether a step is open (between `begin()` and `commit()` or `cancel()`). */
  get isOpen(): boolean {
    return this.open;
  }

  /**
   * Identifies the state of the map along the history: it changes on every recorded commit, undo and redo,
   * and returns to an earlier value exactly when the map returns to that state by undo or redo. An editor
   * stores it at save time and shows 'unsaved' while it differs. Each state's value is the id of the step
   * that produced it, so a new commit after undoing never reuses an old value.
   */
  get revision(): number {
    return this.undoSteps[this.undoSteps.length - 1]?.id ?? this.baseRevision;
  }

  /**
   * Drops all steps and any open step (without restoring it), for when a new map is loaded. The revision
   * takes a fresh value, and the snapshot buffer is released until the next `begin()`.
   */
  clear(): void {
    this.open = false;
    this.undoSteps = [];
    this.redoSteps = [];
    this.bytes = 0;
    this.baseRevision = this.nextId++;
    this.touched = emptyRect();
    this.snapshot = new Uint8Array(0);
    this.captured = new Uint8Array(0);
  }
}

function patchBytes(p: Patch): number {
  return p.before.length + p.after.length;
}
