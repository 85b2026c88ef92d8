// ONNX Runtime sessions that run synchronously (what the wasm backend's native convolutions stand on):
// the installed package's binding, a graph run in place on a view into a larger buffer (as the wasm heap
// is), and the plain-words refusal when a package lacks the binding or fails to load. The broken packages
// are stand-ins handed to findSyncBinding: the real one is installed here and works.
import { describe, expect, it } from 'vitest';
import {
  createSyncSession,
  findSyncBinding,
  loadSyncBinding,
} from '../../../../src/main/engine/onnx/syncSession';
import { encodeModel } from '../../../../src/main/engine/onnx/protobuf';

/** y = relu(x + x), over a [2, 3] float input. */
function doubleRelu(): Uint8Array {
  return encodeModel({
    opset: 17,
    producerVersion: 'test',
    graphName: 'g',
    nodes: [
      { op: 'Add', inputs: ['x', 'x'], outputs: ['s'], name: 'add' },
      { op: 'Relu', inputs: ['s'], outputs: ['y'], name: 'relu' },
    ],
    initializers: [],
    inputs: [{ name: 'x', dims: [2, 3] }],
    outputs: [{ name: 'y', dims: [2, 3] }],
    metadata: {},
  });
}

describe('synchronous ONNX Runtime sessions', () => {
  it('finds the installed binding', () => {
    const found = loadSyncBinding();
    expect('error' in found ? found.error : found.version).toMatch(/^1\.\d+\.\d+$/);
  });

  it('reads and writes views at an offset in a shared buffer, and returns only when done', () => {
    const heap = new Float32Array(32).fill(-7);
    const x = heap.subarray(3, 9);
    x.set([1, -2, 3, -4, 5, -6]);
    const y = heap.subarray(17, 23);
    const session = createSyncSession(doubleRelu(), 2);
    session.run({ x: { data: x, dims: [2, 3] } }, { y: { data: y, dims: [2, 3] } });
    expect(Array.from(y)).toEqual([2, 0, 6, 0, 10, 0]);
    // Nothing outside the output's view was touched.
    expect(Array.from(heap.subarray(9, 17))).toEqual(Array(8).fill(-7));
    expect(Array.from(heap.subarray(23))).toEqual(Array(9).fill(-7));
    session.dispose();
  });

  it('says why in plain words when the package has no such binding or does not load', () => {
    const moved = findSyncBinding((s) => (s === 'onnxruntime-node' ? { Tensor: class {} } : {}));
    expect(moved).toEqual({
      error: 'this onnxruntime-node has no synchronous session binding (dist/binding)',
    });
    const broken = findSyncBinding(() => {
      throw new Error('libonnxruntime.so.1: cannot open shared object file\nstack');
    });
    expect(broken).toEqual({
      error:
        'onnxruntime-node is not installed or does not load (libonnxruntime.so.1: cannot open shared object file)',
    });
  });

  it('refuses a graph ONNX Runtime cannot load, with its reason', () => {
    expect(() => createSyncSession(new Uint8Array([1, 2, 3]), 1)).toThrow(/protobuf|parse|load/i);
  });
});
