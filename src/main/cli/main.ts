// The `segscope` command line. Every command runs over the same services as the app. CLI process.
// Each command's module is imported only when that command runs, so that `--help`, `models` and `info`
// answer without loading sharp, the server, tfjs or a native binding (bench/cli.bench.mjs times them).
import { UsageError } from './args';
import { COMMAND_HELP, HELP } from './help';
import type { EngineStarter } from './commands/cam';

/** What the CLI starts that tests replace: the engine process (by default the built `out/main/engine.js`). */
export interface CliDeps {
  startEngine?: EngineStarter;
}

type Command = (rest: string[], deps: CliDeps) => Promise<number>;

/** Each command, by name; a command's module loads on first use. */
const COMMANDS: Record<string, Command> = {
  serve: async (rest) => {
    const { parseServeArgs, serve } = await import('./serve');
    await serve(parseServeArgs(rest));
    return new Promise<number>(() => {}); // serve until stopped by a signal
  },
  info: async (rest) => (await import('./commands/info')).info(rest),
  check: async (rest) => (await import('./commands/check')).check(rest),
  models: async (rest) => (await import('./commands/models')).modelsCommand(rest),
  doctor: async (rest) => (await import('./commands/doctor')).doctorCommand(rest),
  train: async (rest, deps) => (await import('./commands/train')).trainCommand(rest, deps.startEngine),
  predict: async (rest) => (await import('./commands/predict')).predict(rest),
  eval: async (rest) => (await import('./commands/evalRun')).evalRun(rest),
  'eval-masks': async (rest) => (await import('./commands/evalMasks')).evalMasks(rest),
  cam: async (rest, deps) => (await import('./commands/cam')).cam(rest, deps.startEngine),
  rank: async (rest, deps) => (await import('./commands/rank')).rank(rest, deps.startEngine),
  export: async (rest, deps) => (await import('./commands/export')).exportCommand(rest, deps.startEngine),
  draft: async (rest, deps) => (await import('./commands/draft')).draftCommand(rest, deps.startEngine),
  job: async (rest) => (await import('./commands/job')).jobCommand(rest),
};

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
    if (command === undefined || command.startsWith('-')) {
      const [{ launch }, { parseServeArgs }] = await Promise.all([import('./launch'), import('./serve')]);
      return await launch(parseServeArgs(argv));
    }
    const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (!run) throw new UsageError(`unknown command ${JSON.stringify(command)}; see segscope --help`);
    return await run(rest, deps);
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
