// Drafts, the review queue and fine-tuning on a private copy of voc-mini, with a tiny run trained here
// and the real engine process (the worker bundled from source): the cache under .segscope/drafts, the
// queue's order against a ranking computed with eval-masks itself, a save invalidating a score, cancel,
// and a fine-tuning run that starts from the checkpoint and changes the draft.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Events, EventName } from '../../../../src/shared/api';
import { encodeLabelPng } from '../../../../src/shared/labelPng';
import type { TrainJob } from '../../../../src/shared/training';
import { vocClasses, vocColormap } from '../../../../src/shared/voc';
import { selectBackend } from '../../../../src/main/engine/backend';
import { train } from '../../../../src/main/engine/train';
import { EngineHost, forkSpawner } from '../../../../src/main/services/engineHost';
import { DraftService } from '../../../../src/main/services/drafts';
import { evalMaskFolders } from '../../../../src/main/services/evalMasks';
import { readLabel, saveLabel } from '../../../../src/main/services/labels';
import { WorkbenchSession } from '../../../../src/main/services/session';
import { bundleForNode } from '../../../helpers/bundle';
import { copyVocMini, tempDir, VOC_MINI_IDS } from '../../../helpers/data';
import { vocMiniJob } from '../../../helpers/runs';

const RUN = 'tiny';
let entry: string;
let root: string;
let session: WorkbenchSession;
let drafts: DraftService;
const events: { name: EventName; payload: unknown }[] = [];

function nextEvent<E extends EventName>(name: E, match: (p: Events[E]) => boolean): Promise<Events[E]> {
  return new Promise((resolve) => {
    const remove = session.addEventSink((event: EventName, payload: unknown) => {
      if (event === name && match(payload as Events[E])) {
        remove();
        resolve(payload as Events[E]);
      }
    });
  });
}

beforeAll(async () => {
  entry = await bundleForNode('src/main/engine/worker.ts');
  root = copyVocMini();
  await selectBackend('wasm');
  // Trained without validation, so the run has only `last`; 32² keeps it to seconds.
  const job: TrainJob = {
    ...vocMiniJob({ epochs: 3, inputSize: 32, valSplit: null }, join(root, '.segscope', 'runs', RUN)),
    valIds: [],
  };
  await train(job, { progress: () => {}, cancelled: () => false, backend: 'wasm' });
  session = new WorkbenchSession();
  await session.open(root);
  session.useEngine(forkSpawner(entry));
  session.addEventSink((name, payload) => events.push({ name, payload }));
  drafts = new DraftService(session);
}, 180_000);

afterAll(() => session?.training.engine.kill());

describe('drafts', () => {
  it('drafts one image at its size, caches it per run and checkpoint, and serves it from there', async () => {
    const id = VOC_MINI_IDS[0]!;
    const first = await drafts.predict({ runId: RUN, imageId: id });
    expect(first.checkpoint).toBe('last');
    expect([first.width, first.height]).toEqual([500, 281]);
    expect(first.labels).toHaveLength(500 * 281);
    expect(first.cached).toBe(false);
    expect(first.iou).not.toBeNull();
    expect(first.disagreement).toBeCloseTo(1 - first.iou!, 12);
    const dir = join(root, '.segscope', 'drafts', RUN, 'last');
    for (const f of [`${id}.png`, `${id}.conf`, `${id}.json`]) expect(existsSync(join(dir, f))).toBe(true);
    const again = await drafts.predict({ runId: RUN, imageId: id });
    expect(again.cached).toBe(true);
    expect(again.labels).toEqual(first.labels);
    // Confidences are kept as bytes: within half a step of 1/255.
    let worst = 0;
    for (let i = 0; i < first.confidence.length; i++)
      worst = Math.max(worst, Math.abs(first.confidence[i]! - again.confidence[i]!));
    expect(worst).toBeLessThanOrEqual(0.5 / 255 + 1e-6);
    expect(again.meanConfidence).toBe(first.meanConfidence);
    // Uncertainty is the engine's mean normalised entropy, kept apart from the mean confidence.
    expect(first.uncertainty).toBeGreaterThan(0);
    expect(first.uncertainty).toBeLessThan(1);
    expect(Math.abs(first.uncertainty - (1 - first.meanConfidence))).toBeGreaterThan(1e-6);
    expect(again.uncertainty).toBe(first.uncertainty);
    // A draft cached before entropy was kept (version 1), or before drafts were refined against the
    // image (version 2), is made again rather than served as it was.
    const metaFile = join(dir, `${id}.json`);
    const old = JSON.parse(readFileSync(metaFile, 'utf8')) as Record<string, unknown>;
    delete old.meanEntropy;
    writeFileSync(metaFile, JSON.stringify({ ...old, version: 1 }));
    const remade = await drafts.predict({ runId: RUN, imageId: id });
    expect(remade.cached).toBe(false);
    expect(remade.uncertainty).toBeCloseTo(first.uncertainty, 6);
    expect((JSON.parse(readFileSync(metaFile, 'utf8')) as { version: number }).version).toBe(3);
    writeFileSync(metaFile, JSON.stringify({ ...old, version: 2 }));
    expect((await drafts.predict({ runId: RUN, imageId: id })).cached).toBe(false);
  }, 60_000);

  it('cancels background drafting between two images', async () => {
    const finished = nextEvent('drafts:finished', () => true);
    const started = await drafts.startPredictAll({ runId: RUN });
    expect(started.total).toBe(5);
    expect(drafts.cancel()).toEqual({ cancelled: true });
    const end = await finished;
    expect(end.status).toBe('cancelled');
    const rank = await drafts.rank(await drafts.source(RUN), undefined, 'disagreement');
    expect(rank.pending.length).toBeGreaterThan(0);
  }, 60_000);

  it('drafts a split in the background with progress; the queue order matches eval-masks IoUs', async () => {
    const finished = nextEvent('drafts:finished', () => true);
    const before = events.length;
    await drafts.startPredictAll({ runId: RUN });
    expect((await finished).status).toBe('done');
    const progress = events
      .slice(before)
      .filter((e) => e.name === 'drafts:progress')
      .map((e) => e.payload as Events['drafts:progress']);
    expect(progress.at(-1)).toMatchObject({ runId: RUN, done: 5, total: 5 });

    const src = await drafts.source(RUN);
    const rank = await drafts.rank(src, undefined, 'disagreement');
    expect(rank.pending).toEqual([]);
    expect(rank.entries.map((e) => e.id).sort()).toEqual([...VOC_MINI_IDS].sort());

    // The reference: each draft written as a PNG and compared with its label by eval-masks, one pair
    // per folder, so each image gets its own mean IoU.
    const reference: { id: string; disagreement: number }[] = [];
    for (const id of VOC_MINI_IDS) {
      const draft = await drafts.predict({ runId: RUN, imageId: id });
      const gt = join(tempDir(), 'gt');
      const pred = join(tempDir(), 'pred');
      mkdirSync(gt);
      mkdirSync(pred);
      copyFileSync(join(root, 'SegmentationClass', `${id}.png`), join(gt, `${id}.png`));
      writeFileSync(
        join(pred, `${id}.png`),
        encodeLabelPng({ width: draft.width, height: draft.height, indices: draft.labels }, vocColormap()),
      );
      const r = await evalMaskFolders({ gtDir: gt, predDir: pred, classes: vocClasses() });
      reference.push({ id, disagreement: 1 - r.metrics.miou! });
    }
    reference.sort((a, b) => b.disagreement - a.disagreement || (a.id < b.id ? -1 : 1));
    expect(rank.entries.map((e) => e.id)).toEqual(reference.map((r) => r.id));
    rank.entries.forEach((e, i) => expect(e.disagreement).toBeCloseTo(reference[i]!.disagreement, 12));

    const byUncertainty = await drafts.rank(src, undefined, 'uncertainty');
    const u = byUncertainty.entries.map((e) => e.uncertainty);
    expect(u).toEqual([...u].sort((a, b) => b - a));
  }, 120_000);

  it("saving a label invalidates that image's cached score, and the queue follows the new label", async () => {
    const src = await drafts.source(RUN);
    const top = (await drafts.rank(src, undefined, 'disagreement')).entries[0]!;
    expect(top.disagreement!).toBeGreaterThan(0);
    const metaPath = join(root, '.segscope', 'drafts', RUN, 'last', `${top.id}.json`);
    expect(JSON.parse(readFileSync(metaPath, 'utf8')).score).not.toBeNull();
    // The annotator accepts the whole draft and saves: label and draft now agree.
    const draft = await drafts.predict({ runId: RUN, imageId: top.id });
    const label = await readLabel(session.dataset, top.id);
    await saveLabel(session.dataset, {
      id: top.id,
      width: draft.width,
      height: draft.height,
      indices: draft.labels,
      baseVersion: label.version,
    });
    expect(JSON.parse(readFileSync(metaPath, 'utf8')).score).toBeNull();
    const after = await drafts.rank(src, undefined, 'disagreement');
    const entry = after.entries.find((e) => e.id === top.id)!;
    expect(entry.disagreement).toBe(0);
    expect(after.entries.at(-1)!.id).toBe(top.id);
    expect(JSON.parse(readFileSync(metaPath, 'utf8')).score.iou).toBe(1);
  }, 60_000);

  it('fine-tunes on the reviewed images as a new run from the checkpoint, and the draft changes', async () => {
    const id = VOC_MINI_IDS[1]!; // in val only: it reaches training only by being reviewed
    await session.dataset.setReview([id], 'done');
    const before = await drafts.predict({ runId: RUN, imageId: id });
    const done = nextEvent('training:finished', () => true);
    const started = await drafts.finetune({ runId: RUN, epochs: 1 });
    expect(started.parent).toBe(RUN);
    expect(started.reviewed).toBe(1);
    expect(started.trainImages).toBe(4); // the three of train plus the reviewed one
    const end = await done;
    expect(end).toMatchObject({ runId: started.runId, status: 'done', error: null });
    const runDir = join(root, '.segscope', 'runs', started.runId);
    expect(existsSync(join(runDir, 'checkpoints', 'last', 'model.json'))).toBe(true);
    const config = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as TrainJob;
    expect(config.settings.initFrom).toBe(join(root, '.segscope', 'runs', RUN, 'checkpoints', 'last'));
    expect(config.trainIds).toContain(id);
    const after = await drafts.predict({ runId: started.runId, imageId: id });
    expect(after.cached).toBe(false);
    let changed = 0;
    for (let i = 0; i < after.confidence.length; i++)
      if (Math.abs(after.confidence[i]! - before.confidence[i]!) > 1 / 255) changed++;
    expect(changed).toBeGreaterThan(0);
  }, 120_000);
});

describe('training with initFrom', () => {
  const parent = () => join(root, '.segscope', 'runs', RUN, 'checkpoints', 'last');

  it("starts from the checkpoint's weights, not fresh ones", async () => {
    const { loadCheckpoint } = await import('../../../../src/main/engine/io/checkpoint');
    const runDir = join(tempDir(), 'ft');
    // A learning rate too small to move any weight: the result must be the parent's model.
    await train(
      vocMiniJob({ epochs: 1, inputSize: 32, valSplit: null, lr: 1e-30, initFrom: parent() }, runDir),
      {
        progress: () => {},
        cancelled: () => false,
        backend: 'wasm',
      },
    );
    const a = (await loadCheckpoint(parent())).model;
    const b = (await loadCheckpoint(join(runDir, 'checkpoints', 'last'))).model;
    const wa = a.getWeights().map((w) => w.dataSync());
    const wb = b.getWeights().map((w) => w.dataSync());
    let worst = 0;
    wa.forEach((w, i) => w.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - wb[i]![j]!)))));
    expect(worst).toBeLessThan(1e-6);
    a.dispose();
    b.dispose();
  }, 60_000);

  it('refuses a checkpoint of another input size, naming it, and records the failure', async () => {
    const runDir = join(tempDir(), 'ft-bad');
    const job = vocMiniJob({ epochs: 1, inputSize: 64, valSplit: null, initFrom: parent() }, runDir);
    mkdirSync(runDir, { recursive: true });
    await expect(train(job, { progress: () => {}, cancelled: () => false, backend: 'wasm' })).rejects.toThrow(
      `${parent()}: cannot be fine-tuned here: its input is 32×32, this run's is 64×64`,
    );
    expect(JSON.parse(readFileSync(join(runDir, 'state.json'), 'utf8')).status).toBe('failed');
  }, 60_000);
});

describe('a fresh engine', () => {
  it('answers a models request that arrives while a draft is selecting the backend', async () => {
    // The editor drafts while the viewer asks for the model list: both reach a new engine at once.
    const host = new EngineHost(forkSpawner(entry));
    try {
      const image = join(root, 'JPEGImages', `${VOC_MINI_IDS[0]}.jpg`);
      const runDir = join(root, '.segscope', 'runs', RUN);
      const [seg, models] = await Promise.all([
        host.request({ type: 'segment', runDir, checkpoint: 'last', image }),
        host.request({ type: 'models' }),
      ]);
      expect(seg.width).toBe(500);
      expect(models.map((m) => m.id)).toContain('unet-small');
    } finally {
      host.kill();
    }
  }, 60_000);
});
