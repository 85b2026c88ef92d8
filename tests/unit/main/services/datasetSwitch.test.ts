// Every job is bound to the dataset it started on (issue 21): opening dataset B while A's drafts are
// being made, while a fine-tuning of A is being started, or while A's run is exported, leaves A's cache
// correct (its drafts at A's image sizes and equal to a fresh draft of A's image) and writes nothing of B's into
// A or of A's into B. B holds the same run id and images of other sizes, the case that once put B's
// drafts into A's cache. A cache entry of another size is made again. Real engine process (the worker
// bundled from source), a tiny run trained here, the real handlers.
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventName, Events, Handlers } from '../../../../src/shared/api';
import type { TrainJob } from '../../../../src/shared/training';
import { selectBackend } from '../../../../src/main/engine/backend';
import { train } from '../../../../src/main/engine/train';
import { DraftService, refinedDraft } from '../../../../src/main/services/drafts';
import { forkSpawner } from '../../../../src/main/services/engineHost';
import { createHandlers } from '../../../../src/main/services/handlers';
import { imageSize } from '../../../../src/main/services/imageFiles';
import { WorkbenchSession } from '../../../../src/main/services/session';
import { bundleForNode } from '../../../helpers/bundle';
import { copyVocMini, VOC_MINI_IDS } from '../../../helpers/data';
import { vocMiniJob } from '../../../helpers/runs';

const RUN = 'tiny';
let a: string;
let b: string;
let session: WorkbenchSession;
let handlers: Handlers;

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

const draftsDir = (root: string) => join(root, '.segscope', 'drafts', RUN, 'last');

beforeAll(async () => {
  const entry = await bundleForNode('src/main/engine/worker.ts');
  a = copyVocMini();
  b = copyVocMini();
  // B's images at other sizes (a fifth of A's each way): a draft of B is never the size of A's.
  for (const id of VOC_MINI_IDS) {
    const path = join(b, 'JPEGImages', `${id}.jpg`);
    const { width } = await imageSize(path);
    writeFileSync(
      path,
      await sharp(readFileSync(path))
        .resize(Math.round(width / 5))
        .jpeg()
        .toBuffer(),
    );
    rmSync(join(b, 'SegmentationClass', `${id}.png`), { force: true });
  }
  await selectBackend('wasm');
  const runDir = join(a, '.segscope', 'runs', RUN);
  const job: TrainJob = { ...vocMiniJob({ epochs: 1, inputSize: 32, valSplit: null }, runDir), valIds: [] };
  await train(job, { progress: () => {}, cancelled: () => false, backend: 'wasm' });
  // The same run id in B.
  cpSync(runDir, join(b, '.segscope', 'runs', RUN), { recursive: true });
  session = new WorkbenchSession();
  await session.open(a);
  session.useEngine(forkSpawner(entry));
  handlers = createHandlers(session, { transport: 'electron', electronVersion: 'test', mediaUrl: () => '' });
}, 180_000);

afterAll(() => session?.training.engine.kill());

describe('opening another dataset while a job of the first runs', () => {
  it("drafting: A's drafts are all A's, each equal to a fresh draft; B's cache has none", async () => {
    const progressed = nextEvent('drafts:progress', (p) => p.runId === RUN);
    const finished = nextEvent('drafts:finished', (p) => p.runId === RUN);
    const started = await handlers['drafts:predictAll']({ runId: RUN });
    expect(started.cached).toBe(0);
    await progressed;
    await handlers['dataset:open']({ path: b });
    expect((await finished).status).toBe('done');
    expect(existsSync(draftsDir(b))).toBe(false);
    const metas = readdirSync(draftsDir(a)).filter((f) => f.endsWith('.json') && f !== 'checkpoint.json');
    expect(metas.sort()).toEqual(VOC_MINI_IDS.map((id) => `${id}.json`).sort());

    await handlers['dataset:open']({ path: a });
    for (const id of VOC_MINI_IDS) {
      const image = join(a, 'JPEGImages', `${id}.jpg`);
      const size = await imageSize(image);
      const draft = await handlers['drafts:predict']({ runId: RUN, imageId: id });
      expect(draft.cached).toBe(true);
      expect([draft.width, draft.height]).toEqual([size.width, size.height]);
      // A draft is the prediction refined against the image, so the reference is a fresh draft of A's file.
      const fresh = await refinedDraft(
        session.training.engine,
        await new DraftService(session).source(RUN),
        image,
      );
      expect(Buffer.from(draft.labels).equals(Buffer.from(fresh.labels))).toBe(true);
    }
    // Ranking A works: every image's draft has A's size (it once failed on a pixel-count mismatch).
    const queue = await handlers['drafts:rank']({ runId: RUN, by: 'disagreement' });
    expect(queue.pending).toEqual([]);
    expect(queue.entries).toHaveLength(VOC_MINI_IDS.length);
  }, 120_000);

  it('a cached draft of another size than its image is made again', async () => {
    const id = VOC_MINI_IDS[0]!;
    const meta = join(draftsDir(a), `${id}.json`);
    const json = JSON.parse(readFileSync(meta, 'utf8')) as { width: number; height: number };
    writeFileSync(meta, JSON.stringify({ ...json, width: json.width + 1 }));
    const draft = await handlers['drafts:predict']({ runId: RUN, imageId: id });
    expect(draft.cached).toBe(false);
    expect(draft.width).toBe(json.width);
    expect((JSON.parse(readFileSync(meta, 'utf8')) as { width: number }).width).toBe(json.width);
  }, 60_000);

  it("export: the file is written for A's run in A, whatever is opened meanwhile", async () => {
    await handlers['dataset:open']({ path: a });
    const exporting = handlers['runs:export']({ runId: RUN });
    await handlers['dataset:open']({ path: b });
    const r = await exporting;
    expect(r.path).toBe(join(a, '.segscope', 'runs', RUN, 'export', `${RUN}-last.onnx`));
    expect(existsSync(r.path)).toBe(true);
    expect(existsSync(join(b, '.segscope', 'runs', RUN, 'export'))).toBe(false);
  }, 60_000);

  it("fine-tuning: the new run is A's, or the start is refused as a conflict; B gets no run", async () => {
    await handlers['dataset:open']({ path: a });
    await handlers['dataset:setReview']({ ids: VOC_MINI_IDS.slice(0, 2), status: 'done' });
    const runsOfB = readdirSync(join(b, '.segscope', 'runs')).sort();
    // Listened for before the start: a one-epoch run on 2 images can end before `starting` resolves.
    const ended: Events['training:finished'][] = [];
    const remove = session.addEventSink((event: EventName, payload: unknown) => {
      if (event === 'training:finished') ended.push(payload as Events['training:finished']);
    });
    const starting = handlers['drafts:finetune']({ runId: RUN, epochs: 1 });
    await handlers['dataset:open']({ path: b });
    const outcome = await starting.then(
      (r) => r,
      (err: { code?: string }) => err,
    );
    if ('runId' in outcome) {
      expect(existsSync(join(a, '.segscope', 'runs', outcome.runId))).toBe(true);
      await expect.poll(() => ended.some((e) => e.runId === outcome.runId), { timeout: 90_000 }).toBe(true);
    } else {
      expect(outcome.code).toBe('conflict');
    }
    remove();
    expect(readdirSync(join(b, '.segscope', 'runs')).sort()).toEqual(runsOfB);
  }, 120_000);
});
