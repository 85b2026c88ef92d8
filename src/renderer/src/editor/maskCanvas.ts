// The mask editor's canvas, free of Vue: the photo and the label map on Konva layers, the view
// transform, pan, zoom and the eyedropper; each tool is a handler in tools/ over a small interface
// (tools/tool.ts), chosen from one map (tools/index.ts). The label map
// stays a Uint8Array of indices; the screen shows it through a palette lookup, and each edit
// re-renders only its dirty rectangle. Renderer.
import Konva from 'konva';
import {
  brushCentre,
  brushRadius,
  isEmptyRect,
  paletteLut,
  pixelAt,
  unionRect,
  type PaintTarget,
  type Protect,
  type Rect,
} from '../../../shared/labelMap';
import { LabelHistory } from '../../../shared/labelHistory';
import type { RegionAction } from '../../../shared/draftRegions';
import { ScreenMask } from './screenMask';
import { createTools, type Tool, type ToolContext, type ToolHandler, type ToolPoint } from './tools';

export type { Tool } from './tools';

/** What the canvas tells its owner. */
export interface MaskCanvasEvents {
  /** The map or its history changed (an edit, undo or redo). */
  changed(): void;
  /** The eyedropper (alt-click) picked a class. */
  picked(classIndex: number): void;
  /** The pointer is over pixel (x, y) of class `index`, or has left the image (null). */
  hovered(pixel: { x: number; y: number; index: number } | null): void;
  /** The accept tool closed a region: one byte per map pixel, non-zero inside. */
  acceptRegion?(region: Uint8Array): void;
  /** The region tool clicked image point (x, y): correct the draft's region there. */
  draftClick?(x: number, y: number, action: RegionAction): void;
}

export interface View {
  scale: number;
  x: number;
  y: number;
}

const MIN_SCALE = 1 / 32;
const MAX_SCALE = 64;

export class MaskCanvas {
  private readonly stage: Konva.Stage;
  private readonly photoLayer = new Konva.Layer({ listening: false, imageSmoothingEnabled: false });
  private readonly maskLayer = new Konva.Layer({ listening: false, imageSmoothingEnabled: false });
  private readonly uiLayer = new Konva.Layer({ listening: false });
  /** A picture over the mask at image resolution (the model's draft); drawn by Konva with the view. */
  private readonly overlayLayer = new Konva.Layer({ listening: false, imageSmoothingEnabled: false });
  private readonly overlay = new Konva.Image({ image: undefined, listening: false, visible: false });
  private readonly photo = new Konva.Image({ image: undefined, listening: false });
  private readonly cursor = new Konva.Circle({
    stroke: '#ffffff',
    strokeWidth: 1,
    strokeScaleEnabled: false,
    visible: false,
  });
  private readonly cursorShadow = new Konva.Circle({
    stroke: '#000000',
    strokeWidth: 3,
    strokeScaleEnabled: false,
    visible: false,
    opacity: 0.5,
  });

  private target: PaintTarget | null = null;
  /** Draws the map straight onto the mask layer's canvas; Konva never draws that layer itself. */
  private readonly screenMask: ScreenMask;
  private lut: Uint32Array = new Uint32Array(256);
  private palette: Uint8Array = new Uint8Array(768);
  private history: LabelHistory | null = null;

  private readonly tools = createTools();
  private tool: Tool = 'brush';
  /** The tool that received the last press, until its release (input after a tool switch goes there). */
  private active: ToolHandler | null = null;
  private readonly ctx: ToolContext;
  private classIndex = 15;
  private brushSize = 9;
  private protect: Protect = 'all';
  private opacity = 0.6;
  private hideBackground = true;

  private view: View = { scale: 1, x: 0, y: 0 };
  private pan: { x: number; y: number; view: View } | null = null;
  private spaceHeld = false;
  private drawQueued = false;
  /** Image area waiting to be redrawn on the next frame, or 'all' for the whole viewport. */
  private dirty: Rect | 'all' | null = null;
  /** Timestamps of input events painted since the last frame, for the latency measure. */
  private pendingInputs: number[] = [];
  private fillStarted: number | null = null;
  private readonly resizeObserver: ResizeObserver;
  private readonly cleanups: Array<() => void> = [];

  constructor(
    private readonly container: HTMLDivElement,
    private readonly events: MaskCanvasEvents,
  ) {
    this.stage = new Konva.Stage({
      container,
      width: container.clientWidth || 800,
      height: container.clientHeight || 600,
    });
    this.photoLayer.add(this.photo);
    this.uiLayer.add(this.cursorShadow, this.cursor);
    this.ctx = this.toolContext();
    this.overlayLayer.add(this.overlay);
    this.stage.add(this.photoLayer, this.maskLayer, this.overlayLayer, this.uiLayer);
    this.screenMask = new ScreenMask(this.maskLayer.getNativeCanvasElement(), () =>
      this.maskLayer.getCanvas().getPixelRatio(),
    );
    this.maskElement().style.opacity = String(this.opacity);
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(container);
    this.listen(container, 'pointerdown', (e) => this.onPointerDown(e as PointerEvent));
    this.listen(container, 'pointermove', (e) => this.onPointerMove(e as PointerEvent));
    this.listen(container, 'pointerup', (e) => this.onPointerUp(e as PointerEvent));
    this.listen(container, 'pointercancel', () => this.endGesture(true));
    this.listen(container, 'pointerleave', () => this.onLeave());
    this.listen(container, 'wheel', (e) => this.onWheel(e as WheelEvent), { passive: false });
    this.listen(container, 'dblclick', () => this.closePolygon());
    this.listen(container, 'contextmenu', (e) => e.preventDefault());
    this.listen(window, 'keydown', (e) => this.onKey(e as KeyboardEvent, true));
    this.listen(window, 'keyup', (e) => this.onKey(e as KeyboardEvent, false));
  }

  private listen(
    target: EventTarget,
    name: string,
    fn: (e: Event) => void,
    options?: AddEventListenerOptions,
  ): void {
    target.addEventListener(name, fn, options);
    this.cleanups.push(() => target.removeEventListener(name, fn, options));
  }

  /** Shows `image` with `label` (which the canvas edits in place) and fits it to the view. */
  load(image: CanvasImageSource, label: PaintTarget, palette: Uint8Array): void {
    const { width, height } = label;
    this.target = label;
    this.history = new LabelHistory(label);
    this.photo.image(image);
    this.photo.size({ width, height });
    this.active = null;
    for (const handler of Object.values(this.tools) as ToolHandler[]) handler.cancel?.(this.ctx);
    this.palette = palette;
    this.lut = paletteLut(palette, 255, this.hideBackground);
    this.screenMask.setSource(label, this.lut);
    this.fit();
  }

  /** Recolours every pixel, e.g. after the palette or the background visibility changed. */
  setPalette(palette: Uint8Array): void {
    this.palette = palette;
    this.lut = paletteLut(palette, 255, this.hideBackground);
    this.screenMask.setLut(this.lut);
    this.queue('all');
  }

  setTool(tool: Tool): void {
    if (tool !== this.tool) this.cancelPolygon();
    this.tool = tool;
    this.updateCursor(null);
  }
  setClass(index: number): void {
    this.classIndex = index;
  }
  setBrushSize(size: number): void {
    this.brushSize = size;
  }
  setProtect(protect: Protect): void {
    this.protect = protect;
  }
  // Opacity and visibility are the canvas element's style: changing them redraws nothing.
  setOpacity(opacity: number): void {
    this.opacity = opacity;
    this.maskElement().style.opacity = String(opacity);
  }
  setMaskVisible(visible: boolean): void {
    this.maskElement().style.visibility = visible ? 'visible' : 'hidden';
  }

  private maskElement(): HTMLCanvasElement {
    return this.maskLayer.getNativeCanvasElement();
  }
  setHideBackground(hide: boolean): void {
    this.hideBackground = hide;
    this.setPalette(this.palette);
  }

  /**
   * Applies `edit` to the map as one undo step (the model's draft accepted, say); `edit` returns the box
   * of the pixels it changed. Returns whether anything changed.
   */
  applyEdit(edit: (target: PaintTarget) => Rect): boolean {
    const t = this.target;
    if (!t || !this.history) return false;
    this.history.begin();
    this.history.touch(this.fullRect());
    const changed = edit(t);
    if (!this.history.commit()) return false;
    this.redrawRect(changed);
    this.events.changed();
    return true;
  }

  /** The map being edited (read it, do not write it: edits go through `applyEdit`). */
  get map(): PaintTarget | null {
    return this.target;
  }

  /** Shows `picture` (image-sized) over the mask, or hides the overlay when null. */
  setOverlay(picture: HTMLCanvasElement | null, opacity = 1): void {
    this.overlay.image(picture ?? undefined);
    this.overlay.visible(picture !== null);
    if (picture) this.overlay.size({ width: picture.width, height: picture.height });
    this.overlayLayer.opacity(opacity);
    this.overlayLayer.batchDraw();
  }

  get canUndo(): boolean {
    return this.history?.canUndo ?? false;
  }
  get canRedo(): boolean {
    return this.history?.canRedo ?? false;
  }
  /** Changes on every edit, undo and redo; equal values mean equal maps along one history. */
  get revision(): number {
    return this.history?.revision ?? 0;
  }

  undo(): void {
    this.applyHistory(this.history?.undo() ?? null);
  }
  redo(): void {
    this.applyHistory(this.history?.redo() ?? null);
  }

  private applyHistory(rect: Rect | null): void {
    if (!rect) return;
    this.redrawRect(rect);
    this.events.changed();
  }

  // ---- view -------------------------------------------------------------------------------------

  /** Fits the whole image in the view, centred on whole screen pixels. */
  fit(): void {
    if (!this.target) return;
    const { width, height } = this.stage.size();
    const scale = Math.min(width / this.target.width, height / this.target.height) * 0.98;
    this.setView({
      scale,
      x: Math.round((width - this.target.width * scale) / 2),
      y: Math.round((height - this.target.height * scale) / 2),
    });
  }

  /** One image pixel per screen pixel, centred on whole screen pixels. */
  oneToOne(): void {
    if (!this.target) return;
    const { width, height } = this.stage.size();
    this.setView({
      scale: 1,
      x: Math.round((width - this.target.width) / 2),
      y: Math.round((height - this.target.height) / 2),
    });
  }

  /** Zooms by `factor` keeping the image point under (sx, sy) fixed. */
  zoomAt(factor: number, sx: number, sy: number): void {
    const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, this.view.scale * factor));
    const ix = (sx - this.view.x) / this.view.scale;
    const iy = (sy - this.view.y) / this.view.scale;
    this.setView({ scale, x: sx - ix * scale, y: sy - iy * scale });
  }

  getView(): View {
    return { ...this.view };
  }

  private setView(view: View): void {
    this.view = view;
    this.stage.scale({ x: view.scale, y: view.scale });
    this.stage.position({ x: view.x, y: view.y });
    // The view is published on the element so tests and benchmarks can map image to screen pixels.
    this.container.dataset.viewScale = String(view.scale);
    this.container.dataset.viewX = String(view.x);
    this.container.dataset.viewY = String(view.y);
    this.screenMask.setView(view);
    this.photoLayer.batchDraw();
    this.overlayLayer.batchDraw();
    this.uiLayer.batchDraw();
    this.queue('all');
  }

  private resize(): void {
    const width = this.container.clientWidth;
    const height = this.container.clientHeight;
    if (!width || !height) return;
    const changed = this.stage.width() !== width || this.stage.height() !== height;
    this.stage.size({ width, height });
    // Resizing cleared the layer canvases; the mask maps must follow the new size.
    this.screenMask.remap();
    if (changed) this.fit();
    else this.queue('all');
  }

  // ---- input ------------------------------------------------------------------------------------

  private toImage(e: { clientX: number; clientY: number }): ToolPoint {
    const box = this.container.getBoundingClientRect();
    const sx = e.clientX - box.left;
    const sy = e.clientY - box.top;
    return { x: (sx - this.view.x) / this.view.scale, y: (sy - this.view.y) / this.view.scale, sx, sy };
  }

  /** What the tools may use of the canvas; getters, so a tool always sees the current settings. */
  private toolContext(): ToolContext {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the context reads this canvas's state
    const canvas = this;
    return {
      get target() {
        return canvas.target!;
      },
      get history() {
        return canvas.history!;
      },
      get scale() {
        return canvas.view.scale;
      },
      get classIndex() {
        return canvas.classIndex;
      },
      get brushSize() {
        return canvas.brushSize;
      },
      get protect() {
        return canvas.protect;
      },
      uiLayer: this.uiLayer,
      capture: (pointerId) => this.container.setPointerCapture(pointerId),
      redraw: (rect) => this.redrawRect(rect),
      changed: () => this.events.changed(),
      acceptRegion: (region) => this.events.acceptRegion?.(region),
      draftClick: (x, y, action) => this.events.draftClick?.(x, y, action),
      paintedInput: (time) => this.pendingInputs.push(time),
      filled: (time) => {
        this.fillStarted = time;
      },
    };
  }

  private get handler(): ToolHandler {
    return this.tools[this.tool];
  }

  private onPointerDown(e: PointerEvent): void {
    if (!this.target) return;
    this.container.focus({ preventScroll: true });
    const p = this.toImage(e);
    if (e.button === 1 || (e.button === 0 && this.spaceHeld)) {
      e.preventDefault();
      this.pan = { x: p.sx, y: p.sy, view: { ...this.view } };
      this.container.setPointerCapture(e.pointerId);
      return;
    }
    if (e.button !== 0) return;
    if (e.altKey) {
      const index = pixelAt(this.target, p.x, p.y);
      if (index !== null) this.events.picked(index);
      return;
    }
    this.active = this.handler;
    this.active.down(this.ctx, p, e);
  }

  private onPointerMove(e: PointerEvent): void {
    if (!this.target) return;
    if (this.pan) {
      const p = this.toImage(e);
      this.setView({
        ...this.pan.view,
        x: this.pan.view.x + p.sx - this.pan.x,
        y: this.pan.view.y + p.sy - this.pan.y,
      });
      return;
    }
    const active = this.active;
    if (active?.move) {
      // Coalesced events carry every position the pointer passed, so fast strokes have no gaps.
      const moves =
        active.coalesced && typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
      active.move(
        this.ctx,
        (moves.length ? moves : [e]).map((m) => this.toImage(m)),
        e,
      );
    }
    const p = this.toImage(e);
    this.updateCursor(p);
    const index = pixelAt(this.target, p.x, p.y);
    this.events.hovered(index === null ? null : { x: Math.floor(p.x), y: Math.floor(p.y), index });
  }

  private onPointerUp(e: PointerEvent): void {
    if (this.pan) {
      this.pan = null;
      this.container.releasePointerCapture(e.pointerId);
      return;
    }
    this.endGesture(false);
  }

  private endGesture(cancelled: boolean): void {
    const active = this.active;
    this.active = null;
    if (active && this.target) active.up?.(this.ctx, cancelled);
  }

  private onLeave(): void {
    this.updateCursor(null);
    this.events.hovered(null);
  }

  private onWheel(e: WheelEvent): void {
    e.preventDefault();
    const p = this.toImage(e);
    this.zoomAt(Math.pow(1.0015, -e.deltaY), p.sx, p.sy);
  }

  private onKey(e: KeyboardEvent, down: boolean): void {
    if (e.code === 'Space' && !isTyping(e)) {
      this.spaceHeld = down;
      if (down) e.preventDefault();
    }
    if (!down || isTyping(e)) return;
    if (e.key === 'Enter') this.closePolygon();
    if (e.key === 'Escape') this.cancelPolygon();
  }

  // ---- tools ------------------------------------------------------------------------------------

  /** Finishes what the current tool is drawing (a polygon's fill, say). */
  closePolygon(): void {
    if (this.target) this.handler.finish?.(this.ctx);
  }

  /** Drops what the current tool is drawing. */
  cancelPolygon(): void {
    if (this.target) this.handler.cancel?.(this.ctx);
  }

  private updateCursor(p: { x: number; y: number } | null): void {
    const show = p !== null && !!this.handler.brushCursor && !this.spaceHeld;
    for (const c of [this.cursorShadow, this.cursor]) {
      c.visible(show);
      if (p) c.position({ x: brushCentre(p.x, this.brushSize), y: brushCentre(p.y, this.brushSize) });
      c.radius(brushRadius(this.brushSize));
    }
    if (this.target) this.handler.hover?.(this.ctx, p);
    this.uiLayer.batchDraw();
  }

  // ---- drawing ----------------------------------------------------------------------------------

  private fullRect(): Rect {
    return { x: 0, y: 0, width: this.target?.width ?? 0, height: this.target?.height ?? 0 };
  }

  /** Redraws the screen area showing `rect` of the map on the next frame. */
  private redrawRect(rect: Rect): void {
    if (!this.target || isEmptyRect(rect)) return;
    this.queue(rect);
  }

  private queue(area: Rect | 'all'): void {
    if (this.dirty === 'all' || area === 'all') this.dirty = 'all';
    else this.dirty = this.dirty ? unionRect(this.dirty, area) : area;
    if (this.drawQueued) return;
    this.drawQueued = true;
    requestAnimationFrame(() => this.drawFrame());
  }

  private drawFrame(): void {
    this.drawQueued = false;
    const dirty = this.dirty;
    this.dirty = null;
    if (dirty === 'all') this.screenMask.renderAll();
    else if (dirty) this.screenMask.renderImageRect(dirty);
    // Input-to-screen latency of each painted pointer event and of a fill, for the editor benchmark.
    const now = performance.now();
    for (const start of this.pendingInputs) performance.measure('segscope:paint', { start, end: now });
    this.pendingInputs = [];
    if (this.fillStarted !== null)
      performance.measure('segscope:fill', { start: this.fillStarted, end: now });
    this.fillStarted = null;
  }

  destroy(): void {
    for (const cleanup of this.cleanups) cleanup();
    this.resizeObserver.disconnect();
    this.stage.destroy();
  }
}

function isTyping(e: KeyboardEvent): boolean {
  const el = e.target as HTMLElement | null;
  return (
    !!el &&
    (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable)
  );
}
