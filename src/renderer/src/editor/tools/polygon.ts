// The polygon tool: clicks add vertices; a click near the first one, Enter or a double-click fills
// the polygon with the selected class as one undo step. Renderer.
import { fillPolygon } from '../../../../shared/labelMap';
import { PolygonOutline } from './polygonOutline';
import type { ToolContext, ToolHandler, ToolPoint } from './tool';

export class PolygonTool implements ToolHandler {
  private readonly outline = new PolygonOutline();

  down(ctx: ToolContext, p: ToolPoint): void {
    if (this.outline.add(ctx, p.x, p.y)) this.finish(ctx);
  }

  hover(ctx: ToolContext, p: Pick<ToolPoint, 'x' | 'y'> | null): void {
    this.outline.hover(ctx, p);
  }

  finish(ctx: ToolContext): void {
    const closed = this.outline.close(ctx);
    if (!closed) return;
    const { points, box } = closed;
    const t = ctx.target;
    ctx.history.begin();
    ctx.history.touch(box);
    const changed = fillPolygon(t, points, ctx.classIndex, ctx.protect);
    if (ctx.history.commit()) {
      ctx.redraw(changed);
      ctx.changed();
    }
  }

  cancel(ctx: ToolContext): void {
    this.outline.take(ctx);
  }
}
