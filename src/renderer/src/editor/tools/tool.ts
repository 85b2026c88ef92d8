// The small interface every editor tool implements, and what the canvas lends it: the map, its
// history, the view, the settings and a way to redraw. A new tool is one file here plus one entry in
// index.ts's map. Renderer.
import type Konva from 'konva';
import type { PaintTarget, Protect, Rect } from '../../../../shared/labelMap';
import type { LabelHistory } from '../../../../shared/labelHistory';
import type { RegionAction } from '../../../../shared/draftRegions';

/** A pointer position in image pixels (x, y) and in stage pixels (sx, sy). */
export interface ToolPoint {
  x: number;
  y: number;
  sx: number;
  sy: number;
}

/** What a tool may use of the canvas; the canvas owns all of it. */
export interface ToolContext {
  /** The map being edited (non-null while a tool receives input). */
  readonly target: PaintTarget;
  readonly history: LabelHistory;
  /** Image pixels to screen pixels. */
  readonly scale: number;
  readonly classIndex: number;
  readonly brushSize: number;
  readonly protect: Protect;
  /** The layer for a tool's own shapes (cursor, outline); call batchDraw after changing them. */
  readonly uiLayer: Konva.Layer;
  /** Captures the pointer so a drag keeps its events outside the canvas. */
  capture(pointerId: number): void;
  /** Redraws `rect` of the map on the next frame. */
  redraw(rect: Rect): void;
  /** Tells the owner that the map changed (after a committed step). */
  changed(): void;
  /** The accept tool closed a region: one byte per map pixel, non-zero inside. */
  acceptRegion(region: Uint8Array): void;
  /** The region tool clicked image point (x, y) of the draft. */
  draftClick(x: number, y: number, action: RegionAction): void;
  /** Records a painted input event's time, for the paint latency measure. */
  paintedInput(eventTime: number): void;
  /** Records that a fill started at `time`, for the fill latency measure. */
  filled(time: number): void;
}

/** One interaction of the editor. Every method but `down` is optional. */
export interface ToolHandler {
  /** Shows the round brush cursor while this tool is chosen. */
  readonly brushCursor?: boolean;
  /** Primary button pressed (not pan, not the eyedropper). */
  down(ctx: ToolContext, p: ToolPoint, e: PointerEvent): void;
  /** Pointer moved; `points` are the coalesced positions since the last move, last one included. */
  move?(ctx: ToolContext, points: ToolPoint[], e: PointerEvent): void;
  /** Pointer released, or the gesture was cancelled (`cancelled`). */
  up?(ctx: ToolContext, cancelled: boolean): void;
  /** Hover feedback at `p`, or null when the pointer left. */
  hover?(ctx: ToolContext, p: Pick<ToolPoint, 'x' | 'y'> | null): void;
  /** Enter or double-click: finish what is being drawn. */
  finish?(ctx: ToolContext): void;
  /** Escape, or another tool was chosen: drop what is being drawn. */
  cancel?(ctx: ToolContext): void;
  /** Whether the tool wants the coalesced pointer positions (strokes do). */
  readonly coalesced?: boolean;
}
