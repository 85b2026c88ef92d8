// The region tool, one-click corrections of the draft: a click accepts the draft's connected region
// under it, Shift+click every region of that draft class, Ctrl (or Cmd)+click gives the draft's region
// the selected class. The owner applies it (drafts store, shared/draftRegions.ts). Renderer.
import type { RegionAction } from '../../../../shared/draftRegions';
import type { ToolContext, ToolHandler, ToolPoint } from './tool';

export class RegionTool implements ToolHandler {
  down(ctx: ToolContext, p: ToolPoint, e: PointerEvent): void {
    const action: RegionAction =
      e.ctrlKey || e.metaKey
        ? { kind: 'reclass', classIndex: ctx.classIndex }
        : e.shiftKey
          ? { kind: 'acceptClass' }
          : { kind: 'accept' };
    ctx.draftClick(p.x, p.y, action);
  }
}
