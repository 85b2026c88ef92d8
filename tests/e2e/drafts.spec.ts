// Model-assisted labelling in a real Chromium over the browser transport, on a private copy of voc-mini
// with a tiny run trained here: the draft layer, accepting the draft inside a polygon drawn with the
// accept tool, the atomic save and undo (checked pixel by pixel in the PNG on disk against the cached
// draft), the review queue ordering the image list, and fine-tuning on reviewed images.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { decodeLabelPng } from '../../src/shared/labelPng';
import { fillPolygon } from '../../src/shared/labelMap';
import { draftRegionAt } from '../../src/shared/draftRegions';
import { copyVocMini } from '../helpers/data';
import { launchChromium, OUTPUT, runCli, startCli, type Served } from './harness';

const ID = '2007_000032'; // 500×281: aeroplanes (1), people (15), background and void
let root: string;
let served: Served;
let browser: Browser;
let page: Page;
let original: Uint8Array;

const labelFile = (id = ID) => join(root, 'SegmentationClass', `${id}.png`);
const readIndices = (id = ID) => decodeLabelPng(readFileSync(labelFile(id))).indices;
const runsDir = () => join(root, '.segscope', 'runs');

/** A tiny unet-small run at 64², twenty one-batch epochs on all five images, without validation (only `last`). */
function trainTinyRun(dataset: string): Promise<void> {
  const args = ['train', '--dataset', dataset, '--model', 'unet-small', '--epochs', '20', '--batch', '5'];
  args.push('--input-size', '64', '--lr', '0.002', '--split', 'trainval', '--no-val', '--no-augment');
  args.push('--backend', 'wasm');
  return runCli(args);
}

beforeAll(async () => {
  root = copyVocMini();
  original = readIndices();
  await trainTinyRun(root);
  [served, browser] = await Promise.all([
    startCli(['serve', '--dataset', root, '--port', '0']),
    launchChromium(),
  ]);
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(served.url);
  await page.locator(`[data-testid="image-item"][data-id="${ID}"]`).click();
  await page.locator('.status', { hasText: ID }).first().waitFor();
  await page.getByTestId('zoom-1to1').click();
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await served?.stop();
});

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

/** The image points of the clicks the stage really received. */
async function recordClicks(): Promise<void> {
  await page.getByTestId('editor-stage').evaluate((el) => {
    const w = window as unknown as { __clicks: number[] };
    w.__clicks = [];
    el.addEventListener(
      'pointerdown',
      (e: Event) => {
        const { clientX, clientY } = e as PointerEvent;
        const box = el.getBoundingClientRect();
        const s = Number(el.dataset.viewScale);
        w.__clicks.push((clientX - box.left - Number(el.dataset.viewX)) / s);
        w.__clicks.push((clientY - box.top - Number(el.dataset.viewY)) / s);
      },
      true,
    );
  });
}

const runIds = () => readdirSync(runsDir()).sort();
const draftFile = (run: string, id = ID) => join(root, '.segscope', 'drafts', run, 'last', `${id}.png`);

describe('model-assisted labelling', () => {
  it('shows the draft, accepts it inside a polygon as one undo step, saves it, and undo restores', async () => {
    const [run] = runIds();
    await expect
      .poll(() => page.getByTestId('draft-source').textContent(), { timeout: 60_000 })
      .toBe(`draft by ${run} · last`);
    await expect
      .poll(() => page.getByTestId('draft-stats').textContent())
      .toMatch(/^IoU vs draft \d+\.\d% · mean confidence \d+\.\d%$/);
    // The draft's uncertainty: low-confidence and thin-region shares, and how many regions it has.
    expect(await page.getByTestId('draft-uncertainty').textContent()).toMatch(
      /^uncertain \d+\.\d% \(low confidence\s+\d+\.\d%, thin \d+\.\d%\) ·\s+\d+ regions$/,
    );
    const draft = decodeLabelPng(readFileSync(draftFile(run!))).indices;

    await page.screenshot({ path: join(OUTPUT, 'drafts.png') });
    await page.getByTestId('tool-accept').click();
    await recordClicks();
    for (const [x, y] of [
      [60, 40],
      [330, 30],
      [360, 200],
      [120, 240],
    ] as const) {
      const at = await toScreen(x, y);
      await page.mouse.click(at.x, at.y);
    }
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByTestId('save-state').textContent()).toBe('Unsaved changes');
    await page.getByTestId('draft-view').selectOption('disagreement');
    await page.screenshot({ path: join(OUTPUT, 'drafts-disagreement.png') });
    await page.getByTestId('draft-view').selectOption('draft');
    await page.getByTestId('save').click();
    await expect.poll(() => page.getByTestId('save-state').textContent()).toBe('Saved');

    // The reference region: the polygon through the points the page received, rasterised by the rule
    // the editor documents (pixel centres inside, even-odd).
    const points = await page.evaluate(() => (window as unknown as { __clicks: number[] }).__clicks);
    expect(points).toHaveLength(8);
    const inside = { width: 500, height: 281, indices: new Uint8Array(500 * 281) };
    fillPolygon(inside, points, 1, 'all');
    const saved = readIndices();
    let changed = 0;
    let wrongInside = 0;
    let wrongOutside = 0;
    for (let i = 0; i < saved.length; i++) {
      if (inside.indices[i]) {
        if (saved[i] !== draft[i]) wrongInside++;
        if (draft[i] !== original[i]) changed++;
      } else if (saved[i] !== original[i]) wrongOutside++;
    }
    expect({ wrongInside, wrongOutside }).toEqual({ wrongInside: 0, wrongOutside: 0 });
    // The draft really differs from the label there, so the check above means something.
    expect(changed).toBeGreaterThan(100);

    // One undo step takes the whole acceptance back.
    await page.getByTestId('undo').click();
    await expect.poll(() => page.getByTestId('save-state').textContent()).toBe('Unsaved changes');
    await page.getByTestId('save').click();
    await expect.poll(() => page.getByTestId('save-state').textContent()).toBe('Saved');
    expect(readIndices()).toEqual(original);
  }, 120_000);

  it('accepts the draft inside a box dragged with Shift, honouring Protect', async () => {
    const [run] = runIds();
    const draft = decodeLabelPng(readFileSync(draftFile(run!))).indices;
    await page.getByTestId('tool-protect').click(); // only over background and void
    await page.getByTestId('tool-accept').click();
    // The box runs from where the pointer went down to its last position before it went up.
    await page.getByTestId('editor-stage').evaluate((el) => {
      const w = window as unknown as { __box: number[] };
      const at = (e: PointerEvent) => {
        const box = el.getBoundingClientRect();
        const s = Number(el.dataset.viewScale);
        return [
          (e.clientX - box.left - Number(el.dataset.viewX)) / s,
          (e.clientY - box.top - Number(el.dataset.viewY)) / s,
        ];
      };
      el.addEventListener('pointerdown', (e) => (w.__box = at(e as PointerEvent)), true);
      el.addEventListener(
        'pointermove',
        (e) => {
          if ((e as PointerEvent).buttons) w.__box = [w.__box[0]!, w.__box[1]!, ...at(e as PointerEvent)];
        },
        true,
      );
    });
    const from = await toScreen(40, 30);
    const to = await toScreen(420, 250);
    await page.keyboard.down('Shift');
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move(to.x, to.y, { steps: 8 });
    await page.mouse.up();
    await page.keyboard.up('Shift');
    await page.getByTestId('tool-protect').click();
    await page.getByTestId('save').click();
    await expect.poll(() => page.getByTestId('save-state').textContent()).toBe('Saved');

    const [x0, y0, x1, y1] = await page.evaluate(() => (window as unknown as { __box: number[] }).__box);
    const inside = { width: 500, height: 281, indices: new Uint8Array(500 * 281) };
    fillPolygon(inside, [x0!, y0!, x1!, y0!, x1!, y1!, x0!, y1!], 1, 'all');
    const saved = readIndices();
    let taken = 0;
    let wrong = 0;
    for (let i = 0; i < saved.length; i++) {
      const allowed = inside.indices[i] && (original[i] === 0 || original[i] === 255);
      const expected = allowed ? draft[i] : original[i];
      if (saved[i] !== expected) wrong++;
      if (allowed && draft[i] !== original[i]) taken++;
    }
    expect(wrong).toBe(0);
    expect(taken).toBeGreaterThan(100);
    // Undo, and save the label as it was for the next test.
    await page.getByTestId('undo').click();
    await page.getByTestId('save').click();
    await expect.poll(() => page.getByTestId('save-state').textContent()).toBe('Saved');
    expect(readIndices()).toEqual(original);
  }, 60_000);

  it('corrects the draft in one click: accepts a region, every region of a class, or reclasses it', async () => {
    const [run] = runIds();
    const draft = decodeLabelPng(readFileSync(draftFile(run!))).indices;
    // A draft region that differs from the label somewhere, large enough to click well inside.
    let seed = -1;
    let region: Uint8Array | null = null;
    for (let i = 0; i < draft.length && seed < 0; i += 7) {
      if (draft[i] === original[i]) continue;
      const r = draftRegionAt(draft, 500, 281, i % 500, Math.floor(i / 500))!;
      if (r.reduce((a, v) => a + v, 0) > 200) [seed, region] = [i, r];
    }
    expect(seed).toBeGreaterThanOrEqual(0);
    const cls = draft[seed]!;
    const at = await toScreen((seed % 500) + 0.5, Math.floor(seed / 500) + 0.5);
    /** Saves, checks the file against `expected(i)` pixel by pixel, then undoes that one step. */
    const check = async (expected: (i: number) => number) => {
      await expect.poll(() => page.getByTestId('save-state').textContent()).toBe('Unsaved changes');
      await page.getByTestId('save').click();
      await expect.poll(() => page.getByTestId('save-state').textContent()).toBe('Saved');
      const saved = readIndices();
      let wrong = 0;
      let changed = 0;
      for (let i = 0; i < saved.length; i++) {
        if (saved[i] !== expected(i)) wrong++;
        if (saved[i] !== original[i]) changed++;
      }
      expect(wrong).toBe(0);
      expect(changed).toBeGreaterThan(0);
      await page.getByTestId('undo').click();
      await page.getByTestId('save').click();
      await expect.poll(() => page.getByTestId('save-state').textContent()).toBe('Saved');
      expect(readIndices()).toEqual(original);
    };

    await page.getByTestId('tool-region').click();
    await page.mouse.click(at.x, at.y);
    await check((i) => (region![i] ? draft[i]! : original[i]!));

    await page.keyboard.down('Shift');
    await page.mouse.click(at.x, at.y);
    await page.keyboard.up('Shift');
    await check((i) => (draft[i] === cls ? cls : original[i]!));

    // Ctrl+click gives the draft's region the selected class (the region of the draft, not the label's).
    const other = cls === 3 ? 4 : 3;
    await page.getByTestId(`class-${other}`).click();
    await page.keyboard.down('Control');
    await page.mouse.click(at.x, at.y);
    await page.keyboard.up('Control');
    await check((i) => (region![i] ? other : original[i]!));
  }, 60_000);

  it('says so when an acceptance changes nothing, and records no step', async () => {
    const [run] = runIds();
    const confidence = readFileSync(draftFile(run!).replace(/\.png$/, '.conf'));
    // The tiny model is nowhere near certain: no pixel reaches 100%, so "≥ 1" accepts nothing.
    expect(confidence.reduce((m, v) => Math.max(m, v), 0)).toBeLessThan(255);
    await expect.poll(() => page.getByTestId('save-state').textContent()).toBe('Saved');
    await page.getByTestId('draft-threshold').fill('1');
    await page.getByTestId('draft-accept-confident').click();
    await expect
      .poll(() => page.getByTestId('draft-notice').textContent())
      .toBe(
        'Nothing changed: no pixel of the draft is at least 100% confident. Lower the threshold to accept more.',
      );
    expect(await page.getByTestId('save-state').textContent()).toBe('Saved');
    expect(await page.getByTestId('undo').isDisabled()).toBe(true);

    // Accept all, then again: the second has nothing left to take.
    await page.getByTestId('draft-accept-all').click();
    await expect.poll(() => page.getByTestId('save-state').textContent()).toBe('Unsaved changes');
    await expect.poll(() => page.getByTestId('draft-notice').count()).toBe(0);
    await page.getByTestId('draft-accept-all').click();
    await expect
      .poll(() => page.getByTestId('draft-notice').textContent())
      .toBe('Nothing changed: the label already matches the draft.');
    // One undo takes the one real acceptance back: the label is as it was, with nothing left to undo.
    await page.getByTestId('undo').click();
    await expect.poll(() => page.getByTestId('save-state').textContent()).toBe('Saved');
    expect(await page.getByTestId('undo').isDisabled()).toBe(true);
    await page.getByTestId('draft-threshold').fill('0.8');
  }, 60_000);

  it('orders the image list by disagreement and steps through it with queue-next and n', async () => {
    const [run] = runIds();
    await page.getByTestId('queue-sort').selectOption('disagreement');
    // Every image gets drafted in the background; then the list is in the queue's order.
    await expect
      .poll(
        () =>
          readdirSync(join(root, '.segscope', 'drafts', run!, 'last')).filter((f) => f.endsWith('.json'))
            .length,
        {
          timeout: 60_000,
        },
      )
      .toBe(5);
    await expect.poll(() => page.getByTestId('queue-drafting').count(), { timeout: 60_000 }).toBe(0);
    // The reference: each image's disagreement from the scores cached beside its draft (a score made
    // stale by a save is worked out again when the queue is ranked, so wait for all five).
    const dir = join(root, '.segscope', 'drafts', run!, 'last');
    const ranked = (): string[] | null => {
      const rows = readdirSync(dir)
        .filter((f) => /^\d{4}_\d{6}\.json$/.test(f))
        .map((f) => ({ id: f.slice(0, -5), score: JSON.parse(readFileSync(join(dir, f), 'utf8')).score }));
      if (rows.length !== 5 || rows.some((r) => r.score === null)) return null;
      return rows
        .map((r) => ({ id: r.id, d: 1 - (r.score.iou as number) }))
        .sort((a, b) => b.d - a.d || (a.id < b.id ? -1 : 1))
        .map((r) => r.id);
    };
    const listed = () =>
      page.getByTestId('image-item').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.id));
    await expect.poll(async () => JSON.stringify(await listed()) === JSON.stringify(ranked())).toBe(true);
    const reference = ranked()!;
    // Each row shows the score the queue orders by.
    const scores = () =>
      page
        .getByTestId('image-item')
        .evaluateAll((els) => els.map((e) => e.querySelector('[data-testid="badge-score"]')?.textContent));
    const expected = reference.map((id) => {
      const meta = JSON.parse(readFileSync(join(dir, `${id}.json`), 'utf8'));
      return `Δ ${(1 - (meta.score.iou as number)).toFixed(2)}`;
    });
    await expect.poll(scores).toEqual(expected);
    await page.locator(`[data-testid="image-item"][data-id="${reference[0]}"]`).click();
    await expect.poll(() => page.locator('.status').first().textContent()).toContain(reference[0]);
    await page.getByTestId('queue-next').click();
    await expect.poll(() => page.locator('.status').first().textContent()).toContain(reference[1]);
    await page.getByTestId('editor-stage').focus();
    await page.keyboard.press('n');
    await expect.poll(() => page.locator('.status').first().textContent()).toContain(reference[2]);
    await page.keyboard.press('p');
    await expect.poll(() => page.locator('.status').first().textContent()).toContain(reference[1]);
  }, 120_000);

  it('fine-tunes on the reviewed images and drafts from the new checkpoint', async () => {
    const [parent] = runIds();
    await page.getByTestId('review-toggle').click();
    await page.getByTestId('finetune-start').click();
    await expect
      .poll(() => page.getByTestId('finetune-status').textContent(), { timeout: 90_000 })
      .toMatch(/^fine-tuned: /);
    const child = runIds().find((r) => r !== parent)!;
    expect(child).toBeDefined();
    const config = JSON.parse(readFileSync(join(runsDir(), child, 'config.json'), 'utf8'));
    expect(config.settings.initFrom).toBe(join(runsDir(), parent!, 'checkpoints', 'last'));
    await expect
      .poll(() => page.getByTestId('draft-source').textContent(), { timeout: 60_000 })
      .toBe(`draft by ${child} · last`);
  }, 120_000);
});
