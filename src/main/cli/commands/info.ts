// `segscope info DIR [--json]`: classes, splits and counts of a dataset. CLI process.
import { datasetCommandArgs } from '../openDataset';

/** The `--json` shape, documented in the README. */
export interface InfoJson {
  root: string;
  images: number;
  labeled: number;
  unlisted: number;
  label_dir: string;
  class_source: string;
  classes: { index: number; name: string; color: [number, number, number] }[];
  splits: Record<string, number>;
}

export async function info(argv: string[]): Promise<number> {
  const { ds, json } = await datasetCommandArgs(argv);
  const s = ds.summary();
  const out: InfoJson = {
    root: s.root,
    images: s.imageCount,
    labeled: s.labeledCount,
    unlisted: s.unlistedCount,
    label_dir: s.labelDir,
    class_source: s.classSource,
    classes: s.classes.map((c) => ({ index: c.index, name: c.name, color: [...c.color] })),
    splits: Object.fromEntries(s.splits.map((x) => [x.name, x.count])),
  };
  if (json) {
    console.log(JSON.stringify(out, null, 2));
    return 0;
  }
  console.log(`${out.root}`);
  console.log(`  images ${out.images}, labelled ${out.labeled}, in no split ${out.unlisted}`);
  console.log(
    `  splits ${
      Object.entries(out.splits)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || '(none)'
    }`,
  );
  console.log(
    `  ${out.classes.length} classes (${out.class_source}): ${out.classes.map((c) => c.name).join(', ')}`,
  );
  return 0;
}
