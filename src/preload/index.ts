// The bridge between the sandboxed page and main: one function per contract method and an event
// subscription. It never hands the page the raw IPC event or ipcRenderer. Preload, sandboxed.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { EVENTS, METHODS, type EventName, type RawBridge } from '../shared/api';
import type { Envelope } from '../shared/errors';

/** Builds what the page sees as `window.segscopeBridge`. */
export function buildBridge(): RawBridge {
  const bridge: Record<string, unknown> = {};
  for (const method of METHODS) {
    bridge[method] = (payload: unknown) => ipcRenderer.invoke(method, payload) as Promise<Envelope<unknown>>;
  }
  bridge.on = (event: EventName, listener: (payload: unknown) => void) => {
    if (!EVENTS.includes(event)) throw new Error(`unknown event ${String(event)}`);
    const forward = (_event: IpcRendererEvent, payload: unknown): void => listener(payload);
    ipcRenderer.on(event, forward);
    return () => void ipcRenderer.removeListener(event, forward);
  };
  return bridge as RawBridge;
}

contextBridge.exposeInMainWorld('segscopeBridge', buildBridge());
