// Kills a process in the middle of saving labels, many times, and checks that the label on disk is
// always one of the two complete maps, never a torn or truncated file.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeLabelPng } from '../../../../src/shared/labelPng';
import { sweepTempFiles, TEMP_SUFFIX } from '../../../../src/main/common/atomicFile';
import { bundleForNode } from '../../../helpers/bundle';
import { copyVocMini, VOC_MINI } from '../../../helpers/data';

const ID = '2007_000032';
let child: string;
beforeAll(async () => {
  child = await bundleForNode('tests/helpers/saveLoop.ts');
}, 60_000);

/** Starts the save loop, waits for `saves` completed saves plus `extraMs`, then SIGKILLs it. */
function runAndKill(root: string, saves: number, extraMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const pristine = join(VOC_MINI, 'SegmentationClass', `${ID}.png`);
    const proc = spawn(process.execPath, [child, root, ID, pristine], { stdio: ['ignore', 'pipe', 'pipe'] });
    let done = 0;
    let err = '';
    let armed = false;
    proc.stdout.on('data', (chunk: Buffer) => {
      done += chunk.toString().split('\n').filter(Boolean).length;
      if (done >= saves && !armed) {
        armed = true;
        setTimeout(() => proc.kill('SIGKILL'), extraMs);
      }
    });
    proc.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    proc.on('exit', (_code, signal) =>
      signal === 'SIGKILL' ? resolve(done) : reject(new Error(`child ended: ${err}`)),
    );
  });
}

describe('crash safety of label saves', () => {
  it('leaves the complete old or the complete new label after SIGKILL at random moments', async () => {
    const root = copyVocMini();
    const path = join(root, 'SegmentationClass', `${ID}.png`);
    const original = decodeLabelPng(readFileSync(path));
    const flipped = original.indices.map((v) => (v === 255 ? 255 : (v + 7) % 21));
    const seen = { original: 0, flipped: 0 };
    let totalSaves = 0;
    for (let round = 0; round < 30; round++) {
      totalSaves += await runAndKill(root, 1 + (round % 4), (round * 7) % 23);
      const decoded = decodeLabelPng(readFileSync(path)); // throws on a torn file
      expect(decoded.width).toBe(original.width);
      expect(Buffer.from(decoded.palette).equals(Buffer.from(original.palette))).toBe(true);
      const isOriginal = Buffer.from(decoded.indices).equals(Buffer.from(original.indices));
      const isFlipped = Buffer.from(decoded.indices).equals(Buffer.from(flipped));
      expect(isOriginal || isFlipped, `round ${round}: the label is neither complete map`).toBe(true);
      seen[isOriginal ? 'original' : 'flipped']++;
    }
    // The kills really landed between different saves, so both states were observed.
    expect(seen.original).toBeGreaterThan(0);
    expect(seen.flipped).toBeGreaterThan(0);
    expect(totalSaves).toBeGreaterThan(30);
    // Temporary files a kill left behind are swept, and the label is untouched by the sweep.
    await sweepTempFiles(join(root, 'SegmentationClass'), 0);
    expect(readdirSync(join(root, 'SegmentationClass')).filter((f) => f.endsWith(TEMP_SUFFIX))).toEqual([]);
    expect(() => decodeLabelPng(readFileSync(path))).not.toThrow();
    // The original was backed up once, before the first overwrite, and is the true original.
    const backup = readFileSync(join(root, '.segscope', 'backup', 'SegmentationClass', `${ID}.png`));
    expect(Buffer.from(decodeLabelPng(backup).indices).equals(Buffer.from(original.indices))).toBe(true);
  }, 120_000);
});
