// The app shell in a real Chromium over the browser transport: it lists voc-mini, and it refuses
// every request and socket that lacks the token.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { VOC_MINI, VOC_MINI_DEVKIT, VOC_MINI_IDS } from '../helpers/data';
import { launchChromium, OUTPUT, startCli, type Served } from './harness';

let served: Served;
let browser: Browser;

beforeAll(async () => {
  [served, browser] = await Promise.all([
    startCli(['serve', '--dataset', VOC_MINI_DEVKIT, '--port', '0']),
    launchChromium(),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await served?.stop();
});

describe('browser UI', () => {
  it('lists the 5 images of voc-mini, with their pictures, and saves a screenshot', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (msg) => msg.type() === 'error' && errors.push(msg.text()));

    await page.goto(served.url);
    const items = page.getByTestId('image-item');
    await expect.poll(() => items.count()).toBe(5);
    const ids = await items.evaluateAll((els) => els.map((el) => el.getAttribute('data-id')));
    expect(ids).toEqual(VOC_MINI_IDS);
    // The thumbnails really loaded through the authorised media URL.
    await expect
      .poll(() =>
        page
          .locator('[data-testid="image-item"] img')
          .evaluateAll((imgs) => imgs.every((i) => (i as HTMLImageElement).naturalWidth > 0)),
      )
      .toBe(true);
    expect(await page.getByTestId('transport').textContent()).toBe('browser');
    // The token has left the address bar but the page keeps working on reload.
    expect(page.url()).not.toContain('token=');
    await page.reload();
    await expect.poll(() => items.count()).toBe(5);

    await items.nth(2).click();
    await expect.poll(() => page.locator('.status').first().textContent()).toContain(VOC_MINI_IDS[2]);
    await page.screenshot({ path: join(OUTPUT, 'shell.png') });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('opens a dataset typed into the path field', async () => {
    const page = await browser.newPage();
    await page.goto(served.url);
    await page.getByTestId('dataset-path-input').fill('/definitely/not/here');
    await page.getByTestId('dataset-open').click();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toContain('/definitely/not/here: no such folder');
    await page.getByTestId('dataset-path-input').fill(VOC_MINI);
    await page.getByTestId('dataset-open').click();
    await expect.poll(() => page.getByTestId('image-item').count()).toBe(5);
    await page.close();
  });

  it('refuses a missing or wrong token over HTTP', async () => {
    const page = await browser.newPage();
    const missing = await page.goto(served.origin + '/');
    expect(missing?.status()).toBe(401);
    const wrong = await page.goto(served.origin + '/?token=wrong');
    expect(wrong?.status()).toBe(401);
    expect(await page.getByTestId('image-item').count()).toBe(0);
    const media = await page.goto(served.origin + `/media/image/${VOC_MINI_IDS[0]}`);
    expect(media?.status()).toBe(401);
    await page.close();
  });

  it('refuses a missing or wrong token over WebSocket', async () => {
    const page = await browser.newPage();
    // A fresh context has no cookie, so only the query token counts.
    const missing = await page.goto(served.origin + '/favicon.ico');
    expect(missing?.status()).toBe(401);
    const outcome = (url: string) =>
      page.evaluate(
        (u) =>
          new Promise<string>((resolve) => {
            const ws = new WebSocket(u);
            ws.onopen = () => resolve('open');
            ws.onclose = () => resolve('closed');
          }),
        url,
      );
    const wsBase = served.origin.replace('http', 'ws') + '/ws';
    expect(await outcome(wsBase)).toBe('closed');
    expect(await outcome(`${wsBase}?token=wrong`)).toBe('closed');
    expect(await outcome(`${wsBase}?token=${encodeURIComponent(served.token)}`)).toBe('open');
    await page.close();
  });
});

describe('npm start without Electron', () => {
  it('says in one line why Electron cannot run, then serves the UI and prints the URL', async () => {
    const env = { ...process.env, DISPLAY: '', WAYLAND_DISPLAY: '' };
    const started = await startCli(['--dataset', VOC_MINI, '--port', '0'], env);
    try {
      const lines = started.output().trim().split('\n');
      expect(lines[0]).toMatch(/^Electron cannot run here: .+; serving the browser UI instead\.$/);
      expect(lines[1]).toContain(started.url);
      const page = await browser.newPage();
      await page.goto(started.url);
      await expect.poll(() => page.getByTestId('image-item').count()).toBe(5);
      await page.close();
    } finally {
      await started.stop();
    }
  });
});
