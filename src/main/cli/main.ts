// The `segscope` command line. Every command runs over the same services as the app. CLI process.
import { UsageError } from './args';
import { COMMAND_HELP, HELP } from './help';
import { launch } from './launch';
import { check } from './commands/check';
import { evalMasks } from './commands/evalMasks';
import { info } from './commands/info';
import { modelsCommand } from './commands/models';
import { doctorCommand } from './commands/doctor';
import { trainCommand } from './commands/train';
import { predict } from './commands/predict';
import { draftCommand } from './commands/draft';
import { evalRun } from './commands/evalRun';
import { cam, type EngineStarter } from './commands/cam';
import { exportCommand } from './commands/export';
import { jobCommand } from './commands/job';
import { parseServeArgs, serve } from './serve';
import { rank } from './commands/rank';

/** What the CLI starts that tests replace: the engine process (by default the built `out/main/engine.js`). */
export interface CliDeps {
  startEngine?: EngineStarter;
}

/** Runs the CLI; resolves to the exit status. Long-running commands resolve only when stopped. */
export async function main(argv: string[], deps: CliDeps = {}): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === '--help' || command === '-h' || command === 'help') return help();
    if (command && Object.hasOwn(COMMAND_HELP, command) && (rest.includes('--help') || rest.includes('-h'))) {
      console.log(COMMAND_HELP[command]);
      return 0;
    }
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
    if (command === 'doctor') return await doctorCommand(rest);
    if (command === 'train') return await trainCommand(rest, deps.startEngine);
    if (command === 'predict') return await predict(rest);
    if (command === 'draft') return await draftCommand(rest, deps.startEngine);
    if (command === 'eval') return await evalRun(rest);
    if (command === 'eval-masks') return await evalMasks(rest);
    if (command === 'cam') return await cam(rest, deps.startEngine);
    if (command === 'rank') return await rank(rest, deps.startEngine);
    if (command === 'export') return await exportCommand(rest, deps.startEngine);
    if (command === 'job') return await jobCommand(rest);
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
