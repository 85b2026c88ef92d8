// The browser transport: the renderer over HTTP, image bytes over HTTP, and the contract over one
// WebSocket per tab. Serves the same handlers as the desktop shell. Plain Node process.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { createHandlers } from '../services/handlers';
import { dispatch } from '../services/dispatch';
import { MAX_FRAME_BYTES } from '../services/limits';
import type { MediaKind, WorkbenchSession } from '../services/session';
import { decodeMessage, encodeMessage, type WireMessage } from '../../shared/wire';
import { toWireError } from '../../shared/errors';
import {
  AuthThrottle,
  hostAllowed,
  newToken,
  presentedToken,
  requestUrl,
  safeDecode,
  sameOrigin,
  tokenCookie,
  tokenMatches,
  type ThrottleOptions,
} from './auth';
import { sendFile, staticPath } from './staticFiles';

/** How much one client may hold of the server's memory. */
export interface ClientLimits {
  /** Requests one client may have unanswered; beyond it the server stops reading its socket. */
  maxInFlight: number;
  /** Answers queued for a client that does not read them; above this its requests are not read. */
  highWaterBytes: number;
  /** A client with this much unread is dropped, since nothing it sends will be read either. */
  dropBytes: number;
}

export const CLIENT_LIMITS: ClientLimits = {
  maxInFlight: 8,
  highWaterBytes: 2 * MAX_FRAME_BYTES,
  dropBytes: 4 * MAX_FRAME_BYTES,
};

export interface ServeOptions {
  session: WorkbenchSession;
  /** Folder of the built renderer (index.html and assets). */
  staticDir: string;
  host?: string;
  port?: number;
  token?: string;
  /** How wrong tokens are throttled (tests shorten it). */
  throttle?: ThrottleOptions;
  /** Per-client memory limits (tests make them small). */
  limits?: ClientLimits;
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
  const throttle = new AuthThrottle(opts.throttle);
  const limits = opts.limits ?? CLIENT_LIMITS;
  // Set once listening: the cookie is named after the port.
  let cookie = '';
  const handlers = createHandlers(session, {
    transport: 'browser',
    electronVersion: null,
    mediaUrl: (kind, id) => `/media/${kind}/${encodeURIComponent(id)}`,
  });

  /**
   * The one gate for HTTP requests and upgrades: the status to refuse with, or null to let it in.
   * Order matters: a foreign Host is refused before its token counts as a guess.
   */
  function gate(req: IncomingMessage, url: URL | null): 400 | 401 | 403 | 429 | null {
    if (!url) return 400;
    if (!hostAllowed(req.headers.host, host)) return 403;
    const address = req.socket.remoteAddress ?? '';
    if (throttle.lockedFor(address) > 0) return 429;
    if (!tokenMatches(presentedToken(req, url, cookie), token)) {
      throttle.fail(address);
      return 401;
    }
    return null;
  }

  const REFUSALS = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    429: 'Too Many Requests',
  } as const;
  const REASONS = {
    400: '400: the request target is not a path this server understands',
    401: '401: a valid token is required',
    403: '403: refused: the Host or Origin is not this server',
    404: '404: not found',
    429: '429: too many wrong tokens from this address; wait and try again',
  } as const;

  const http = createServer((req, res) => {
    handleHttp(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(err instanceof Error ? err.message : err));
    });
  });

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = requestUrl(req);
    const refused = gate(req, url);
    if (refused !== null) {
      const headers: Record<string, string> = { 'content-type': 'text/plain' };
      if (refused === 429)
        headers['retry-after'] = String(Math.ceil(throttle.lockedFor(req.socket.remoteAddress ?? '') / 1000));
      res.writeHead(refused, headers).end(REASONS[refused]);
      return;
    }
    const path = url!.pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const media = /^\/media\/(image|thumb|mask)\/([^/]+)$/.exec(path);
    if (media) {
      const id = safeDecode(media[2]!);
      let file: string;
      try {
        if (id === null) throw new Error(`${media[2]}: not a valid image id`);
        file = await session.mediaFile(media[1] as MediaKind, id);
      } catch (err) {
        res
          .writeHead(404, { 'content-type': 'text/plain', 'x-content-type-options': 'nosniff' })
          .end(toWireError(err).message);
        return;
      }
      // nosniff: a planted file served as image/png must never be run as a script or page.
      await sendFile(res, file, {
        'cache-control': 'private, max-age=60',
        'x-content-type-options': 'nosniff',
      });
      return;
    }
    const file = staticPath(opts.staticDir, path);
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    const headers: Record<string, string> = {
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
    };
    // The page is opened once with ?token=; the cookie then authorises its images and its socket.
    if (url!.searchParams.has('token')) {
      headers['set-cookie'] = `${cookie}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`;
    }
    await sendFile(res, file, headers);
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });

  /** Answers a refused upgrade on the raw socket and closes it. */
  function refuseUpgrade(socket: Duplex, status: keyof typeof REFUSALS): void {
    const body = REASONS[status];
    socket.end(
      `HTTP/1.1 ${status} ${REFUSALS[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    socket.destroy();
  }

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A client that resets mid-handshake must not become an unhandled 'error'.
    socket.on('error', () => socket.destroy());
    try {
      const url = requestUrl(req);
      const refused = gate(req, url);
      if (refused !== null) return refuseUpgrade(socket, refused);
      if (url!.pathname !== '/ws') return refuseUpgrade(socket, 404);
      // A page of another site (or a sandboxed frame, whose Origin is `null`) must not use the cookie.
      if (!sameOrigin(req.headers.origin, req.headers.host)) return refuseUpgrade(socket, 403);
      wss.handleUpgrade(req, socket, head, (ws) => serveSocket(ws));
    } catch {
      // Nothing above should throw; if something does, this one connection is refused, not the server.
      refuseUpgrade(socket, 400);
    }
  });

  function send(ws: WebSocket, message: WireMessage): void {
    if (ws.readyState !== ws.OPEN) return;
    // A client that stopped reading is dropped before its answers fill the server's memory.
    if (ws.bufferedAmount > limits.dropBytes) {
      ws.terminate();
      return;
    }
    const frame = encodeMessage(message);
    ws.send(frame, { binary: typeof frame !== 'string' }, () => flushed.get(ws)?.());
  }
  /** Per socket, what to do when one of its frames has been written out. */
  const flushed = new WeakMap<WebSocket, () => void>();

  function serveSocket(ws: WebSocket): void {
    // Protocol errors (bad UTF-8, RSV bits, unmasked or oversized frames…) are answered by `ws` with a
    // close code; without a listener they would be an unhandled 'error' and end the process.
    ws.on('error', () => undefined);
    const removeSink = session.addEventSink((name, payload) => send(ws, { kind: 'event', name, payload }));
    ws.on('close', removeSink);
    let inFlight = 0;

    /** Reads the client's next frames only while it has few calls pending and reads its answers. */
    function regulate(): void {
      if (ws.readyState !== ws.OPEN) return;
      const busy = inFlight >= limits.maxInFlight || ws.bufferedAmount > limits.highWaterBytes;
      if (busy && !ws.isPaused) ws.pause();
      if (!busy && ws.isPaused) ws.resume();
    }
    // Every frame written to the socket may have brought the queue below the high-water mark.
    flushed.set(ws, regulate);

    ws.on('message', (data: RawData, isBinary: boolean) => {
      let message: unknown;
      try {
        const bytes = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]);
        message = decodeMessage(isBinary ? new Uint8Array(bytes) : bytes.toString('utf8'));
      } catch {
        ws.close(1003, 'malformed frame: not JSON or not a Segscope binary frame');
        return;
      }
      if (typeof message !== 'object' || message === null || Array.isArray(message)) {
        ws.close(1008, 'not a request: a frame must hold an object');
        return;
      }
      const id = (message as { id?: unknown }).id;
      if (typeof id !== 'number' || !Number.isSafeInteger(id)) {
        ws.close(1008, 'not a request: id must be an integer');
        return;
      }
      const { kind, method, payload } = message as { kind?: unknown; method?: unknown; payload?: unknown };
      if (kind !== 'req') {
        send(ws, {
          kind: 'res',
          id,
          ok: false,
          error: { code: 'bad-request', message: `frame ${id}: kind must be "req"` },
        });
        return;
      }
      inFlight++;
      regulate();
      void dispatch(handlers, method, payload).then((envelope) => {
        inFlight--;
        send(
          ws,
          envelope.ok
            ? { kind: 'res', id, ok: true, result: envelope.result }
            : { kind: 'res', id, ok: false, error: envelope.error },
        );
        regulate();
      });
    });
  }

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  cookie = tokenCookie(port);
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
