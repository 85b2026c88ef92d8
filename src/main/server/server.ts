// The browser transport: the renderer over HTTP, image bytes over HTTP, and the contract over one
// WebSocket per tab. Serves the same handlers as the desktop shell. Plain Node process.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { createHandlers } from '../services/handlers';
import { dispatch } from '../services/dispatch';
import type { MediaKind, WorkbenchSession } from '../services/session';
import { decodeMessage, encodeMessage, type WireMessage } from '../../shared/wire';
import { toWireError } from '../../shared/errors';
import { newToken, presentedToken, TOKEN_COOKIE, tokenMatches } from './auth';
import { sendFile, staticPath } from './staticFiles';

export interface ServeOptions {
  session: WorkbenchSession;
  /** Folder of the built renderer (index.html and assets). */
  staticDir: string;
  host?: string;
  port?: number;
  token?: string;
}

export interface RunningServer {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  const token = opts.token ?? newToken();
  const { session } = opts;
  const handlers = createHandlers(session, {
    transport: 'browser',
    electronVersion: null,
    mediaUrl: (kind, id) => `/media/${kind}/${encodeURIComponent(id)}`,
  });

  const http = createServer((req, res) => {
    handleHttp(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(err instanceof Error ? err.message : err));
    });
  });

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const presented = presentedToken(req, url);
    if (!tokenMatches(presented, token)) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('401: a valid token is required');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const media = /^\/media\/(image|thumb|mask)\/([^/]+)$/.exec(url.pathname);
    if (media) {
      let file: string;
      try {
        file = await session.mediaFile(media[1] as MediaKind, decodeURIComponent(media[2]!));
      } catch (err) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end(toWireError(err).message);
        return;
      }
      await sendFile(res, file, { 'cache-control': 'private, max-age=60' });
      return;
    }
    const file = staticPath(opts.staticDir, url.pathname);
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    const headers: Record<string, string> = {
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
    };
    // The page is opened once with ?token=; the cookie then authorises its images and its socket.
    if (url.searchParams.has('token')) {
      headers['set-cookie'] =
        `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`;
    }
    await sendFile(res, file, headers);
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: 512 * 1024 * 1024 });
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const origin = req.headers.origin;
    const sameOrigin = !origin || new URL(origin).host === req.headers.host;
    if (url.pathname !== '/ws' || !sameOrigin || !tokenMatches(presentedToken(req, url), token)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => serveSocket(ws));
  });

  function send(ws: WebSocket, message: WireMessage): void {
    if (ws.readyState !== ws.OPEN) return;
    const frame = encodeMessage(message);
    ws.send(frame, { binary: typeof frame !== 'string' });
  }

  function serveSocket(ws: WebSocket): void {
    const removeSink = session.addEventSink((name, payload) => send(ws, { kind: 'event', name, payload }));
    ws.on('close', removeSink);
    ws.on('message', (data: RawData, isBinary: boolean) => {
      let message: WireMessage;
      try {
        const bytes = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]);
        message = decodeMessage(isBinary ? new Uint8Array(bytes) : bytes.toString('utf8'));
      } catch {
        ws.close(1003, 'malformed frame');
        return;
      }
      if (message.kind !== 'req' || typeof message.id !== 'number') return;
      const { id } = message;
      void dispatch(handlers, message.method, message.payload).then((envelope) =>
        send(
          ws,
          envelope.ok
            ? { kind: 'res', id, ok: true, result: envelope.result }
            : { kind: 'res', id, ok: false, error: envelope.error },
        ),
      );
    });
  }

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}/?token=${encodeURIComponent(token)}`,
    port,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        http.close(() => resolve());
        http.closeAllConnections();
      }),
  };
}
