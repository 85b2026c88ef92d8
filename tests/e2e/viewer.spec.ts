// The viewer and Grad-CAM in a real Chromium: a tiny model trained in this test on a copy of voc-mini,
// then segmentation, the four panes under one zoom, class / layer / method pickers that change the
// heatmap, the layer sweep, and the hover read-out.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { copyVocMini } from '../helpers/data';
import { launchChromium, newPage, OUTPUT, runCli, startCli, type Served } from './harness';

let root: string;
let served: Served;
let browser: Browser;
let page: Page;

function trainTinyRun(dataset: string): Promise<void> {
  const args = [
    'train',
    '--dataset',
    dataset,
    '--model',
    'unet-small',
    '--epochs',
    '40',
    '--batch',
    '5',
    '--input-size',
    '64',
  ];
  args.push(
    '--lr',
    '0.002',
    '--schedule',
    'constant',
    '--split',
    'trainval',
    '--val-split',
    'trainval',
    '--no-augment',
    '--backend',
    'wasm',
  );
  return runCli(args);
}

beforeAll(async () => {
  root = copyVocMini();
  await trainTinyRun(root);
  [served, browser] = await Promise.all([
    startCli(['serve', '--dataset', root, '--port', '0']),
    launchChromium(),
  ]);
  page = await newPage(browser, { viewport: { width: 1400, height: 1000 } });
  await page.goto(served.url);
  await page.locator('[data-testid="image-item"][data-id="2007_000032"]').click();
  await page.getByTestId('tab-inspect').click();
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await served?.stop();
});

const stamp = () => page.getByTestId('pane-cam').getAttribute('data-stamp');

/**
 * Whether the original pane shows the whole image, filling the pane in one direction (as Fit leaves
 * it): its view against the pane's size and the image's (2007_000032 is 500×281).
 */
async function imageInsidePane(): Promise<boolean> {
  return page.getByTestId('pane-original').evaluate((el) => {
    const s = Number(el.dataset.viewScale);
    const x = Number(el.dataset.viewX);
    const y = Number(el.dataset.viewY);
    const [w, h] = [500 * s, 281 * s];
    const inside = x >= 0 && y >= 0 && x + w <= el.clientWidth + 1 && y + h <= el.clientHeight + 1;
    const fills = w >= 0.95 * el.clientWidth || h >= 0.95 * el.clientHeight;
    return inside && fills;
  });
}

describe('viewer', () => {
  it('segments the image and shows the Grad-CAM of the largest class at the last encoder conv', async () => {
    await expect.poll(stamp, { timeout: 60_000 }).not.toBe('');
    expect(await stamp()).toMatch(/^bottom_conv2\|\d+\|gradcam$/);
    const classes = await page.getByTestId('cam-class').locator('option').allTextContents();
    expect(classes.length).toBeGreaterThan(1);
    for (const c of classes) expect(c).toMatch(/^\w+ \(\d+\.\d%\)$/);
    const layers = await page.getByTestId('cam-layer').locator('option').allTextContents();
    expect(layers).toContain('bottom_conv2 (default)');
    expect(layers).toContain('down1_conv1');
    await page.screenshot({ path: join(OUTPUT, 'viewer.png') });
  });

  it('changes the heatmap pane when the layer, the class or the method changes', async () => {
    const pane = page.getByTestId('pane-cam');
    const before = await pane.screenshot();
    await page.getByTestId('cam-layer').selectOption('down2_conv2');
    await expect.poll(stamp).toMatch(/^down2_conv2\|/);
    // The pane redraws on the next frame after the result arrives.
    await expect.poll(async () => (await pane.screenshot()).equals(before)).toBe(false);
    const afterLayer = await pane.screenshot();

    const options = await page
      .getByTestId('cam-class')
      .locator('option')
      .evaluateAll((els) => els.map((e) => (e as HTMLOptionElement).value));
    const current = (await stamp())!.split('|')[1];
    const other = options.find((v) => v !== current)!;
    await page.getByTestId('cam-class').selectOption(other);
    await expect.poll(stamp).toBe(`down2_conv2|${other}|gradcam`);

    await page.getByTestId('cam-method').selectOption('hirescam');
    await expect.poll(stamp).toBe(`down2_conv2|${other}|hirescam`);
    // The pane's title names the method in use, not always Grad-CAM.
    await expect
      .poll(() => pane.locator('xpath=..').locator('figcaption').textContent())
      .toMatch(/^HiResCAM: \w+ @ down2_conv2$/);
    await expect.poll(async () => (await pane.screenshot()).equals(afterLayer)).toBe(false);
  });

  it('keeps zoom and pan in sync across the panes, and reads out the classes under the pointer', async () => {
    const blend = page.getByTestId('pane-blend');
    const before = await blend.screenshot();
    const original = (await page.getByTestId('pane-original').boundingBox())!;
    await page.mouse.move(original.x + original.width / 2, original.y + original.height / 2);
    await page.mouse.wheel(0, -600);
    await expect.poll(async () => (await blend.screenshot()).equals(before)).toBe(false);
    await expect
      .poll(() => page.getByTestId('viewer-readout').textContent())
      .toMatch(/ground truth: \w+ · prediction: \w+ \(\d+\.\d%\)/);
  });

  it('sweeps one CAM per encoder conv layer', async () => {
    // Fitted before the sweep, the image stays fitted as the panes shrink to make room for it.
    await page.getByTestId('viewer-fit').click();
    await page.getByTestId('cam-sweep').click();
    const cells = page.getByTestId('cam-sweep-grid').locator('figure');
    await expect.poll(() => cells.count(), { timeout: 60_000 }).toBe(10);
    expect(await cells.first().locator('figcaption').textContent()).toBe('down1_conv1');
    expect(await cells.last().locator('figcaption').textContent()).toBe('bottom_conv2');
    // The sweep says which class and method it shows, and its button is not left pressed.
    const cls = await page
      .getByTestId('cam-class')
      .evaluate((s) => (s as HTMLSelectElement).selectedOptions[0]!.text);
    expect(await page.getByTestId('cam-sweep-title').textContent()).toBe(
      `HiResCAM of ${cls.replace(/ \(.*$/, '')}, layer by layer`,
    );
    expect(await page.getByTestId('cam-sweep').isEnabled()).toBe(true);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? null)).not.toBe(
      'cam-sweep',
    );
    // The mask pane's legend lists each class in it with its colour.
    const legend = page.getByTestId('pane-legend').locator('li');
    expect(await legend.count()).toBeGreaterThan(0);
    await expect.poll(imageInsidePane).toBe(true);

    // Close hides the sweep, and the image is fitted to the panes' new size again.
    await page.getByTestId('cam-sweep-close').click();
    await expect.poll(() => page.getByTestId('cam-sweep-grid').count()).toBe(0);
    await expect.poll(imageInsidePane).toBe(true);
  });
});
