// The segscope-app:// protocol: the built renderer served to the window from its own origin, not
// from file:// (which grants a page universal file access), with a strict CSP. Electron main process.
import { protocol } from 'electron';
import { readFile } from 'node:fs/promises';
import { extname, isAbsolute, relative, resolve } from 'node:path';

export const APP_SCHEME = 'segscope-app';
export const APP_ORIGIN = `${APP_SCHEME}://app`;
/** The page the window opens; `app` is a fixed host, so no folder name ever lands in the URL. */
export const APP_HOME = `${APP_ORIGIN}/index.html`;

/**
 * The desktop page's policy, on top of the page's own <meta> one: it may connect to nothing but its
 * own origin (no `ws:`; the desktop app talks over IPC) and show images from the media protocol.
 */
export const DESKTOP_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' segscope-media: blob: data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.woff2': 'font/woff2',
};

/** Thrown for an app URL that names no path at all (a malformed escape); answered with 400. */
export class MalformedUrl extends Error {}

/**
 * The file under `root` that an app URL names, or null when the URL is foreign or leaves `root`.
 *
 * @throws MalformedUrl when the URL cannot be parsed or its path holds a malformed escape (`%E0%A4%A`).
 */
export function appFile(root: string, url: string): string | null {
  let parsed: URL;
  let path: string;
  try {
    parsed = new URL(url);
    path = decodeURIComponent(parsed.pathname);
  } catch (err) {
    throw new MalformedUrl(`${url}: ${(err as Error).message}`);
  }
  if (parsed.protocol !== `${APP_SCHEME}:` || parsed.host !== 'app') return null;
  if (path.includes('\0')) return null;
  const file = resolve(root, `.${path}`);
  const rel = relative(root, file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? file : null;
}

/** Serves `root` (the built renderer) on the app scheme. Call once, after the app is ready. */
export function handleAppProtocol(root: string): void {
  protocol.handle(APP_SCHEME, async (request) => {
    let file: string | null;
    try {
      file = appFile(root, request.url);
    } catch (err) {
      if (!(err instanceof MalformedUrl)) throw err;
      return new Response('bad request: the URL path holds a malformed escape', {
        status: 400,
        headers: { 'content-type': 'text/plain', 'x-content-type-options': 'nosniff' },
      });
    }
    const body = file ? await readFile(file).catch(() => null) : null;
    if (!file || !body)
      return new Response('not found', {
        status: 404,
        headers: { 'content-type': 'text/plain', 'x-content-type-options': 'nosniff' },
      });
    return new Response(new Uint8Array(body), {
      headers: {
        'content-type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
        'content-security-policy': DESKTOP_CSP,
        'x-content-type-options': 'nosniff',
      },
    });
  });
}
