// The desktop app as a user first meets it, in the real Electron driven by Playwright's _electron, on a
// temporary copy of voc-mini: the image list, a brush stroke saved to the PNG, one tiny training epoch,
// and a Grad-CAM in the viewer. It needs an Electron binary and a display (tests/desktop/vitest.config.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { _electron, type ElectronApplication, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeLabelPng } from '../../src/shared/labelPng';
import { copyVocMini, VOC_MINI_IDS } from '../helpers/data';
import { OUTPUT, ROOT } from '../e2e/harness';
import { electronBinary } from './electronBinary';

const ID = '2007_000032';
let root: string;
let app: ElectronApplication;
let page: Page;

beforeAll(async () => {
  root = copyVocMini();
  app = await _electron.launch({
    executablePath: electronBinary()!,
    args: [ROOT, '--dataset', root],
    cwd: ROOT,
  });
  page = await app.firstWindow();
  page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
});
afterAll(async () => {
  await app?.close();
});

describe('desktop app', () => {
  it('lists the images of the dataset over IPC, with their thumbnails', async () => {
    const items = page.getByTestId('image-item');
    await expect.poll(() => items.count()).toBe(VOC_MINI_IDS.length);
    expect(await page.getByTestId('transport').textContent()).toBe('desktop');
    expect(page.url()).toBe('segscope-app://app/index.html');
    await expect
      .poll(() =>
        page
          .locator('[data-testid="image-item"] img')
          .evaluateAll((imgs) => imgs.every((i) => (i as HTMLImageElement).naturalWidth > 0)),
      )
      .toBe(true);
  });

  it('paints a stroke and saves it to the label file', async () => {
    const before = decodeLabelPng(readFileSync(join(root, 'SegmentationClass', `${ID}.png`))).indices;
    await page.locator(`[data-testid="image-item"][data-id="${ID}"]`).click();
    await expect.poll(() => page.locator('.status').first().textContent()).toContain(ID);
    await page.getByTestId('class-15').click();
    await page.getByTestId('tool-brush').click();
    await page.getByTestId('brush-size').fill('15');
    const box = (await page.getByTestId('editor-stage').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.5);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.5, { steps: 20 });
    await page.mouse.up();
    expect(await page.getByTestId('save-state').textContent()).toBe('Unsaved changes');
    await page.getByTestId('save').click();
    await expect.poll(() => page.getByTestId('save-state').textContent()).toBe('Saved');
    const after = decodeLabelPng(readFileSync(join(root, 'SegmentationClass', `${ID}.png`))).indices;
    const changedTo = new Set<number>();
    let changed = 0;
    for (let i = 0; i < after.length; i++) {
      if (after[i] === before[i]) continue;
      changed++;
      changedTo.add(after[i]!);
    }
    expect(changed).toBeGreaterThan(100);
    expect([...changedTo]).toEqual([15]);
  });

  it('trains one tiny epoch from the panel', async () => {
    await page.getByTestId('tab-train').click();
    await page.getByTestId('train-model').selectOption('unet-small');
    await page.getByTestId('train-input-size').fill('64');
    await page.getByTestId('train-epochs').fill('1');
    await page.getByTestId('train-batch').fill('2');
    await page.getByTestId('train-start').click();
    await expect
      .poll(() => page.getByTestId('train-ended').textContent(), { timeout: 300_000 })
      .toContain('done');
    expect(await page.getByTestId('run-item').first().getAttribute('data-status')).toBe('done');
  });

  it('shows a Grad-CAM of the selected image in the viewer', async () => {
    await page.getByTestId('tab-inspect').click();
    const stamp = () => page.getByTestId('pane-cam').getAttribute('data-stamp');
    await expect.poll(stamp, { timeout: 120_000 }).not.toBe('');
    await page.screenshot({ path: join(OUTPUT, 'desktop.png') });
  });

  it("reads a media image's pixels from a canvas (the media scheme answers the app's origin)", async () => {
    const readable = await page.evaluate(async () => {
      const thumb = document.querySelector('[data-testid="image-item"] img') as HTMLImageElement;
      const img = new Image();
      img.crossOrigin = 'anonymous';
      img.src = thumb.src;
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      const ctx = canvas.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      try {
        return ctx.getImageData(0, 0, 1, 1).data.length === 4;
      } catch (err) {
        return String(err); // a tainted canvas throws a SecurityError
      }
    });
    expect(readable).toBe(true);
  });
});
