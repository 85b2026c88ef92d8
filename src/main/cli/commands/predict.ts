// `segscope predict --run RUN_DIR --input IMG|DIR --out DIR [--blend]`: segments images with a trained
// run and writes palette PNGs (and blends at alpha 0.7). CLI process.
import { readdir, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { IMAGE_EXTENSIONS } from '../../services/vocFolder';
import { usage, UsageError } from '../args';
import { backendOption, resolveCheckpoint, itemProgress, runFromArgs, startEngine } from '../runArgs';

/** The image files `--input` names: one file, or the jpg, jpeg and png files of a folder, sorted. */
export async function inputFiles(input: string): Promise<string[]> {
  const path = resolve(input);
  const info = await stat(path).catch(() => null);
  if (!info) throw new UsageError(`--input ${path}: no such file or folder`);
  if (info.isFile()) return [path];
  const names = (await readdir(path)).filter((n) =>
    (IMAGE_EXTENSIONS as readonly string[]).includes(extname(n).toLowerCase()),
  );
  if (names.length === 0) throw new UsageError(`--input ${path}: holds no jpg, jpeg or png images`);
  return names.sort().map((n) => join(path, n));
}

export async function predict(argv: string[]): Promise<number> {
  const { values } = usage(() =>
    parseArgs({
      args: argv,
      options: {
        run: { type: 'string' },
        input: { type: 'string' },
        out: { type: 'string' },
        blend: { type: 'boolean' },
        checkpoint: { type: 'string' },
        backend: { type: 'string' },
        json: { type: 'boolean' },
      },
    }),
  );
  if (!values.input) throw new UsageError('predict needs --input IMG|DIR');
  if (!values.out) throw new UsageError('predict needs --out DIR');
  const { dir, job } = await runFromArgs(values.run);
  const checkpoint = await resolveCheckpoint(dir, values.checkpoint);
  const files = await inputFiles(values.input);
  const host = await startEngine(backendOption(values.backend));
  try {
    const result = await host.request(
      {
        type: 'predict',
        runDir: dir,
        checkpoint,
        files,
        outDir: resolve(values.out),
        blend: !!values.blend,
        colormap: job.colormap,
      },
      (p) => {
        if (p.kind === 'items') itemProgress('segmented', p.done, p.total);
      },
    );
    if (values.json) console.log(JSON.stringify({ images: files.length, written: result.written }, null, 2));
    else console.log(`segmented ${files.length} images into ${resolve(values.out)}`);
    return 0;
  } finally {
    host.kill('the command finished');
  }
}
