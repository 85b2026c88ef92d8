// Confinement of every file Segscope touches under .segscope/ and under a run (issue 21): a link is
// planted at each such path, to a folder outside the dataset, to a file outside, or at a target name the
// writer replaces, and then the contract methods that touch those files are called through the real
// handlers, with the real engine process (the worker bundled from source) and a tiny run trained here.
// After each case a sentinel tree outside the dataset is byte-identical (sha256 of every file), nothing
// outside was served, and each refusal names the path. An attached run, which is only read, stays
// byte-identical too: its ONNX cache and export go to the dataset's workspace.
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TrainJob } from '../../../../src/shared/training';
import { selectBackend } from '../../../../src/main/engine/backend';
import { train } from '../../../../src/main/engine/train';
import { forkSpawner } from '../../../../src/main/services/engineHost';
import type { Handlers } from '../../../../src/shared/api';
import { createHandlers } from '../../../../src/main/services/handlers';
import { WorkbenchSession } from '../../../../src/main/services/session';
import { bundleForNode } from '../../../helpers/bundle';
import { copyVocMini, tempDir } from '../../../helpers/data';
import { vocMiniJob } from '../../../helpers/runs';

const RUN = 'tiny';
const ID = '2007_000032';
let root: string;
let ws: string;
let runDir: string;
let session: WorkbenchSession;
let handlers: Handlers;
/** The sentinel tree outside the dataset, and the attached run (outside too). */
let outside: string;
let attached: string;
let before: Record<string, string>;

/** sha256 of every file under `dir` (links not followed), by relative path. */
function sums(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const path = join(e.parentPath, e.name);
    if (e.isFile()) out[relative(dir, path)] = createHash('sha256').update(readFileSync(path)).digest('hex');
    else if (e.isSymbolicLink()) out[relative(dir, path)] = 'link';
  }
  return out;
}

/** Plants a link at `path` (its folder made, anything there replaced) to `target`. */
function plant(path: string, target: string): string {
  mkdirSync(join(path, '..'), { recursive: true });
  rmSync(path, { recursive: true, force: true });
  symlinkSync(target, path);
  return path;
}

const refusal = (path: string) => ({
  code: 'outside-root',
  message: expect.stringContaining(path),
});

beforeAll(async () => {
  const entry = await bundleForNode('src/main/engine/worker.ts');
  root = copyVocMini();
  ws = join(root, '.segscope');
  runDir = join(ws, 'runs', RUN);
  await selectBackend('wasm');
  const job: TrainJob = {
    ...vocMiniJob({ epochs: 1, inputSize: 32, valSplit: null }, runDir),
    valIds: [],
  };
  await train(job, { progress: () => {}, cancelled: () => false, backend: 'wasm' });
  attached = join(tempDir('segscope-attached-'), 'elsewhere');
  cpSync(runDir, attached, { recursive: true });
  outside = tempDir('segscope-sentinel-');
  mkdirSync(join(outside, 'folder', 'last'), { recursive: true });
  writeFileSync(join(outside, 'folder', 'keep.txt'), 'not Segscope’s\n');
  // Shaped like a cached draft's JSON with a score, so a score update would rewrite it.
  writeFileSync(
    join(outside, 'folder', 'last', `${ID}.json`),
    JSON.stringify({ version: 2, score: { iou: 0.5, labelVersion: 'x' } }),
  );
  writeFileSync(join(outside, 'victim.png'), readFileSync(join(root, 'SegmentationClass', `${ID}.png`)));
  copyFileSync(join(runDir, 'checkpoints', 'last', 'weights.bin'), join(outside, 'weights.bin'));
  before = sums(outside);
  session = new WorkbenchSession();
  await session.open(root);
  session.useEngine(forkSpawner(entry));
  handlers = createHandlers(session, { transport: 'electron', electronVersion: 'test', mediaUrl: () => '' });
}, 180_000);

afterAll(() => session?.training.engine.kill());

afterEach(() => {
  expect(sums(outside)).toEqual(before);
});

describe('links planted under .segscope and under a run', () => {
  it('drafts/RUN to a folder outside: predict and rank are refused, nothing deleted there', async () => {
    const link = plant(join(ws, 'drafts', RUN), join(outside, 'folder'));
    await expect(handlers['drafts:predict']({ runId: RUN, imageId: ID })).rejects.toMatchObject(
      refusal(link),
    );
    await expect(handlers['drafts:rank']({ runId: RUN, by: 'disagreement' })).rejects.toMatchObject(
      refusal(link),
    );
    rmSync(link);
  });

  it('drafts/OTHER to a folder outside: a label save stands and rewrites nothing there', async () => {
    const link = plant(join(ws, 'drafts', 'other'), join(outside, 'folder'));
    const label = await handlers['labels:read']({ id: ID });
    const saved = await handlers['labels:save']({
      id: ID,
      width: label.width,
      height: label.height,
      indices: label.indices,
      baseVersion: label.version,
    });
    expect(saved.version).toBeTruthy();
    rmSync(link);
  });

  it('cache/thumbs to a folder outside: mask and image thumbnails are refused, naming it', async () => {
    const link = plant(join(ws, 'cache', 'thumbs'), join(outside, 'folder'));
    await expect(session.mediaFile('mask', ID)).rejects.toMatchObject(refusal(link));
    await expect(session.mediaFile('thumb', ID)).rejects.toMatchObject(refusal(link));
    rmSync(link);
  });

  it('thumbs/ID.mask.png to a file outside: refused, never served', async () => {
    const link = plant(join(ws, 'cache', 'thumbs', `${ID}.mask.png`), join(outside, 'victim.png'));
    await expect(session.mediaFile('mask', ID)).rejects.toMatchObject(refusal(link));
    rmSync(link);
    // Without the link, the thumbnail is made in the workspace.
    expect(await session.mediaFile('mask', ID)).toBe(link);
    expect(lstatSync(link).isFile()).toBe(true);
  });

  it('runs/RUN/export to a folder outside: the export is refused, naming it', async () => {
    const link = plant(join(runDir, 'export'), join(outside, 'folder'));
    await expect(handlers['runs:export']({ runId: RUN })).rejects.toMatchObject(refusal(link));
    rmSync(link);
  });

  it('the export file itself a link to a file outside: refused, naming it, and not written through', async () => {
    const out = plant(join(runDir, 'export', `${RUN}-last.onnx`), join(outside, 'victim.png'));
    await expect(handlers['runs:export']({ runId: RUN })).rejects.toMatchObject(refusal(out));
    rmSync(out);
    // Without it, the export is written in the run's own folder.
    const r = await handlers['runs:export']({ runId: RUN });
    expect(r.path).toBe(out);
    expect(lstatSync(out).size).toBe(r.bytes);
  }, 60_000);

  it('a checkpoint file linked to a copy outside: segment and cam are refused, naming it', async () => {
    const last = join(runDir, 'checkpoints', 'last');
    const real = readFileSync(join(last, 'weights.bin'));
    const link = plant(join(last, 'weights.bin'), join(outside, 'weights.bin'));
    // A new model.json time, so the engine cannot answer from the model it already holds.
    const later = new Date(Date.now() + 5_000);
    utimesSync(join(last, 'model.json'), later, later);
    await expect(handlers['viewer:segment']({ runId: RUN, imageId: ID })).rejects.toThrow(link);
    await expect(
      handlers['viewer:cam']({ runId: RUN, imageId: ID, classIndex: 0, method: 'gradcam' }),
    ).rejects.toThrow(link);
    rmSync(link);
    writeFileSync(join(last, 'weights.bin'), real);
  }, 60_000);

  it('the ONNX cache of a checkpoint linked to a file outside: segment is refused, naming it', async () => {
    const link = plant(join(runDir, 'checkpoints', 'last', 'model.onnx'), join(outside, 'victim.png'));
    // The viewer segments through ONNX Runtime (onnxruntime-node), whose cache is checked before use.
    await expect(handlers['viewer:segment']({ runId: RUN, imageId: ID })).rejects.toThrow(link);
    rmSync(link);
  }, 60_000);

  it('review.json and classes.json linked to a file outside: their writes are refused, naming them', async () => {
    const review = plant(join(ws, 'review.json'), join(outside, 'victim.png'));
    await expect(handlers['dataset:setReview']({ ids: [ID], status: 'done' })).rejects.toMatchObject(
      refusal(review),
    );
    rmSync(review);
    const classes = plant(join(ws, 'classes.json'), join(outside, 'victim.png'));
    await expect(handlers['classes:update']({ index: 1, name: 'plane' })).rejects.toMatchObject(
      refusal(classes),
    );
    rmSync(classes);
  });

  it('runs:delete of a run holding a link to a folder outside removes the link, not what it leads to', async () => {
    const other = join(ws, 'runs', 'other');
    cpSync(runDir, other, { recursive: true });
    plant(join(other, 'checkpoints', 'best'), join(outside, 'folder'));
    expect((await handlers['runs:delete']({ runId: 'other' })).deleted).toBe(other);
    expect(existsSync(other)).toBe(false);
  });
});

describe('an attached run', () => {
  it('is only read: segment, drafts and export leave it byte-identical and write into the workspace', async () => {
    const mine = sums(attached);
    const { runId } = await handlers['runs:attach']({ path: attached });
    await handlers['viewer:segment']({ runId, imageId: ID });
    await handlers['drafts:predict']({ runId, imageId: ID });
    const r = await handlers['runs:export']({ runId });
    expect(r.path).toBe(join(ws, 'attached', runId, 'export', `${runId}-last.onnx`));
    expect(lstatSync(r.path).size).toBe(r.bytes);
    expect(sums(attached)).toEqual(mine);
    // Its ONNX Runtime cache was made in the workspace too, keyed by the run.
    expect(existsSync(join(ws, 'attached', runId, 'checkpoints', 'last', 'model.onnx'))).toBe(true);
  }, 90_000);
});
