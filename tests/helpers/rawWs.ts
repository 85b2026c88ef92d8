// A WebSocket client written by hand on a plain TCP socket, so tests can send what no library would:
// malformed upgrade requests, unmasked or oversized frames, bad opcodes, invalid UTF-8.
import { connect, type Socket } from 'node:net';

/** What the server did with one attempt. */
export type Outcome =
  | { kind: 'http'; status: number } // an HTTP answer to the upgrade (101 included)
  | { kind: 'res'; id: number; ok: boolean; code?: string } // a response frame
  | { kind: 'close'; code: number | null; reason: string } // a close frame
  | { kind: 'ended' } // the socket ended with no answer
  | { kind: 'timeout' };

export const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** Builds a frame; client frames are masked unless `mask` is false. */
export function frame(
  opcode: number,
  payload: Uint8Array,
  opts: { fin?: boolean; rsv?: number; mask?: boolean; declaredLength?: number } = {},
): Buffer {
  const fin = opts.fin ?? true;
  const mask = opts.mask ?? true;
  const length = opts.declaredLength ?? payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | (opcode & 0x0f)];
  const m = mask ? 0x80 : 0;
  if (length < 126) head.push(m | length);
  else if (length < 65536) head.push(m | 126, length >> 8, length & 0xff);
  else {
    head.push(m | 127);
    const big = BigInt(length);
    for (let i = 7; i >= 0; i--) head.push(Number((big >> BigInt(8 * i)) & 0xffn));
  }
  const key = mask ? [0x12, 0x34, 0x56, 0x78] : [];
  const body = Buffer.from(payload);
  if (mask) for (let i = 0; i < body.length; i++) body[i]! ^= key[i % 4]!;
  return Buffer.concat([Buffer.from(head), Buffer.from(key), body]);
}

/** Parses the first complete server frame in `buf` (server frames are never masked); null until one is whole. */
export function firstFrame(buf: Buffer): { opcode: number; payload: Buffer; size: number } | null {
  if (buf.length < 2) return null;
  let len = buf[1]! & 0x7f;
  let at = 2;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2);
    at = 4;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    len = Number(buf.readBigUInt64BE(2));
    at = 10;
  }
  if (buf.length < at + len) return null;
  return { opcode: buf[0]! & 0x0f, payload: buf.subarray(at, at + len), size: at + len };
}

export function upgradeRequest(
  port: number,
  lines: Record<string, string | undefined>,
  path = '/ws',
): string {
  const headers: Record<string, string | undefined> = {
    Host: `127.0.0.1:${port}`,
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': KEY,
    ...lines,
  };
  const text = Object.entries(headers)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n');
  return `GET ${path} HTTP/1.1\r\n${text}\r\n\r\n`;
}

/**
 * Sends `request` (a raw upgrade), then, once 101 comes, `frames`; resolves with the first thing the
 * server says after that: the HTTP status when the upgrade is refused, else a response or close frame.
 */
export function attempt(
  port: number,
  request: string,
  frames: Buffer[] = [],
  timeoutMs = 3000,
): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let upgraded = false;
    let done = false;
    const finish = (o: Outcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout' }), timeoutMs);
    socket.on('error', () => finish({ kind: 'ended' }));
    socket.on('close', () => finish({ kind: 'ended' }));
    socket.on('connect', () => socket.write(request, 'latin1'));
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(buf.subarray(0, end).toString('latin1'))?.[1] ?? 0);
        if (status !== 101 || frames.length === 0) return finish({ kind: 'http', status });
        upgraded = true;
        buf = buf.subarray(end + 4);
        for (const f of frames) socket.write(f);
      }
      for (let f = firstFrame(buf); f; f = firstFrame(buf)) {
        buf = buf.subarray(f.size);
        if (f.opcode === 0x8) {
          const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null;
          return finish({ kind: 'close', code, reason: f.payload.subarray(2).toString('utf8') });
        }
        if (f.opcode === 0x1) {
          const m = JSON.parse(f.payload.toString('utf8')) as {
            kind: string;
            id: number;
            ok: boolean;
            error?: { code: string };
          };
          if (m.kind === 'res') return finish({ kind: 'res', id: m.id, ok: m.ok, code: m.error?.code });
        }
        // An event or a binary answer: wait for the next frame.
      }
    });
  });
}
