// Each registry model at a tiny width, for tests that run every architecture: built by the registry's own
// builders (same layers, same code path), narrowed where the builder has a width option.
import type * as tfl from '@tensorflow/tfjs-layers';
import { buildDeconvNet } from '../../../../src/main/engine/models/deconvnet';
import { buildDeepLabV3 } from '../../../../src/main/engine/models/deeplabv3';
import { buildFcn } from '../../../../src/main/engine/models/fcn';
import { buildFcnResNet18 } from '../../../../src/main/engine/models/fcnResnet';
import { MODELS, type ModelId } from '../../../../src/main/engine/models/registry';
import { buildUNet } from '../../../../src/main/engine/models/unet';
import { buildUNetVgg16 } from '../../../../src/main/engine/models/unetVgg16';

/** Builds registry model `id` for `numClasses` classes at input `size`, narrowed. */
export function tinyModel(id: ModelId, numClasses: number, size: number): tfl.LayersModel {
  const common = { numClasses, inputSize: size, seed: 1 };
  const fcn = { ...common, fcWidth: 16, vggWidthScale: 1 / 8 };
  const deepLab = { ...common, baseFilters: 4, asppFilters: 8 };
  switch (id) {
    case 'unet':
      return buildUNet({ ...common, baseFilters: 4 });
    case 'unet-small':
      return MODELS['unet-small'].build(common);
    case 'unet-vgg16':
      return buildUNetVgg16({ ...common, widthScale: 1 / 8 });
    case 'fcn32s':
      return buildFcn(32, fcn);
    case 'fcn16s':
      return buildFcn(16, fcn);
    case 'fcn8s':
      return buildFcn(8, fcn);
    // The published 4096-wide DeconvNet is the same graph; only its fc width differs.
    case 'deconvnet':
    case 'deconvnet-4096':
      return buildDeconvNet({ ...common, fcWidth: 16, baseFilters: 8 });
    case 'deeplabv3':
      return buildDeepLabV3({ ...deepLab, backbone: 50 });
    case 'deeplabv3-resnet18':
      return buildDeepLabV3({ ...deepLab, backbone: 18 });
    case 'fcn-resnet18':
      return buildFcnResNet18({ ...common, baseFilters: 4 });
  }
}
