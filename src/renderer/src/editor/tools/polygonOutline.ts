// The vertices of a polygon being clicked and its dashed outline, shared by the tools that draw
// polygons (polygon, accept). Renderer.
import Konva from 'konva';
import { isEmptyRect, polygonBounds, type Rect } from '../../../../shared/labelMap';
import type { ToolContext, ToolPoint } from './tool';

export class PolygonOutline {
  points: number[] = [];
  private line: Konva.Line | null = null;

  private shape(ctx: ToolContext): Konva.Line {
    if (!this.line) {
      this.line = new Konva.Line({
        stroke: '#ffffff',
        strokeWidth: 1.5,
        strokeScaleEnabled: false,
        dash: [4, 3],
        visible: false,
      });
      ctx.uiLayer.add(this.line);
    }
    return this.line;
  }

  /** Adds a vertex; returns true instead when the click is near the first vertex (close it). */
  add(ctx: ToolContext, x: number, y: number): boolean {
    const [fx, fy] = this.points;
    if (this.points.length >= 6 && fx !== undefined && fy !== undefined) {
      if (Math.hypot(x - fx, y - fy) * ctx.scale < 6) return true;
    }
    this.points.push(x, y);
    const line = this.shape(ctx);
    line.points(this.points);
    line.closed(false);
    line.visible(true);
    ctx.uiLayer.batchDraw();
    return false;
  }

  /** Draws the rubber band from the last vertex to the pointer. */
  hover(ctx: ToolContext, p: Pick<ToolPoint, 'x' | 'y'> | null): void {
    if (p && this.points.length) this.shape(ctx).points([...this.points, p.x, p.y]);
  }

  /** Returns the vertices (possibly fewer than three) and clears the outline. */
  take(ctx: ToolContext): number[] {
    const points = this.points;
    this.points = [];
    this.line?.visible(false);
    ctx.uiLayer.batchDraw();
    return points;
  }

  /**
   * Closes the polygon: its vertices and their bounds on the target, or null when it has fewer than
   * three vertices or covers no pixel (the outline is cleared either way, except below three).
   */
  close(ctx: ToolContext): { points: number[]; box: Rect } | null {
    if (this.points.length < 6) return null;
    const points = this.take(ctx);
    const box = polygonBounds(ctx.target, points);
    return isEmptyRect(box) ? null : { points, box };
  }
}
