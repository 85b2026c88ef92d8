// A training process for the run kill test, bundled and started as a plain `node` child so that the
// test can kill it (or its engine) at any moment. `cli ENGINE ARGS…` runs `segscope train` with ARGS;
// `server ENGINE ROOT SETTINGS_JSON [RUN_ID]` starts (or resumes) a run as the server does and waits
// for it to end. The engine is the bundle at ENGINE, forked as in the app.
import { trainCommand } from '../../src/main/cli/commands/train';
import { EngineHost, forkSpawner } from '../../src/main/services/engineHost';
import { WorkbenchSession } from '../../src/main/services/session';

const [mode, engine, ...rest] = process.argv.slice(2);

async function server(root: string, settings: string, runId?: string): Promise<number> {
  const session = new WorkbenchSession();
  session.useEngine(forkSpawner(engine!));
  await session.open(root);
  const finished = new Promise<number>((resolve) =>
    session.addEventSink((name, payload) => {
      if (name === 'training:finished') {
        console.log(JSON.stringify(payload));
        resolve(0);
      }
    }),
  );
  const { runId: id } = runId
    ? await session.training.resume(runId)
    : await session.training.start(JSON.parse(settings) as object);
  console.log(`run ${id}`);
  const code = await finished;
  session.training.engine.kill('finished');
  return code;
}

const run =
  mode === 'cli'
    ? trainCommand(rest, async () => new EngineHost(forkSpawner(engine!)))
    : server(rest[0]!, rest[1]!, rest[2]);
run.then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
