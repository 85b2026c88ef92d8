// The mask editor in Chromium, timed with the performance marks the editor sets:
//  - a brush stroke segment reaching the screen on a 4000×3000 image (target: p95 < 16 ms);
//  - opening a 500×375 image with its label (target: < 200 ms);
//  - flood fill on a 4000×3000 label (target: < 100 ms).
// Run after `npm run build`: node bench/run.mjs bench/editor.bench.ts
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { Page } from 'playwright-core';
import { launchChromium } from '../tests/e2e/harness';
import { decodeLabelPng, encodeLabelPng } from '../src/shared/labelPng';
import { vocColormap } from '../src/shared/voc';
import { median } from './stats';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VAL_LABEL = join(ROOT, '../shared/data/voc-val-labels/SegmentationClass/2007_000187.png');

async function makeDataset(): Promise<string> {
  const root = join(mkdtempSync(join(tmpdir(), 'segscope-editor-bench-')), 'VOC2012');
  for (const d of ['JPEGImages', 'SegmentationClass']) mkdirSync(join(root, d), { recursive: true });
  // A real 500×375 VOC label, with a photo-like image of its size.
  const small = decodeLabelPng(readFileSync(VAL_LABEL));
  writeFileSync(join(root, 'SegmentationClass', 'small_a.png'), readFileSync(VAL_LABEL));
  writeFileSync(join(root, 'SegmentationClass', 'small_b.png'), readFileSync(VAL_LABEL));
  const noise = (w: number, h: number) =>
    sharp({
      create: {
        width: w,
        height: h,
        channels: 3,
        background: { r: 128, g: 128, b: 128 },
        noise: { type: 'gaussian', mean: 128, sigma: 40 },
      },
    }).jpeg({ quality: 85 });
  await noise(small.width, small.height).toFile(join(root, 'JPEGImages', 'small_a.jpg'));
  await noise(small.width, small.height).toFile(join(root, 'JPEGImages', 'small_b.jpg'));
  // A 4000×3000 image whose label is background with a grid of class blocks, so fills have edges.
  const W = 4000;
  const H = 3000;
  const big = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++)
      if (x % 500 < 120 && y % 500 < 120) big[y * W + x] = 1 + ((x / 500 + y / 500) % 20);
  }
  writeFileSync(
    join(root, 'SegmentationClass', 'big.png'),
    encodeLabelPng({ width: W, height: H, indices: big }, vocColormap()),
  );
  await noise(W, H).toFile(join(root, 'JPEGImages', 'big.jpg'));
  return root;
}

function startServer(root: string): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, [
    join(ROOT, 'out/main/cli.js'),
    'serve',
    '--dataset',
    root,
    '--port',
    '0',
  ]);
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (c: Buffer) => {
      text += c.toString();
      const m = /(http:\/\/\S+)/.exec(text);
      if (m) resolve({ url: m[1]!, stop: () => child.kill() });
    });
    child.on('exit', () => reject(new Error(`server exited: ${text}`)));
  });
}

async function open(page: Page, id: string): Promise<void> {
  await page.locator(`[data-testid="image-item"][data-id="${id}"]`).click();
  await page.locator('.status', { hasText: id }).first().waitFor();
  await page.locator('[data-testid="editor-stage"][data-loading="false"]').waitFor();
}

const entries = (page: Page, name: string) =>
  page.evaluate((n) => performance.getEntriesByName(n).map((e) => e.duration), name);
const clear = (page: Page) => page.evaluate(() => performance.clearMeasures());
const p95 = (v: number[]) =>
  [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor(v.length * 0.95))]!;

export async function main(): Promise<void> {
  const root = await makeDataset();
  const server = await startServer(root);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    await page.goto(server.url);
    await page.waitForSelector('[data-testid="image-item"][data-id="small_b"]');

    // Opening: alternate two 500×375 images so every open really loads.
    await open(page, 'small_a');
    await clear(page);
    for (let i = 0; i < 10; i++) await open(page, i % 2 ? 'small_a' : 'small_b');
    await page.waitForTimeout(100);
    const opens = await entries(page, 'segscope:open');

    await open(page, 'big');
    const stage = (await page.getByTestId('editor-stage').boundingBox())!;
    await page.getByTestId('class-15').click();
    await page.getByTestId('brush-size').fill('40');
    await page.getByTestId('tool-brush').click();
    await clear(page);
    // Strokes across the fitted image: each pointer move paints one segment.
    for (let s = 0; s < 6; s++) {
      const y = stage.y + 80 + s * 120;
      await page.mouse.move(stage.x + 60, y);
      await page.mouse.down();
      for (let i = 1; i <= 60; i++) {
        await page.mouse.move(stage.x + 60 + i * 12, y + Math.sin(i / 5) * 30);
      }
      await page.mouse.up();
    }
    await page.waitForTimeout(100);
    const paints = await entries(page, 'segscope:paint');

    await page.getByTestId('tool-fill').click();
    await clear(page);
    const fillAt = { x: stage.x + stage.width / 2 + 3, y: stage.y + stage.height - 40 };
    for (let i = 0; i < 7; i++) {
      await page.getByTestId('class-' + (i % 2 ? 3 : 4)).click();
      await page.mouse.click(fillAt.x, fillAt.y);
      await page.waitForTimeout(50);
    }
    const fills = await entries(page, 'segscope:fill');

    console.log(
      `open a 500x375 image with its label: median ${median(opens).toFixed(1)} ms, max ${Math.max(...opens).toFixed(1)} ms (${opens.length} opens; target < 200 ms)`,
    );
    console.log(
      `brush segment to screen on 4000x3000: p95 ${p95(paints).toFixed(1)} ms, median ${median(paints).toFixed(1)} ms (${paints.length} segments; target p95 < 16 ms)`,
    );
    console.log(
      `flood fill on 4000x3000 (about 11 M px): median ${median(fills).toFixed(1)} ms, max ${Math.max(...fills).toFixed(1)} ms (${fills.length} fills; target < 100 ms)`,
    );
  } finally {
    await browser.close();
    server.stop();
  }
}
