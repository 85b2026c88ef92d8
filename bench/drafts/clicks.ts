// The click bench: what drafts save in clicks, the measure that matters (issue 25). On voc-mini or any
// VOC-layout folder (only read: the images it uses are copied to a temporary folder), the first `seed`
// labelled images are labelled from scratch and train a starting model with the app's own services and
// a real engine; each further image is then labelled by the simulated annotator of clickModel.ts twice,
// from scratch with the plain tools and from the model's draft (accept it, then fills and polygons),
// for each refinement method; it is marked reviewed, and every k images the app's "Fine-tune on
// reviewed" makes the next model. It prints clicks per image at 0 and 2 px of edge tolerance, the
// ratios to from-scratch as the model learns (after 10, 20 and 40 labelled images, or the folder's
// quarter, half and all when it is smaller), and how long the next image's draft takes. Plain Node, with
// the built engine (npx electron-vite build):
//   node bench/run.mjs bench/drafts/clicks.ts [DATASET] [--seed N] [--images N] [--k N]
//        [--model unet-small] [--size 128] [--batch 2] [--lr 1e-3] [--epochs 40] [--finetune-epochs 1]
//        [--backend auto] [--scratch-only] [--memorise]
// Defaults are the training panel's CPU defaults; seed and k follow the folder's size. --memorise trains
// on every image and drafts them all with that one model: not what drafts save (the model has seen the
// image), but a good low-resolution draft on which to compare the refinements where a folder is too small
// for a model to learn (voc-mini).
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { DEFAULT_REFINE, type RefineOptions } from '../../src/shared/draftRefine';
import { decodeLabelPng } from '../../src/shared/labelPng';
import type { BackendPreference } from '../../src/shared/training';
import { Dataset } from '../../src/main/services/dataset';
import { DraftService, refinedDraft } from '../../src/main/services/drafts';
import { forkSpawner } from '../../src/main/services/engineHost';
import { WorkbenchSession } from '../../src/main/services/session';
import { countClicks, type Clicks } from './clickModel';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VOC_MINI = join(ROOT, '..', 'shared', 'data', 'voc-mini', 'VOCdevkit', 'VOC2012');
const ENGINE = join(ROOT, 'out', 'main', 'engine.js');
const TOLERANCES = [0, 2] as const;

/**
 * The refinements compared; `app` is what the editor shows (DEFAULT_REFINE: guided filter and merging),
 * asked first so that its time includes loading a freshly fine-tuned checkpoint.
 */
const VARIANTS: Record<string, Partial<RefineOptions>> = {
  app: {},
  plain: { method: 'none', minRegion: 0, sliverConfidence: 0 },
  guided: { method: 'guided', minRegion: 0, sliverConfidence: 0 },
  'plain+merge': { method: 'none' },
  'superpixel+merge': { method: 'superpixel' },
  'guided r2': { radius: 2 },
  'guided r16': { radius: 16 },
  'merge 0.2%': { minRegion: 0.002 },
};

interface Options {
  dataset: string;
  seed: number | null;
  images: number | null;
  k: number | null;
  model: string;
  size: number;
  batch: number;
  lr: number;
  epochs: number;
  finetuneEpochs: number;
  backend: BackendPreference;
  scratchOnly: boolean;
  memorise: boolean;
}

function parse(args: string[]): Options {
  const o: Options = {
    dataset: VOC_MINI,
    seed: null,
    images: null,
    k: null,
    model: 'unet-small',
    size: 128,
    batch: 2,
    lr: 1e-3,
    epochs: 40,
    finetuneEpochs: 1,
    backend: 'auto',
    scratchOnly: false,
    memorise: false,
  };
  const numeric: Record<string, keyof Options> = {
    '--seed': 'seed',
    '--images': 'images',
    '--k': 'k',
    '--size': 'size',
    '--batch': 'batch',
    '--lr': 'lr',
    '--epochs': 'epochs',
    '--finetune-epochs': 'finetuneEpochs',
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--scratch-only' || a === '--memorise') {
      if (a === '--memorise') o.memorise = true;
      else o.scratchOnly = true;
      continue;
    }
    if (!a.startsWith('--')) {
      o.dataset = resolve(a);
      continue;
    }
    const v = args[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    if (a === '--model') o.model = v;
    else if (a === '--backend') o.backend = v as BackendPreference;
    else if (numeric[a]) (o as unknown as Record<string, number>)[numeric[a]] = Number(v);
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN);
const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '—');
const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '—');

/** The labelled counts the figures are given at: 10, 20, 40, or quarter, half and all of a small folder. */
function marks(total: number): number[] {
  const fixed = [10, 20, 40].filter((m) => m <= total);
  if (fixed.length >= 2) return fixed;
  return [...new Set([Math.ceil(total / 4), Math.ceil(total / 2), total])];
}

interface Row {
  id: string;
  /** Labelled images the model that drafted this one had learnt from. */
  learnt: number;
  scratch: Clicks[];
  drafts: Record<string, Clicks[]>;
  draftMs: number;
}

export async function main(args: string[]): Promise<void> {
  const o = parse(args);
  const source = await Dataset.open(o.dataset);
  const labelled = source.ids.filter((id) => source.hasLabel(id));
  const total = Math.min(labelled.length, o.images ?? labelled.length);
  const seed = o.memorise ? total : (o.seed ?? Math.min(10, Math.max(2, Math.floor(total / 4))));
  const k = o.k ?? Math.max(1, Math.round(total / 20));
  const ids = labelled.slice(0, total);
  if (ids.length <= seed && !o.memorise)
    throw new Error(`${o.dataset}: needs more than ${seed} labelled images`);
  const gtOf = (id: string) => decodeLabelPng(readFileSync(source.labelPath(id)));

  console.log(
    `${o.dataset}: ${ids.length} labelled images; the first ${seed} from scratch train the starting model ` +
      `(${o.model} at ${o.size}², batch ${o.batch}, lr ${o.lr}, ${o.epochs} epochs), then fine-tune every ${k} ` +
      `(${o.finetuneEpochs} epochs). Clicks: polygon vertices (Douglas–Peucker 1 px), 1 per fill or accept; ` +
      `patches under 16 px forgiven. Smart tools (scissors, GrabCut, superpixel brush): not available in ` +
      `this branch, not counted.`,
  );
  const rows: Row[] = [];
  const scratchOf = (id: string) => {
    const gt = gtOf(id);
    return TOLERANCES.map((t) =>
      countClicks(new Uint8Array(gt.indices.length), gt.indices, gt.width, gt.height, t),
    );
  };
  if (o.scratchOnly) {
    for (const id of ids) {
      const s = scratchOf(id);
      console.log(`${id}  from scratch: ${s.map((c) => `${c.total} (${c.polygons} polygons)`).join(' / ')}`);
    }
    return;
  }
  if (!existsSync(ENGINE)) throw new Error(`${ENGINE}: missing; build it first with npx electron-vite build`);

  const root = join(mkdtempSync(join(tmpdir(), 'segscope-clicks-')), 'VOC2012');
  for (const d of ['JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'])
    mkdirSync(join(root, d), { recursive: true });
  for (const id of ids) {
    copyFileSync(source.imagePath(id), join(root, 'JPEGImages', source.imageFile(id)));
    copyFileSync(source.labelPath(id), join(root, 'SegmentationClass', `${id}.png`));
  }
  writeFileSync(join(root, 'ImageSets', 'Segmentation', 'train.txt'), ids.slice(0, seed).join('\n') + '\n');
  const session = new WorkbenchSession();
  await session.open(root);
  session.useEngine(forkSpawner(ENGINE));
  const engine = session.training.engine;
  const backend = await engine.start(o.backend);
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
  try {
    let t = performance.now();
    let run = (
      await session.training.start({
        model: o.model,
        inputSize: o.size,
        batchSize: o.batch,
        epochs: o.epochs,
        lr: o.lr,
        schedule: 'constant',
        split: 'train',
        valSplit: null,
        augment: { scale: false, rotate: false, flip: true, hsv: false },
        backend: o.backend,
      })
    ).runId;
    await finished(run);
    console.log(`starting model on ${backend.name}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
    let learnt = seed;
    const names = Object.keys(VARIANTS);
    console.log(
      `image         learnt  scratch 0px/2px  ${names.map((n) => `${n} 0px/2px`).join('  ')}  draft ms`,
    );
    for (const [i, id] of (o.memorise ? ids : ids.slice(seed)).entries()) {
      const gt = gtOf(id);
      const src = await drafts.source(run);
      const row: Row = { id, learnt, scratch: scratchOf(id), drafts: {}, draftMs: 0 };
      for (const name of names) {
        t = performance.now();
        const d =
          name === 'app'
            ? await refinedDraft(engine, src, session.dataset.imagePath(id))
            : await engine.request({
                type: 'draft',
                runDir: src.runDir,
                checkpoint: src.checkpoint,
                image: session.dataset.imagePath(id),
                refine: VARIANTS[name],
              });
        if (name === 'app') row.draftMs = performance.now() - t;
        // Accepting costs a click only when the draft differs from the empty (all background) start.
        const accept = d.labels.some((l) => l !== 0) ? 1 : 0;
        row.drafts[name] = TOLERANCES.map((tol) =>
          countClicks(d.labels, gt.indices, gt.width, gt.height, tol, accept),
        );
      }
      rows.push(row);
      console.log(
        `${id.padEnd(13)} ${String(learnt).padStart(6)}  ${row.scratch.map((c) => String(c.total).padStart(6)).join(' /')}   ` +
          names
            .map((n) =>
              row.drafts[n]!.map((c) => String(c.total).padStart(5))
                .join(' /')
                .padEnd(n.length + 9),
            )
            .join('  ') +
          `  ${row.draftMs.toFixed(0).padStart(7)}`,
      );
      // The corrected label is the ground truth already on disk; the annotator marks it reviewed.
      await session.dataset.setReview([id], 'done');
      if (o.memorise) continue;
      learnt++;
      if ((i + 1) % k === 0 && i + 1 < ids.length - seed) {
        t = performance.now();
        const ft = await drafts.finetune({ runId: run, epochs: o.finetuneEpochs });
        await finished(ft.runId);
        run = ft.runId;
        console.log(
          `  fine-tuned on ${ft.trainImages} images in ${((performance.now() - t) / 1000).toFixed(1)} s`,
        );
      }
    }
  } finally {
    engine.kill('the bench finished');
  }

  // Ratios to from-scratch over the images drafted by a model that had learnt up to each mark.
  const names = Object.keys(VARIANTS);
  let from = 0;
  console.log('\nclicks per image (0 px / 2 px) and the ratio drafts : from scratch');
  for (const mark of o.memorise ? [total] : marks(ids.length)) {
    const group = rows.filter((r) => r.learnt > from && r.learnt <= mark);
    from = mark;
    if (!group.length) continue;
    const s = TOLERANCES.map((_, j) => mean(group.map((r) => r.scratch[j]!.total)));
    const parts = names.map((n) => {
      const d = TOLERANCES.map((_, j) => mean(group.map((r) => r.drafts[n]![j]!.total)));
      return `${n} ${f1(d[0]!)} / ${f1(d[1]!)} (${f2(d[0]! / s[0]!)}× / ${f2(d[1]! / s[1]!)}×)`;
    });
    console.log(
      `learnt ≤ ${mark} (${group.length} images): scratch ${f1(s[0]!)} / ${f1(s[1]!)}; ${parts.join('; ')}`,
    );
  }
  for (const n of names) {
    const worse = rows.filter((r) => r.drafts[n]![0]!.total > r.scratch[0]!.total).length;
    const worse2 = rows.filter((r) => r.drafts[n]![1]!.total > r.scratch[1]!.total).length;
    console.log(`${n}: costs more than no draft on ${worse} / ${worse2} of ${rows.length} images (0 / 2 px)`);
  }
  const ms = rows.map((r) => r.draftMs).sort((a, b) => a - b);
  console.log(
    `drafting the next image (the app's refined draft, engine round trip): median ` +
      `${ms[Math.floor(ms.length / 2)]!.toFixed(0)} ms, worst ${ms.at(-1)!.toFixed(0)} ms (target < 2000 ms); ` +
      `app refinement: ${JSON.stringify(DEFAULT_REFINE)}`,
  );
}
