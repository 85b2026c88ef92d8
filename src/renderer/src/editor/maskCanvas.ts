// The mask editor's canvas, free of Vue: the photo and the label map on Konva layers, the view
// transform, and one handler per interaction (paint, fill, polygon, pick, pan, zoom). The label map
// stays a Uint8Array of indices; the screen shows it through a palette lookup, and each edit
// re-renders only its dirty rectangle. Renderer.
import Konva from 'konva';
import {
  brushCentre,
  brushRadius,
  fillPolygon,
  floodFill,
  isEmptyRect,
  paintSegment,
  paletteLut,
  pixelAt,
  polygonBounds,
  segmentBounds,
  unionRect,
  type PaintTarget,
  type Protect,
  type Rect,
} from '../../../shared/labelMap';
import { LabelHistory } from '../../../shared/labelHistory';
import { VOID_INDEX } from '../../../shared/voc';
import { ScreenMask } from './screenMask';

/** `accept` takes the draft (drafts/) inside a polygon (clicks), a stroke (drag) or a box (Shift+drag). */
export type Tool = 'brush' | 'eraser' | 'void' | 'fill' | 'polygon' | 'accept';

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
  /** The accept tool's stroke or box while it is dragged. */
  private readonly acceptShape = new Konva.Line({
    stroke: '#ffffff',
    opacity: 0.45,
    lineCap: 'round',
    lineJoin: 'round',
    visible: false,
  });
  private acceptDrag: { x: number; y: number; points: number[]; moved: boolean; box: boolean } | null = null;
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
  private readonly polyLine = new Konva.Line({
    stroke: '#ffffff',
    strokeWidth: 1.5,
    strokeScaleEnabled: false,
    dash: [4, 3],
    visible: false,
  });

  private target: PaintTarget | null = null;
  /** Draws the map straight onto the mask layer's canvas; Konva never draws that layer itself. */
  private readonly screenMask: ScreenMask;
  private lut: Uint32Array = new Uint32Array(256);
  private palette: Uint8Array = new Uint8Array(768);
  private history: LabelHistory | null = null;

  private tool: Tool = 'brush';
  private classIndex = 15;
  private brushSize = 9;
  private protect: Protect = 'all';
  private opacity = 0.6;
  private hideBackground = true;

  private view: View = { scale: 1, x: 0, y: 0 };
  private stroke: { x: number; y: number } | null = null;
  private pan: { x: number; y: number; view: View } | null = null;
  private spaceHeld = false;
  private polygon: number[] = [];
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
    this.uiLayer.add(this.cursorShadow, this.cursor, this.polyLine, this.acceptShape);
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
    this.listen(container, 'pointercancel', () => this.endStroke());
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
    this.polygon = [];
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

  private toImage(e: { clientX: number; clientY: number }): { x: number; y: number; sx: number; sy: number } {
    const box = this.container.getBoundingClientRect();
    const sx = e.clientX - box.left;
    const sy = e.clientY - box.top;
    return { x: (sx - this.view.x) / this.view.scale, y: (sy - this.view.y) / this.view.scale, sx, sy };
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
    switch (this.tool) {
      case 'accept':
        this.container.setPointerCapture(e.pointerId);
        this.acceptDrag = { x: p.x, y: p.y, points: [p.x, p.y], moved: false, box: e.shiftKey };
        return;
      case 'fill':
        this.fillAt(p.x, p.y);
        return;
      case 'polygon':
        this.addPolygonPoint(p.x, p.y);
        return;
      default:
        this.container.setPointerCapture(e.pointerId);
        this.history!.begin();
        this.stroke = { x: p.x, y: p.y };
        this.paint(p.x, p.y, p.x, p.y, e.timeStamp);
    }
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
    if (this.acceptDrag) this.dragAccept(this.toImage(e));
    // Coalesced events carry every position the pointer passed, so fast strokes have no gaps.
    const moves = this.stroke && typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
    for (const move of moves.length ? moves : [e]) {
      const p = this.toImage(move);
      if (this.stroke) {
        this.paint(this.stroke.x, this.stroke.y, p.x, p.y, e.timeStamp);
        this.stroke = { x: p.x, y: p.y };
      }
    }
    const p = this.toImage(e);
    this.updateCursor(p);
    const index = pixelAt(this.target, p.x, p.y);
    this.events.hovered(index === null ? null : { x: Math.floor(p.x), y: Math.floor(p.y), index });
  }

  private onPointerUp(e: PointerEvent): void {
    if (this.acceptDrag) {
      this.endAccept();
      return;
    }
    if (this.pan) {
      this.pan = null;
      this.container.releasePointerCapture(e.pointerId);
      return;
    }
    this.endStroke();
  }

  private endStroke(): void {
    if (!this.stroke) return;
    this.stroke = null;
    if (this.history!.commit()) this.events.changed();
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
    const polygonal = this.tool === 'polygon' || this.tool === 'accept';
    if (polygonal && e.key === 'Enter') this.closePolygon();
    if (polygonal && e.key === 'Escape') this.cancelPolygon();
  }

  // ---- tools ------------------------------------------------------------------------------------

  private paintValue(): number {
    return this.tool === 'eraser' ? 0 : this.tool === 'void' ? VOID_INDEX : this.classIndex;
  }

  private paint(x0: number, y0: number, x1: number, y1: number, eventTime: number): void {
    const t = this.target!;
    const size = this.brushSize;
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
    this.history!.touch(box);
    const changed = paintSegment(t, a, b, c, d, r, this.paintValue(), this.protect);
    this.pendingInputs.push(eventTime);
    this.redrawRect(changed);
  }

  private fillAt(x: number, y: number): void {
    const t = this.target!;
    const start = performance.now();
    if (pixelAt(t, x, y) === null) return;
    // A fill's extent is unknown beforehand, so the step touches the whole map; commit trims the patch
    // to the pixels that really changed.
    this.history!.begin();
    this.history!.touch(this.fullRect());
    const changed = floodFill(t, Math.floor(x), Math.floor(y), this.paintValueForArea(), this.protect);
    if (!this.history!.commit()) return;
    this.redrawRect(changed);
    this.fillStarted = start;
    this.events.changed();
  }

  /** Fill and polygon paint the selected class (the eraser and void tools are brushes). */
  private paintValueForArea(): number {
    return this.classIndex;
  }

  private addPolygonPoint(x: number, y: number): void {
    const [fx, fy] = this.polygon;
    // A click near the first vertex closes the polygon.
    if (this.polygon.length >= 6 && fx !== undefined && fy !== undefined) {
      if (Math.hypot(x - fx, y - fy) * this.view.scale < 6) {
        this.closePolygon();
        return;
      }
    }
    this.polygon.push(x, y);
    this.polyLine.points(this.polygon);
    this.polyLine.closed(false);
    this.polyLine.visible(true);
    this.uiLayer.batchDraw();
  }

  /** Fills the polygon drawn so far (at least three vertices) and starts a new one. */
  closePolygon(): void {
    const t = this.target;
    if (!t || this.polygon.length < 6) return;
    const points = this.polygon;
    const box = polygonBounds(t, points);
    this.cancelPolygon();
    if (isEmptyRect(box)) return;
    if (this.tool === 'accept') {
      const region = { width: t.width, height: t.height, indices: new Uint8Array(t.width * t.height) };
      fillPolygon(region, points, 1, 'all');
      this.events.acceptRegion?.(region.indices);
      return;
    }
    this.history!.begin();
    this.history!.touch(box);
    const changed = fillPolygon(t, points, this.paintValueForArea(), this.protect);
    if (this.history!.commit()) {
      this.redrawRect(changed);
      this.events.changed();
    }
  }

  cancelPolygon(): void {
    this.polygon = [];
    this.polyLine.visible(false);
    this.uiLayer.batchDraw();
  }

  /** A drag of the accept tool: a stroke of the brush's width, or with Shift a box. */
  private dragAccept(p: { x: number; y: number; sx: number; sy: number }): void {
    const d = this.acceptDrag!;
    if (!d.moved && Math.hypot(p.x - d.x, p.y - d.y) * this.view.scale < 4) return;
    d.moved = true;
    if (d.box) d.points = [d.x, d.y, p.x, d.y, p.x, p.y, d.x, p.y];
    else d.points.push(p.x, p.y);
    this.acceptShape.points(d.points);
    this.acceptShape.closed(d.box);
    this.acceptShape.strokeWidth(d.box ? 1 / this.view.scale : this.brushSize);
    this.acceptShape.fill(d.box ? 'rgba(255,255,255,0.25)' : '');
    this.acceptShape.visible(true);
    this.uiLayer.batchDraw();
  }

  /** Ends an accept drag: a click adds a polygon vertex; a stroke or box is accepted as a region. */
  private endAccept(): void {
    const d = this.acceptDrag!;
    const t = this.target!;
    this.acceptDrag = null;
    this.acceptShape.visible(false);
    this.uiLayer.batchDraw();
    if (!d.moved) {
      this.addPolygonPoint(d.x, d.y);
      return;
    }
    const region = { width: t.width, height: t.height, indices: new Uint8Array(t.width * t.height) };
    if (d.box) {
      fillPolygon(region, d.points, 1, 'all');
    } else {
      const r = brushRadius(this.brushSize);
      const pts = d.points.map((v) => brushCentre(v, this.brushSize));
      for (let i = 0; i + 3 < pts.length; i += 2)
        paintSegment(region, pts[i]!, pts[i + 1]!, pts[i + 2]!, pts[i + 3]!, r, 1, 'all');
    }
    this.events.acceptRegion?.(region.indices);
  }

  private updateCursor(p: { x: number; y: number } | null): void {
    const brush = this.tool === 'brush' || this.tool === 'eraser' || this.tool === 'void';
    const show = p !== null && brush && !this.spaceHeld;
    for (const c of [this.cursorShadow, this.cursor]) {
      c.visible(show);
      if (p) c.position({ x: brushCentre(p.x, this.brushSize), y: brushCentre(p.y, this.brushSize) });
      c.radius(brushRadius(this.brushSize));
    }
    if ((this.tool === 'polygon' || this.tool === 'accept') && p && this.polygon.length) {
      this.polyLine.points([...this.polygon, p.x, p.y]);
    }
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
