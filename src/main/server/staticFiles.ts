// Serves the built renderer (out/renderer) to the browser, refusing any path that leaves it.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.woff2': 'font/woff2',
};

/** MIME type for a file name, by extension. */
export function contentType(file: string): string {
  return TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/** Streams `file` with its content type; answers 404 when it is missing or not a file. */
export async function sendFile(
  res: ServerResponse,
  file: string,
  headers: Record<string, string> = {},
): Promise<void> {
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    return;
  }
  res.writeHead(200, { 'content-type': contentType(file), 'content-length': info.size, ...headers });
  const stream = createReadStream(file);
  // A file removed or unreadable after the stat must end this response, not the server.
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

/** Maps a URL path to a file under `dir`, or null when it would escape it or cannot be decoded. */
export function staticPath(dir: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath === '/' ? '/index.html' : urlPath);
  } catch {
    return null; // a malformed escape names no file
  }
  if (decoded.includes('\0')) return null;
  const rel = normalize(decoded);
  const file = join(dir, rel);
  return file === dir || file.startsWith(dir + sep) ? file : null;
}
