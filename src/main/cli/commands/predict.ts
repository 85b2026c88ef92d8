// `segscope predict --run RUN_DIR --input IMG|DIR --out DIR [--blend]`: segments images with a trained
// run and writes palette PNGs (and blends at alpha 0.7). CLI process.
import { parseArgs } from 'node:util';
import { usage } from '../args';
import { backendOption, imageRunArgs, IMAGE_RUN_OPTIONS, itemProgress, startEngine } from '../runArgs';

export async function predict(argv: string[]): Promise<number> {
  const { values } = usage(() =>
    parseArgs({
      args: argv,
      options: { ...IMAGE_RUN_OPTIONS, blend: { type: 'boolean' } },
    }),
  );
  const { dir, job, checkpoint, files, outDir } = await imageRunArgs('predict', values);
  const host = await startEngine(backendOption(values.backend));
  try {
    const result = await host.request(
      {
        type: 'predict',
        runDir: dir,
        checkpoint,
        files,
        outDir,
        blend: !!values.blend,
        colormap: job.colormap,
      },
      (p) => {
        if (p.kind === 'items') itemProgress('segmented', p.done, p.total);
      },
    );
    if (values.json) console.log(JSON.stringify({ images: files.length, written: result.written }, null, 2));
    else console.log(`segmented ${files.length} images into ${outDir}`);
    return 0;
  } finally {
    host.kill('the command finished');
  }
}
