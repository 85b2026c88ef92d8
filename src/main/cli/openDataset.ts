// Opens the dataset a CLI command names, turning "several datasets here" into a usage error.
import { WorkbenchSession } from '../services/session';
import type { Dataset } from '../services/dataset';
import { parseArgs } from 'node:util';
import { usage, UsageError } from './args';

export async function openDatasetArg(dir: string | undefined, year: string | undefined): Promise<Dataset> {
  if (!dir) throw new UsageError('name a dataset folder');
  const session = new WorkbenchSession();
  const result = await session.open(dir, year);
  if (result.kind === 'choose-year') {
    throw new UsageError(
      `${result.folder} holds several datasets (${result.years.join(', ')}); add --year NAME`,
    );
  }
  return session.dataset;
}

/** `DIR [--year Y] [--json]`, the arguments of the commands that read one dataset. */
export async function datasetCommandArgs(argv: string[]): Promise<{ ds: Dataset; json: boolean }> {
  const { values, positionals } = usage(() =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      options: { json: { type: 'boolean' }, year: { type: 'string' } },
    }),
  );
  return { ds: await openDatasetArg(positionals[0], values.year), json: !!values.json };
}
