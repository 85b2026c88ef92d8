// `segscope models [--json] [--layers]`: the model ids, their parameter counts and named conv layers,
// read from the static catalog so that listing never builds a model. CLI process.
import { parseArgs } from 'node:util';
import { MODEL_CATALOG } from '../../../shared/modelCatalog';
import { usage } from '../args';

export async function modelsCommand(argv: string[]): Promise<number> {
  const { values } = usage(() =>
    parseArgs({ args: argv, options: { json: { type: 'boolean' }, layers: { type: 'boolean' } } }),
  );
  if (values.json) {
    const rows = MODEL_CATALOG.map((m) => ({
      id: m.id,
      title: m.title,
      params: m.params,
      size_multiple: m.sizeMultiple,
      input_size: m.defaultInputSize,
      cam_layer: m.camLayer,
      layers: m.convLayers,
    }));
    console.log(JSON.stringify(rows, null, 2));
    return 0;
  }
  const table = [
    ['model', 'params', 'input cpu/gpu', 'description'],
    ...MODEL_CATALOG.map((m) => [
      m.id,
      `${(m.params / 1e6).toFixed(2)}M`,
      `${m.defaultInputSize.cpu}/${m.defaultInputSize.gpu}`,
      m.title,
    ]),
  ];
  // Every column as wide as its widest cell, numbers right-aligned, so the columns line up.
  const widths = [0, 1, 2].map((c) => Math.max(...table.map((row) => row[c]!.length)));
  for (const [i, row] of table.entries()) {
    const [id, params, size, title] = row as [string, string, string, string];
    const pad = i === 0 ? 'padEnd' : 'padStart';
    console.log(`${id.padEnd(widths[0]!)}  ${params[pad](widths[1]!)}  ${size[pad](widths[2]!)}  ${title}`);
    const m = MODEL_CATALOG[i - 1];
    if (values.layers && m)
      console.log(`${''.padEnd(widths[0]! + 2)}conv layers: ${m.convLayers.join(', ')}`);
  }
  return 0;
}
