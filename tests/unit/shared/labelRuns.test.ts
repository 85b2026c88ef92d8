// The run-length packing of label maps that keeps unsaved edits across a page reload: exact round trips
// on a real VOC label, on worst cases, and clear refusals of damaged text.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeLabelPng } from '../../../src/shared/labelPng';
import { decodeRuns, encodeRuns } from '../../../src/shared/labelRuns';
import { VOC_MINI } from '../../helpers/data';

describe('label runs', () => {
  it('round-trips a real VOC label exactly, in a small fraction of its bytes', () => {
    const { indices } = decodeLabelPng(readFileSync(join(VOC_MINI, 'SegmentationClass', '2007_000032.png')));
    const packed = encodeRuns(indices);
    expect(decodeRuns(packed, indices.length)).toEqual(indices);
    expect(packed.length).toBeLessThan(indices.length / 10);
  });

  it('round-trips an empty map, one long run, and alternating pixels', () => {
    for (const map of [
      new Uint8Array(0),
      new Uint8Array(300_000).fill(255),
      Uint8Array.from({ length: 1001 }, (_, i) => (i % 2 ? 15 : 0)),
    ])
      expect(decodeRuns(encodeRuns(map), map.length)).toEqual(map);
  });

  it('refuses text of the wrong size or cut short', () => {
    const packed = encodeRuns(new Uint8Array(100).fill(3));
    expect(() => decodeRuns(packed, 99)).toThrow('does not fit its size');
    expect(() => decodeRuns(packed, 101)).toThrow('holds 100 pixels, not 101');
    expect(() => decodeRuns(btoa(String.fromCharCode(3, 0x80)), 100)).toThrow('ends inside a run');
  });
});
