// The panel's proposals per backend, the wasm heap estimate, and the form's field checks in words.
import { describe, expect, it } from 'vitest';
import {
  backendClass,
  heapProblem,
  proposedDefaults,
  proposedInputSize,
} from '../../../src/shared/trainDefaults';
import { trainFieldErrors } from '../../../src/shared/trainForm';
import { DEFAULT_TRAIN_SETTINGS } from '../../../src/shared/training';

describe('proposed defaults', () => {
  it('proposes unet-small at 128², lr 1e-3 on wasm and cpu, and the paper on any GPU backend', () => {
    for (const b of ['wasm', 'cpu']) {
      const { settings, why } = proposedDefaults(b);
      expect(settings).toMatchObject({ model: 'unet-small', inputSize: 128, batchSize: 2, lr: 1e-3 });
      expect(why).toContain(b);
    }
    for (const b of ['tensorflow-gpu', 'webgpu']) {
      expect(backendClass(b)).toBe('gpu');
      expect(proposedDefaults(b).settings).toMatchObject({
        model: 'unet-vgg16',
        inputSize: 512,
        batchSize: 4,
        lr: 1e-4,
      });
    }
    expect(proposedDefaults('tensorflow').settings).toMatchObject({ model: 'unet-vgg16', inputSize: 256 });
    expect(proposedInputSize('unet-small', 'wasm')).toBe(128);
    expect(proposedInputSize('unet-vgg16', 'webgpu')).toBe(512);
    expect(proposedInputSize('nope', 'wasm')).toBeNull();
  });

  it('refuses on wasm what cannot fit its heap, and only on wasm', () => {
    const paper = { model: 'unet-vgg16', inputSize: 512, batchSize: 4 };
    expect(heapProblem(paper, 'wasm')).toMatch(
      /^unet-vgg16 at 512², batch 4 needs about \d+\.\d GB, more than/,
    );
    expect(heapProblem(paper, 'webgpu')).toBeNull();
    expect(heapProblem({ model: 'unet-vgg16', inputSize: 256, batchSize: 2 }, 'wasm')).toBeNull();
    expect(heapProblem({ model: 'unet-small', inputSize: 128, batchSize: 2 }, 'wasm')).toBeNull();
  });
});

describe('training form checks', () => {
  const splits = new Map([
    ['train', 3],
    ['val', 2],
  ]);
  const s = { ...proposedDefaults('wasm').settings };

  it('has nothing to say about the proposed settings', () => {
    expect(trainFieldErrors(s, splits)).toEqual({});
  });

  it('says what is wrong, field by field, in words', () => {
    const errors = trainFieldErrors(
      { ...s, batchSize: 8, epochs: 0, lr: '' as unknown as number, inputSize: 100, valSplit: 'test' },
      splits,
    );
    expect(errors).toEqual({
      epochs: 'Epochs must be a whole number from 1 to 10000',
      lr: 'Learning rate: enter a number',
      inputSize: 'unet-small needs an input size that is a multiple of 16, e.g. 96 or 112',
      batchSize:
        'Batch 8 is larger than split train (3 images); each epoch would be a single smaller step. Use 3 or less.',
      valSplit: 'This dataset has no split test; choose another or none',
    });
    expect(trainFieldErrors({ ...DEFAULT_TRAIN_SETTINGS, batchSize: 300 }, splits).batchSize).toBe(
      'Batch must be a whole number from 1 to 256',
    );
  });
});
