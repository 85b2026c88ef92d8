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

/** The scheme the desktop app serves its page on (main's appProtocol.ts). */
const DESKTOP_PROTOCOL = 'segscope-app:';

/**
 * Which transport a page has: the bridge when the preload provided one; else the WebSocket, unless the
 * page is the desktop app's, where no server exists and only a clear error helps.
 */
export function chooseTransport(page: {
  hasBridge: boolean;
  protocol: string;
  userAgent: string;
}): 'bridge' | 'websocket' {
  if (page.hasBridge) return 'bridge';
  if (page.protocol === DESKTOP_PROTOCOL || page.protocol === 'file:' || / Electron\//.test(page.userAgent)) {
    throw new Error(
      "Segscope's desktop bridge is missing: the preload script (out/preload/index.cjs) did not load. " +
        'Rebuild the app (npm run build) or reinstall it.',
    );
  }
  return 'websocket';
}

export function connectApi(): WorkbenchApi {
  const bridge = window.segscopeBridge;
  let transport: 'bridge' | 'websocket';
  try {
    transport = chooseTransport({
      hasBridge: Boolean(bridge),
      protocol: window.location.protocol,
      userAgent: navigator.userAgent,
    });
  } catch (err) {
    // Every call fails with the reason, which the stores show; subscriptions do nothing.
    return createClient(
      () => Promise.reject(err),
      () => () => {},
    );
  }
  if (bridge && transport === 'bridge') {
    return createClient((method, payload) => bridge[method](payload as never), bridge.on);
  }
  const token = takeToken();
  const ws = new URL('/ws', window.location.href);
  ws.protocol = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  if (token) ws.searchParams.set('token', token);
  // The DOM types its handlers with `this: WebSocket`; SocketLike names only what the client uses.
  return connectWs(ws.href, (url) => new WebSocket(url) as unknown as SocketLike).api;
}
