// Opening datasets in a real Chromium over the browser transport, with no dataset named at start: the
// start screen, the server-side folder browser (folders only), the VOCdevkit year choice as a step of
// its own with nothing pre-chosen and no stale dataset behind it, the open dataset's path, plain
// messages for an empty path and a file, and recent datasets.
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { tempDir, VOC_MINI } from '../helpers/data';
import { launchChromium, OUTPUT, startCli, type Served } from './harness';

let home: string;
let devkit: string;
let served: Served;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  // A home folder holding a VOCdevkit with two years, and a file that is not a folder.
  home = tempDir('segscope-home-');
  devkit = join(home, 'VOCdevkit');
  for (const year of ['VOC2007', 'VOC2012']) cpSync(VOC_MINI, join(devkit, year), { recursive: true });
  mkdirSync(join(home, '.cache'));
  writeFileSync(join(home, 'notes.txt'), 'not a dataset');
  [served, browser] = await Promise.all([
    startCli(['serve', '--port', '0'], { ...process.env, HOME: home }),
    launchChromium(),
  ]);
  page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  await page.goto(served.url);
});
afterAll(async () => {
  await browser?.close();
  await served?.stop();
});

const alert = () => page.getByRole('alert').textContent();

describe('start screen', () => {
  it('opens on the start screen and browses folders from the home folder, folders only', async () => {
    await expect.poll(() => page.getByTestId('start-screen').isVisible()).toBe(true);
    await page.getByTestId('open-folder').click();
    await expect.poll(() => page.getByTestId('folder-current').textContent()).toBe(home);
    const names = () =>
      page.getByTestId('folder-entry').evaluateAll((els) => els.map((e) => e.getAttribute('data-name')));
    await expect.poll(names).toEqual(['VOCdevkit']);
    await page.getByTestId('folder-entry').first().click();
    await expect.poll(() => page.getByTestId('folder-current').textContent()).toBe(devkit);
    await expect.poll(names).toEqual(['VOC2007', 'VOC2012']);
    // Datasets are marked as such; the path field shows where the browser is.
    expect(
      await page
        .getByTestId('folder-entry')
        .evaluateAll((els) => els.map((e) => e.getAttribute('data-kind'))),
    ).toEqual(['dataset', 'dataset']);
    expect(await page.getByTestId('folder-path').inputValue()).toBe(devkit);
    await page.screenshot({ path: join(OUTPUT, 'start-folder-browser.png') });
  });

  it('makes the year of a VOCdevkit a step of its own, with neither year pre-chosen', async () => {
    await page.getByTestId('folder-open-here').click();
    const years = page.getByTestId('dataset-year');
    await expect.poll(() => years.count()).toBe(2);
    expect(await page.getByTestId('dataset-years').textContent()).toContain('holds 2 datasets');
    const focused = await page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? null);
    expect(focused).not.toBe('dataset-year');
    expect(await years.evaluateAll((els) => els.map((e) => e.className))).toEqual(['', '']);
    await page.screenshot({ path: join(OUTPUT, 'start-choose-year.png') });
    await page.locator('[data-testid="dataset-year"][data-year="VOC2007"]').click();
    await expect.poll(() => page.getByTestId('image-item').count()).toBe(5);
    expect(await page.getByTestId('dataset-path').textContent()).toBe(join(devkit, 'VOC2007'));
  });

  it('hides the open dataset while another VOCdevkit year is chosen, and Cancel goes back to it', async () => {
    await page.getByTestId('dataset-path-input').fill(devkit);
    await page.getByTestId('dataset-open').click();
    await expect.poll(() => page.getByTestId('dataset-year').count()).toBe(2);
    expect(await page.getByTestId('image-item').count()).toBe(0);
    await page.getByTestId('dataset-choice-cancel').click();
    await expect.poll(() => page.getByTestId('image-item').count()).toBe(5);
    expect(await page.getByTestId('dataset-path').textContent()).toBe(join(devkit, 'VOC2007'));
  });

  it('says what is wrong with an empty path and a file, and clears the message on the next try', async () => {
    await page.getByTestId('dataset-path-input').fill('');
    await page.getByTestId('dataset-open').click();
    await expect.poll(alert).toContain('Type the path of a dataset folder first');
    await page.getByTestId('dataset-path-input').fill(join(home, 'notes.txt'));
    await page.getByTestId('dataset-open').click();
    await expect
      .poll(alert)
      .toContain(`${join(home, 'notes.txt')}: is a file; choose the folder that holds JPEGImages/`);
    expect(await alert()).not.toContain('Type the path');
  });

  it('lists recent datasets on the start screen and opens one', async () => {
    await page.getByTestId('dataset-path-input').fill(join(devkit, 'VOC2012'));
    await page.getByTestId('dataset-open').click();
    await expect.poll(() => page.getByTestId('dataset-path').textContent()).toBe(join(devkit, 'VOC2012'));
    expect(await page.getByRole('alert').count()).toBe(0);
    await page.reload();
    await page.getByTestId('show-start').click();
    const recent = page.getByTestId('recent-dataset');
    await expect
      .poll(() => recent.evaluateAll((els) => els.map((e) => e.getAttribute('data-path'))))
      .toEqual([join(devkit, 'VOC2012'), join(devkit, 'VOC2007')]);
    await page.screenshot({ path: join(OUTPUT, 'start-recent.png') });
    await recent.nth(1).click();
    await expect.poll(() => page.getByTestId('dataset-path').textContent()).toBe(join(devkit, 'VOC2007'));
  });
});
