// The brush, the eraser and the void brush: one stroke of round dabs is one undo step. Renderer.
import {
  brushCentre,
  brushRadius,
  isEmptyRect,
  paintSegment,
  segmentBounds,
} from '../../../../shared/labelMap';
import type { ToolContext, ToolHandler, ToolPoint } from './tool';

/** A brush painting the index `value(ctx)` gives (the class, 0 for the eraser, void). */
export class BrushTool implements ToolHandler {
  readonly brushCursor = true;
  readonly coalesced = true;
  private last: { x: number; y: number } | null = null;

  constructor(private readonly value: (ctx: ToolContext) => number) {}

  down(ctx: ToolContext, p: ToolPoint, e: PointerEvent): void {
    ctx.capture(e.pointerId);
    ctx.history.begin();
    this.last = { x: p.x, y: p.y };
    this.paint(ctx, p.x, p.y, p.x, p.y, e.timeStamp);
  }

  move(ctx: ToolContext, points: ToolPoint[], e: PointerEvent): void {
    for (const p of points) {
      if (!this.last) return;
      this.paint(ctx, this.last.x, this.last.y, p.x, p.y, e.timeStamp);
      this.last = { x: p.x, y: p.y };
    }
  }

  up(ctx: ToolContext): void {
    if (!this.last) return;
    this.last = null;
    if (ctx.history.commit()) ctx.changed();
  }

  private paint(ctx: ToolContext, x0: number, y0: number, x1: number, y1: number, eventTime: number): void {
    const t = ctx.target;
    const size = ctx.brushSize;
    const r = brushRadius(size);
    // Dabs are centred on pixel centres (odd sizes) or corners (even sizes), so a size-1 brush paints
    // exactly the pixel under the pointer and every dab is symmetric.
    const [a, b, c, d] = [x0, y0, x1, y1].map((v) => brushCentre(v, size)) as [
      number,
      number,
      number,
      number,
    ];
    const box = segmentBounds(t, a, b, c, d, r);
    if (isEmptyRect(box)) return;
    ctx.history.touch(box);
    const changed = paintSegment(t, a, b, c, d, r, this.value(ctx), ctx.protect);
    ctx.paintedInput(eventTime);
    ctx.redraw(changed);
  }
}
