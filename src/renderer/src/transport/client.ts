// Turns a raw call function into the typed WorkbenchApi, so both transports share one client shape.
// Renderer.
import { METHODS, type Events, type EventName, type Method, type WorkbenchApi } from '../../../shared/api';
import { WorkbenchError, type Envelope } from '../../../shared/errors';

export type RawCall = (method: Method, payload: unknown) => Promise<Envelope<unknown>>;
export type RawOn = <E extends EventName>(event: E, listener: (payload: Events[E]) => void) => () => void;

/**
 * A copy of `value` made only of plain objects, arrays, primitives and typed arrays. Stores pass
 * Vue reactive state (Proxies), and Electron's contextBridge hands a Proxy to the structured-clone
 * serializer, which throws "An object could not be cloned"; copying here protects every call site.
 * Typed arrays are passed as they are: Vue never wraps them, and copying a label map would be waste.
 */
export function toPlain(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value;
  if (Array.isArray(value)) return value.map(toPlain);
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    throw new TypeError(`cannot send a ${value.constructor?.name ?? 'non-plain object'} to main`);
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) out[key] = toPlain((value as Record<string, unknown>)[key]);
  return out;
}

/** One function per contract method; a failed envelope becomes a thrown WorkbenchError. */
export function createClient(call: RawCall, on: RawOn): WorkbenchApi {
  const api: Record<string, unknown> = { on };
  for (const method of METHODS) {
    api[method] = async (payload: unknown) => {
      const envelope = await call(method, toPlain(payload ?? {}));
      if (!envelope.ok) throw new WorkbenchError(envelope.error.code, envelope.error.message);
      return envelope.result;
    };
  }
  return api as WorkbenchApi;
}
