// Message framing for the WebSocket transport. Plain messages travel as JSON text frames; a message
// holding typed arrays travels as one binary frame so label maps never pass through JSON or base64.
// Used by main's server and by the renderer's WebSocket client.
import type { EventName, Method } from './api';
import type { WireError } from './errors';

/** A call from the UI. */
export interface RequestMessage {
  kind: 'req';
  id: number;
  method: Method;
  payload: unknown;
}
/** The answer to a call, matched by id. */
export type ResponseMessage =
  | { kind: 'res'; id: number; ok: true; result: unknown }
  | { kind: 'res'; id: number; ok: false; error: WireError };
/** An event pushed by main. */
export interface EventMessage {
  kind: 'event';
  name: EventName;
  payload: unknown;
}
export type WireMessage = RequestMessage | ResponseMessage | EventMessage;

const TYPED = {
  Uint8Array,
  Uint8ClampedArray,
  Int8Array,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
  Float32Array,
  Float64Array,
} as const;
type TypedName = keyof typeof TYPED;
type AnyTyped = InstanceType<(typeof TYPED)[TypedName]>;

/**
 * Binary frame layout: magic (4 bytes), JSON length (u32 LE), blob count (u32 LE), JSON, then each
 * blob 8-byte aligned, then a trailer of (offset, byteLength) u32 pairs, one per blob.
 */
const MAGIC = [0x53, 0x53, 0x43, 0x31]; // "SSC1"
const ALIGN = 8;
const HEADER = 12;

function typedName(value: unknown): TypedName | null {
  if (!ArrayBuffer.isView(value) || value instanceof DataView) return null;
  const name = value.constructor.name;
  return name in TYPED ? (name as TypedName) : null;
}

/** Encodes a message: a string when it holds no typed arrays, otherwise one binary frame. */
export function encodeMessage(message: WireMessage): string | Uint8Array {
  const blobs: AnyTyped[] = [];
  const json = JSON.stringify(message, function (this: unknown, _key, value: unknown) {
    const name = typedName(value);
    if (!name) return value;
    blobs.push(value as AnyTyped);
    return { $typed: name, $blob: blobs.length - 1 };
  });
  if (blobs.length === 0) return json;

  const head = new TextEncoder().encode(json);
  let offset = align(HEADER + head.length);
  const placed = blobs.map((b) => {
    const at = offset;
    offset = align(at + b.byteLength);
    return at;
  });
  const out = new Uint8Array(offset + 4 * 2 * blobs.length);
  out.set(MAGIC, 0);
  const view = new DataView(out.buffer);
  view.setUint32(4, head.length, true);
  view.setUint32(8, blobs.length, true);
  out.set(head, HEADER);
  blobs.forEach((b, i) => out.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), placed[i]!));
  // Trailer: (offset, byteLength) per blob, so the JSON never has to carry layout.
  let t = offset;
  blobs.forEach((b, i) => {
    view.setUint32(t, placed[i]!, true);
    view.setUint32(t + 4, b.byteLength, true);
    t += 8;
  });
  return out;
}

/** Decodes a frame made by {@link encodeMessage}. Throws on a malformed frame. */
export function decodeMessage(frame: string | Uint8Array): WireMessage {
  if (typeof frame === 'string') return JSON.parse(frame) as WireMessage;
  if (frame.length < HEADER || MAGIC.some((m, i) => frame[i] !== m)) throw new Error('not a Segscope frame');
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const headLength = view.getUint32(4, true);
  const blobCount = view.getUint32(8, true);
  const trailerStart = frame.length - 8 * blobCount;
  if (HEADER + headLength > trailerStart) throw new Error('truncated Segscope frame');
  const json = new TextDecoder().decode(frame.subarray(HEADER, HEADER + headLength));
  return JSON.parse(json, (_key, value: unknown) => {
    if (!value || typeof value !== 'object' || !('$typed' in value)) return value;
    const { $typed, $blob } = value as { $typed: TypedName; $blob: number };
    const Ctor = TYPED[$typed];
    if (!Ctor || !Number.isInteger($blob) || $blob < 0 || $blob >= blobCount) {
      throw new Error('bad blob reference in Segscope frame');
    }
    const at = view.getUint32(trailerStart + 8 * $blob, true);
    const length = view.getUint32(trailerStart + 8 * $blob + 4, true);
    if (at + length > trailerStart || length % Ctor.BYTES_PER_ELEMENT !== 0) {
      throw new Error('bad blob in Segscope frame');
    }
    // Copy so the result owns an aligned buffer of exactly its own bytes.
    const bytes = frame.slice(at, at + length);
    return new Ctor(bytes.buffer, 0, length / Ctor.BYTES_PER_ELEMENT);
  }) as WireMessage;
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}
