// A damaged workspace file, in a real Chromium over the browser transport: the dataset opens with a
// banner naming the file and what is wrong; marking an image reviewed is refused and the file is left
// as it was; "Keep read-only" hides the banner and changes nothing; "Back up and reset" copies the bad
// file into the workspace's backup folder and starts it afresh.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { copyVocMini } from '../helpers/data';
import { launchChromium, startCli, type Served } from './harness';

const BAD = '{"done":5}';
let root: string;
let reviewFile: string;
let served: Served;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  root = copyVocMini();
  mkdirSync(join(root, '.segscope'), { recursive: true });
  reviewFile = join(root, '.segscope', 'review.json');
  writeFileSync(reviewFile, BAD);
  [served, browser] = await Promise.all([
    startCli(['serve', '--dataset', root, '--port', '0']),
    launchChromium(),
  ]);
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(served.url);
});
afterAll(async () => {
  await browser?.close();
  await served?.stop();
});

const banner = () => page.locator('[data-testid="workspace-problem"][data-file="review.json"]');

describe('a damaged review.json', () => {
  it('opens the dataset with a banner naming the file and the problem', async () => {
    await expect.poll(() => page.getByTestId('image-item').count()).toBe(5);
    await expect.poll(() => banner().count()).toBe(1);
    const message = await banner().getByTestId('workspace-problem-message').textContent();
    expect(message).toContain(reviewFile);
    expect(message).toContain('done');
  });

  it('refuses to mark an image reviewed, naming the file, and leaves it as it was', async () => {
    await page.locator('[data-testid="image-item"][data-id="2007_000032"]').click();
    await expect.poll(() => page.locator('.status').first().textContent()).toContain('2007_000032');
    await page.getByTestId('review-toggle').click();
    await expect.poll(() => page.locator('p.error').count()).toBe(1);
    expect(await page.locator('p.error').textContent()).toContain(reviewFile);
    expect(readFileSync(reviewFile, 'utf8')).toBe(BAD);
  });

  it('keeps it read-only when asked: the banner goes, the file stays', async () => {
    await banner().getByTestId('workspace-keep').click();
    await expect.poll(() => banner().count()).toBe(0);
    expect(readFileSync(reviewFile, 'utf8')).toBe(BAD);
    expect(existsSync(join(root, '.segscope', 'backup'))).toBe(false);
  });

  it('backs the file up and resets it when asked, and reviewing works again', async () => {
    await page.reload();
    await expect.poll(() => banner().count()).toBe(1);
    expect(readFileSync(reviewFile, 'utf8')).toBe(BAD);
    await banner().getByTestId('workspace-reset').click();
    await expect.poll(() => banner().count()).toBe(0);
    const backups = readdirSync(join(root, '.segscope', 'backup', 'workspace'));
    expect(backups).toHaveLength(1);
    expect(readFileSync(join(root, '.segscope', 'backup', 'workspace', backups[0]!), 'utf8')).toBe(BAD);
    await page.locator('[data-testid="image-item"][data-id="2007_000032"]').click();
    await expect.poll(() => page.locator('.status').first().textContent()).toContain('2007_000032');
    await page.getByTestId('review-toggle').click();
    await expect
      .poll(() => JSON.parse(readFileSync(reviewFile, 'utf8')) as unknown)
      .toEqual({ version: 1, done: ['2007_000032'] });
  });
});
