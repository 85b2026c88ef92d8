// Validates a call from either transport against the contract and runs its handler. Every payload
// from a UI passes through here; nothing reaches a handler unchecked. Plain Node, main process.
import { requests, type Handlers, type Method } from '../../shared/api';
import { toWireError, WorkbenchError, type Envelope } from '../../shared/errors';

function isMethod(name: unknown): name is Method {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(requests, name);
}

/** Runs `method` with `payload`; never throws, so a transport only has to forward the envelope. */
export async function dispatch(
  handlers: Handlers,
  method: unknown,
  payload: unknown,
): Promise<Envelope<unknown>> {
  try {
    if (!isMethod(method))
      throw new WorkbenchError('unknown-method', `unknown method ${JSON.stringify(method)}`);
    const parsed = requests[method].safeParse(payload ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? issue.path.join('.') : 'payload';
      throw new WorkbenchError('bad-request', `${method}: ${where}: ${issue?.message ?? 'invalid'}`);
    }
    const handler = handlers[method] as (req: unknown) => Promise<unknown>;
    return { ok: true, result: await handler(parsed.data) };
  } catch (err) {
    return { ok: false, error: toWireError(err) };
  }
}
