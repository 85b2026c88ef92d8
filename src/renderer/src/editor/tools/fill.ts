// The fill tool: a click floods the connected region under it with the selected class. Renderer.
import { floodFill, pixelAt } from '../../../../shared/labelMap';
import type { ToolContext, ToolHandler, ToolPoint } from './tool';

export class FillTool implements ToolHandler {
  down(ctx: ToolContext, p: ToolPoint): void {
    const t = ctx.target;
    const start = performance.now();
    if (pixelAt(t, p.x, p.y) === null) return;
    // A fill's extent is unknown beforehand, so the step touches the whole map; commit trims the patch
    // to the pixels that really changed.
    ctx.history.begin();
    ctx.history.touch({ x: 0, y: 0, width: t.width, height: t.height });
    const changed = floodFill(t, Math.floor(p.x), Math.floor(p.y), ctx.classIndex, ctx.protect);
    if (!ctx.history.commit()) return;
    ctx.redraw(changed);
    ctx.filled(start);
    ctx.changed();
  }
}
