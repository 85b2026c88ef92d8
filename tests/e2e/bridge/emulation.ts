// Runs in the page, before the app, as a Playwright init script: what Electron's contextBridge and
// ipcRenderer do to values, so the built preload and the real UI can run in Chromium as they would in
// the desktop app. Electron itself cannot run on the CI machines; the IPC beneath is carried by the
// browser transport's WebSocket to the test's server, which serves the same handlers.
import type { EventName, Method, WorkbenchApi } from '../../../src/shared/api';
import { connectWs, type SocketLike } from '../../../src/renderer/src/transport/wsClient';

/** What the tests can read back from the page through `window.__segscopeBridge`. */
export interface BridgeStats {
  calls: number;
  /** Messages of values the emulated bridge refused to copy. */
  refused: string[];
}

type Fn = (...args: unknown[]) => unknown;

/**
 * Copies a value from one world to the other as contextBridge does for the values of our contract:
 * a function becomes a function that copies its arguments in and its result out, a promise settles
 * with a copy, an object of functions (an exposed API) is copied key by key, and anything else goes
 * through the structured-clone serializer, which throws on a Proxy just as the bridge does
 * (electron#39598).
 */
function crossWorlds(value: unknown, stats: BridgeStats): unknown {
  if (typeof value === 'function') {
    const fn = value as Fn;
    return (...args: unknown[]) => crossWorlds(fn(...args.map((a) => crossWorlds(a, stats))), stats);
  }
  if (value instanceof Promise) {
    return value.then(
      (v) => crossWorlds(v, stats),
      (err: unknown) => {
        throw new Error(err instanceof Error ? err.message : String(err));
      },
    );
  }
  if (value && typeof value === 'object' && Object.values(value).some((v) => typeof v === 'function')) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = crossWorlds(v, stats);
    return out;
  }
  try {
    return structuredClone(value);
  } catch (err) {
    stats.refused.push(err instanceof Error ? err.message : String(err));
    throw new Error(`Error: An object could not be cloned. (${String(err)})`, { cause: err });
  }
}

/** Electron's `ipcRenderer.invoke` and `on` over the WebSocket; every value is structured-cloned. */
function emulatedIpc(api: WorkbenchApi) {
  const unsubscribe = new Map<Fn, () => void>();
  return {
    async invoke(channel: Method, payload: unknown) {
      const call = api[channel] as (p: unknown) => Promise<unknown>;
      const sent = structuredClone(payload);
      const envelope = await call(sent).then(
        (result) => ({ ok: true, result }),
        (err: { code?: string; message?: string }) => ({
          ok: false,
          error: { code: err.code ?? 'internal', message: err.message ?? String(err) },
        }),
      );
      return structuredClone(envelope);
    },
    on(channel: EventName, listener: Fn) {
      const off = api.on(channel, (payload) => listener({ sender: 'ipc' }, structuredClone(payload)));
      unsubscribe.set(listener, off);
    },
    removeListener(_channel: EventName, listener: Fn) {
      unsubscribe.get(listener)?.();
      unsubscribe.delete(listener);
    },
  };
}

/** The `electron` module the built preload gets from `require('electron')`. */
export function emulatedElectron(): unknown {
  // Read now: the app removes the token from the address bar once it starts.
  const token = new URL(window.location.href).searchParams.get('token');
  const ws = new URL('/ws', window.location.href);
  ws.protocol = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  if (token) ws.searchParams.set('token', token);
  const stats: BridgeStats = { calls: 0, refused: [] };
  (window as unknown as { __segscopeBridge: BridgeStats }).__segscopeBridge = stats;
  const { api } = connectWs(ws.href, (url) => new WebSocket(url) as unknown as SocketLike);
  const ipc = emulatedIpc(api);
  return {
    ipcRenderer: {
      ...ipc,
      invoke: (channel: Method, payload: unknown) => {
        stats.calls++;
        return ipc.invoke(channel, payload);
      },
    },
    contextBridge: {
      exposeInMainWorld(key: string, value: unknown) {
        Object.defineProperty(window, key, { value: crossWorlds(value, stats), enumerable: true });
      },
    },
  };
}
