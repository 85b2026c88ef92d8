// `segscope draft` on a tiny run trained here on voc-mini, through the real engine process (the worker
// bundled from source, injected in place of the built out/main/engine.js): one palette PNG per image at
// its size that PIL reads as mode P, the very labels the shared refinement gives for the checkpoint's
// probabilities, the --json shape, and exit 2 for bad usage with nothing written.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { selectBackend } from '../../../../src/main/engine/backend';
import { readRgb } from '../../../../src/main/engine/data/samples';
import { classProbabilities } from '../../../../src/main/engine/infer';
import { loadCheckpoint } from '../../../../src/main/engine/io/checkpoint';
import { getModelSpec } from '../../../../src/main/engine/models/registry';
import { train } from '../../../../src/main/engine/train';
import type { DraftJson } from '../../../../src/main/cli/commands/draft';
import { refineDraft } from '../../../../src/shared/draftRefine';
import { decodeLabelPng } from '../../../../src/shared/labelPng';
import { vocColormap } from '../../../../src/shared/voc';
import { bundleForNode } from '../../../helpers/bundle';
import { cliWithEngine } from '../../../helpers/cliEngine';
import { captureConsole } from '../../../helpers/console';
import { tempDir, VOC_MINI, VOC_MINI_IDS } from '../../../helpers/data';
import { vocMiniJob } from '../../../helpers/runs';

const IMAGES = join(VOC_MINI, 'JPEGImages');
let entry: string;
let runDir: string;

beforeAll(async () => {
  entry = await bundleForNode('src/main/engine/worker.ts');
  await selectBackend('wasm');
  runDir = join(tempDir(), 'run');
  await train(vocMiniJob({ epochs: 3 }, runDir), {
    progress: () => {},
    cancelled: () => false,
    backend: 'wasm',
  });
}, 180_000);

afterEach(() => vi.restoreAllMocks());
const cli = (argv: string[]) => cliWithEngine(entry, argv);

describe('segscope draft', () => {
  it('writes each refined draft as a palette PNG at the image size, as the shared refinement makes it', async () => {
    const { out, err } = captureConsole();
    const dir = join(tempDir(), 'drafts');
    const status = await cli([
      'draft',
      '--run',
      runDir,
      '--input',
      IMAGES,
      '--out',
      dir,
      '--backend',
      'wasm',
      '--json',
    ]);
    expect(err).toEqual([]);
    expect(status).toBe(0);
    const json = JSON.parse(out.join('\n')) as DraftJson;
    expect(json.checkpoint).toBe('best');
    expect(json.drafts.map((d) => d.out)).toEqual(VOC_MINI_IDS.map((id) => join(dir, `${id}.png`)));
    // PIL (Debian's Python, which has it) reads each as an 8-bit palette image at the image's size.
    const pil = execFileSync(
      '/usr/bin/python3',
      [
        '-c',
        'import sys\nfrom PIL import Image\nfor p in sys.argv[1:]:\n  im = Image.open(p); print(im.mode, *im.size)',
        ...json.drafts.map((d) => d.out),
      ],
      { encoding: 'utf8' },
    );
    const sizes = await Promise.all(VOC_MINI_IDS.map(async (id) => readRgb(join(IMAGES, `${id}.jpg`))));
    expect(pil.trim().split('\n')).toEqual(sizes.map((s) => `P ${s.width} ${s.height}`));
    for (const d of json.drafts) {
      expect(d.uncertain).toBeGreaterThanOrEqual(0);
      expect(d.uncertain).toBeLessThanOrEqual(1);
      expect(d.ms).toBeGreaterThan(0);
    }
    // The same labels as the refinement of the checkpoint's probabilities, in the run's palette.
    const { model } = await loadCheckpoint(join(runDir, 'checkpoints', 'best'));
    try {
      const image = sizes[0]!;
      const probs = await classProbabilities(
        { model, inputSize: 64, normalization: getModelSpec('unet-small').normalization },
        image,
      );
      const expected = refineDraft(image, probs);
      const png = decodeLabelPng(readFileSync(json.drafts[0]!.out));
      expect(png.indices).toEqual(expected.labels);
      expect(json.drafts[0]!.classes).toEqual([...new Set(expected.labels)].sort((a, b) => a - b));
      expect(png.palette.slice(0, 63)).toEqual(vocColormap().slice(0, 63));
    } finally {
      model.dispose();
    }
  }, 120_000);

  it('exits 2 for bad usage, names the problem, and writes nothing', async () => {
    const { err } = captureConsole();
    const dir = join(tempDir(), 'none');
    let run = cli(['draft', '--run', runDir, '--out', dir]);
    expect(await run).toBe(2);
    expect(err.at(-1)).toContain('draft needs --input IMG|DIR');
    run = cli(['draft', '--run', runDir, '--input', join(IMAGES, 'nope.jpg'), '--out', dir]);
    expect(await run).toBe(2);
    expect(err.at(-1)).toContain('nope.jpg: no such file or folder');
    run = cli(['draft', '--run', runDir, '--input', IMAGES, '--out', dir, '--checkpoint', 'first']);
    expect(await run).toBe(2);
    expect(err.at(-1)).toContain('--checkpoint must be best or last');
    expect(run.engines()).toBe(0);
    expect(existsSync(dir)).toBe(false);
  });
});
