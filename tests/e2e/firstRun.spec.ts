// A newcomer's first run in a real Chromium over the browser transport: the panel proposes settings
// for the backend the engine found and says why, each field is checked where it is entered, a run the
// wasm heap cannot hold is refused up front, the defaults train and learn, the form remembers the
// settings per dataset, and a run that failed before its first epoch shows its error and offers
// Restart and Delete instead of Resume.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { EpochRecord } from '../../src/shared/training';
import { copyVocMini } from '../helpers/data';
import { launchChromium, OUTPUT, startCli, type Served } from './harness';
import { MODEL_CATALOG } from '../../src/shared/modelCatalog';

let root: string;
let served: Served;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  root = copyVocMini();
  [served, browser] = await Promise.all([
    startCli(['serve', '--dataset', root, '--port', '0']),
    launchChromium(),
  ]);
  page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  await page.goto(served.url);
  await page.getByTestId('tab-train').click();
});
afterAll(async () => {
  await browser?.close();
  await served?.stop();
});

const value = (id: string) => page.getByTestId(id).inputValue();

describe('first run from the training panel', () => {
  it('proposes CPU settings on wasm, says why, and proposes each model its input size', async () => {
    const backend = page.getByTestId('engine-backend');
    await expect.poll(() => backend.getAttribute('data-backend'), { timeout: 60_000 }).toBe('wasm');
    const why = page.getByTestId('train-defaults-why');
    await expect.poll(() => why.textContent()).toContain('wasm');
    expect(await why.textContent()).toContain('unet-small at 128²');
    expect(await page.getByTestId('train-model').getAttribute('data-loading')).toBe('false');
    expect(await value('train-model')).toBe('unet-small');
    expect(await value('train-input-size')).toBe('128');
    expect(await value('train-lr')).toBe('0.001');
    expect(await value('train-batch')).toBe('2');
    // The picker lists every model without cutting its label short of the parameter count.
    expect(await page.getByTestId('train-model').locator('option').count()).toBe(MODEL_CATALOG.length);

    await page.getByTestId('train-model').selectOption('unet-vgg16');
    expect(await value('train-input-size')).toBe('256');
    await page.getByTestId('train-model').selectOption('unet-small');
    expect(await value('train-input-size')).toBe('128');
  });

  it('checks fields where they are entered, refuses what the wasm heap cannot hold, and clears each message', async () => {
    const start = page.getByTestId('train-start');
    await page.getByTestId('train-batch').fill('8');
    const batchError = page.getByTestId('train-error-batchSize');
    await expect.poll(() => batchError.textContent()).toContain('larger than split train (3 images)');
    expect(await start.isDisabled()).toBe(true);
    await page.getByTestId('train-batch').fill('300');
    await expect.poll(() => batchError.textContent()).toContain('Batch must be a whole number from 1 to 256');
    expect(await page.getByTestId('train-batch').getAttribute('max')).toBe('256');
    await page.getByTestId('train-batch').fill('2');
    await expect.poll(() => batchError.count()).toBe(0);

    await page.getByTestId('train-input-size').fill('100');
    await expect
      .poll(() => page.getByTestId('train-error-inputSize').textContent())
      .toContain('multiple of 16, e.g. 96 or 112');
    await page.getByTestId('train-lr').fill('');
    await expect.poll(() => page.getByTestId('train-error-lr').textContent()).toContain('enter a number');
    await page.screenshot({ path: join(OUTPUT, 'first-run-field-errors.png') });

    await page.getByTestId('train-model').selectOption('unet-vgg16');
    await page.getByTestId('train-input-size').fill('512');
    await page.getByTestId('train-batch').fill('4');
    await page.getByTestId('train-lr').fill('0.0001');
    const heap = page.getByTestId('train-heap-error');
    await expect.poll(() => heap.textContent()).toContain('more than the wasm backend’s 4 GB heap');
    expect(await start.isDisabled()).toBe(true);

    await page.getByTestId('train-reset-defaults').click();
    await expect.poll(() => heap.count()).toBe(0);
    expect(await value('train-model')).toBe('unet-small');
    expect(await start.isDisabled()).toBe(false);
  });

  it('trains with the defaults (a few epochs) and the loss falls', async () => {
    await page.getByTestId('train-epochs').fill('8');
    await page.getByTestId('train-start').click();
    await expect
      .poll(() => page.getByTestId('train-ended').textContent(), { timeout: 120_000 })
      .toContain('done');
    const id = await page.getByTestId('run-item').first().getAttribute('data-id');
    const records = readFileSync(join(root, '.segscope', 'runs', id!, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as EpochRecord);
    expect(records).toHaveLength(8);
    const first = records[0]!.trainLoss;
    const last = records.at(-1)!.trainLoss;
    console.log(
      `first run with the defaults: train loss ${first.toFixed(4)} → ${last.toFixed(4)} in 8 epochs`,
    );
    expect(last).toBeLessThan(first);
    // The report's confusion matrix shows its percentages and a colour scale.
    await expect.poll(() => page.getByTestId('confusion-scale').isVisible()).toBe(true);
    const cells = await page.getByTestId('confusion-cell').allTextContents();
    expect(cells.some((t) => /^\d+$/.test(t.trim()))).toBe(true);
    await page.screenshot({ path: join(OUTPUT, 'first-run-trained.png') });
  });

  it('remembers the settings per dataset after a reload, and shows a past run’s settings when it is selected', async () => {
    await page.reload();
    await page.getByTestId('tab-train').click();
    const why = page.getByTestId('train-defaults-why');
    await expect.poll(() => why.textContent()).toContain('last used on this dataset');
    expect(await value('train-epochs')).toBe('8');
    await page.getByTestId('train-epochs').fill('3');
    const run = page.getByTestId('run-item').first();
    await run.click();
    await expect
      .poll(() => why.textContent())
      .toContain(`settings of run ${await run.getAttribute('data-id')}`);
    expect(await value('train-epochs')).toBe('8');
    // Its batch losses were kept, so its batch-loss chart is drawn after a reload.
    expect(Number(await page.getByTestId('train-curves').getAttribute('data-points'))).toBeGreaterThan(0);
  });

  it('shows a failed run’s error, keeps it after a reload, and offers Restart and Delete but no Resume', async () => {
    await page.getByTestId('train-model').selectOption('unet-vgg16');
    await page.getByTestId('train-input-size').fill('64');
    await page.getByTestId('train-backbone-mode').selectOption('file');
    await page.getByTestId('train-backbone-path').fill('/nonexistent/vgg16_notop.h5');
    await page.getByTestId('train-start').click();
    await expect
      .poll(() => page.getByTestId('train-ended').textContent(), { timeout: 60_000 })
      .toContain('failed');
    await page.reload();
    await page.getByTestId('tab-train').click();
    const failed = page.locator('[data-testid="run-item"][data-status="failed"]');
    await expect.poll(() => failed.count()).toBe(1);
    expect(await failed.getByTestId('run-error').textContent()).toContain('/nonexistent/vgg16_notop.h5');
    expect(await failed.getByTestId('run-checkpoints').textContent()).toBe('none');
    expect(await failed.getByTestId('run-resume').count()).toBe(0);
    expect(await failed.getByTestId('run-restart').count()).toBe(1);
    await page.screenshot({ path: join(OUTPUT, 'first-run-failed.png') });
    await failed.getByTestId('run-delete').click();
    await expect.poll(() => failed.count()).toBe(0);
    expect(await page.getByTestId('run-item').count()).toBe(1);
  });
});
