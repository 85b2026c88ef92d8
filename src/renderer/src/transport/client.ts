// Turns a raw call function into the typed WorkbenchApi, so both transports share one client shape.
// Renderer.
import { METHODS, type Events, type EventName, type Method, type WorkbenchApi } from '../../../shared/api';
import { WorkbenchError, type Envelope } from '../../../shared/errors';

export type RawCall = (method: Method, payload: unknown) => Promise<Envelope<unknown>>;
export type RawOn = <E extends EventName>(event: E, listener: (payload: Events[E]) => void) => () => void;

/** One function per contract method; a failed envelope becomes a thrown WorkbenchError. */
export function createClient(call: RawCall, on: RawOn): WorkbenchApi {
  const api: Record<string, unknown> = { on };
  for (const method of METHODS) {
    api[method] = async (payload: unknown) => {
      const envelope = await call(method, payload ?? {});
      if (!envelope.ok) throw new WorkbenchError(envelope.error.code, envelope.error.message);
      return envelope.result;
    };
  }
  return api as WorkbenchApi;
}
