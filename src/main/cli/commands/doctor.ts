// `segscope doctor [--json]`: which tfjs backend the engine picks and why each other one was or was not
// used, the GPU adapters Dawn sees, and the optional packages. CLI process.
import { parseArgs } from 'node:util';
import { describeAdapter } from '../../../shared/training';
import { EngineHost, forkSpawner } from '../../services/engineHost';
import { engineLogPath } from '../../services/engineLog';
import { usage } from '../args';
import { findTorchPython } from '../../services/torchEngine';
import { engineEntry, pythonDir } from '../paths';

export async function doctorCommand(argv: string[]): Promise<number> {
  const { values } = usage(() => parseArgs({ args: argv, options: { json: { type: 'boolean' } } }));
  const host = new EngineHost(forkSpawner(engineEntry));
  try {
    await host.start('auto');
    const d = await host.request({ type: 'doctor' });
    // The PyTorch engine (train --engine torch): the first Python that imports torch, and its devices.
    const torch = await findTorchPython(pythonDir).then(
      (t) => ({ found: true as const, command: t.python, ...t.info }),
      (err: Error) => ({ found: false as const, error: err.message }),
    );
    if (values.json) {
      console.log(JSON.stringify({ ...d, torch, log: engineLogPath() }, null, 2));
      return 0;
    }
    console.log(`backend in use: ${d.backend.name}`);
    for (const b of d.backends) console.log(`  ${b.name.padEnd(15)} ${b.status}: ${b.reason}`);
    console.log('GPU adapters:');
    if (d.adapters.length === 0) console.log('  none found');
    for (const a of d.adapters) {
      console.log(`  ${describeAdapter(a)}${a.software ? ': software, never picked by auto' : ''}`);
    }
    console.log('optional packages:');
    for (const p of d.packages)
      console.log(`  ${p.name.padEnd(26)} ${(p.version ?? '-').padEnd(8)} ${p.note}`);
    console.log('PyTorch engine (train --engine torch):');
    if (!torch.found) console.log(`  not available: ${torch.error}`);
    else {
      console.log(`  torch ${torch.torch} at ${torch.executable} (Python ${torch.python})`);
      console.log(
        `  devices: cpu${torch.gpus.map((g) => `, cuda:${g.index} ${g.name} (${(g.memoryBytes / 2 ** 30).toFixed(1)} GiB)`).join('')}`,
      );
      console.log(`  distributed: gloo ${torch.gloo ? 'yes' : 'no'}, nccl ${torch.nccl ? 'yes' : 'no'}`);
    }
    console.log(`the GPU binding's own start-up messages (none asks anything of you): ${engineLogPath()}`);
    return 0;
  } finally {
    host.kill('the command finished');
  }
}
