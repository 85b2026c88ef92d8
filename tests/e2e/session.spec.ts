// Leaving and coming back, in a real Chromium over the browser transport: a reload saves an unsaved edit
// with no "Leave site?" prompt and reopens the image and filters the user was on; the status line names
// the tool; arrow keys and PageUp/PageDown move through the images from the canvas too.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { copyVocMini } from '../helpers/data';
import { launchChromium, OUTPUT, startCli, type Served } from './harness';

let root: string;
let served: Served;
let browser: Browser;
let page: Page;
const dialogs: string[] = [];

beforeAll(async () => {
  root = copyVocMini();
  [served, browser] = await Promise.all([
    startCli(['serve', '--dataset', root, '--port', '0']),
    launchChromium(),
  ]);
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('dialog', (d) => {
    dialogs.push(d.type());
    void d.dismiss();
  });
  await page.goto(served.url);
});
afterAll(async () => {
  await browser?.close();
  await served?.stop();
});

const selectedId = () => page.locator('[data-testid="image-item"].selected').getAttribute('data-id');
const loaded = () =>
  expect.poll(() => page.getByTestId('editor-stage').getAttribute('data-loading')).toBe('false');

describe('editor session', () => {
  it('shows split, label and review badges in the image list, and names the tool in the status line', async () => {
    await expect.poll(() => page.getByTestId('image-item').count()).toBe(5);
    await loaded();
    const first = page.locator('[data-testid="image-item"][data-id="2007_000032"]');
    expect(await first.getByTestId('badge-split').allTextContents()).toContain('train');
    expect(await first.getByTestId('badge-label').textContent()).toBe('label');
    expect(await first.getByTestId('badge-reviewed').count()).toBe(0);
    // Each labelled image shows its mask's thumbnail, really loaded through the media URL.
    await expect
      .poll(() =>
        page
          .getByTestId('mask-thumb')
          .evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).naturalWidth > 0)),
      )
      .toEqual([true, true, true, true, true]);
    await expect.poll(selectedId).toBe('2007_000032');
    await page.getByTestId('review-toggle').click();
    await expect.poll(() => first.getByTestId('badge-reviewed').count()).toBe(1);
    const status = page.getByTestId('editor-tool-status');
    await page.getByTestId('editor-stage').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('e');
    await expect.poll(() => status.textContent()).toBe('Eraser: painting background');
    await page.keyboard.press('f');
    await expect.poll(() => status.textContent()).toBe('Fill: filling with person');
    await page.keyboard.press('x');
    await expect
      .poll(() => status.textContent())
      .toBe('Fill: filling with person · only over background and void');
    await page.keyboard.press('x');
    await page.keyboard.press('b');
    await expect.poll(() => status.textContent()).toBe('Brush: painting person');
  });

  it('moves through the images with arrow keys and PageUp/PageDown from the canvas', async () => {
    await page.getByTestId('filter-split').selectOption('train');
    await expect.poll(() => page.getByTestId('image-item').count()).toBe(3);
    await loaded();
    const stage = page.getByTestId('editor-stage');
    await stage.focus();
    await page.keyboard.press('ArrowDown');
    await expect.poll(selectedId).toBe('2011_000003');
    await page.keyboard.press('PageDown');
    await expect.poll(selectedId).toBe('2011_000006');
    await page.keyboard.press('PageUp');
    await expect.poll(selectedId).toBe('2007_000032');
    // From the list itself it moves once per key, not twice.
    await page.getByTestId('image-list').focus();
    await page.keyboard.press('ArrowDown');
    await expect.poll(selectedId).toBe('2011_000003');
  });

  it('saves an unsaved edit on reload without a prompt, and reopens the image and filters', async () => {
    await loaded();
    const file = join(root, 'SegmentationClass', '2011_000003.png');
    const before = readFileSync(file);
    await page.keyboard.press('v');
    const box = (await page.getByTestId('editor-stage').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 40, box.y + box.height / 2 + 20);
    await page.mouse.up();
    await expect.poll(() => page.getByTestId('save-state').textContent()).toBe('Unsaved changes');
    // The tool, class and brush size are the user's too: a reload keeps them.
    await page.keyboard.press('f');
    await page.getByTestId('class-3').click();
    await page.getByTestId('brush-size').fill('23');
    await expect
      .poll(() => page.getByTestId('editor-tool-status').textContent())
      .toBe('Fill: filling with bird');
    await page.reload();
    await expect.poll(() => readFileSync(file).equals(before)).toBe(false);
    expect(dialogs).toEqual([]);
    await expect.poll(() => page.getByTestId('image-item').count()).toBe(3);
    await expect.poll(selectedId).toBe('2011_000003');
    expect(await page.getByTestId('filter-split').inputValue()).toBe('train');
    await expect
      .poll(() => page.getByTestId('editor-tool-status').textContent())
      .toBe('Fill: filling with bird');
    expect(await page.getByTestId('brush-size').inputValue()).toBe('23');
    // Back to the brush for the tests that follow.
    await page.keyboard.press('b');
    await page.screenshot({ path: join(OUTPUT, 'session-restored.png') });
  });

  it('keeps an unsaved edit when the save sent on leaving never gets out, and saves it on the next load', async () => {
    await loaded();
    await expect.poll(selectedId).toBe('2011_000003');
    const file = join(root, 'SegmentationClass', '2011_000003.png');
    const before = readFileSync(file);
    // The page as it is being torn down: nothing large leaves the socket any more.
    await page.evaluate(() => {
      const send = WebSocket.prototype.send;
      WebSocket.prototype.send = function (
        this: WebSocket,
        data: string | ArrayBufferLike | Blob | ArrayBufferView,
      ) {
        if (typeof data !== 'string' && (data as ArrayBuffer).byteLength > 10_000) return;
        send.call(this, data);
      };
    });
    await page.keyboard.press('v');
    const box = (await page.getByTestId('editor-stage').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2 - 30, box.y + box.height / 2 - 20);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 30, box.y + box.height / 2 + 20);
    await page.mouse.up();
    await expect.poll(() => page.getByTestId('save-state').textContent()).toBe('Unsaved changes');
    await page.reload();
    // The edit came back from the tab's storage and was saved: the file changed, to a real PNG.
    await expect.poll(() => readFileSync(file).equals(before), { timeout: 30_000 }).toBe(false);
    await expect.poll(() => page.getByTestId('save-state').textContent()).toBe('Saved');
    expect(
      await page.evaluate(() => Object.keys(sessionStorage).filter((k) => k.startsWith('segscope.unsaved'))),
    ).toEqual([]);
    await page.keyboard.press('b');
  });

  it('keeps the review state right when "to do only" hides the image just marked reviewed', async () => {
    await page.getByTestId('filter-split').selectOption('');
    await page.getByTestId('filter-review').selectOption('todo');
    await page.locator('[data-testid="image-item"][data-id="2011_000006"]').click();
    await expect.poll(selectedId).toBe('2011_000006');
    await loaded();
    const before = await page.getByTestId('image-item').count();
    const toggle = page.getByTestId('review-toggle');
    expect(await toggle.textContent()).toContain('To review');
    await toggle.click();
    // The list hides the image; the editor, still on it, says what review.json says.
    await expect.poll(() => page.getByTestId('image-item').count()).toBe(before - 1);
    const review = () =>
      (JSON.parse(readFileSync(join(root, '.segscope', 'review.json'), 'utf8')) as { done: string[] }).done;
    await expect.poll(review).toContain('2011_000006');
    await expect.poll(() => toggle.textContent()).toContain('Reviewed ✓');
    await page.waitForTimeout(300); // a late list reload must not turn it back
    expect(await toggle.textContent()).toContain('Reviewed ✓');
    await toggle.click();
    await expect.poll(review).not.toContain('2011_000006');
    await expect.poll(() => toggle.textContent()).toContain('To review');
    await page.getByTestId('filter-review').selectOption('');
  });
});
