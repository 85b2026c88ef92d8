// The training panel in a real Chromium over the browser transport: the engine's backend shown, a run
// started from the panel with live curve points, the run listed with its checkpoint, and cancel.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { copyVocMini } from '../helpers/data';
import { launchChromium, newPage, OUTPUT, startCli, type Served } from './harness';

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
  page = await newPage(browser, { viewport: { width: 1400, height: 1000 } });
  await page.goto(served.url);
  await page.getByTestId('tab-train').click();
});
afterAll(async () => {
  await browser?.close();
  await served?.stop();
});

describe('training panel', () => {
  it('shows the backend, trains from the panel with live curves, and lists the run with its checkpoints', async () => {
    const backend = page.getByTestId('engine-backend');
    await expect.poll(() => backend.getAttribute('data-backend'), { timeout: 60_000 }).toBe('wasm');
    expect(await backend.textContent()).toContain('tensorflow-gpu skipped');
    // No GPU on these machines: the panel says why webgpu was passed over.
    expect(await backend.textContent()).toMatch(
      /webgpu skipped: (no GPU adapter|no Vulkan loader|only a software adapter)/,
    );

    await page.getByTestId('train-model').selectOption('unet-small');
    await page.getByTestId('train-input-size').fill('64');
    await page.getByTestId('train-epochs').fill('4');
    await page.getByTestId('train-batch').fill('2');
    await page.getByTestId('train-lr').fill('0.002');
    await page.getByTestId('train-split').selectOption('train');
    await page.getByTestId('train-val-split').selectOption('val');
    await page.getByTestId('train-start').click();

    const curves = page.getByTestId('train-curves');
    await expect
      .poll(async () => Number(await curves.getAttribute('data-points')), { timeout: 60_000 })
      .toBeGreaterThan(0);
    await expect
      .poll(() => page.getByTestId('train-ended').textContent(), { timeout: 120_000 })
      .toContain('done');
    // "done" shows before the run list and the curves have caught up on a busy machine: poll for each.
    await expect.poll(async () => Number(await curves.getAttribute('data-epochs'))).toBe(4);

    const run = page.getByTestId('run-item').first();
    await expect.poll(() => run.getAttribute('data-status')).toBe('done');
    await expect.poll(() => run.getByTestId('run-checkpoints').textContent()).toContain('last');
    await expect.poll(() => page.getByTestId('per-class-iou').isVisible()).toBe(true);
    await page.screenshot({ path: join(OUTPUT, 'training.png'), fullPage: true });

    const id = await run.getAttribute('data-id');
    const dir = join(root, '.segscope', 'runs', id!);
    expect(readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(4);
    expect(existsSync(join(dir, 'checkpoints', 'last', 'model.json'))).toBe(true);

    // Export: the run's checkpoint as an ONNX file in its export/ folder, the path in the button's title.
    const exportButton = run.getByTestId('run-export');
    await exportButton.click();
    await expect.poll(() => exportButton.textContent(), { timeout: 60_000 }).toContain('Exported');
    const onnx = await exportButton.getAttribute('title');
    expect(['best', 'last'].map((c) => join(dir, 'export', `${id}-${c}.onnx`))).toContain(onnx);
    // The path is shown as text too, not only in the tooltip.
    await expect.poll(() => page.getByTestId('run-exported').textContent()).toContain(onnx!);
    expect(readFileSync(onnx!).subarray(0, 2)).toEqual(Buffer.from([0x08, 0x08])); // ModelProto.ir_version = 8
  });

  it('cancels a run from the panel, which keeps its last checkpoint', async () => {
    await page.getByTestId('train-model').selectOption('unet-vgg16');
    await page.getByTestId('train-input-size').fill('256');
    await page.getByTestId('train-epochs').fill('2');
    await page.getByTestId('train-start').click();
    await expect.poll(() => page.getByTestId('run-item').count(), { timeout: 30_000 }).toBe(2);
    // Once the engine has built the model and saved its first checkpoint, training is under way.
    const id = await page.locator('[data-testid="run-item"][data-status="running"]').getAttribute('data-id');
    const last = join(root, '.segscope', 'runs', id!, 'checkpoints', 'last', 'model.json');
    await expect.poll(() => existsSync(last), { timeout: 60_000 }).toBe(true);
    await page.getByTestId('train-cancel').click();
    await expect
      .poll(() => page.getByTestId('train-ended').textContent(), { timeout: 30_000 })
      .toContain('cancelled');
    const run = page.locator('[data-testid="run-item"][data-status="cancelled"]');
    await expect.poll(() => run.count(), { timeout: 10_000 }).toBe(1);
    expect(existsSync(last)).toBe(true);
    // Cancelled before its first epoch ended, it has nothing learned to resume: Restart instead.
    expect(await run.getByTestId('run-checkpoints').textContent()).toBe('none');
    expect(await run.getByTestId('run-resume').count()).toBe(0);
    expect(await run.getByTestId('run-restart').count()).toBe(1);
  });

  it('offers the Keras ImageNet weights for a VGG16 model, and says clearly when it cannot download them', async () => {
    await page.getByTestId('train-model').selectOption('unet-vgg16');
    await page.getByTestId('train-backbone-mode').selectOption('file');
    await page.getByTestId('train-backbone-download').click();
    const failed = page.getByTestId('train-backbone-download-error');
    const chosen = page.getByTestId('train-backbone-chosen');
    // Without internet (CI) the download fails with the way around it; with internet it lands in the workspace.
    await expect
      .poll(async () => (await failed.isVisible()) || (await chosen.isVisible()), { timeout: 60_000 })
      .toBe(true);
    if (await failed.isVisible()) {
      expect(await failed.textContent()).toMatch(
        /cannot download the vgg16 weights from https:\/\/storage\.googleapis\.com\/.*notop\.h5/,
      );
      expect(await failed.textContent()).toContain('Without internet');
    } else {
      expect(await chosen.textContent()).toContain(join(root, '.segscope', 'weights'));
    }
  });

  it("offers the weights the model facts give each model's backbone, and says when none are published", async () => {
    await page.getByTestId('train-backbone-mode').selectOption('file');
    const download = page.getByTestId('train-backbone-download');
    const unpublished = page.getByTestId('train-backbone-unpublished');
    for (const [model, weights] of [
      ['deconvnet-4096', 'vgg16'],
      ['deeplabv3', 'resnet50'],
    ] as const) {
      await page.getByTestId('train-model').selectOption(model);
      await expect.poll(() => download.textContent()).toContain(`Download ${weights} weights`);
      expect(await unpublished.count()).toBe(0);
    }
    for (const model of ['fcn-resnet18', 'deeplabv3-resnet18']) {
      await page.getByTestId('train-model').selectOption(model);
      await expect.poll(() => unpublished.count()).toBe(1);
      expect(await unpublished.textContent()).toContain('no ResNet-18 ImageNet weights');
      expect(await download.count()).toBe(0);
    }
    await page.getByTestId('train-model').selectOption('unet-small');
    await expect.poll(() => unpublished.count()).toBe(0);
    expect(await download.count()).toBe(0);
  });
});
