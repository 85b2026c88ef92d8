// `segscope models [--json]`: the model ids, their parameter counts and named conv layers. CLI process.
import { parseArgs } from 'node:util';
import { EngineHost, forkSpawner } from '../../services/engineHost';
import { usage } from '../args';
import { engineEntry } from '../paths';

export async function modelsCommand(argv: string[]): Promise<number> {
  const { values } = usage(() => parseArgs({ args: argv, options: { json: { type: 'boolean' } } }));
  const host = new EngineHost(forkSpawner(engineEntry));
  try {
    await host.start('auto');
    const models = await host.request({ type: 'models' });
    if (values.json) {
      console.log(
        JSON.stringify(
          models.map((m) => ({
            id: m.id,
            title: m.title,
            params: m.params,
            size_multiple: m.sizeMultiple,
            layers: m.convLayers,
          })),
          null,
          2,
        ),
      );
    } else {
      for (const m of models) {
        console.log(`${m.id.padEnd(12)} ${(m.params / 1e6).toFixed(2).padStart(7)}M params  ${m.title}`);
        console.log(`${''.padEnd(12)} conv layers: ${m.convLayers.join(', ')}`);
      }
    }
    return 0;
  } finally {
    host.kill('the command finished');
  }
}
