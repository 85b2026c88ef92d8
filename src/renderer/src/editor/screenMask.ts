// Draws the label map on screen at screen resolution: each device pixel looks up its image pixel
// (nearest) and the class colour. An edit redraws only the screen rectangle it touched, and a pan or
// zoom redraws one viewport, so the cost never depends on the size of the image. Renderer.
import type { PaintTarget, Rect } from '../../../shared/labelMap';

export interface ScreenView {
  scale: number;
  x: number;
  y: number;
}

export class ScreenMask {
  private readonly ctx: CanvasRenderingContext2D;
  private image: ImageData | null = null;
  private out32: Uint32Array = new Uint32Array(0);
  /** Image column of each device column, -1 outside the image. */
  private colMap: Int32Array = new Int32Array(0);
  /** Image row of each device row, -1 outside the image. */
  private rowMap: Int32Array = new Int32Array(0);
  private source: PaintTarget | null = null;
  private lut: Uint32Array = new Uint32Array(256);
  private view: ScreenView = { scale: 1, x: 0, y: 0 };

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly pixelRatio: () => number,
  ) {
    this.ctx = canvas.getContext('2d')!;
  }

  setSource(source: PaintTarget | null, lut: Uint32Array): void {
    this.source = source;
    this.lut = lut;
    this.remap();
  }

  setLut(lut: Uint32Array): void {
    this.lut = lut;
  }

  setView(view: ScreenView): void {
    this.view = view;
    this.remap();
  }

  /** Recomputes the device-to-image maps; call after a view change or a canvas resize. */
  remap(): void {
    const w = this.canvas.width;
    const h = this.canvas.height;
    if (!this.image || this.image.width !== w || this.image.height !== h) {
      this.image = w > 0 && h > 0 ? this.ctx.createImageData(w, h) : null;
      this.out32 = this.image ? new Uint32Array(this.image.data.buffer) : new Uint32Array(0);
      this.colMap = new Int32Array(w);
      this.rowMap = new Int32Array(h);
    }
    const src = this.source;
    const pr = this.pixelRatio();
    const { scale, x, y } = this.view;
    for (let d = 0; d < w; d++) {
      const i = Math.floor(((d + 0.5) / pr - x) / scale);
      this.colMap[d] = src && i >= 0 && i < src.width ? i : -1;
    }
    for (let d = 0; d < h; d++) {
      const i = Math.floor(((d + 0.5) / pr - y) / scale);
      this.rowMap[d] = src && i >= 0 && i < src.height ? i : -1;
    }
  }

  /** Redraws the whole viewport. */
  renderAll(): void {
    this.renderDevice(0, 0, this.canvas.width, this.canvas.height);
  }

  /** Redraws the device pixels that show image rect `r`. */
  renderImageRect(r: Rect): void {
    if (r.width <= 0 || r.height <= 0) return;
    const pr = this.pixelRatio();
    const { scale, x, y } = this.view;
    // One device pixel of margin: nearest sampling can pick a neighbour at the rectangle's edge.
    const x0 = Math.floor((r.x * scale + x) * pr) - 1;
    const y0 = Math.floor((r.y * scale + y) * pr) - 1;
    const x1 = Math.ceil(((r.x + r.width) * scale + x) * pr) + 1;
    const y1 = Math.ceil(((r.y + r.height) * scale + y) * pr) + 1;
    this.renderDevice(x0, y0, x1 - x0, y1 - y0);
  }

  private renderDevice(dx: number, dy: number, dw: number, dh: number): void {
    const image = this.image;
    if (!image) return;
    const x0 = Math.max(0, dx);
    const y0 = Math.max(0, dy);
    const x1 = Math.min(image.width, dx + dw);
    const y1 = Math.min(image.height, dy + dh);
    if (x1 <= x0 || y1 <= y0) return;
    const src = this.source;
    const out = this.out32;
    const lut = this.lut;
    const cols = this.colMap;
    const width = image.width;
    for (let row = y0; row < y1; row++) {
      const iy = this.rowMap[row]!;
      const o = row * width;
      if (!src || iy < 0) {
        out.fill(0, o + x0, o + x1);
        continue;
      }
      const base = iy * src.width;
      const indices = src.indices;
      for (let col = x0; col < x1; col++) {
        const ix = cols[col]!;
        out[o + col] = ix < 0 ? 0 : lut[indices[base + ix]!]!;
      }
    }
    this.ctx.putImageData(image, 0, 0, x0, y0, x1 - x0, y1 - y0);
  }
}
