// `segscope draft --run RUN_DIR [--checkpoint best|last] --input IMG|DIR --out DIR`: writes each image's
// draft exactly as the editor shows it (the engine's probabilities refined against the image by
// shared/draftRefine) as an 8-bit palette PNG at the image's size. CLI process.
import { mkdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { draftUncertainty } from '../../../shared/draftRefine';
import { encodeLabelPng } from '../../../shared/labelPng';
import { writeFileAtomic } from '../../common/atomicFile';
import { refinedDraft } from '../../services/drafts';
import { usage } from '../args';
import { backendOption, imageRunArgs, IMAGE_RUN_OPTIONS, itemProgress, startEngine } from '../runArgs';
import type { EngineStarter } from './cam';

/** What `--json` prints. */
export interface DraftJson {
  run: string;
  checkpoint: 'best' | 'last';
  drafts: {
    image: string;
    out: string;
    width: number;
    height: number;
    /** Class indices present in the draft, ascending. */
    classes: number[];
    /** Share of pixels the draft panel marks uncertain (low confidence or thin regions), 0..1. */
    uncertain: number;
    /** Milliseconds the engine took for this draft, refinement included. */
    ms: number;
  }[];
}

export async function draftCommand(argv: string[], start: EngineStarter = startEngine): Promise<number> {
  const { values } = usage(() =>
    parseArgs({
      args: argv,
      options: IMAGE_RUN_OPTIONS,
    }),
  );
  const { dir, job, checkpoint, files, outDir } = await imageRunArgs('draft', values);
  const palette = Uint8Array.from(job.colormap);
  const host = await start(backendOption(values.backend));
  const src = { runId: basename(dir), runDir: dir, checkpoint, job };
  const result: DraftJson = { run: dir, checkpoint, drafts: [] };
  try {
    await mkdir(outDir, { recursive: true });
    for (const [i, file] of files.entries()) {
      const t = performance.now();
      const d = await refinedDraft(host, src, file);
      const ms = Math.round(performance.now() - t);
      const out = join(outDir, `${basename(file, extname(file))}.png`);
      await writeFileAtomic(
        out,
        encodeLabelPng({ width: d.width, height: d.height, indices: d.labels }, palette),
      );
      const present = new Set(d.labels);
      const uncertain = draftUncertainty(d.labels, d.confidence, d.width, d.height).fraction;
      result.drafts.push({
        image: file,
        out,
        width: d.width,
        height: d.height,
        classes: [...present].sort((a, b) => a - b),
        uncertain: Math.round(uncertain * 1e4) / 1e4,
        ms,
      });
      itemProgress('drafted', i + 1, files.length);
    }
  } finally {
    host.kill('the command finished');
  }
  if (values.json) console.log(JSON.stringify(result, null, 2));
  else console.log(`drafted ${files.length} images into ${outDir}`);
  return 0;
}
