import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, type WireMessage } from '../../../src/shared/wire';

describe('wire framing', () => {
  it('sends messages without typed arrays as JSON text', () => {
    const message: WireMessage = {
      kind: 'req',
      id: 7,
      method: 'dataset:list',
      payload: { offset: 0, limit: 10 },
    };
    const frame = encodeMessage(message);
    expect(typeof frame).toBe('string');
    expect(decodeMessage(frame)).toEqual(message);
  });

  it('carries typed arrays as binary, exactly, including views at odd offsets', () => {
    const backing = new Uint8Array(1001).map((_, i) => (i * 37) % 256);
    const indices = backing.subarray(3, 1000); // odd offset and length
    const probs = new Float32Array([0.25, -1.5, Number.MAX_VALUE, 1e-30]);
    const ints = new Int32Array([-1, 0, 2 ** 31 - 1]);
    const message: WireMessage = {
      kind: 'res',
      id: 1,
      ok: true,
      result: { width: 997, nested: { indices, list: [probs, 'x', ints] } },
    };
    const frame = encodeMessage(message);
    expect(frame).toBeInstanceOf(Uint8Array);
    const back = decodeMessage(frame) as Extract<WireMessage, { kind: 'res'; ok: true }>;
    const result = back.result as {
      width: number;
      nested: { indices: Uint8Array; list: [Float32Array, string, Int32Array] };
    };
    expect(result.width).toBe(997);
    expect(result.nested.indices).toBeInstanceOf(Uint8Array);
    expect(Array.from(result.nested.indices)).toEqual(Array.from(indices));
    expect(result.nested.list[0]).toBeInstanceOf(Float32Array);
    expect(Array.from(result.nested.list[0])).toEqual(Array.from(probs));
    expect(result.nested.list[1]).toBe('x');
    expect(Array.from(result.nested.list[2])).toEqual([-1, 0, 2 ** 31 - 1]);
  });

  it('rejects frames that are not ours or are cut short', () => {
    expect(() => decodeMessage(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]))).toThrow(
      /not a Segscope frame/,
    );
    const good = encodeMessage({
      kind: 'event',
      name: 'dataset:opened',
      payload: new Uint8Array(64),
    }) as Uint8Array;
    expect(() => decodeMessage(good.subarray(0, 40))).toThrow();
  });
});
