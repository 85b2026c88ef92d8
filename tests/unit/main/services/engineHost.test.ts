// The engine as a real process: the built worker forked from the host, a crash reported and
// restartable, and a cancel that takes effect within 2 s even in the middle of a long step.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EngineStatus } from '../../../../src/shared/api';
import type { RunState, TrainProgress } from '../../../../src/shared/training';
import { EngineHost, forkSpawner, type EngineProcess } from '../../../../src/main/services/engineHost';
import { WorkbenchSession } from '../../../../src/main/services/session';
import { bundleForNode } from '../../../helpers/bundle';
import { copyVocMini, tempDir, VOC_MINI, VOC_MINI_IDS } from '../../../helpers/data';
import { vocMiniJob } from '../../../helpers/runs';
import { DEFAULT_TRAIN_SETTINGS } from '../../../../src/shared/training';
import { vocClasses, vocColormap, VOC_CLASS_NAMES } from '../../../../src/shared/voc';
import { decodeLabelPng } from '../../../../src/shared/labelPng';
import { evalMaskFolders } from '../../../../src/main/services/evalMasks';

let entry: string;
const hosts: EngineHost[] = [];
beforeAll(async () => {
  entry = await bundleForNode('src/main/engine/worker.ts');
}, 120_000);
afterEach(() => {
  for (const h of hosts.splice(0)) h.kill('test finished');
});

describe('engine host', () => {
  it('starts the engine, reports its backend and why faster ones were skipped, and lists the models', async () => {
    const statuses: EngineStatus[] = [];
    const host = new EngineHost(forkSpawner(entry), (s) => statuses.push(s));
    hosts.push(host);
    const backend = await host.start('auto');
    expect(backend.name).toBe('wasm');
    // onnxruntime-node is installed here, so the engine's convolutions run on it.
    expect(backend.reason).toMatch(
      /single-threaded\) with Segscope's training kernels; convolutions on ONNX Runtime/,
    );
    expect(backend.skipped.map((s) => s.name)).toEqual(['tensorflow-gpu', 'webgpu', 'tensorflow']);
    expect(backend.skipped[0]!.reason).toMatch(/tfjs-node-gpu/);
    // No GPU here: at most Mesa's software adapters, which auto never takes.
    expect(backend.skipped[1]!.reason).toMatch(/^(no GPU adapter|no Vulkan loader|only a software adapter)/);
    expect(statuses.map((s) => s.state)).toEqual(['starting', 'ready']);
    const models = await host.request({ type: 'models' });
    const vgg = models.find((m) => m.id === 'unet-vgg16')!;
    expect(vgg.params).toBe(24_892_437);
    expect(vgg.convLayers).toContain('block5_conv3');
  }, 60_000);

  it('reports a killed engine as crashed, fails what it was doing, and starts again', async () => {
    const statuses: EngineStatus[] = [];
    let proc: EngineProcess | null = null;
    const spawn = forkSpawner(entry);
    const host = new EngineHost(
      () => (proc = spawn()),
      (s) => statuses.push(s),
    );
    hosts.push(host);
    await host.start('wasm');
    const pending = host.request({ type: 'models' });
    proc!.kill(); // as an out-of-memory kill would
    await expect(pending).rejects.toThrow(/the engine stopped: it was killed by SIGKILL/);
    expect(statuses.at(-1)).toMatchObject({ state: 'crashed', message: expect.stringContaining('SIGKILL') });
    const again = await host.restart();
    expect(again.name).toBe('wasm');
    expect(host.getStatus().state).toBe('ready');
    expect((await host.request({ type: 'models' })).length).toBeGreaterThan(3);
  }, 60_000);

  it('cancels within 2 s during a long training step, leaving a usable last checkpoint', async () => {
    const root = copyVocMini();
    const session = new WorkbenchSession();
    await session.open(root);
    session.useEngine(forkSpawner(entry));
    const progress: TrainProgress[] = [];
    const finished = new Promise<{ status: string }>((resolve) =>
      session.addEventSink((e, p) => e === 'training:finished' && resolve(p as { status: string })),
    );
    session.addEventSink((e, p) => e === 'training:progress' && progress.push(p as TrainProgress));
    // unet-vgg16 at 256² takes tens of seconds per step on wasm: far longer than the cancel budget.
    const { runId } = await session.training.start({
      model: 'unet-vgg16',
      inputSize: 256,
      batchSize: 2,
      epochs: 1,
      split: 'train',
      valSplit: null,
      backend: 'wasm',
    });
    const dir = join(root, '.segscope', 'runs', runId);
    for (let i = 0; i < 200 && !existsSync(join(dir, 'checkpoints', 'last', 'model.json')); i++)
      await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500)); // inside the first step now
    const t0 = performance.now();
    await session.training.cancel();
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeLessThan(2000);
    expect(await finished).toMatchObject({ status: 'cancelled' });
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as RunState;
    expect(state.status).toBe('cancelled');
    expect(existsSync(join(dir, 'checkpoints', 'last', 'weights.bin'))).toBe(true);
    expect(session.training.running).toBeNull();
    session.training.engine.kill('test finished');
  }, 120_000);

  it('predicts palette PNGs and blends, and its eval equals eval-masks over those PNGs', async () => {
    const host = new EngineHost(forkSpawner(entry));
    hosts.push(host);
    await host.start('wasm');
    const runDir = join(tempDir(), 'run');
    await host.request({
      type: 'train',
      job: vocMiniJob({ epochs: 8, augment: DEFAULT_TRAIN_SETTINGS.augment }, runDir),
    });
    const outDir = tempDir();
    const files = VOC_MINI_IDS.map((id) => join(VOC_MINI, 'JPEGImages', `${id}.jpg`));
    const predicted = await host.request({
      type: 'predict',
      runDir,
      checkpoint: 'best',
      files,
      outDir,
      blend: true,
      colormap: [...vocColormap()],
    });
    expect(predicted.written).toHaveLength(10);
    const png = decodeLabelPng(readFileSync(join(outDir, `${VOC_MINI_IDS[0]}.png`)));
    expect([png.width, png.height, png.source]).toEqual([500, 281, 'palette']);
    expect(existsSync(join(outDir, `${VOC_MINI_IDS[0]}_blend.jpg`))).toBe(true);

    const metrics = await host.request({
      type: 'eval',
      runDir,
      checkpoint: 'best',
      pairs: VOC_MINI_IDS.map((id) => ({
        image: join(VOC_MINI, 'JPEGImages', `${id}.jpg`),
        label: join(VOC_MINI, 'SegmentationClass', `${id}.png`),
      })),
      classNames: [...VOC_CLASS_NAMES],
      colormap: [...vocColormap()],
    });
    const viaFiles = await evalMaskFolders({
      gtDir: join(VOC_MINI, 'SegmentationClass'),
      predDir: outDir,
      classes: vocClasses(),
    });
    expect(metrics.confusion).toEqual(viaFiles.metrics.confusion);
    expect(metrics.miou).toBe(viaFiles.metrics.miou);
  }, 120_000);
});
