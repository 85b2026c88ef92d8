// The browser transport's client: the contract over one WebSocket, with typed arrays in binary
// frames. Reconnects on the next call after the socket drops. Renderer (and tests, with `ws`).
import type { EventName, Events, Method, WorkbenchApi } from '../../../shared/api';
import type { Envelope } from '../../../shared/errors';
import { decodeMessage, encodeMessage, type WireMessage } from '../../../shared/wire';
import { createClient } from './client';

/** The part of the WebSocket interface this client needs; the browser's and `ws`'s both fit. */
export interface SocketLike {
  binaryType: string;
  readyState: number;
  send(data: string | Uint8Array): void;
  close(): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}
export type SocketFactory = (url: string) => SocketLike;

export interface WsClient {
  api: WorkbenchApi;
  close(): void;
}

const OPEN = 1;

export function connectWs(url: string, makeSocket: SocketFactory): WsClient {
  let socket: SocketLike | null = null;
  let ready: Promise<SocketLike> | null = null;
  let nextId = 1;
  const pending = new Map<number, (envelope: Envelope<unknown>) => void>();
  const listeners = new Map<EventName, Set<(payload: never) => void>>();

  function onFrame(data: unknown): void {
    let message: WireMessage;
    try {
      message = decodeMessage(typeof data === 'string' ? data : new Uint8Array(data as ArrayBuffer));
    } catch {
      return;
    }
    if (message.kind === 'res') {
      const settle = pending.get(message.id);
      pending.delete(message.id);
      settle?.(message.ok ? { ok: true, result: message.result } : { ok: false, error: message.error });
    } else if (message.kind === 'event') {
      for (const listener of listeners.get(message.name) ?? [])
        (listener as (p: unknown) => void)(message.payload);
    }
  }

  function connect(): Promise<SocketLike> {
    if (ready && socket && socket.readyState <= OPEN) return ready;
    ready = new Promise<SocketLike>((resolve, reject) => {
      const s = makeSocket(url);
      socket = s;
      s.binaryType = 'arraybuffer';
      s.onopen = () => resolve(s);
      s.onmessage = (ev) => onFrame(ev.data);
      s.onerror = () => reject(new Error('cannot connect to Segscope (was the token right?)'));
      s.onclose = () => {
        reject(new Error('the connection to Segscope was refused'));
        for (const settle of pending.values()) {
          settle({
            ok: false,
            error: { code: 'unavailable', message: 'the connection to Segscope was lost' },
          });
        }
        pending.clear();
        if (socket === s) socket = null;
      };
    });
    return ready;
  }

  async function call(method: Method, payload: unknown): Promise<Envelope<unknown>> {
    const s = await connect();
    const id = nextId++;
    return new Promise<Envelope<unknown>>((resolve) => {
      pending.set(id, resolve);
      s.send(encodeMessage({ kind: 'req', id, method, payload }));
    });
  }

  function on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): () => void {
    let set = listeners.get(event);
    if (!set) listeners.set(event, (set = new Set()));
    set.add(listener as (payload: never) => void);
    void connect().catch(() => undefined); // events flow only while a socket is open
    return () => void set.delete(listener as (payload: never) => void);
  }

  return { api: createClient(call, on), close: () => socket?.close() };
}
