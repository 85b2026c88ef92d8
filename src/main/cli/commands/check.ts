// `segscope check DIR [--json]`: label problems and the class pixel histogram. Exits 1 when it finds
// a problem. CLI process.
import { checkDataset } from '../../services/check';
import { datasetCommandArgs } from '../openDataset';

export async function check(argv: string[]): Promise<number> {
  const { ds, json } = await datasetCommandArgs(argv);
  const report = await checkDataset(ds, (done, total) => {
    if (!json && process.stderr.isTTY) process.stderr.write(`\rchecked ${done}/${total}`);
  });
  if (json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    if (process.stderr.isTTY) process.stderr.write('\n');
    console.log(`${report.root}: ${report.checked} labels checked, ${report.problems.length} problems`);
    for (const p of report.problems) console.log(`  ${p.kind.padEnd(13)} ${p.id}: ${p.message}`);
    const total = report.classes.reduce((sum, c) => sum + c.pixels, 0) || 1;
    console.log('  index  class            pixels      share  images');
    for (const c of report.classes) {
      const share = ((100 * c.pixels) / total).toFixed(2).padStart(6);
      console.log(
        `  ${String(c.index).padStart(5)}  ${c.name.padEnd(15)} ${String(c.pixels).padStart(10)}  ${share}%  ${c.images}`,
      );
    }
  }
  return report.problems.length > 0 ? 1 : 0;
}
