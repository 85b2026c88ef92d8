// Inspect in a real Chromium over the browser transport, with runs trained by the built CLI: it opens
// the best finished run (not a newer one cancelled after an epoch, nor one that failed at once), falls back
// from best to last for a run trained without validation and says so, and opens a run folder trained
// elsewhere, which it only reads (its ONNX cache goes to the dataset's workspace). A run with a damaged
// steps file is listed in the Train tab with the file named.
import { cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { copyVocMini, tempDir } from '../helpers/data';
import { launchChromium, OUTPUT, ROOT, startCli, type Served } from './harness';

let root: string;
let home: string;
let served: Served;
let browser: Browser;
let page: Page;
let ownRun: string;

function train(...args: string[]): void {
  const tiny = [
    '--model',
    'unet-small',
    '--input-size',
    '32',
    '--epochs',
    '1',
    '--no-val',
    '--backend',
    'wasm',
  ];
  const r = spawnSync(
    process.execPath,
    [join(ROOT, 'out/main/cli.js'), 'train', '--dataset', root, ...tiny, ...args],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(r.stderr);
}

beforeAll(async () => {
  root = copyVocMini();
  home = tempDir('segscope-home-');
  train();
  train('--out', join(home, 'elsewhere', 'cli-run'));
  const runs = join(root, '.segscope', 'runs');
  ownRun = readdirSync(runs)[0]!;
  // A newer run that failed before its first epoch ended: it has an untrained `last` and nothing else.
  const failed = join(runs, '2099-01-01T00-00-00-unet-small');
  mkdirSync(failed);
  cpSync(join(runs, ownRun, 'config.json'), join(failed, 'config.json'));
  cpSync(join(runs, ownRun, 'checkpoints'), join(failed, 'checkpoints'), { recursive: true });
  writeFileSync(
    join(failed, 'state.json'),
    JSON.stringify({
      status: 'failed',
      epoch: 0,
      bestMiou: null,
      bestEpoch: null,
      backend: 'wasm',
      startedAt: '',
      endedAt: '',
      error: 'the wasm backend ran out of memory',
    }),
  );
  // An older run whose steps file has a line that is not a record: listed as broken, naming the file.
  const broken = join(runs, '2000-01-01T00-00-00-unet-small');
  cpSync(join(runs, ownRun), broken, { recursive: true });
  writeFileSync(join(broken, 'steps.jsonl'), 'null\n');
  // A newer run cancelled after one epoch: it has a checkpoint, but the finished run is the one to show.
  const cancelled = join(runs, '2098-01-01T00-00-00-unet-small');
  mkdirSync(cancelled);
  cpSync(join(runs, ownRun, 'config.json'), join(cancelled, 'config.json'));
  cpSync(join(runs, ownRun, 'checkpoints'), join(cancelled, 'checkpoints'), { recursive: true });
  writeFileSync(
    join(cancelled, 'state.json'),
    JSON.stringify({
      status: 'cancelled',
      epoch: 1,
      bestMiou: null,
      bestEpoch: null,
      backend: 'wasm',
      startedAt: '',
      endedAt: '',
      error: null,
    }),
  );
  [served, browser] = await Promise.all([
    startCli(['serve', '--dataset', root, '--port', '0'], { ...process.env, HOME: home }),
    launchChromium(),
  ]);
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(served.url);
});
afterAll(async () => {
  await browser?.close();
  await served?.stop();
});

describe('inspect', () => {
  it('opens the best finished run (not a newer cancelled one), with last when it has no best, and says so', async () => {
    await page.getByTestId('tab-inspect').click();
    await expect.poll(() => page.getByTestId('viewer-run').inputValue()).toBe(ownRun);
    expect(await page.getByTestId('viewer-run-choice').textContent()).toContain(
      `Showing ${ownRun}: the best finished run of 2`,
    );
    const options = await page
      .getByTestId('viewer-run')
      .locator('option')
      .evaluateAll((els) => els.map((e) => (e as HTMLOptionElement).value));
    expect(options).not.toContain('2099-01-01T00-00-00-unet-small');
    expect(await page.getByTestId('viewer-checkpoint').inputValue()).toBe('last');
    expect(await page.getByTestId('viewer-checkpoint-note').textContent()).toContain(
      'has no best checkpoint',
    );
    await expect.poll(() => page.getByTestId('pane-legend').isVisible(), { timeout: 60_000 }).toBe(true);
  });

  it('opens a run folder trained elsewhere and keeps it listed', async () => {
    await page.getByTestId('viewer-open-run').click();
    // The run browser starts next to the dataset; its path field goes straight to a folder.
    await expect.poll(() => page.getByTestId('folder-current').textContent()).toBe(dirname(root));
    await page.getByTestId('folder-path').fill(join(home, 'elsewhere'));
    await page.getByTestId('folder-path').press('Enter');
    await expect.poll(() => page.getByTestId('folder-current').textContent()).toBe(join(home, 'elsewhere'));
    // The run folder is marked as one, with a drawn icon (no emoji font needed).
    const entry = page.locator('[data-testid="folder-entry"][data-name="cli-run"]');
    expect(await entry.getAttribute('data-kind')).toBe('run');
    expect(await entry.getByTestId('folder-kind').textContent()).toBe('run');
    expect(await entry.locator('svg').count()).toBe(1);
    await entry.click();
    await expect
      .poll(() => page.getByTestId('folder-current').textContent())
      .toBe(join(home, 'elsewhere', 'cli-run'));
    await page.getByTestId('folder-open-here').click();
    await expect.poll(() => page.getByTestId('viewer-run').inputValue()).toBe('cli-run');
    await expect.poll(() => page.getByTestId('pane-legend').isVisible(), { timeout: 60_000 }).toBe(true);
    await page.screenshot({ path: join(OUTPUT, 'inspect-attached-run.png') });
    // The dataset browser has a location of its own: it does not open inside the run folder.
    await page.getByTestId('show-start').click();
    await page.getByTestId('open-folder').click();
    await expect.poll(() => page.getByTestId('folder-current').textContent()).toBe(dirname(root));
    const datasetEntry = page.locator(`[data-testid="folder-entry"][data-name="${basename(root)}"]`);
    expect(await datasetEntry.getAttribute('data-kind')).toBe('dataset');
    await page.getByTestId('show-start').click();
    await page.getByTestId('tab-inspect').click();
    await page.getByTestId('viewer-open-run').click();
    await expect
      .poll(() => page.getByTestId('folder-current').textContent())
      .toBe(join(home, 'elsewhere', 'cli-run'));
    await page.getByTestId('viewer-open-run').click();
    await page.reload();
    await page.getByTestId('tab-train').click();
    await expect.poll(() => page.locator('[data-testid="run-item"][data-id="cli-run"]').count()).toBe(1);
    // Only read: segmenting it made its ONNX cache in the workspace, not in its folder.
    expect(existsSync(join(home, 'elsewhere', 'cli-run', 'checkpoints', 'last', 'model.onnx'))).toBe(false);
    const broken = '2000-01-01T00-00-00-unet-small';
    expect(
      await page
        .locator(`[data-testid="run-item"][data-id="${broken}"] [data-testid="run-error"]`)
        .textContent(),
    ).toContain(join(root, '.segscope', 'runs', broken, 'steps.jsonl') + ': line 1 is not a record');
  });
});
