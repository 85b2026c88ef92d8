// The static model catalog in shared (what the model picker and `segscope models` list without building a
// model) against the registry's models built at their smallest input: parameter counts, conv layers,
// Grad-CAM layer and activation sizes must agree.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { convLayerNames, MODEL_IDS, MODELS } from '../../../../src/main/engine/models/registry';
import { MODEL_CATALOG } from '../../../../src/shared/modelCatalog';
import { use } from './helpers';

/** What the catalog records of a model, measured on the model built at twice its size multiple. */
function measure(id: (typeof MODEL_IDS)[number]) {
  const spec = MODELS[id];
  const side = spec.sizeMultiple * 2;
  const model = spec.build({ numClasses: 21, inputSize: side });
  try {
    let floats = 0;
    for (const layer of model.layers) {
      const shapes = (Array.isArray(layer.outputShape[0]) ? layer.outputShape : [layer.outputShape]) as (
        number | null
      )[][];
      for (const s of shapes) floats += s.slice(1).reduce<number>((a, b) => a * (b ?? 1), 1);
    }
    return {
      id,
      title: spec.title,
      params: model.countParams(),
      sizeMultiple: spec.sizeMultiple,
      camLayer: spec.camLayer,
      convLayers: convLayerNames(model),
      activationsPerPixel: Math.round(floats / (side * side)),
    };
  } finally {
    model.dispose();
  }
}

beforeAll(async () => {
  await use('cpu');
});

describe('model catalog', () => {
  it('records every registry model with the facts its built model has', () => {
    // A model too large to build just to be listed (deconvnet-4096, 1 GB) is checked through the model it
    // is listed like: the same layers, and its parameter count from the registry's formula, which
    // deconvnet4096.test.ts checks against a real build at another width.
    const built = MODEL_IDS.filter((id) => !MODELS[id].listing);
    const measured = built.map(measure);
    expect(MODEL_CATALOG.map((m) => m.id)).toEqual([...MODEL_IDS]);
    for (const id of MODEL_IDS.filter((i) => MODELS[i].listing)) {
      const { like, params } = MODELS[id].listing!;
      const base = measured.find((m) => m.id === like)!;
      const { defaultInputSize, activationsPerPixel, ...recorded } = MODEL_CATALOG.find((c) => c.id === id)!;
      expect(recorded).toEqual({
        ...base,
        id,
        title: MODELS[id].title,
        params: params(base.params),
        activationsPerPixel: undefined,
      });
      expect(activationsPerPixel).toBeGreaterThan(base.activationsPerPixel);
      expect(defaultInputSize.gpu % base.sizeMultiple).toBe(0);
    }
    for (const m of measured) {
      const { defaultInputSize, ...recorded } = MODEL_CATALOG.find((c) => c.id === m.id)!;
      expect(recorded).toEqual(m);
      expect(defaultInputSize.cpu % m.sizeMultiple).toBe(0);
      expect(defaultInputSize.gpu % m.sizeMultiple).toBe(0);
    }
    expect(tf.memory().numTensors).toBe(0);
  }, 120_000);
});
