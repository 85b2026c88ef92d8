// The settings a run started from the CLI gets: the panel's proposal for the backend, with every setting
// given explicitly winning, and one line saying which defaults were used.
import { describe, expect, it } from 'vitest';
import { proposedDefaults, settingsFor } from '../../../src/shared/trainDefaults';

describe('settingsFor', () => {
  it("is the panel's proposal for the backend when nothing is given", () => {
    const cpu = settingsFor('wasm', {});
    expect(cpu.settings).toEqual(proposedDefaults('wasm').settings);
    expect(cpu.settings).toMatchObject({
      model: 'unet-small',
      inputSize: 128,
      batchSize: 2,
      lr: 1e-3,
      epochs: 40,
    });
    expect(cpu.chose).toMatch(/^defaults for wasm: unet-small, 128², batch 2, lr 1e-3, 40 epochs\. /);
    expect(settingsFor('webgpu', {}).settings).toEqual(proposedDefaults('webgpu').settings);
  });

  it('lets explicit settings win and names only the defaults it used', () => {
    const r = settingsFor('wasm', { batchSize: 1, epochs: 3, lr: 0.01, optimizer: 'sgd', valSplit: null });
    expect(r.settings).toMatchObject({
      model: 'unet-small',
      inputSize: 128,
      batchSize: 1,
      epochs: 3,
      lr: 0.01,
    });
    expect(r.settings.optimizer).toBe('sgd');
    expect(r.settings.valSplit).toBeNull();
    expect(r.chose).toMatch(/^defaults for wasm: unet-small, 128²\. /);
    // A model given without an input size gets the size proposed for that model on the backend.
    expect(settingsFor('wasm', { model: 'unet-vgg16' }).settings.inputSize).toBe(256);
    expect(settingsFor('wasm', { model: 'unet-vgg16', inputSize: 64 }).settings.inputSize).toBe(64);
    const all = { model: 'unet', inputSize: 64, batchSize: 1, lr: 0.1, epochs: 1 };
    expect(settingsFor('wasm', all).chose).toBeNull();
    expect(settingsFor('wasm', { ...all, epochs: undefined }).settings.epochs).toBe(40);
  });
});
