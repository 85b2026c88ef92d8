// The accept tool: takes the model's draft inside a polygon (clicks), a stroke (drag) or a box
// (Shift+drag). It only outlines the region; the owner (MaskEditor with drafts/) applies it. Renderer.
import Konva from 'konva';
import { brushCentre, brushRadius, fillPolygon, paintSegment } from '../../../../shared/labelMap';
import { PolygonOutline } from './polygonOutline';
import type { ToolContext, ToolHandler, ToolPoint } from './tool';

export class AcceptTool implements ToolHandler {
  private readonly outline = new PolygonOutline();
  private drag: { x: number; y: number; points: number[]; moved: boolean; box: boolean } | null = null;
  /** The stroke or box while it is dragged. */
  private shape: Konva.Line | null = null;

  private dragShape(ctx: ToolContext): Konva.Line {
    if (!this.shape) {
      this.shape = new Konva.Line({
        stroke: '#ffffff',
        opacity: 0.45,
        lineCap: 'round',
        lineJoin: 'round',
        visible: false,
      });
      ctx.uiLayer.add(this.shape);
    }
    return this.shape;
  }

  down(ctx: ToolContext, p: ToolPoint, e: PointerEvent): void {
    ctx.capture(e.pointerId);
    this.drag = { x: p.x, y: p.y, points: [p.x, p.y], moved: false, box: e.shiftKey };
  }

  /** A drag: a stroke of the brush's width, or with Shift a box. */
  move(ctx: ToolContext, points: ToolPoint[]): void {
    const d = this.drag;
    const p = points[points.length - 1];
    if (!d || !p) return;
    if (!d.moved && Math.hypot(p.x - d.x, p.y - d.y) * ctx.scale < 4) return;
    d.moved = true;
    if (d.box) d.points = [d.x, d.y, p.x, d.y, p.x, p.y, d.x, p.y];
    else d.points.push(p.x, p.y);
    const shape = this.dragShape(ctx);
    shape.points(d.points);
    shape.closed(d.box);
    shape.strokeWidth(d.box ? 1 / ctx.scale : ctx.brushSize);
    shape.fill(d.box ? 'rgba(255,255,255,0.25)' : '');
    shape.visible(true);
    ctx.uiLayer.batchDraw();
  }

  /** Ends a drag: a click adds a polygon vertex; a stroke or box is accepted as a region. */
  up(ctx: ToolContext, cancelled: boolean): void {
    const d = this.drag;
    if (!d) return;
    this.drag = null;
    this.shape?.visible(false);
    ctx.uiLayer.batchDraw();
    if (cancelled) return;
    if (!d.moved) {
      if (this.outline.add(ctx, d.x, d.y)) this.finish(ctx);
      return;
    }
    const t = ctx.target;
    const region = { width: t.width, height: t.height, indices: new Uint8Array(t.width * t.height) };
    if (d.box) {
      fillPolygon(region, d.points, 1, 'all');
    } else {
      const r = brushRadius(ctx.brushSize);
      const pts = d.points.map((v) => brushCentre(v, ctx.brushSize));
      for (let i = 0; i + 3 < pts.length; i += 2)
        paintSegment(region, pts[i]!, pts[i + 1]!, pts[i + 2]!, pts[i + 3]!, r, 1, 'all');
    }
    ctx.acceptRegion(region.indices);
  }

  hover(ctx: ToolContext, p: Pick<ToolPoint, 'x' | 'y'> | null): void {
    this.outline.hover(ctx, p);
  }

  finish(ctx: ToolContext): void {
    const closed = this.outline.close(ctx);
    if (!closed) return;
    const t = ctx.target;
    const points = closed.points;
    const region = { width: t.width, height: t.height, indices: new Uint8Array(t.width * t.height) };
    fillPolygon(region, points, 1, 'all');
    ctx.acceptRegion(region.indices);
  }

  cancel(ctx: ToolContext): void {
    this.outline.take(ctx);
  }
}
