// The emulated preload bridge itself, in a real Chromium (run only in the `bridge` project): the page
// really talks through it, it refuses a Proxy as Electron's contextBridge does, and the image list
// fills through it, which it did not while the dataset store sent its reactive filter. A page in
// Electron without the bridge says so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { VOC_MINI_IDS, copyVocMini } from '../helpers/data';
import { launchChromium, newPage, startCli, TRANSPORT, type Served } from './harness';

let served: Served;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  [served, browser] = await Promise.all([
    startCli(['serve', '--dataset', copyVocMini(), '--port', '0']),
    launchChromium(),
  ]);
  page = await newPage(browser, { viewport: { width: 1280, height: 800 } });
  await page.goto(served.url);
});
afterAll(async () => {
  await browser?.close();
  await served?.stop();
});

describe('emulated preload bridge', () => {
  it('runs in the bridge project only', () => {
    expect(TRANSPORT).toBe('bridge');
  });

  it('carries the app: the image list fills and every call went through the bridge', async () => {
    const items = page.getByTestId('image-item');
    await expect.poll(() => items.count()).toBe(VOC_MINI_IDS.length);
    const stats = await page.evaluate(
      () =>
        (window as unknown as { __segscopeBridge: { calls: number; refused: string[] } }).__segscopeBridge,
    );
    expect(stats.calls).toBeGreaterThan(2);
    expect(stats.refused).toEqual([]);
  });

  it('refuses a Proxy as contextBridge does, and carries a plain object and a Uint8Array', async () => {
    const outcome = await page.evaluate(async () => {
      const bridge = (
        window as unknown as { segscopeBridge: Record<string, (p: unknown) => Promise<unknown>> }
      ).segscopeBridge;
      const proxied = await Promise.resolve()
        .then(() => bridge['dataset:list']!({ offset: 0, limit: 1, filter: new Proxy({}, {}) }))
        .then(
          () => 'accepted',
          (err: Error) => err.message,
        );
      const plain = (await bridge['dataset:list']!({ offset: 0, limit: 1 })) as { ok: boolean };
      const bytes = (await bridge['labels:read']!({ id: '2007_000032' })) as {
        ok: boolean;
        result: { indices: unknown };
      };
      return { proxied, plain: plain.ok, bytes: bytes.result.indices instanceof Uint8Array };
    });
    expect(outcome).toEqual({
      proxied: expect.stringMatching(/could not be cloned/),
      plain: true,
      bytes: true,
    });
  });

  it('says the desktop bridge is missing when the page runs in Electron without it, instead of trying a WebSocket', async () => {
    const context = await browser.newContext({
      userAgent:
        'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/146.0 Electron/41.10.7 Safari/537.36',
    });
    const bare = await context.newPage(); // no preload: what a desktop window gets when it fails to load
    const sockets: string[] = [];
    bare.on('websocket', (ws) => sockets.push(ws.url()));
    await bare.goto(served.url);
    const alert = bare.getByRole('alert');
    await expect.poll(() => alert.textContent()).toContain("Segscope's desktop bridge is missing");
    expect(await alert.textContent()).toContain('out/preload/index.cjs');
    expect(sockets).toEqual([]);
    await context.close();
  });
});
