// Times the label PNG codec on a real 500×375 VOC label; runs in Node. Exits with status 1 if a median
// misses its target. Run: node bench/run.mjs bench/labelCodec.bench.ts [another-label.png]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encode as encodePng } from 'fast-png';
import { decodeLabelPng, encodeLabelPng } from '../src/shared/labelPng';

const RUNS = 50;
// Warm-up runs let V8 optimise the hot loops first, so the median reflects steady state, as in the app.
const WARMUP = 10;
const TARGET_MS = 5;

const defaultLabel = fileURLToPath(
  new URL('../../shared/data/voc-val-labels/SegmentationClass/2007_000187.png', import.meta.url),
);
const file = process.argv[3] ?? defaultLabel;
const bytes = new Uint8Array(readFileSync(file));
const label = decodeLabelPng(bytes);
const size = `${label.width}x${label.height}`;

// An RGB mask of the same label, as other tools export it, to time the colour lookup path too.
const rgb = new Uint8Array(label.indices.length * 3);
label.indices.forEach((v, p) => rgb.set(label.palette.subarray(v * 3, v * 3 + 3), p * 3));
const rgbPng = encodePng({ width: label.width, height: label.height, data: rgb, channels: 3, depth: 8 });

function median(fn: () => unknown): number {
  for (let i = 0; i < WARMUP; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    fn();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return (times[(RUNS - 1) >> 1]! + times[RUNS >> 1]!) / 2;
}

const results = [
  { what: `decode ${size} label`, ms: median(() => decodeLabelPng(bytes)), target: TARGET_MS },
  { what: `encode ${size} label`, ms: median(() => encodeLabelPng(label, label.palette)), target: TARGET_MS },
  { what: `decode ${size} RGB mask`, ms: median(() => decodeLabelPng(rgbPng)), target: undefined },
];

console.log(`label codec on ${file}`);
for (const { what, ms, target } of results) {
  const verdict =
    target === undefined
      ? ''
      : ms < target
        ? ` (target < ${target} ms: ok)`
        : ` (target < ${target} ms: MISSED)`;
  console.log(`${what}: median ${ms.toFixed(2)} ms (${RUNS} runs)${verdict}`);
}
if (results.some((r) => r.target !== undefined && r.ms >= r.target)) process.exitCode = 1;
