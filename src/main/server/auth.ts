// Token checks for the browser transport: every HTTP request and WebSocket upgrade must carry the
// token, as `?token=`, an `Authorization: Bearer` header, or the cookie set when the page loads. Also
// the Host allow-list against DNS rebinding and the back-off after repeated wrong tokens. Nothing
// here throws on malformed input: it all comes from the network. Plain Node, server process.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/**
 * The token cookie's name for a server on `port`. Cookies are shared by every port of a host, so one
 * name for all would let two Segscope servers on 127.0.0.1 overwrite, and so log out, each other.
 */
export function tokenCookie(port: number): string {
  return `segscope_token_${port}`;
}

/** A fresh random token, used when the user gives none. */
export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** `decodeURIComponent`, or null for a malformed escape such as a lone `%`. */
export function safeDecode(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

/**
 * The request's path and query as a URL, or null when the request target is not a plain path (an
 * absolute URL, `*`, or something `URL` cannot parse). `//` stays the path `//` instead of throwing.
 */
export function requestUrl(req: IncomingMessage): URL | null {
  const target = req.url ?? '/';
  if (!target.startsWith('/')) return null;
  try {
    return new URL(`http://localhost${target}`);
  } catch {
    return null;
  }
}

/** The token a request presents, from the query, the Authorization header or the cookie. */
export function presentedToken(req: IncomingMessage, url: URL, cookie: string): string | null {
  const fromQuery = url.searchParams.get('token');
  if (fromQuery) return fromQuery;
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7);
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === cookie) return safeDecode(rest.join('='));
  }
  return null;
}

/** Constant-time comparison, so the token cannot be guessed byte by byte from response times. */
export function tokenMatches(presented: string | null, expected: string): boolean {
  if (presented === null) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The host name of a Host or Origin authority (`name`, `name:port`, `[v6]:port`), lower case. */
function hostName(authority: string): string | null {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(authority.trim());
  return m ? m[1]!.toLowerCase() : null;
}

/**
 * Whether a Host header may reach this server. DNS rebinding needs a DNS name that an attacker
 * controls, so IP literals pass, as do `localhost` names and the host the user gave with --host;
 * any other name is refused.
 */
export function hostAllowed(host: string | undefined, servedHost: string): boolean {
  if (!host) return false;
  const name = hostName(host);
  if (!name) return false;
  const bare = name.startsWith('[') ? name.slice(1, -1) : name;
  if (isIP(bare)) return true;
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  return name === servedHost.toLowerCase();
}

/**
 * Whether an Origin header names this very server (same host and port as the Host header). A
 * missing Origin (a non-browser client) passes; `null` (a sandboxed frame, a file: page) does not.
 */
export function sameOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined) return true;
  if (!host) return false;
  const m = /^https?:\/\/([^/]+)$/i.exec(origin.trim());
  return !!m && m[1]!.toLowerCase() === host.trim().toLowerCase();
}

/** Wrong tokens tolerated from one address within `windowMs` before it is told to wait. */
export interface ThrottleOptions {
  maxFailures: number;
  windowMs: number;
  /** The first wait; it doubles with every further wrong token, up to `maxLockMs`. */
  lockMs: number;
  maxLockMs: number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = {
  maxFailures: 20,
  windowMs: 60_000,
  lockMs: 1_000,
  maxLockMs: 30_000,
};

/**
 * Slows down guessing: after `maxFailures` wrong tokens from one address, that address gets 429 for a
 * while, without its token being looked at, so guesses cannot go faster than the locks allow.
 */
export class AuthThrottle {
  private readonly entries = new Map<string, { failures: number; since: number; lockedUntil: number }>();

  constructor(private readonly opts: ThrottleOptions = DEFAULT_THROTTLE) {}

  /** Milliseconds `address` must still wait, or 0. */
  lockedFor(address: string, now = Date.now()): number {
    const e = this.entries.get(address);
    return e && e.lockedUntil > now ? e.lockedUntil - now : 0;
  }

  fail(address: string, now = Date.now()): void {
    let e = this.entries.get(address);
    if (!e || now - e.since > this.opts.windowMs) {
      if (this.entries.size > 10_000) this.entries.clear(); // bounded memory under a spray of addresses
      e = { failures: 0, since: now, lockedUntil: 0 };
      this.entries.set(address, e);
    }
    e.failures++;
    const over = e.failures - this.opts.maxFailures + 1;
    if (over > 0) {
      const lock = Math.min(this.opts.maxLockMs, this.opts.lockMs * 2 ** Math.min(over - 1, 20));
      e.lockedUntil = now + lock;
      e.since = now; // the window runs on while the guessing goes on
    }
  }
}
