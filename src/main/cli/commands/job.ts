// `segscope job export RUN --out DIR [--nproc-per-node N] [--epochs N]` writes a PyTorch run as a self-contained
// cluster job (services/torchJob.ts); `segscope job import DIR --dataset DATASET [--year Y]` checks the run
// that job trained and lists it with the dataset's runs. CLI process.
import { parseArgs } from 'node:util';
import { RUN_FILES } from '../../common/runLayout';
import { intOption, usage, UsageError } from '../args';
import { openDatasetArg } from '../openDataset';
import { pythonDir } from '../paths';
import { exportTorchJob, importTorchJob } from '../../services/torchJob';

export async function jobCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = usage(() =>
    parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        'nproc-per-node': { type: 'string' },
        epochs: { type: 'string' },
        dataset: { type: 'string' },
        year: { type: 'string' },
      },
    }),
  );
  const [path, ...extra] = positionals;
  if (extra.length) throw new UsageError(`job ${sub}: one folder, not ${positionals.length}`);
  if (sub === 'export') {
    if (!path) throw new UsageError(`job export needs a run folder (or its ${RUN_FILES.config})`);
    if (!values.out) throw new UsageError('job export needs --out DIR');
    const nproc = intOption(values['nproc-per-node'], 'nproc-per-node', 1, 1024);
    const epochs = intOption(values.epochs, 'epochs', 1, 100_000);
    const { out, resume } = await exportTorchJob(path, values.out, pythonDir, { nproc, epochs });
    console.log(
      `wrote the job to ${out} (${resume ? 'resumes the run from its last checkpoint' : 'a new run'})`,
    );
    console.log(`  on each node: NNODES=N RDZV_ENDPOINT=HOST:PORT ${out}/run.sh DATASET_DIR`);
    console.log(`  with Slurm:   sbatch ${out}/job.sbatch DATASET_DIR`);
    console.log(`  afterwards:   segscope job import ${out} --dataset DATASET_DIR`);
    return 0;
  }
  if (sub === 'import') {
    if (!path) throw new UsageError('job import needs the job folder (or the run folder it trained)');
    const ds = await openDatasetArg(values.dataset, values.year);
    const { dir, state } = await importTorchJob(path, {
      root: ds.root,
      classNames: ds.classes().map((c) => c.name),
    });
    console.log(`imported the run (${state.status}, epoch ${state.epoch}) as ${dir}`);
    return 0;
  }
  throw new UsageError('job takes export or import; see segscope job --help');
}
