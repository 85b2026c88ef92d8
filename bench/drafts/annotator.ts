// A simulated annotator measures what drafts save: starting from a model trained on a few images, it
// takes each further image in turn, accepts the model's draft, corrects it to the ground truth (counting
// the pixels it had to change), marks the image reviewed, and every k images fine-tunes on the reviewed
// ones through the app's own "Fine-tune on reviewed". It prints the pixels corrected per image with
// drafts against labelling from scratch (all background to start), and how that falls as the model
// learns. Works on voc-mini or any VOC-layout folder; the images it uses are copied to a temporary
// folder, so the dataset is only read. Plain Node, with the built engine (npx electron-vite build):
//   node bench/run.mjs bench/drafts/annotator.ts [DATASET] [--seed 2] [--images 20] [--k 1]
//        [--model unet-small] [--size 64] [--epochs 20] [--finetune-epochs 3] [--threshold 0.9]
//        [--backend auto]
// Two ways of accepting are counted: the whole draft, and the draft only where its confidence is at
// least the threshold (background elsewhere, as from scratch).
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { decodeLabelPng } from '../../src/shared/labelPng';
import type { BackendPreference } from '../../src/shared/training';
import { VOID_INDEX } from '../../src/shared/voc';
import { DraftService } from '../../src/main/services/drafts';
import { Dataset } from '../../src/main/services/dataset';
import { forkSpawner } from '../../src/main/services/engineHost';
import { WorkbenchSession } from '../../src/main/services/session';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VOC_MINI = join(ROOT, '..', 'shared', 'data', 'voc-mini', 'VOCdevkit', 'VOC2012');
const ENGINE = join(ROOT, 'out', 'main', 'engine.js');

interface Options {
  dataset: string;
  seed: number;
  images: number;
  k: number;
  model: string;
  size: number;
  epochs: number;
  finetuneEpochs: number;
  /** "Accept confident" takes the draft only where its confidence is at least this. */
  threshold: number;
  backend: BackendPreference;
}

function parse(args: string[]): Options {
  const o: Options = {
    dataset: VOC_MINI,
    seed: 2,
    images: 20,
    k: 1,
    model: 'unet-small',
    size: 64,
    epochs: 20,
    finetuneEpochs: 3,
    threshold: 0.9,
    backend: 'auto',
  };
  const numeric: Record<string, keyof Options> = {
    '--seed': 'seed',
    '--images': 'images',
    '--k': 'k',
    '--size': 'size',
    '--epochs': 'epochs',
    '--finetune-epochs': 'finetuneEpochs',
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) {
      o.dataset = resolve(a);
      continue;
    }
    const v = args[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    if (a === '--model') o.model = v;
    else if (a === '--backend') o.backend = v as BackendPreference;
    else if (a === '--threshold') o.threshold = Number(v);
    else if (numeric[a]) (o as unknown as Record<string, number>)[numeric[a]] = Number(v);
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

/** Pixels the annotator must change to turn `start` into `gt`; void ground truth is not drawn. */
function toCorrect(start: Uint8Array, gt: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < gt.length; i++) if (gt[i] !== VOID_INDEX && start[i] !== gt[i]) n++;
  return n;
}

const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN);

export async function main(args: string[]): Promise<void> {
  const o = parse(args);
  if (!existsSync(ENGINE)) throw new Error(`${ENGINE}: missing; build it first with npx electron-vite build`);
  const source = await Dataset.open(o.dataset);
  // The labelled images in the dataset's order: the first `seed` train the starting model.
  const ids = source.ids.filter((id) => source.hasLabel(id)).slice(0, o.seed + o.images);
  if (ids.length <= o.seed) throw new Error(`${o.dataset}: needs more than ${o.seed} labelled images`);
  const root = join(mkdtempSync(join(tmpdir(), 'segscope-annotator-')), 'VOC2012');
  for (const d of ['JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'])
    mkdirSync(join(root, d), { recursive: true });
  for (const id of ids) {
    copyFileSync(source.imagePath(id), join(root, 'JPEGImages', source.imageFile(id)));
    copyFileSync(source.labelPath(id), join(root, 'SegmentationClass', `${id}.png`));
  }
  writeFileSync(join(root, 'ImageSets', 'Segmentation', 'train.txt'), ids.slice(0, o.seed).join('\n') + '\n');

  const session = new WorkbenchSession();
  await session.open(root);
  session.useEngine(forkSpawner(ENGINE));
  const backend = await session.training.engine.start(o.backend);
  const drafts = new DraftService(session);
  const finished = (runId: string) =>
    new Promise<void>((ok, fail) => {
      const remove = session.addEventSink((event, payload) => {
        const p = payload as { runId: string; status: string; error: string | null };
        if (event !== 'training:finished' || p.runId !== runId) return;
        remove();
        if (p.status === 'done') ok();
        else fail(new Error(`run ${runId} ${p.status}: ${p.error}`));
      });
    });

  console.log(
    `${o.dataset}: ${o.model} at ${o.size}² on ${backend.name}; start from ${o.seed} images ` +
      `(${o.epochs} epochs), annotate ${ids.length - o.seed}, fine-tune every ${o.k} (${o.finetuneEpochs} epochs)`,
  );
  let t = performance.now();
  let run = (
    await session.training.start({
      model: o.model,
      inputSize: o.size,
      batchSize: 4,
      epochs: o.epochs,
      lr: 2e-3,
      schedule: 'constant',
      split: 'train',
      valSplit: null,
      augment: { scale: false, rotate: false, flip: true, hsv: false },
      backend: o.backend,
    })
  ).runId;
  await finished(run);
  console.log(`starting model: ${((performance.now() - t) / 1000).toFixed(1)} s`);

  const withDraft: number[] = [];
  const confident: number[] = [];
  const fromScratch: number[] = [];
  console.log(`image          pixels  draft  ≥${o.threshold}  scratch  draft/scratch  run`);
  for (const [i, id] of ids.slice(o.seed).entries()) {
    const gt = decodeLabelPng(readFileSync(join(root, 'SegmentationClass', `${id}.png`))).indices;
    const draft = await drafts.predict({ runId: run, imageId: id });
    const d = toCorrect(draft.labels, gt);
    const sure = draft.labels.map((c, j) => (draft.confidence[j]! >= o.threshold ? c : 0));
    const c = toCorrect(sure, gt);
    const s = toCorrect(new Uint8Array(gt.length), gt);
    withDraft.push(d);
    confident.push(c);
    fromScratch.push(s);
    console.log(
      `${id.padEnd(14)} ${String(gt.length).padStart(6)} ${String(d).padStart(6)} ${String(c).padStart(6)} ${String(s).padStart(8)}  ` +
        `${(d / Math.max(1, s)).toFixed(2).padStart(13)}  ${run}`,
    );
    // The corrected label is the ground truth already on disk; the annotator marks it reviewed.
    await session.dataset.setReview([id], 'done');
    if ((i + 1) % o.k === 0 && i + 1 < ids.length - o.seed) {
      t = performance.now();
      const ft = await drafts.finetune({ runId: run, epochs: o.finetuneEpochs });
      await finished(ft.runId);
      run = ft.runId;
      console.log(
        `  fine-tuned on ${ft.trainImages} images in ${((performance.now() - t) / 1000).toFixed(1)} s`,
      );
    }
  }
  const half = Math.ceil(withDraft.length / 2);
  console.log(
    `pixels corrected per image: drafts ${mean(withDraft).toFixed(0)}, from scratch ${mean(fromScratch).toFixed(0)} ` +
      `(ratio ${(mean(withDraft) / mean(fromScratch)).toFixed(2)}), confident only ${mean(confident).toFixed(0)} ` +
      `(ratio ${(mean(confident) / mean(fromScratch)).toFixed(2)}); first ${half} images ` +
      `${mean(withDraft.slice(0, half)).toFixed(0)} vs ${mean(fromScratch.slice(0, half)).toFixed(0)}, ` +
      `last ${withDraft.length - half} ${mean(withDraft.slice(half)).toFixed(0)} vs ${mean(fromScratch.slice(half)).toFixed(0)}`,
  );
  session.training.engine.kill('the bench finished');
}
