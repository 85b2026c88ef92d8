// The renderer's API client makes every payload plain before it leaves, because Electron's
// contextBridge structured-clones anything that is not a plain object, and a Vue reactive Proxy then
// throws "could not be cloned". The raw call here clones as the bridge does; nothing is mocked.
import { describe, expect, it } from 'vitest';
import { reactive, ref } from 'vue';
import { createClient, toPlain } from '../../../../src/renderer/src/transport/client';
import type { Method } from '../../../../src/shared/api';

function bridgeLikeClient(sent: unknown[]) {
  return createClient(
    async (_method: Method, payload: unknown) => {
      sent.push(structuredClone(payload));
      return { ok: true, result: { total: 0, items: [] } };
    },
    () => () => {},
  );
}

describe('API client payloads', () => {
  it('sends reactive state (a ref inside a plain object, as the dataset store does) as plain data', async () => {
    const filter = ref({ split: 'train', labelled: true, classes: [1, 15] });
    expect(() => structuredClone({ filter: filter.value })).toThrow(/could not be cloned/);
    const sent: unknown[] = [];
    await bridgeLikeClient(sent)['dataset:list']({ offset: 0, limit: 5, filter: filter.value } as never);
    expect(sent).toEqual([
      { offset: 0, limit: 5, filter: { split: 'train', labelled: true, classes: [1, 15] } },
    ]);
  });

  it('sends a whole reactive object (the training settings) and keeps typed arrays as they are', async () => {
    const indices = new Uint8Array([0, 15, 255]);
    const settings = reactive({ model: 'unet-small', augment: { flip: true }, indices });
    const plain = toPlain(settings) as { indices: Uint8Array; augment: object };
    expect(plain.indices).toBe(indices);
    expect(() => structuredClone(plain)).not.toThrow();
    expect(plain).toEqual({ model: 'unet-small', augment: { flip: true }, indices });
  });

  it('refuses a value the bridge could not carry, naming its type', () => {
    expect(() => toPlain({ when: new Map() })).toThrow(/cannot send a Map/);
  });
});
