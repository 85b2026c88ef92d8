// `segscope serve`: the browser transport in this process. Runs in the CLI process.
import { startServer, type RunningServer } from '../server/server';
import { WorkbenchSession } from '../services/session';
import { parseArgs } from 'node:util';
import { intOption, usage } from './args';
import { engineEntry, labelDecoderEntry, pythonDir, rendererDir } from './paths';
import { useLabelDecodeWorker } from '../services/labelDecoder';
import { forkSpawner } from '../services/engineHost';

export interface ServeArgs {
  dataset?: string;
  /** The dataset of a VOCdevkit with several years. */
  year?: string;
  host?: string;
  port?: number;
  token?: string;
}

export function parseServeArgs(argv: string[]): ServeArgs {
  const { values } = usage(() =>
    parseArgs({
      args: argv,
      options: {
        dataset: { type: 'string' },
        year: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        token: { type: 'string' },
      },
    }),
  );
  return {
    dataset: values.dataset,
    year: values.year,
    host: values.host,
    port: intOption(values.port, 'port', 0, 65535),
    token: values.token,
  };
}

/** Starts the server, opens the dataset if one was named, prints the URL and serves until stopped. */
export async function serve(args: ServeArgs): Promise<RunningServer> {
  const session = new WorkbenchSession();
  session.useEngine(forkSpawner(engineEntry), { pythonDir });
  useLabelDecodeWorker(labelDecoderEntry);
  if (args.dataset) await session.open(args.dataset, args.year);
  const server = await startServer({
    session,
    staticDir: rendererDir,
    host: args.host,
    port: args.port,
    token: args.token,
  });
  console.log(`Segscope is serving the browser UI at ${server.url}`);
  const stop = (): void => void server.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return server;
}
