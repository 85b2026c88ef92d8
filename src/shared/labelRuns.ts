// A label map as runs of one class index, packed into a string: small and quick enough to write
// synchronously while a page is being left (a mask of a few regions is a few hundred bytes, against the
// map's one byte per pixel). Runs in any process; the renderer keeps unsaved edits with it.

/** `indices` as runs: each run is its index byte and its length as a base-128 varint, then base64. */
export function encodeRuns(indices: Uint8Array): string {
  const bytes: number[] = [];
  let i = 0;
  while (i < indices.length) {
    const value = indices[i]!;
    let end = i + 1;
    while (end < indices.length && indices[end] === value) end++;
    bytes.push(value);
    for (let n = end - i; ;) {
      const low = n & 0x7f;
      n = Math.floor(n / 128);
      bytes.push(n > 0 ? low | 0x80 : low);
      if (n === 0) break;
    }
    i = end;
  }
  let text = '';
  for (let k = 0; k < bytes.length; k += 0x8000) text += String.fromCharCode(...bytes.slice(k, k + 0x8000));
  return btoa(text);
}

/**
 * The map `encodeRuns` packed, of `length` pixels.
 *
 * @throws Error when the text is not such a packing or does not hold exactly `length` pixels
 */
export function decodeRuns(packed: string, length: number): Uint8Array {
  const text = atob(packed);
  const out = new Uint8Array(length);
  let at = 0;
  let k = 0;
  while (k < text.length) {
    const value = text.charCodeAt(k++);
    let n = 0;
    let scale = 1;
    for (;;) {
      if (k >= text.length) throw new Error('the packed label map ends inside a run');
      const b = text.charCodeAt(k++);
      n += (b & 0x7f) * scale;
      scale *= 128;
      if (!(b & 0x80)) break;
    }
    if (n === 0 || at + n > length) throw new Error('the packed label map does not fit its size');
    out.fill(value, at, at + n);
    at += n;
  }
  if (at !== length) throw new Error(`the packed label map holds ${at} pixels, not ${length}`);
  return out;
}
