// The `segscope` command line. Every command runs over the same services as the app. CLI process.
import { UsageError } from './args';
import { launch } from './launch';
import { check } from './commands/check';
import { evalMasks } from './commands/evalMasks';
import { info } from './commands/info';
import { modelsCommand } from './commands/models';
import { trainCommand } from './commands/train';
import { predict } from './commands/predict';
import { evalRun } from './commands/evalRun';
import { cam, type EngineStarter } from './commands/cam';
import { exportCommand } from './commands/export';
import { parseServeArgs, serve } from './serve';

const HELP = `Segscope: a workbench for semantic segmentation on PASCAL VOC datasets.

Usage:
  segscope                      launch the desktop app; where Electron cannot run, say why and serve the browser UI
  segscope serve [--dataset DIR] [--host 127.0.0.1] [--port N] [--token T]
                                browser UI; prints http://HOST:PORT/?token=...
  segscope info DIR [--year Y] [--json]   classes, splits and counts, labelled count
  segscope check DIR [--year Y] [--json]  label problems and the class pixel histogram
  segscope models [--json]      model ids, parameter counts, named layers
  segscope train --dataset DIR --model ID [--epochs N] [--batch B] [--input-size S] [--lr X]
                 [--split train] [--val-split val] [--backend auto|tensorflow-gpu|tensorflow|wasm|cpu]
                 [--out RUN_DIR] [--resume RUN_DIR]
  segscope eval --dataset DIR --run RUN_DIR [--split val] [--json]
  segscope predict --run RUN_DIR --input IMG|DIR --out DIR [--blend]
  segscope eval-masks --gt DIR --pred DIR [--dataset DIR [--year Y]] [--json]
                                compare two folders of label PNGs
  segscope cam --run RUN_DIR --image IMG --class NAME|INDEX [--layer NAME]
               [--method gradcam|gradcampp|hirescam] [--checkpoint best|last] --out PNG [--raw] [--json]
                                Grad-CAM of a class as a jet overlay (or with --raw a 16-bit 0..1 map)
  segscope export --run RUN_DIR [--checkpoint best|last] --out MODEL.onnx [--json]
                                the checkpoint as an ONNX file (opset 17) with its metadata

Exit status: 0 on success, 1 when a command ran but found a failure, 2 for bad usage.
`;

/** What the CLI starts that tests replace: the engine process (by default the built `out/main/engine.js`). */
export interface CliDeps {
  startEngine?: EngineStarter;
}

/** Runs the CLI; resolves to the exit status. Long-running commands resolve only when stopped. */
export async function main(argv: string[], deps: CliDeps = {}): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === '--help' || command === '-h' || command === 'help') return help();
    if (command === '--version') {
      const { appVersion } = await import('../services/appVersion');
      console.log(appVersion);
      return 0;
    }
    if (command === undefined || command.startsWith('-')) return await launch(parseServeArgs(argv));
    if (command === 'serve') {
      await serve(parseServeArgs(rest));
      return new Promise<number>(() => {}); // serve until stopped by a signal
    }
    if (command === 'info') return await info(rest);
    if (command === 'check') return await check(rest);
    if (command === 'models') return await modelsCommand(rest);
    if (command === 'train') return await trainCommand(rest);
    if (command === 'predict') return await predict(rest);
    if (command === 'eval') return await evalRun(rest);
    if (command === 'eval-masks') return await evalMasks(rest);
    if (command === 'cam') return await cam(rest, deps.startEngine);
    if (command === 'export') return await exportCommand(rest, deps.startEngine);
    throw new UsageError(`unknown command ${JSON.stringify(command)}; see segscope --help`);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`segscope: ${err.message}`);
      return 2;
    }
    console.error(`segscope: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

function help(): number {
  console.log(HELP);
  return 0;
}
