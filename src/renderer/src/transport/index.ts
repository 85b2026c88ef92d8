// Picks the transport the page was loaded with: the Electron preload bridge when present, else the
// WebSocket of the server that served the page. The rest of the UI sees only WorkbenchApi. Renderer.
import type { RawBridge, WorkbenchApi } from '../../../shared/api';
import { createClient } from './client';
import { connectWs, type SocketLike } from './wsClient';

declare global {
  interface Window {
    segscopeBridge?: RawBridge;
  }
}

/** The token the page was opened with, kept for this tab and removed from the address bar. */
function takeToken(): string | null {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    sessionStorage.setItem('segscope-token', fromUrl);
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url.href);
  }
  return fromUrl ?? sessionStorage.getItem('segscope-token');
}

export function connectApi(): WorkbenchApi {
  const bridge = window.segscopeBridge;
  if (bridge) {
    return createClient((method, payload) => bridge[method](payload as never), bridge.on);
  }
  const token = takeToken();
  const ws = new URL('/ws', window.location.href);
  ws.protocol = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  if (token) ws.searchParams.set('token', token);
  // The DOM types its handlers with `this: WebSocket`; SocketLike names only what the client uses.
  return connectWs(ws.href, (url) => new WebSocket(url) as unknown as SocketLike).api;
}
