// The browser transport under hostile input: malformed upgrades, foreign Hosts and Origins, wrong
// tokens in a row, and frames that break the protocol. The server answers each with a clear status or
// close code and keeps serving.
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type RunningServer } from '../../../../src/main/server/server';
import { WorkbenchSession } from '../../../../src/main/services/session';
import { MAX_FRAME_BYTES } from '../../../../src/main/services/limits';
import { connectWs, type SocketLike } from '../../../../src/renderer/src/transport/wsClient';
import { tempDir, VOC_MINI } from '../../../helpers/data';
import { attempt, frame, upgradeRequest } from '../../../helpers/rawWs';
import { connect } from 'node:net';
import { hostAllowed, sameOrigin } from '../../../../src/main/server/auth';

let server: RunningServer;
const TOKEN = 'hardening-token';
const text = (s: string) => new TextEncoder().encode(s);

beforeEach(async () => {
  const staticDir = tempDir();
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>Segscope</title>');
  const session = new WorkbenchSession();
  await session.open(VOC_MINI);
  server = await startServer({ session, staticDir, port: 0, token: TOKEN });
});
afterEach(async () => server.close());

/** The server still serves a well-behaved client. */
async function stillServing(): Promise<void> {
  const client = connectWs(
    `ws://127.0.0.1:${server.port}/ws?token=${TOKEN}`,
    (url) => new WebSocket(url) as unknown as SocketLike,
  );
  try {
    expect((await client.api['app:info']({})).name).toBe('Segscope');
  } finally {
    client.close();
  }
}

const upgrade = (headers: Record<string, string | undefined>, path = `/ws?token=${TOKEN}`) =>
  attempt(server.port, upgradeRequest(server.port, headers, path));

describe('upgrades and HTTP requests with malformed headers', () => {
  it('refuses Origin null, path //, a bad cookie escape and a bad query escape without going down', async () => {
    expect(await upgrade({ Origin: 'null' })).toEqual({ kind: 'http', status: 403 });
    expect(await upgrade({ Origin: '%%%' })).toEqual({ kind: 'http', status: 403 });
    expect(await upgrade({}, '//')).toEqual({ kind: 'http', status: 401 });
    expect(await upgrade({}, `//?token=${TOKEN}`)).toEqual({ kind: 'http', status: 404 });
    expect(await upgrade({ Cookie: 'segscope_token=%' }, '/ws')).toEqual({ kind: 'http', status: 401 });
    expect(await upgrade({ Cookie: `segscope_token_${server.port}=%` }, '/ws')).toEqual({
      kind: 'http',
      status: 401,
    });
    expect(await upgrade({}, '/ws?token=%')).toEqual({ kind: 'http', status: 401 });
    expect(await upgrade({}, 'http://127.0.0.1/ws')).toEqual({ kind: 'http', status: 400 });
    expect(await upgrade({ Origin: `http://127.0.0.1:${server.port}` })).toEqual({
      kind: 'http',
      status: 101,
    });
    await stillServing();
  });

  it('answers GET // and malformed escapes with 401 without the token, 404 with it', async () => {
    const base = `http://127.0.0.1:${server.port}`;
    expect((await fetch(`${base}//`)).status).toBe(401);
    expect((await fetch(`${base}/%`)).status).toBe(401);
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await fetch(`${base}//`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${base}/%`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${base}/media/image/%`, { headers: auth })).status).toBe(404);
    await stillServing();
  });

  it('survives a static file that fails while it is read', async () => {
    await server.close();
    const staticDir = tempDir();
    // /proc/self/mem stats as a regular file, and reading it from offset 0 fails with EIO.
    symlinkSync('/proc/self/mem', join(staticDir, 'broken.js'));
    server = await startServer({ session: new WorkbenchSession(), staticDir, port: 0, token: TOKEN });
    await fetch(`http://127.0.0.1:${server.port}/broken.js?token=${TOKEN}`).then(
      (r) => r.arrayBuffer(),
      () => null,
    );
    await stillServing();
  });

  it('allows loopback names and IP literals in Host, refuses other names (DNS rebinding)', async () => {
    expect(await upgrade({ Host: `evil.example:${server.port}` })).toEqual({ kind: 'http', status: 403 });
    expect(await upgrade({ Host: undefined })).toEqual({ kind: 'http', status: 403 });
    expect(
      await upgrade({ Host: `localhost:${server.port}`, Origin: `http://localhost:${server.port}` }),
    ).toEqual({ kind: 'http', status: 101 });
    expect(await upgrade({ Host: `[::1]:${server.port}` })).toEqual({ kind: 'http', status: 101 });
    const res = await attempt(
      server.port,
      `GET /?token=${TOKEN} HTTP/1.1\r\nHost: rebind.example\r\nConnection: close\r\n\r\n`,
    );
    expect(res).toEqual({ kind: 'http', status: 403 });
  });

  it('names the token cookie after the port, so two servers do not log each other out', async () => {
    const page = await fetch(`http://127.0.0.1:${server.port}/?token=${TOKEN}`);
    expect(page.headers.get('set-cookie')).toMatch(new RegExp(`^segscope_token_${server.port}=${TOKEN};`));
    const ok = await upgrade({ Cookie: `segscope_token_${server.port}=${TOKEN}` }, '/ws');
    expect(ok).toEqual({ kind: 'http', status: 101 });
    const otherPort = await upgrade({ Cookie: `segscope_token_${server.port + 1}=${TOKEN}` }, '/ws');
    expect(otherPort).toEqual({ kind: 'http', status: 401 });
  });

  it('answers 429 to an address after repeated wrong tokens, then lets it in again', async () => {
    await server.close();
    const session = new WorkbenchSession();
    server = await startServer({
      session,
      staticDir: tempDir(),
      port: 0,
      token: TOKEN,
      throttle: { maxFailures: 5, windowMs: 60_000, lockMs: 300, maxLockMs: 300 },
    });
    const base = `http://127.0.0.1:${server.port}`;
    for (let i = 0; i < 5; i++) expect((await fetch(`${base}/?token=guess${i}`)).status).toBe(401);
    const locked = await fetch(`${base}/?token=guess5`);
    expect(locked.status).toBe(429);
    expect(locked.headers.get('retry-after')).toBe('1');
    // While locked, even the right token waits: a guess must not be told apart from a hit.
    expect((await fetch(`${base}/index.html?token=${TOKEN}`)).status).toBe(429);
    expect(await upgrade({}, `/ws?token=${TOKEN}`)).toEqual({ kind: 'http', status: 429 });
    await new Promise((r) => setTimeout(r, 350));
    expect((await fetch(`${base}/index.html?token=${TOKEN}`)).status).not.toBe(429);
  });
});

describe('Host and Origin rules', () => {
  it('allows IP literals, localhost names and the --host given; nothing else', () => {
    expect(hostAllowed('gpu-box.lan:8080', 'gpu-box.lan')).toBe(true);
    expect(hostAllowed('GPU-BOX.lan', 'gpu-box.lan')).toBe(true);
    expect(hostAllowed('evil.example:8080', 'gpu-box.lan')).toBe(false);
    expect(hostAllowed('10.0.0.7:8080', '0.0.0.0')).toBe(true);
    expect(hostAllowed('[fe80::1]:8080', '::')).toBe(true);
    expect(hostAllowed('app.localhost:1', '127.0.0.1')).toBe(true);
    expect(hostAllowed('localhost.evil.example', '127.0.0.1')).toBe(false);
    expect(hostAllowed('a:b:c', '127.0.0.1')).toBe(false);
    expect(hostAllowed(undefined, '127.0.0.1')).toBe(false);
  });

  it('takes an Origin as the same only when it names the very host and port', () => {
    expect(sameOrigin(undefined, '127.0.0.1:5')).toBe(true);
    expect(sameOrigin('http://127.0.0.1:5', '127.0.0.1:5')).toBe(true);
    expect(sameOrigin('http://127.0.0.1:6', '127.0.0.1:5')).toBe(false);
    expect(sameOrigin('null', '127.0.0.1:5')).toBe(false);
    expect(sameOrigin('http://127.0.0.1:5/x', '127.0.0.1:5')).toBe(false);
  });
});

describe('frames that break the contract or the protocol', () => {
  const cases: [string, Buffer, { kind: string; code?: number | string }][] = [
    ['null', frame(1, text('null')), { kind: 'close', code: 1008 }],
    ['a number', frame(1, text('42')), { kind: 'close', code: 1008 }],
    ['an array', frame(1, text('[1,2]')), { kind: 'close', code: 1008 }],
    [
      'a string id',
      frame(1, text('{"kind":"req","id":"7","method":"app:info"}')),
      { kind: 'close', code: 1008 },
    ],
    ['not JSON', frame(1, text('{')), { kind: 'close', code: 1003 }],
    ['a binary frame that is not ours', frame(2, text('hello world!!')), { kind: 'close', code: 1003 }],
    [
      'a response as a request',
      frame(1, text('{"kind":"res","id":3}')),
      { kind: 'res', code: 'bad-request' },
    ],
    [
      'an unknown method',
      frame(1, text('{"kind":"req","id":4,"method":"rm -rf"}')),
      { kind: 'res', code: 'unknown-method' },
    ],
    [
      'a method with a null payload field',
      frame(1, text('{"kind":"req","id":5,"method":"labels:read","payload":null}')),
      { kind: 'res', code: 'bad-request' },
    ],
    ['invalid UTF-8', frame(1, Uint8Array.of(0xc3, 0x28)), { kind: 'close', code: 1007 }],
    ['RSV bits', frame(1, text('{}'), { rsv: 0b011 }), { kind: 'close', code: 1002 }],
    ['an unmasked frame', frame(1, text('{}'), { mask: false }), { kind: 'close', code: 1002 }],
    ['a reserved opcode', frame(3, text('{}')), { kind: 'close', code: 1002 }],
    ['an oversized ping', frame(9, new Uint8Array(200)), { kind: 'close', code: 1002 }],
    ['a fragmented close', frame(8, new Uint8Array(2), { fin: false }), { kind: 'close', code: 1002 }],
    [
      'a header declaring more than the frame limit',
      frame(2, new Uint8Array(0), { declaredLength: MAX_FRAME_BYTES + 1 }),
      { kind: 'close', code: 1009 },
    ],
  ];
  it.each(cases)('answers %s with a clear code and stays up', async (_name, bad, expected) => {
    const outcome = await attempt(server.port, upgradeRequest(server.port, {}, `/ws?token=${TOKEN}`), [bad]);
    expect(outcome).toMatchObject(expected);
    await stillServing();
  });

  it('answers every one of many concurrent calls from one client', async () => {
    const client = connectWs(
      `ws://127.0.0.1:${server.port}/ws?token=${TOKEN}`,
      (url) => new WebSocket(url) as unknown as SocketLike,
    );
    try {
      const answers = await Promise.all(Array.from({ length: 60 }, () => client.api['app:info']({})));
      expect(answers).toHaveLength(60);
    } finally {
      client.close();
    }
  });
});

/**
 * Opens a raw WebSocket, sends `count` labels:read calls without reading for `pauseMs`, then reads
 * until the server closes or `count` answers came; resolves with the bytes received and how it ended.
 */
function slowReader(
  port: number,
  count: number,
  pauseMs: number,
): Promise<{ bytes: number; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let bytes = 0;
    socket.on('error', () => undefined);
    socket.on('connect', () => socket.write(upgradeRequest(port, {}, `/ws?token=${TOKEN}`)));
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ bytes, closed });
    };
    const timer = setTimeout(() => finish(false), pauseMs + 8000);
    socket.on('close', () => finish(true));
    socket.once('data', () => {
      socket.pause();
      for (let i = 1; i <= count; i++) {
        const msg = { kind: 'req', id: i, method: 'labels:read', payload: { id: '2007_000032' } };
        socket.write(frame(1, new TextEncoder().encode(JSON.stringify(msg))));
      }
      setTimeout(() => {
        socket.on('data', (c: Buffer) => {
          bytes += c.length;
          if (bytes >= count * 140_500) finish(false);
        });
        socket.resume();
      }, pauseMs);
    });
  });
}

describe('memory bounds per client', () => {
  it('drops a client that stops reading once its unread answers pass the limit', async () => {
    await server.close();
    const session = new WorkbenchSession();
    await session.open(VOC_MINI);
    server = await startServer({
      session,
      staticDir: tempDir(),
      port: 0,
      token: TOKEN,
      limits: { maxInFlight: 8, highWaterBytes: 1 << 30, dropBytes: 1 << 20 },
    });
    const { bytes, closed } = await slowReader(server.port, 200, 1500);
    expect(closed).toBe(true);
    expect(bytes).toBeLessThan(200 * 140_000); // not every answer was kept for it
    await stillServing();
  }, 20_000);

  it('stops reading a slow client instead of queueing, and answers all once it reads', async () => {
    await server.close();
    const session = new WorkbenchSession();
    await session.open(VOC_MINI);
    server = await startServer({
      session,
      staticDir: tempDir(),
      port: 0,
      token: TOKEN,
      limits: { maxInFlight: 2, highWaterBytes: 256 * 1024, dropBytes: 1 << 30 },
    });
    const reading = slowReader(server.port, 60, 1000);
    await stillServing(); // others are served meanwhile
    const { bytes, closed } = await reading;
    expect(closed).toBe(false);
    expect(bytes).toBeGreaterThanOrEqual(60 * 140_500);
  }, 20_000);
});
