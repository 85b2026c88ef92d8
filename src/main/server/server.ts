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

/** How much all clients together may hold of the server's memory, whatever each one does. */
export interface ServerCaps {
  /** Open WebSockets; an upgrade beyond it is answered 503. */
  maxClients: number;
  /**
   * Answers queued for all clients together. Past it, the client with the most unread is closed
   * (1013, with a reason), so clients that never read cannot add up to more than this.
   */
  maxQueuedBytes: number;
  /** Requests unanswered across all clients; at it, the server reads no client's next frame. */
  maxInFlight: number;
}

export const SERVER_CAPS: ServerCaps = {
  maxClients: 64,
  maxQueuedBytes: 192 * 1024 * 1024,
  maxInFlight: 64,
};

/** Close code for a client refused for the server's load (RFC 6455's "Try Again Later"). */
export const CLOSE_BUSY = 1013;

/** How long a client closed for the queue cap has to read up to its close frame before it is ended. */
const CLOSE_GRACE_MS = 5000;

/** The server's load now, for tests and diagnostics. */
export interface ServerLoad {
  clients: number;
  queuedBytes: number;
  inFlight: number;
  /** Clients closed so far because the queued bytes passed the cap. */
  closedForQueue: number;
  /** Upgrades refused so far because the client cap was reached. */
  refusedForClients: number;
}

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
  /** Limits on all clients together. */
  caps?: ServerCaps;
}

export interface RunningServer {
  url: string;
  port: number;
  token: string;
  /** The load now: clients, bytes queued for them, requests in flight. */
  load(): ServerLoad;
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
  const caps = opts.caps ?? SERVER_CAPS;
  let inFlightTotal = 0;
  let closedForQueue = 0;
  let refusedForClients = 0;
  /** Each open socket's read regulator, run again when the server-wide load falls. */
  const regulators = new Set<() => void>();
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
    503: 'Service Unavailable',
  } as const;
  const REASONS = {
    400: '400: the request target is not a path this server understands',
    401: '401: a valid token is required',
    403: '403: refused: the Host or Origin is not this server',
    404: '404: not found',
    429: '429: too many wrong tokens from this address; wait and try again',
    503: `503: the server already serves ${caps.maxClients} clients, its limit; close a tab or window and try again`,
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
  let upgrading = 0;

  /** Clients already ended for the queue cap; their sockets are gone even before `ws` says so. */
  const ended = new WeakSet<WebSocket>();

  /** Bytes queued for every client not yet ended, those told to go included (they still hold them). */
  function queuedBytes(): number {
    let total = 0;
    for (const client of wss.clients) if (!ended.has(client)) total += client.bufferedAmount;
    return total;
  }

  /** Ends a client now, so what is queued for it is freed. */
  function end(client: WebSocket): void {
    ended.add(client);
    client.terminate();
  }

  /**
   * Keeps the answers queued for all clients under the cap. While they are over it, clients already told
   * to go are ended first (they had their reason), then the open client with the most unread is closed
   * with a reason, and ended after a grace period if it does not read up to it.
   */
  function enforceQueueCap(): void {
    let total = queuedBytes();
    if (total <= caps.maxQueuedBytes) return;
    const byUnread = [...wss.clients]
      .filter((c) => !ended.has(c))
      .sort((a, b) => b.bufferedAmount - a.bufferedAmount);
    for (const client of byUnread) {
      if (total <= caps.maxQueuedBytes) return;
      if (client.readyState !== client.CLOSING) continue;
      total -= client.bufferedAmount;
      end(client);
    }
    for (const client of byUnread) {
      if (total <= caps.maxQueuedBytes) return;
      if (client.readyState !== client.OPEN) continue;
      total -= client.bufferedAmount;
      closedForQueue++;
      client.close(
        CLOSE_BUSY,
        `server busy: ${Math.round(total / 2 ** 20)} MiB of answers wait for other clients; this one read least`,
      );
      setTimeout(() => end(client), CLOSE_GRACE_MS).unref();
    }
  }

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
      // Handshakes under way count too, or a burst of them would all pass the check at once.
      if (wss.clients.size + upgrading >= caps.maxClients) {
        refusedForClients++;
        return refuseUpgrade(socket, 503);
      }
      upgrading++;
      let counted = true;
      const done = (): void => {
        if (counted) upgrading--;
        counted = false;
      };
      socket.once('close', done);
      wss.handleUpgrade(req, socket, head, (ws) => {
        done();
        serveSocket(ws);
      });
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
    enforceQueueCap();
  }
  /** Per socket, what to do when one of its frames has been written out. */
  const flushed = new WeakMap<WebSocket, () => void>();

  /** Lets paused clients read again once the server-wide count of requests has room. */
  function resumeAll(): void {
    if (inFlightTotal >= caps.maxInFlight) return;
    for (const regulate of regulators) regulate();
  }

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
      const busy =
        inFlight >= limits.maxInFlight ||
        ws.bufferedAmount > limits.highWaterBytes ||
        inFlightTotal >= caps.maxInFlight;
      if (busy && !ws.isPaused) ws.pause();
      if (!busy && ws.isPaused) ws.resume();
    }
    // Every frame written to the socket may have brought the queue below the high-water mark.
    flushed.set(ws, regulate);
    regulators.add(regulate);
    ws.on('close', () => {
      regulators.delete(regulate);
      inFlightTotal -= inFlight; // its answers are dropped when they come; the count goes with it now
      inFlight = 0;
      resumeAll();
    });

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
      inFlightTotal++;
      regulate();
      void dispatch(handlers, method, payload).then((envelope) => {
        if (ws.readyState !== ws.OPEN) return; // counted off when it closed
        inFlight--;
        inFlightTotal--;
        resumeAll();
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
    load: () => ({
      clients: wss.clients.size,
      queuedBytes: queuedBytes(),
      inFlight: inFlightTotal,
      closedForQueue,
      refusedForClients,
    }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        http.close(() => resolve());
        http.closeAllConnections();
      }),
  };
}
