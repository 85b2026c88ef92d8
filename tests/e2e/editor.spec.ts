// The mask editor in a real Chromium over the browser transport, on a private copy of voc-mini.
// Every check reads the PNG on disk and compares it pixel by pixel with a naive reference computed
// here, from the pointer positions the page really received.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { decodeLabelPng, encodeLabelPng } from '../../src/shared/labelPng';
import { copyVocMini } from '../helpers/data';
import { launchChromium, newPage, OUTPUT, startCli, type Served } from './harness';

const ID = '2007_000032'; // 500×281: aeroplanes (1), people (15), background and void
let root: string;
let served: Served;
let browser: Browser;
let page: Page;
let pristine: Buffer;

const labelFile = (id = ID) => join(root, 'SegmentationClass', `${id}.png`);
const readIndices = (id = ID) => decodeLabelPng(readFileSync(labelFile(id))).indices;

beforeAll(async () => {
  root = copyVocMini();
  pristine = readFileSync(labelFile());
  [served, browser] = await Promise.all([
    startCli(['serve', '--dataset', root, '--port', '0']),
    launchChromium(),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await served?.stop();
});
beforeEach(async () => {
  writeFileSync(labelFile(), pristine);
  await page?.close();
  page = await newPage(browser, { viewport: { width: 1400, height: 900 } });
  await page.goto(served.url);
  await openImage(ID);
});

async function openImage(id: string): Promise<void> {
  await page.locator(`[data-testid="image-item"][data-id="${id}"]`).click();
  await expect.poll(() => page.locator('.status').first().textContent()).toContain(id);
  await page.getByTestId('zoom-1to1').click();
  // Record every pointer position the stage receives, coalesced ones included.
  await page.getByTestId('editor-stage').evaluate((el) => {
    const w = window as unknown as { __points: number[][] };
    w.__points = [];
    const record = (e: PointerEvent) => {
      const box = el.getBoundingClientRect();
      const s = Number(el.dataset.viewScale);
      const ox = Number(el.dataset.viewX);
      const oy = Number(el.dataset.viewY);
      const list = e.type === 'pointermove' && e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
      for (const p of list.length ? list : [e]) {
        w.__points.push([
          e.type === 'pointerdown' ? 0 : e.type === 'pointerup' ? 2 : 1,
          (p.clientX - box.left - ox) / s,
          (p.clientY - box.top - oy) / s,
        ]);
      }
    };
    for (const t of ['pointerdown', 'pointermove', 'pointerup'])
      el.addEventListener(t, record as EventListener, true);
  });
}

/** Screen position of image point (x, y) under the current view. */
async function toScreen(x: number, y: number): Promise<{ x: number; y: number }> {
  const stage = page.getByTestId('editor-stage');
  const box = (await stage.boundingBox())!;
  const view = await stage.evaluate((el) => [
    Number(el.dataset.viewScale),
    Number(el.dataset.viewX),
    Number(el.dataset.viewY),
  ]);
  return { x: box.x + view[1]! + x * view[0]!, y: box.y + view[2]! + y * view[0]! };
}

/** Drags from image point a to b in `steps` moves and returns the stroke polyline the page received. */
async function stroke(a: [number, number], b: [number, number], steps = 20): Promise<number[][]> {
  await page.evaluate(() => ((window as unknown as { __points: number[][] }).__points = []));
  const from = await toScreen(...a);
  const to = await toScreen(...b);
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move(to.x, to.y, { steps });
  await page.mouse.up();
  const points = await page.evaluate(() => (window as unknown as { __points: number[][] }).__points);
  const down = points.findIndex((p) => p[0] === 0);
  const up = points.findIndex((p) => p[0] === 2);
  return points.slice(down, up >= 0 ? up : undefined).map((p) => [p[1]!, p[2]!]);
}

/**
 * Naive reference: pixels whose centre is within r = size/2 of some segment of the polyline, after
 * the editor's documented snapping of each point to a pixel centre (odd sizes) or corner (even sizes).
 */
function capsulePixels(raw: number[][], size: number, width: number, height: number): Set<number> {
  const r = size / 2;
  const snap = (v: number) => (size % 2 === 1 ? Math.floor(v) + 0.5 : Math.round(v));
  const poly = raw.map(([x, y]) => [snap(x!), snap(y!)]);
  const out = new Set<number>();
  for (let i = 0; i < poly.length; i++) {
    const [x0, y0] = poly[i]!;
    const [x1, y1] = poly[Math.min(i + 1, poly.length - 1)]!;
    for (
      let y = Math.max(0, Math.floor(Math.min(y0!, y1!) - r - 1));
      y <= Math.min(height - 1, Math.ceil(Math.max(y0!, y1!) + r + 1));
      y++
    ) {
      for (
        let x = Math.max(0, Math.floor(Math.min(x0!, x1!) - r - 1));
        x <= Math.min(width - 1, Math.ceil(Math.max(x0!, x1!) + r + 1));
        x++
      ) {
        const px = x + 0.5;
        const py = y + 0.5;
        const dx = x1! - x0!;
        const dy = y1! - y0!;
        const len = dx * dx + dy * dy;
        const t = len === 0 ? 0 : Math.max(0, Math.min(1, ((px - x0!) * dx + (py - y0!) * dy) / len));
        const ex = px - (x0! + t * dx);
        const ey = py - (y0! + t * dy);
        if (ex * ex + ey * ey <= r * r) out.add(y * width + x);
      }
    }
  }
  return out;
}

async function save(): Promise<void> {
  await page.getByTestId('save').click();
  await expect.poll(() => page.getByTestId('save-state').textContent()).toBe('Saved');
}

function plte(bytes: Buffer): string {
  const at = bytes.indexOf('PLTE');
  return bytes.subarray(at - 4, at + 8 + bytes.readUInt32BE(at - 4)).toString('hex');
}

async function setBrush(size: number): Promise<void> {
  await page.getByTestId('brush-size').fill(String(size));
}

describe('mask editor', () => {
  it('paints exactly the pixels under the stroke, keeps the palette, and undo restores the file', async () => {
    const original = readIndices();
    await page.getByTestId('class-15').click();
    await page.getByTestId('tool-brush').click();
    await setBrush(9);
    expect(await page.getByTestId('save-state').textContent()).toBe('Saved');
    const poly = await stroke([100, 100], [300, 140]);
    expect(poly.length).toBeGreaterThan(10);
    expect(await page.getByTestId('save-state').textContent()).toBe('Unsaved changes');
    await save();

    const after = readIndices();
    const painted = capsulePixels(poly, 9, 500, 281);
    let changed = 0;
    for (let i = 0; i < after.length; i++) {
      const expected = painted.has(i) ? 15 : original[i]!;
      if (after[i] !== expected)
        throw new Error(`pixel ${i % 500},${Math.floor(i / 500)} is ${after[i]}, expected ${expected}`);
      if (after[i] !== original[i]) changed++;
    }
    expect(changed).toBeGreaterThan(1000);
    expect(plte(readFileSync(labelFile()))).toBe(plte(pristine));
    await page.screenshot({ path: join(OUTPUT, 'editor.png') });

    await page.getByTestId('undo').click();
    await save();
    expect(Buffer.from(readIndices()).equals(Buffer.from(original))).toBe(true);
  });

  it('fills the connected region of the seed, 4-connected', async () => {
    const original = readIndices();
    // A seed inside an aeroplane.
    const seed = original.findIndex((v, i) => v === 1 && original[i + 1] === 1 && original[i + 500] === 1);
    const [sx, sy] = [seed % 500, Math.floor(seed / 500)];
    await page.getByTestId('class-7').click();
    await page.getByTestId('tool-fill').click();
    const at = await toScreen(sx + 0.5, sy + 0.5);
    await page.mouse.click(at.x, at.y);
    await save();
    const expected = original.slice();
    const stack = [seed];
    const seen = new Uint8Array(original.length);
    seen[seed] = 1;
    while (stack.length) {
      const i = stack.pop()!;
      expected[i] = 7;
      const x = i % 500;
      for (const j of [x > 0 ? i - 1 : -1, x < 499 ? i + 1 : -1, i - 500, i + 500]) {
        if (j >= 0 && j < original.length && !seen[j] && original[j] === 1) {
          seen[j] = 1;
          stack.push(j);
        }
      }
    }
    expect(Buffer.from(readIndices()).equals(Buffer.from(expected))).toBe(true);
  });

  it('fills a polygon: pixels whose centre is inside', async () => {
    const original = readIndices();
    await page.getByTestId('class-9').click();
    await page.getByTestId('tool-polygon').click();
    const vertices: [number, number][] = [
      [40, 30],
      [200, 50],
      [150, 200],
      [60, 170],
    ];
    for (const v of vertices) {
      const p = await toScreen(...v);
      await page.mouse.click(p.x, p.y);
    }
    await page.keyboard.press('Enter');
    await save();
    const after = readIndices();
    for (let y = 0; y < 281; y++) {
      for (let x = 0; x < 500; x++) {
        const px = x + 0.5;
        const py = y + 0.5;
        let inside = false;
        for (let i = 0, j = vertices.length - 1; i < vertices.length; j = i++) {
          const [xi, yi] = vertices[i]!;
          const [xj, yj] = vertices[j]!;
          if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) inside = !inside;
        }
        const expected = inside ? 9 : original[y * 500 + x];
        if (after[y * 500 + x] !== expected)
          throw new Error(`pixel ${x},${y} is ${after[y * 500 + x]}, expected ${expected}`);
      }
    }
  });

  it('erases to background, paints void, and protects other classes', async () => {
    const original = readIndices();
    await setBrush(7);
    await page.getByTestId('tool-eraser').click();
    const erased = await stroke([20, 20], [120, 60]);
    await page.getByTestId('tool-void').click();
    const voided = await stroke([20, 240], [220, 260]);
    // Protected: class 15 only over background and void, across an aeroplane.
    const seed = original.findIndex((v) => v === 1);
    const [ax, ay] = [seed % 500, Math.floor(seed / 500)];
    await page.getByTestId('tool-brush').click();
    await page.getByTestId('class-15').click();
    await page.getByTestId('tool-protect').click();
    await setBrush(15);
    const guarded = await stroke([Math.max(0, ax - 60), ay + 10], [Math.min(499, ax + 60), ay + 10], 24);
    await save();

    const expected = original.slice();
    for (const i of capsulePixels(erased, 7, 500, 281)) expected[i] = 0;
    for (const i of capsulePixels(voided, 7, 500, 281)) expected[i] = 255;
    let protectedKept = 0;
    for (const i of capsulePixels(guarded, 15, 500, 281)) {
      if (expected[i] === 0 || expected[i] === 255) expected[i] = 15;
      else protectedKept++;
    }
    expect(protectedKept).toBeGreaterThan(0);
    const after = readIndices();
    const diff = after.findIndex((v, i) => v !== expected[i]);
    expect(diff, `first differing pixel ${diff % 500},${Math.floor(diff / 500)}`).toBe(-1);
  });

  it('autosaves when switching images, and asks before overwriting a file changed on disk', async () => {
    await page.getByTestId('class-15').click();
    await page.getByTestId('tool-brush').click();
    await stroke([10, 10], [60, 10], 10);
    await page.locator('[data-testid="image-item"][data-id="2007_000033"]').click();
    await expect.poll(() => page.locator('.status').first().textContent()).toContain('2007_000033');
    expect(Buffer.from(readIndices()).equals(Buffer.from(decodeLabelPng(pristine).indices))).toBe(false);

    // Someone else rewrites 2007_000033 while it is open; saving must not silently overwrite it.
    await openImage('2007_000033');
    await stroke([10, 10], [60, 10], 10);
    const other = decodeLabelPng(readFileSync(labelFile('2007_000033')));
    const theirs = encodeLabelPng(
      { ...other, indices: other.indices.map((v) => (v === 0 ? 18 : v)) },
      other.palette,
    );
    writeFileSync(labelFile('2007_000033'), theirs);
    await page.getByTestId('save').click();
    await expect.poll(() => page.getByTestId('conflict').isVisible()).toBe(true);
    expect(readFileSync(labelFile('2007_000033')).equals(Buffer.from(theirs))).toBe(true);
    await page.getByTestId('conflict-overwrite').click();
    await expect.poll(() => page.getByTestId('save-state').textContent()).toBe('Saved');
    expect(readFileSync(labelFile('2007_000033')).equals(Buffer.from(theirs))).toBe(false);
  });

  it('renames and recolours a class in the workspace, leaving the label files alone', async () => {
    const before = readFileSync(labelFile());
    await page.getByTestId('class-15').dblclick();
    await page.getByTestId('class-edit-name').fill('pedestrian');
    await page.getByTestId('class-edit-color').evaluate((el) => {
      const input = el as HTMLInputElement;
      input.value = '#10e030';
      input.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await page.getByTestId('class-edit-save').click();
    await expect.poll(() => page.getByTestId('class-15').textContent()).toContain('pedestrian');
    await page.reload();
    await expect.poll(() => page.getByTestId('class-15').textContent()).toContain('pedestrian');
    const classes = JSON.parse(readFileSync(join(root, '.segscope', 'classes.json'), 'utf8'));
    expect(classes.edits['15']).toEqual({ name: 'pedestrian', color: [16, 224, 48] });
    expect(readFileSync(labelFile()).equals(before)).toBe(true);
  });
});
