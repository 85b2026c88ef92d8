// The Train panel on the PyTorch engine, in a real Chromium over the browser transport, with Debian's
// python3-torch: the panel finds the Python with torch and shows its version and devices, trains a run
// on two DDP workers (gloo) from the form with live curves, and the run ends done, recorded as a torch
// run. Cancel from the panel ends a PyTorch run cancelled, with its last checkpoint.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { copyVocMini } from '../helpers/data';
import { launchChromium, newPage, OUTPUT, startCli, type Served } from './harness';

const PYTHON = process.env.SEGSCOPE_PYTHON ?? '/usr/bin/python3';
let root: string;
let served: Served;
let browser: Browser;
let page: Page;

const runsDir = () => join(root, '.segscope', 'runs');
const state = (id: string) =>
  JSON.parse(readFileSync(join(runsDir(), id, 'state.json'), 'utf8')) as {
    status: string;
    engine?: string;
    world?: number;
    epoch: number;
  };

beforeAll(async () => {
  root = copyVocMini();
  [served, browser] = await Promise.all([
    startCli(['serve', '--dataset', root, '--port', '0'], { ...process.env, SEGSCOPE_PYTHON: PYTHON }),
    launchChromium(),
  ]);
  page = await newPage(browser, { viewport: { width: 1400, height: 1000 } });
  await page.goto(served.url);
  await page.getByTestId('tab-train').click();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await served?.stop();
});

/** Fills the form for a tiny run: unet-small at 32², batch 1, `epochs` epochs, on two workers. */
async function tinyTorchRun(epochs: number): Promise<void> {
  await page.getByTestId('train-engine').selectOption('torch');
  await page.getByTestId('train-nproc').fill('2');
  await page.getByTestId('train-model').selectOption('unet-small');
  await page.getByTestId('train-input-size').fill('32');
  await page.getByTestId('train-epochs').fill(String(epochs));
  await page.getByTestId('train-batch').fill('1');
  await page.getByTestId('train-split').selectOption('train');
  await page.getByTestId('train-val-split').selectOption('val');
}

describe('the Train panel on the PyTorch engine', () => {
  it('shows the torch found with its devices, and trains a run on two DDP workers to done', async () => {
    await expect
      .poll(() => page.getByTestId('engine-backend').getAttribute('data-state'), { timeout: 60_000 })
      .toBe('ready');
    // Finding torch imports it: the option turns on once the answer is in.
    const option = page.locator('[data-testid="train-engine"] option[value="torch"]');
    await expect.poll(() => option.isDisabled(), { timeout: 60_000 }).toBe(false);
    expect(await option.textContent()).toMatch(/^\s*PyTorch \d+\.\d+/);
    await tinyTorchRun(2);
    expect(await page.getByTestId('train-torch-info').textContent()).toMatch(
      /^torch \S+ at \S+ \(Python 3\.\d+\.\d+\) · devices: cpu/,
    );
    // No GPU here: the cuda device is offered but cannot be chosen.
    expect(await page.locator('[data-testid="train-device"] option[value="cuda"]').isDisabled()).toBe(true);
    await page.screenshot({ path: join(OUTPUT, 'torch-panel.png') });
    await page.getByTestId('train-start').click();

    const curves = page.getByTestId('train-curves');
    await expect
      .poll(async () => Number(await curves.getAttribute('data-points')), { timeout: 120_000 })
      .toBeGreaterThan(0);
    await expect
      .poll(() => page.getByTestId('train-ended').textContent(), { timeout: 120_000 })
      .toContain('done');
    await expect.poll(async () => Number(await curves.getAttribute('data-epochs'))).toBe(2);
    const [id] = readdirSync(runsDir());
    expect(state(id!)).toMatchObject({ status: 'done', epoch: 2, engine: 'torch', world: 2 });
    expect(existsSync(join(runsDir(), id!, 'checkpoints', 'best', 'weights.bin'))).toBe(true);
    await expect
      .poll(() => page.locator(`[data-testid="run-item"][data-id="${id}"]`).getAttribute('data-status'))
      .toBe('done');
  }, 240_000);

  it('cancels a PyTorch run from the panel, which keeps its last checkpoint', async () => {
    const before = new Set(readdirSync(runsDir()));
    await tinyTorchRun(200);
    await page.getByTestId('train-start').click();
    let id = '';
    await expect
      .poll(
        () => {
          id = readdirSync(runsDir()).find((r) => !before.has(r)) ?? '';
          return id && existsSync(join(runsDir(), id, 'metrics.jsonl'));
        },
        { timeout: 120_000 },
      )
      .toBe(true);
    await page.getByTestId('train-cancel').click();
    await expect
      .poll(() => page.getByTestId('train-ended').textContent(), { timeout: 60_000 })
      .toContain('cancelled');
    const s = state(id);
    expect(s.status).toBe('cancelled');
    expect(s.epoch).toBeLessThan(200);
    expect(existsSync(join(runsDir(), id, 'checkpoints', 'last', 'model.json'))).toBe(true);
  }, 240_000);
});
