// The editor's tools by name: adding a tool is its handler file plus one entry here (and its button
// in MaskEditor.vue). Renderer.
import { VOID_INDEX } from '../../../../shared/voc';
import { AcceptTool } from './accept';
import { BrushTool } from './brush';
import { FillTool } from './fill';
import { PolygonTool } from './polygon';
import { RegionTool } from './region';
import type { ToolHandler } from './tool';

/** A fresh set of handlers (they keep per-canvas state such as a polygon being drawn). */
export function createTools() {
  return {
    brush: new BrushTool((ctx) => ctx.classIndex),
    eraser: new BrushTool(() => 0),
    void: new BrushTool(() => VOID_INDEX),
    fill: new FillTool(),
    polygon: new PolygonTool(),
    /** Takes the draft (drafts/) inside a polygon (clicks), a stroke (drag) or a box (Shift+drag). */
    accept: new AcceptTool(),
    /** One-click corrections: accept a draft region, every region of its class, or reclass it. */
    region: new RegionTool(),
  } satisfies Record<string, ToolHandler>;
}

/** The name of an editor tool. */
export type Tool = keyof ReturnType<typeof createTools>;

/** Whether `value` names an editor tool (a setting read back from storage, say). */
export function isTool(value: unknown): value is Tool {
  return typeof value === 'string' && Object.hasOwn(createTools(), value);
}

export type { ToolContext, ToolHandler, ToolPoint } from './tool';
