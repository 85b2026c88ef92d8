// Child process for the crash-safety test: saves two label maps of one image in turn, forever,
// through the real label service, printing a line after each save. The test kills it with SIGKILL.
// Usage: saveLoop.mjs DATASET_ROOT ID PRISTINE_LABEL_PNG
import { readFileSync } from 'node:fs';
import { decodeLabelPng } from '../../src/shared/labelPng';
import { Dataset } from '../../src/main/services/dataset';
import { saveLabel } from '../../src/main/services/labels';

const [root, id, pristine] = process.argv.slice(2) as [string, string, string];
const ds = await Dataset.open(root);
// Both maps come from the untouched original, so every run writes the same two states.
const original = decodeLabelPng(readFileSync(pristine));
const flipped = original.indices.map((v) => (v === 255 ? 255 : (v + 7) % 21));
for (let n = 0; ; n++) {
  const indices = n % 2 === 0 ? flipped : original.indices;
  await saveLabel(ds, {
    id,
    width: original.width,
    height: original.height,
    indices,
    baseVersion: null,
    force: true,
  });
  process.stdout.write(`saved ${n}\n`);
}
