// The layout at 1280×720 and 1920×1080 in a real Chromium: on every tab, each data-testid control that
// is shown is wholly inside the window and not cut off by a scrolling container, no select cuts its
// chosen option short, "Start training" is on screen, and the editor's toolbar is one row from 1600 px
// wide and does not move when "Unsaved changes" appears. Screenshots are saved for each size and tab.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { copyVocMini } from '../helpers/data';
import { launchChromium, OUTPUT, startCli, type Served } from './harness';

let served: Served;
let browser: Browser;

beforeAll(async () => {
  [served, browser] = await Promise.all([
    startCli(['serve', '--dataset', copyVocMini(), '--port', '0']),
    launchChromium(),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await served?.stop();
});

/**
 * Every element with a data-testid that is shown: those wholly scrolled away inside a scrolling
 * container are not shown; those partly clipped by one, or partly outside the window, are reported.
 * A select is also reported when its chosen option's text is wider than the room it has.
 */
function problems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    const vw = window.innerWidth;
    const vh = window.innerHeight;
    const ctx = document.createElement('canvas').getContext('2d')!;
    for (const el of Array.from(document.querySelectorAll<HTMLElement>('[data-testid]'))) {
      const style = getComputedStyle(el);
      if (style.visibility === 'hidden' || style.display === 'none') continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      const name = `${el.dataset.testid}${el.dataset.id ? `[${el.dataset.id}]` : ''}`;
      let hidden = false;
      let clipped = false;
      for (let a = el.parentElement; a; a = a.parentElement) {
        const o = getComputedStyle(a);
        if (!/(auto|scroll|hidden)/.test(o.overflowX + o.overflowY)) continue;
        const b = a.getBoundingClientRect();
        const inter = {
          w: Math.min(r.right, b.right) - Math.max(r.left, b.left),
          h: Math.min(r.bottom, b.bottom) - Math.max(r.top, b.top),
        };
        if (inter.w <= 0 || inter.h <= 0) hidden = true;
        else if (inter.w < r.width - 1 || inter.h < r.height - 1) clipped = true;
      }
      if (hidden) continue;
      if (clipped) out.push(`${name} is cut off by a scrolling container`);
      if (r.left < -1 || r.top < -1 || r.right > vw + 1 || r.bottom > vh + 1)
        out.push(
          `${name} at ${Math.round(r.left)},${Math.round(r.top)}–${Math.round(r.right)},${Math.round(r.bottom)} is outside ${vw}×${vh}`,
        );
      if (el instanceof HTMLSelectElement && el.selectedOptions[0]) {
        ctx.font = style.font;
        const need = ctx.measureText(el.selectedOptions[0].text).width + 24;
        if (need > el.clientWidth + 1)
          out.push(
            `${name} cuts "${el.selectedOptions[0].text}" short (${Math.round(el.clientWidth)} of ${Math.round(need)} px)`,
          );
      }
    }
    return out;
  });
}

describe('layout', () => {
  for (const [width, height] of [
    [1280, 720],
    [1920, 1080],
  ] as const) {
    it(`fits ${width}×${height} on every tab`, async () => {
      const page = await browser.newPage({ viewport: { width, height } });
      await page.goto(served.url);
      await expect.poll(() => page.getByTestId('image-item').count()).toBe(5);
      const found: string[] = [];
      for (const tab of ['annotate', 'inspect', 'train']) {
        await page.getByTestId(`tab-${tab}`).click();
        if (tab === 'train')
          await expect
            .poll(() => page.getByTestId('engine-backend').getAttribute('data-state'), { timeout: 60_000 })
            .toBe('ready');
        await page.waitForTimeout(300);
        await page.screenshot({ path: join(OUTPUT, `layout-${width}x${height}-${tab}.png`) });
        found.push(...(await problems(page)).map((p) => `${tab}: ${p}`));
      }
      const start = await page.getByTestId('train-start').boundingBox();
      expect(start && start.y + start.height <= height).toBe(true);
      expect(found).toEqual([]);
      await page.close();
    });
  }

  it('keeps the editor toolbar on one row at 1600 px, and still when an edit is unsaved', async () => {
    const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    await page.goto(served.url);
    await expect.poll(() => page.getByTestId('image-item').count()).toBe(5);
    await expect.poll(() => page.getByTestId('editor-stage').getAttribute('data-loading')).toBe('false');
    const tops = () =>
      page.locator('[role="toolbar"] > *').evaluateAll((els) =>
        els.map((e) => {
          const r = e.getBoundingClientRect();
          return { top: Math.round(r.top + r.height / 2), left: Math.round(r.left) };
        }),
      );
    const before = await tops();
    expect(new Set(before.map((t) => t.top)).size).toBe(1);
    const stage = await page.getByTestId('editor-stage').boundingBox();
    await page.mouse.move(stage!.x + stage!.width / 2, stage!.y + stage!.height / 2);
    await page.mouse.down();
    await page.mouse.move(stage!.x + stage!.width / 2 + 30, stage!.y + stage!.height / 2 + 10);
    await page.mouse.up();
    await page.getByTestId('tool-protect').click();
    await expect.poll(() => page.getByTestId('save-state').textContent()).not.toBe('Saved');
    const after = await tops();
    expect(after.slice(0, before.length).map((t) => t.left)).toEqual(before.map((t) => t.left));
    expect(new Set(after.map((t) => t.top)).size).toBe(1);
    await page.screenshot({ path: join(OUTPUT, 'layout-1600-toolbar.png') });
    await page.close();
  });
});
