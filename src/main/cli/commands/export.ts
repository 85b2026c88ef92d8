// `segscope export --run RUN_DIR [--checkpoint best|last] --out model.onnx [--json]`: writes a trained
// run's checkpoint as an ONNX file that ONNX Runtime, OpenCV's DNN module or TensorRT can load. CLI process.
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { usage, UsageError } from '../args';
import { backendOption, checkpointOption, runFromArgs, startEngine } from '../runArgs';
import type { EngineStarter } from './cam';

export async function exportCommand(argv: string[], start: EngineStarter = startEngine): Promise<number> {
  const { values } = usage(() =>
    parseArgs({
      args: argv,
      options: {
        run: { type: 'string' },
        checkpoint: { type: 'string' },
        out: { type: 'string' },
        backend: { type: 'string' },
        json: { type: 'boolean' },
      },
    }),
  );
  if (!values.out) throw new UsageError('export needs --out FILE.onnx');
  const out = resolve(values.out);
  if (!out.toLowerCase().endsWith('.onnx')) throw new UsageError(`--out ${out}: the file must end in .onnx`);
  const folder = await stat(dirname(out)).catch(() => null);
  if (!folder?.isDirectory()) throw new UsageError(`--out ${out}: the folder ${dirname(out)} does not exist`);
  const { dir, job } = await runFromArgs(values.run);
  const checkpoint = checkpointOption(values.checkpoint);
  const host = await start(backendOption(values.backend));
  try {
    const result = await host.request({ type: 'export', runDir: dir, checkpoint, out });
    const summary = {
      path: result.path,
      bytes: result.bytes,
      opset: result.opset,
      model: job.settings.model,
      checkpoint,
      inputSize: job.settings.inputSize,
      classes: job.classNames.length,
    };
    if (values.json) console.log(JSON.stringify(summary, null, 2));
    else
      console.log(
        `exported ${job.settings.model} (${checkpoint}) to ${out}: ${(result.bytes / 1e6).toFixed(1)} MB, ` +
          `ONNX opset ${result.opset}, input [N, ${job.settings.inputSize}, ${job.settings.inputSize}, 3]`,
      );
    return 0;
  } finally {
    host.kill('the command finished');
  }
}
