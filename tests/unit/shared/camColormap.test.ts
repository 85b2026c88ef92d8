// The jet colormap against matplotlib's values, the 256-entry table, CAM normalisation and the overlay.
import { describe, expect, it } from 'vitest';
import {
  camToUint16,
  jet,
  jetIndex,
  JET_LUT,
  normalizeCam,
  overlayCam,
} from '../../../src/shared/camColormap';

describe('jet', () => {
  it('matches matplotlib’s jet at the endpoints, the midpoint and the knots (×255, rounded)', () => {
    // matplotlib.cm.jet(x)[:3] * 255: 0 → (0, 0, 127.5), 0.5 → (123.39, 255, 123.39), 1 → (127.5, 0, 0).
    expect(jet(0)).toEqual([0, 0, 128]);
    expect(jet(0.5)).toEqual([123, 255, 123]);
    expect(jet(1)).toEqual([128, 0, 0]);
    expect(jet(0.125)).toEqual([0, 0, 255]); // green starts rising here; blue is full from 0.11
    expect(jet(0.375)).toEqual([21, 255, 226]);
    expect(jet(0.25)).toEqual([0, 128, 255]);
    expect(jet(0.75)).toEqual([255, 151, 0]);
    expect(jet(0.89)).toEqual([255, 19, 0]);
  });

  it('clamps out-of-range values and treats NaN as 0', () => {
    expect(jet(-3)).toEqual(jet(0));
    expect(jet(7)).toEqual(jet(1));
    expect(jet(Number.NaN)).toEqual(jet(0));
  });

  it('has a 256-entry table of jet(i/255), dark blue to dark red', () => {
    expect(JET_LUT).toHaveLength(768);
    for (const i of [0, 1, 64, 127, 128, 200, 255]) {
      expect([...JET_LUT.subarray(i * 3, i * 3 + 3)]).toEqual(jet(i / 255));
    }
    expect(jetIndex(0)).toBe(0);
    expect(jetIndex(0.5)).toBe(128);
    expect(jetIndex(1)).toBe(255);
    expect(jetIndex(-1)).toBe(0);
    expect(jetIndex(Number.NaN)).toBe(0);
  });
});

describe('normalizeCam', () => {
  it('subtracts the minimum and divides by the new maximum, in place', () => {
    const v = Float32Array.from([2, 4, 6, 3]);
    expect(normalizeCam(v)).toBe(v);
    expect([...v]).toEqual([0, 0.5, 1, 0.25]);
  });

  it('keeps an all-zero (or constant) map at zero instead of NaN', () => {
    expect([...normalizeCam(new Float32Array(4))]).toEqual([0, 0, 0, 0]);
    expect([...normalizeCam(Float32Array.from([3, 3, 3]))]).toEqual([0, 0, 0]);
    expect([...normalizeCam(new Float32Array(0))]).toEqual([]);
  });
});

describe('overlayCam', () => {
  it('blends jet at alpha over the image, rounding', () => {
    const rgb = Uint8Array.from([100, 100, 100, 0, 0, 0, 255, 255, 255]);
    const cam = Float32Array.from([0, 1, 0.5]);
    // (0,0,128) over grey 100, (128,0,0) over black, and 0.5 → table index 128 → (125,255,122) over white.
    const mid = jet(128 / 255);
    expect(mid).toEqual([125, 255, 122]);
    expect([...overlayCam(rgb, cam)]).toEqual([
      50,
      50,
      114,
      64,
      0,
      0,
      Math.round(127.5 + mid[0] / 2),
      Math.round(127.5 + mid[1] / 2),
      Math.round(127.5 + mid[2] / 2),
    ]);
    expect([...overlayCam(rgb, cam, 0)]).toEqual([...rgb]);
    expect([...overlayCam(rgb, cam, 1).subarray(0, 6)]).toEqual([0, 0, 128, 128, 0, 0]);
  });

  it('refuses mismatched sizes', () => {
    expect(() => overlayCam(new Uint8Array(6), new Float32Array(3))).toThrow(/6 RGB bytes for 3 CAM values/);
  });
});

describe('camToUint16', () => {
  it('maps 0..1 onto 0..65535, clamping', () => {
    expect([...camToUint16(Float32Array.from([0, 0.5, 1, -0.2, 1.5]))]).toEqual([0, 32768, 65535, 0, 65535]);
  });
});
