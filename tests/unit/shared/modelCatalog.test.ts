// The model facts' derived answers, without building a model: which Keras weights each model takes, that
// the renderer's catalog is the table less the engine's facts, and which layers the viewer sweeps.
import { describe, expect, it } from 'vitest';
import {
  MODEL_CATALOG,
  MODEL_FACTS,
  MODEL_IDS,
  modelBackbone,
  sweepLayers,
  weightsFor,
} from '../../../src/shared/modelCatalog';

describe('model facts', () => {
  it('gives every model the weights of its backbone, the VGG16 and ResNet-50 ones and no others', () => {
    const weights = Object.fromEntries(MODEL_IDS.map((id) => [id, weightsFor(id)]));
    expect(weights).toEqual({
      unet: null,
      'unet-small': null,
      'unet-vgg16': 'vgg16',
      fcn32s: 'vgg16',
      fcn16s: 'vgg16',
      fcn8s: 'vgg16',
      deconvnet: 'vgg16',
      'deconvnet-4096': 'vgg16',
      deeplabv3: 'resnet50',
      'deeplabv3-resnet18': null,
      'fcn-resnet18': null,
    });
    // The ResNet-18 models have a backbone (a ResNet-named file loads) but no published weights.
    expect(modelBackbone('fcn-resnet18')?.title).toBe('ResNet-18');
    expect(modelBackbone('unet')).toBeNull();
    expect(weightsFor('no-such-model')).toBeNull();
  });

  it('derives the catalog from the table, without the facts only the engine needs', () => {
    expect(MODEL_CATALOG.map((m) => m.id)).toEqual(MODEL_FACTS.map((m) => m.id));
    for (const [i, info] of MODEL_CATALOG.entries()) {
      expect(Object.keys(info)).not.toContain('normalization');
      expect(Object.keys(info)).not.toContain('backbone');
      const { normalization: _n, backbone: _b, tooLargeFor: _t, ...rest } = MODEL_FACTS[i]!;
      expect(info).toEqual(rest);
    }
  });

  it("sweeps each model's encoder convs, shallow to deep", () => {
    const layers = (id: string): string[] => MODEL_FACTS.find((m) => m.id === id)!.convLayers;
    expect(sweepLayers('unet-small', layers('unet-small'))).toEqual([
      'down1_conv1',
      'down1_conv2',
      'down2_conv1',
      'down2_conv2',
      'down3_conv1',
      'down3_conv2',
      'down4_conv1',
      'down4_conv2',
      'bottom_conv1',
      'bottom_conv2',
    ]);
    const vgg = sweepLayers('fcn8s', layers('fcn8s'));
    expect(vgg).toHaveLength(13);
    expect([vgg[0], vgg.at(-1)]).toEqual(['block1_conv1', 'block5_conv3']);
    expect(sweepLayers('fcn-resnet18', layers('fcn-resnet18'))).toEqual([
      'conv1_conv',
      'conv2_block1_2_conv',
      'conv2_block2_2_conv',
      'conv3_block1_2_conv',
      'conv3_block2_2_conv',
      'conv4_block1_2_conv',
      'conv4_block2_2_conv',
      'conv5_block1_2_conv',
      'conv5_block2_2_conv',
    ]);
    expect(sweepLayers('deeplabv3', layers('deeplabv3'))).toHaveLength(17);
    // A model the table does not know gets every family's encoder convs.
    expect(sweepLayers('old-model', ['block1_conv1', 'down1_conv1', 'conv1_conv', 'score'])).toEqual([
      'block1_conv1',
      'down1_conv1',
      'conv1_conv',
    ]);
  });
});
