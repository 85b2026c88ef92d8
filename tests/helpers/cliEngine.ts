// `segscope` run in-process with its engine forked from a freshly built bundle, counting the engines it
// starts: what the CLI tests of engine commands (cam, rank, train) share. Test process.
import { main } from '../../src/main/cli/main';
import { EngineHost, forkSpawner } from '../../src/main/services/engineHost';

/** Runs `segscope ARGV` with engines forked from `entry`; `.engines()` says how many it started. */
export function cliWithEngine(entry: string, argv: string[]): Promise<number> & { engines: () => number } {
  let engines = 0;
  const run = main(argv, {
    startEngine: async (backend) => {
      engines++;
      const host = new EngineHost(forkSpawner(entry));
      await host.start(backend);
      return host;
    },
  });
  return Object.assign(run, { engines: () => engines });
}
