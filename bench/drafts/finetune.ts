// Times "Fine-tune on reviewed" end to end through the app's own services and a real engine process:
// one fine-tuning pass over 50 images (the train split plus the images marked reviewed) and then the
// refreshed draft of the current image from the new checkpoint. The 50 images are voc-mini's five,
// repeated under new ids (copies) in a temporary VOC-layout folder. Plain Node:
//   node bench/run.mjs bench/drafts/finetune.ts [--model unet-small] [--size 128] [--images 50]
//        [--reviewed 10] [--batch 4] [--runs 3] [--backend auto]
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { BackendPreference } from '../../src/shared/training';
import { DraftService } from '../../src/main/services/drafts';
import { forkSpawner } from '../../src/main/services/engineHost';
import { WorkbenchSession } from '../../src/main/services/session';
import { median } from '../stats';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VOC_MINI = join(ROOT, '..', 'shared', 'data', 'voc-mini', 'VOCdevkit', 'VOC2012');
const VOC_MINI_IDS = ['2007_000032', '2007_000033', '2011_000003', '2011_000006', '2011_000025'];
/** The engine as the app runs it; `npx electron-vite build` makes it. */
const ENGINE = join(ROOT, 'out', 'main', 'engine.js');

interface Options {
  model: string;
  size: number;
  images: number;
  reviewed: number;
  batch: number;
  runs: number;
  backend: BackendPreference;
}

function parse(args: string[]): Options {
  const o: Options = {
    model: 'unet-small',
    size: 128,
    images: 50,
    reviewed: 10,
    batch: 4,
    runs: 3,
    backend: 'auto',
  };
  for (let i = 0; i < args.length; i += 2) {
    const [a, v] = [args[i]!, args[i + 1]];
    if (v === undefined) throw new Error(`${a} needs a value`);
    if (a === '--model') o.model = v;
    else if (a === '--backend') o.backend = v as BackendPreference;
    else if (['--size', '--images', '--reviewed', '--batch', '--runs'].includes(a))
      (o as unknown as Record<string, number>)[a.slice(2)] = Number(v);
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

/** A VOC-layout folder of `n` images: voc-mini's, copied under new ids; `train` lists all but `reviewed`. */
function makeDataset(n: number, reviewed: number): { root: string; ids: string[] } {
  const root = join(mkdtempSync(join(tmpdir(), 'segscope-ft-')), 'VOC2012');
  for (const d of ['JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'])
    mkdirSync(join(root, d), { recursive: true });
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const src = VOC_MINI_IDS[i % VOC_MINI_IDS.length]!;
    const id = `${src}_r${String(i).padStart(3, '0')}`;
    copyFileSync(join(VOC_MINI, 'JPEGImages', `${src}.jpg`), join(root, 'JPEGImages', `${id}.jpg`));
    copyFileSync(
      join(VOC_MINI, 'SegmentationClass', `${src}.png`),
      join(root, 'SegmentationClass', `${id}.png`),
    );
    ids.push(id);
  }
  const seg = join(root, 'ImageSets', 'Segmentation');
  writeFileSync(join(seg, 'train.txt'), ids.slice(0, n - reviewed).join('\n') + '\n');
  writeFileSync(join(seg, 'review.txt'), ids.slice(n - reviewed).join('\n') + '\n');
  return { root, ids };
}

export async function main(args: string[]): Promise<void> {
  const o = parse(args);
  if (!existsSync(ENGINE)) throw new Error(`${ENGINE}: missing; build it first with npx electron-vite build`);
  const { root, ids } = makeDataset(o.images, o.reviewed);
  const session = new WorkbenchSession();
  await session.open(root);
  session.useEngine(forkSpawner(ENGINE));
  const engine = session.training.engine;
  const backend = await engine.start(o.backend);
  console.log(`backend ${backend.name}: ${backend.reason}`);
  const drafts = new DraftService(session);
  const finished = (runId: string) =>
    new Promise<void>((resolve, reject) => {
      const remove = session.addEventSink((event, payload) => {
        const p = payload as { runId: string; status: string; error: string | null };
        if (event !== 'training:finished' || p.runId !== runId) return;
        remove();
        if (p.status === 'done') resolve();
        else reject(new Error(`run ${runId} ${p.status}: ${p.error}`));
      });
    });

  // The model the annotator has: one epoch on the train split (not timed); fine-tuning keeps its split.
  const parent = await session.training.start({
    model: o.model,
    inputSize: o.size,
    batchSize: o.batch,
    epochs: 1,
    lr: 1e-3,
    split: 'train',
    valSplit: null,
    augment: { scale: false, rotate: false, flip: false, hsv: false },
    backend: o.backend,
  });
  await finished(parent.runId);
  await session.dataset.setReview(ids.slice(o.images - o.reviewed), 'done');
  const current = ids[o.images - 1]!;
  await drafts.predict({ runId: parent.runId, imageId: current });

  const totals: number[] = [];
  const trains: number[] = [];
  const refreshes: number[] = [];
  for (let r = 0; r < o.runs; r++) {
    const t0 = performance.now();
    const started = await drafts.finetune({ runId: parent.runId });
    if (started.trainImages !== o.images) throw new Error(`fine-tuned on ${started.trainImages} images`);
    await finished(started.runId);
    const t1 = performance.now();
    const draft = await drafts.predict({ runId: started.runId, imageId: current });
    if (draft.cached) throw new Error('the refreshed draft came from a cache');
    const t2 = performance.now();
    totals.push((t2 - t0) / 1000);
    trains.push((t1 - t0) / 1000);
    refreshes.push((t2 - t1) / 1000);
    console.log(
      `run ${r + 1}: fine-tune ${trains.at(-1)!.toFixed(1)} s + refreshed draft ${refreshes.at(-1)!.toFixed(2)} s = ${totals.at(-1)!.toFixed(1)} s`,
    );
  }
  console.log(
    `${o.model} at ${o.size}², batch ${o.batch}, ${o.images} images (${o.reviewed} reviewed), ${backend.name}: ` +
      `median fine-tune ${median(trains).toFixed(1)} s, refreshed draft ${median(refreshes).toFixed(2)} s, ` +
      `total ${median(totals).toFixed(1)} s over ${o.runs} runs (target: 60 s)`,
  );
  engine.kill('the bench finished');
}
