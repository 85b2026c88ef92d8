// The layout at 1280×720 and 1920×1080 in a real Chromium, on every tab and in every state a user meets:
// a dataset without runs, then with a trained run (the draft on in Annotate, the layer sweep on in
// Inspect, the run's report shown in Train) and while a run trains. In each, every data-testid element
// that is shown is wholly inside the window, not cut off by a scrolling container and not covered by
// another element; no select cuts its chosen option short; no text is cut short by an ellipsis (unless
// its title holds the whole text); no button, table cell or group of controls wraps onto a second line;
// and "Start training" is on screen. The editor's toolbar is one row from 1600 px wide and does not move
// when "Unsaved changes" appears. Screenshots are saved for each size, state and tab.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { copyVocMini } from '../helpers/data';
import { launchChromium, OUTPUT, runCli, startCli, type Served } from './harness';

let bare: Served;
let trained: Served;
let browser: Browser;

/** A two-epoch unet-small run at 32² with validation, so that it has a report and can draft. */
async function datasetWithRun(): Promise<string> {
  const root = copyVocMini();
  await runCli([
    'train',
    '--dataset',
    root,
    '--model',
    'unet-small',
    '--epochs',
    '2',
    '--batch',
    '3',
    '--input-size',
    '32',
    '--no-augment',
    '--backend',
    'wasm',
  ]);
  return root;
}

beforeAll(async () => {
  const root = await datasetWithRun();
  [bare, trained, browser] = await Promise.all([
    startCli(['serve', '--dataset', copyVocMini(), '--port', '0']),
    startCli(['serve', '--dataset', root, '--port', '0']),
    launchChromium(),
  ]);
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await Promise.all([bare?.stop(), trained?.stop()]);
});

/**
 * What is wrong with the page as shown. Each element with a data-testid and each control (button,
 * input, select, label, link) that is shown is checked; one wholly scrolled away inside a scrolling
 * container is not shown, and one larger than its scrolling container is that container's content
 * (a report, a grid) and scrolls by design. A data-testid control or line of text (not a container) is
 * reported when partly clipped by a container that does not scroll that way (one cut at the edge of a
 * scrolling list or form is scrolled content); one not clipped, when partly outside the window; any of them is reported when
 * covered at its centre by an element that is neither it, inside it nor around it (a sticky bar over
 * a form, say). A select is reported when its chosen option's text is wider than the room it has. Any
 * element whose text an ellipsis cuts short is reported unless its title holds the whole text; a
 * button, a table cell or a [role=group] whose content takes more than one line is reported too.
 */
function problems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    const vw = window.innerWidth;
    const vh = window.innerHeight;
    const ctx = document.createElement('canvas').getContext('2d')!;
    const shown = (el: Element) => {
      const style = getComputedStyle(el);
      const r = el.getBoundingClientRect();
      return style.visibility !== 'hidden' && style.display !== 'none' && r.width > 0 && r.height > 0;
    };
    const label = (el: Element) => {
      const h = el as HTMLElement;
      if (h.dataset?.testid) return `${h.dataset.testid}${h.dataset.id ? `[${h.dataset.id}]` : ''}`;
      const text = (el.textContent ?? '').trim().replace(/\s+/g, ' ').slice(0, 40);
      return `${el.tagName.toLowerCase()}${el.className ? `.${String(el.className).split(' ')[0]}` : ''} "${text}"`;
    };
    const scrollers = (el: Element) => {
      const list: Element[] = [];
      for (let a = el.parentElement; a; a = a.parentElement) {
        const o = getComputedStyle(a);
        if (/(auto|scroll|hidden)/.test(o.overflowX + o.overflowY)) list.push(a);
      }
      return list;
    };
    const controls = new Set<Element>([
      ...Array.from(document.querySelectorAll('[data-testid]')),
      ...Array.from(document.querySelectorAll('button, input, select, textarea, label, a')),
    ]);
    for (const el of controls) {
      if (!shown(el)) continue;
      const r = el.getBoundingClientRect();
      const name = label(el);
      let away = false;
      let clipped = false;
      let cut = false;
      let content = false;
      for (const a of scrollers(el)) {
        const b = a.getBoundingClientRect();
        const w = Math.min(r.right, b.right) - Math.max(r.left, b.left);
        const h = Math.min(r.bottom, b.bottom) - Math.max(r.top, b.top);
        if (w <= 0 || h <= 0) away = true;
        else if (w < r.width - 1 || h < r.height - 1) {
          cut = true;
          // Cut at the edge of a box that scrolls that way is scrolled content (the user scrolls to
          // it); cut by one that does not scroll, it cannot be seen whole at all.
          if (
            (w < r.width - 1 && a.scrollWidth <= a.clientWidth) ||
            (h < r.height - 1 && a.scrollHeight <= a.clientHeight)
          )
            clipped = true;
        }
        if (r.height > b.height || r.width > b.width) content = true;
      }
      if (away || content) continue;
      // A container partly scrolled away (a grid, a table) is normal; a control or a line of text is not.
      const leaf = el.matches('button, input, select, textarea, a, label') || el.children.length === 0;
      const tested = el.hasAttribute('data-testid') && leaf;
      if (clipped && tested) out.push(`${name} is cut off by a container that does not scroll`);
      else if (!cut && (r.left < -1 || r.top < -1 || r.right > vw + 1 || r.bottom > vh + 1))
        out.push(
          `${name} at ${Math.round(r.left)},${Math.round(r.top)}–${Math.round(r.right)},${Math.round(r.bottom)} is outside ${vw}×${vh}`,
        );
      else {
        // The centre of the part that is on screen.
        const top = Math.max(r.top, 0);
        const bottom = Math.min(r.bottom, vh);
        let cy = (top + bottom) / 2;
        for (const a of scrollers(el)) {
          const b = a.getBoundingClientRect();
          cy = Math.min(Math.max(cy, b.top + 1), b.bottom - 1);
        }
        const hit = document.elementFromPoint((r.left + r.right) / 2, cy);
        if (
          hit &&
          !el.contains(hit) &&
          !hit.contains(el) &&
          !(el instanceof HTMLLabelElement && el.control === hit)
        )
          out.push(`${name} is covered by ${label(hit)}`);
      }
      if (el instanceof HTMLSelectElement && el.selectedOptions[0]) {
        ctx.font = getComputedStyle(el).font;
        const need = ctx.measureText(el.selectedOptions[0].text).width + 24;
        if (need > el.clientWidth + 1)
          out.push(
            `${name} cuts "${el.selectedOptions[0].text}" short (${Math.round(el.clientWidth)} of ${Math.round(need)} px)`,
          );
      }
    }
    for (const el of Array.from(document.querySelectorAll<HTMLElement>('body *'))) {
      if (!shown(el)) continue;
      const style = getComputedStyle(el);
      const text = (el.textContent ?? '').trim();
      if (style.textOverflow === 'ellipsis' && el.scrollWidth > el.clientWidth + 1 && text) {
        if (el.title.trim() !== text)
          out.push(`${label(el)} cuts its text short (${el.clientWidth} of ${el.scrollWidth} px)`);
      }
      if (el.matches('button, td, th, [role="group"]') && text) {
        // The lines its content takes: the distinct middles of the boxes of its text and its children.
        const range = document.createRange();
        range.selectNodeContents(el);
        const mids: number[] = [];
        for (const box of Array.from(range.getClientRects()))
          if (box.width > 0 && box.height > 0) mids.push(box.top + box.height / 2);
        const spread = mids.length ? Math.max(...mids) - Math.min(...mids) : 0;
        const lineHeight = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.3;
        if (spread > lineHeight * 0.75) out.push(`${label(el)} wraps onto a second line`);
      }
    }
    return out;
  });
}

type State = 'empty' | 'trained' | 'training';

/** Visits every tab in `state`, returning what is wrong on each, with screenshots. */
async function check(page: Page, width: number, height: number, state: State): Promise<string[]> {
  const found: string[] = [];
  for (const tab of ['annotate', 'inspect', 'train']) {
    await page.getByTestId(`tab-${tab}`).click();
    if (tab === 'annotate' && state === 'trained') {
      await expect.poll(() => page.getByTestId('draft-stats').count(), { timeout: 60_000 }).toBe(1);
      // An unsaved stroke: the save state reads "Unsaved changes".
      const stage = (await page.getByTestId('editor-stage').boundingBox())!;
      await page.mouse.move(stage.x + stage.width / 2, stage.y + stage.height / 2);
      await page.mouse.down();
      await page.mouse.move(stage.x + stage.width / 2 + 30, stage.y + stage.height / 2 + 10);
      await page.mouse.up();
      await expect.poll(() => page.getByTestId('save-state').textContent()).toBe('Unsaved changes');
    }
    if (tab === 'train' && state === 'empty') expect(await page.getByTestId('curves-empty').count()).toBe(3);
    if (tab === 'inspect' && state === 'trained') {
      await expect.poll(() => page.getByTestId('cam-sweep').isEnabled(), { timeout: 60_000 }).toBe(true);
      if (!(await page.getByTestId('cam-sweep-grid').count())) await page.getByTestId('cam-sweep').click();
      await expect.poll(() => page.getByTestId('cam-sweep-grid').count(), { timeout: 60_000 }).toBe(1);
    }
    if (tab === 'train') {
      await expect
        .poll(() => page.getByTestId('engine-backend').getAttribute('data-state'), { timeout: 60_000 })
        .toBe('ready');
      if (state === 'trained') {
        await page.getByTestId('run-item').first().click();
        await expect.poll(() => page.getByTestId('run-report').count(), { timeout: 30_000 }).toBe(1);
      }
      if (state === 'training')
        await expect.poll(() => page.getByTestId('train-progress').count(), { timeout: 60_000 }).toBe(1);
    }
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(OUTPUT, `layout-${width}x${height}-${state}-${tab}.png`) });
    found.push(...(await problems(page)).map((p) => `${state}, ${tab}: ${p}`));
    if (tab === 'train') {
      const start = await page.getByTestId('train-start').boundingBox();
      if (!(start && start.y + start.height <= height))
        found.push(`${state}, ${tab}: Start training is below the window`);
      // The runs stay in view with a report or a live run above the fold.
      if (state !== 'empty') {
        const run = await page.getByTestId('run-item').first().boundingBox();
        if (!(run && run.y + run.height <= height))
          found.push(`${state}, ${tab}: the run list is below the window`);
      }
    }
  }
  return found;
}

describe('layout', () => {
  for (const [width, height] of [
    [1280, 720],
    [1920, 1080],
  ] as const) {
    it(`fits ${width}×${height} on every tab, without runs, with a run, and while training`, async () => {
      const found: string[] = [];
      const empty = await browser.newPage({ viewport: { width, height } });
      await empty.goto(bare.url);
      await expect.poll(() => empty.getByTestId('image-item').count()).toBe(5);
      found.push(...(await check(empty, width, height, 'empty')));
      await empty.close();

      const page = await browser.newPage({ viewport: { width, height } });
      await page.goto(trained.url);
      await expect.poll(() => page.getByTestId('image-item').count()).toBe(5);
      found.push(...(await check(page, width, height, 'trained')));
      // A run from the panel, checked while it trains, then cancelled.
      await page.getByTestId('tab-train').click();
      // The panel's defaults (40 epochs at 128²), not the tiny run's settings the selection loaded.
      await page.getByTestId('train-reset-defaults').click();
      await page.getByTestId('train-start').click();
      found.push(...(await check(page, width, height, 'training')));
      await page.getByTestId('tab-train').click();
      await page.getByTestId('train-cancel').click();
      await expect.poll(() => page.getByTestId('train-cancel').isDisabled(), { timeout: 60_000 }).toBe(true);
      await page.close();
      expect(found).toEqual([]);
    }, 300_000);
  }

  it('keeps the editor toolbar on one row at 1600 px, and still when an edit is unsaved', async () => {
    const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    await page.goto(bare.url);
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
