// How the CLI prints segmentation metrics, shared by `eval` and `eval-masks`. CLI process.
import type { SegmentationMetrics } from '../../../shared/metrics';

const pct = (v: number | null, width = 7) => (v === null ? '—' : (100 * v).toFixed(2)).padStart(width);
const pctMean = (v: number | null) => (v === null ? '—' : `${(100 * v).toFixed(2)}%`);

/** The per-class table and the means, as percentages. */
export function printMetricsTable(metrics: SegmentationMetrics): void {
  const nameWidth = Math.max(15, ...metrics.per_class.map((c) => c.name.length));
  console.log(
    `  index  ${'class'.padEnd(nameWidth)}     IoU  precis.   recall       F1   gt pixels  pred pixels`,
  );
  for (const c of metrics.per_class) {
    console.log(
      `  ${String(c.index).padStart(5)}  ${c.name.padEnd(nameWidth)} ${pct(c.iou)}  ${pct(c.precision)}  ` +
        `${pct(c.recall)}  ${pct(c.f1)}  ${String(c.gt_pixels).padStart(10)}  ${String(c.pred_pixels).padStart(11)}`,
    );
  }
  console.log(
    `  mIoU ${pctMean(metrics.miou)}  mPA ${pctMean(metrics.mpa)}  mPrecision ${pctMean(metrics.mprecision)}  ` +
      `mRecall ${pctMean(metrics.mrecall)}  mF1 ${pctMean(metrics.f1)}  ` +
      `pixel accuracy ${pctMean(metrics.pixel_accuracy)}`,
  );
  console.log(
    '  (percentages; — marks a value that is undefined for lack of pixels and left out of the means)',
  );
}

/** JSON indented, but with each array of numbers (a confusion row) on one line: 21 lines rather than 483. */
export function metricsJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    /\[\s+(-?[\d.e+-]+(?:,\s+-?[\d.e+-]+)*)\s+\]/g,
    (_, nums: string) => `[${nums.split(/,\s+/).join(', ')}]`,
  );
}
