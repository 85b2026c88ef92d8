// Opening and listing a VOC2012-sized dataset (17,125 images, 2,913 labels): median of 7 runs.
// The folder is generated once under the system temp folder, as symlinks to voc-mini's files.
// Run: node bench/run.mjs bench/dataset.bench.ts
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Dataset } from '../src/main/services/dataset';
import { WorkbenchSession } from '../src/main/services/session';
import { median, timeRuns } from './stats';

const IMAGES = 17_125;
const LABELS = 2_913;
const SOURCE = fileURLToPath(new URL('../../shared/data/voc-mini/VOCdevkit/VOC2012', import.meta.url));

function makeFolder(): string {
  const root = join(tmpdir(), 'segscope-bench-voc2012', 'VOCdevkit', 'VOC2012');
  const jpg = join(root, 'JPEGImages');
  if (existsSync(jpg) && readdirSync(jpg).length === IMAGES) return join(root, '..');
  const seg = join(root, 'SegmentationClass');
  const sets = join(root, 'ImageSets', 'Segmentation');
  for (const d of [jpg, seg, sets]) mkdirSync(d, { recursive: true });
  const samples = readdirSync(join(SOURCE, 'JPEGImages')).map((f) => f.slice(0, -4));
  const ids: string[] = [];
  for (let i = 0; i < IMAGES; i++) {
    const id = `${2007 + (i % 6)}_${String(i).padStart(6, '0')}`;
    const sample = samples[i % samples.length]!;
    ids.push(id);
    symlinkSync(join(SOURCE, 'JPEGImages', `${sample}.jpg`), join(jpg, `${id}.jpg`));
    if (i < LABELS) symlinkSync(join(SOURCE, 'SegmentationClass', `${sample}.png`), join(seg, `${id}.png`));
  }
  const labelled = ids.slice(0, LABELS);
  writeFileSync(join(sets, 'train.txt'), labelled.slice(0, 1464).join('\n') + '\n');
  writeFileSync(join(sets, 'val.txt'), labelled.slice(1464).join('\n') + '\n');
  writeFileSync(join(sets, 'trainval.txt'), labelled.join('\n') + '\n');
  return join(root, '..');
}

export async function main(): Promise<void> {
  const devkit = makeFolder();
  const session = new WorkbenchSession();
  const times = await timeRuns(7, async () => {
    await session.open(devkit);
    session.dataset.summary();
    session.dataset.list({}, 0, 200);
  });
  const ds: Dataset = session.dataset;
  const s = ds.summary();
  console.log(
    `dataset: ${s.imageCount} images, ${s.labeledCount} labels, splits ${s.splits.map((x) => `${x.name} ${x.count}`).join(', ')}`,
  );
  console.log(
    `open + summary + first page of 200: median ${median(times).toFixed(1)} ms (7 runs; min ${Math.min(...times).toFixed(1)}, max ${Math.max(...times).toFixed(1)})`,
  );
  const filterTimes = await timeRuns(
    7,
    async () => void ds.list({ split: 'val', labeled: true, search: '2009' }, 0, 200),
  );
  console.log(
    `filtered list (split + labelled + search): median ${median(filterTimes).toFixed(2)} ms (7 runs)`,
  );
}
