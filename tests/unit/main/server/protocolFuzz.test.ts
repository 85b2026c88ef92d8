// Seeded protocol fuzzing of the browser transport: thousands of malformed upgrades, frames and
// payloads on raw sockets. Each must be answered (an HTTP status, a response frame) or closed with a
// close code, never left hanging, and the server must keep serving. Prints the counts per outcome.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type RunningServer } from '../../../../src/main/server/server';
import { WorkbenchSession } from '../../../../src/main/services/session';
import { MAX_FRAME_BYTES } from '../../../../src/main/services/limits';
import { encodeMessage } from '../../../../src/shared/wire';
import { METHODS } from '../../../../src/shared/api';
import { rng } from '../../../../src/shared/random';
import { connectWs, type SocketLike } from '../../../../src/renderer/src/transport/wsClient';
import { copyVocMini, tempDir, VOC_MINI_IDS } from '../../../helpers/data';
import { attempt, frame, upgradeRequest, type Outcome } from '../../../helpers/rawWs';

const SEED = 20261201;
const TOKEN = 'fuzz-token';
let server: RunningServer;

beforeAll(async () => {
  const staticDir = tempDir();
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>Segscope</title>');
  const session = new WorkbenchSession();
  await session.open(copyVocMini());
  // Wrong tokens are part of the fuzz; the back-off would otherwise answer 429 to everything after.
  server = await startServer({
    session,
    staticDir,
    port: 0,
    token: TOKEN,
    throttle: { maxFailures: 1e9, windowMs: 1, lockMs: 0, maxLockMs: 0 },
  });
}, 30_000);
afterAll(async () => server?.close());

type Random = () => number;
const pick = <T>(r: Random, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: Random, n: number) => Math.floor(r() * n);

function junk(r: Random, n: number, ascii = false): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(ascii ? 0x20 + int(r, 95) : int(r, 256));
  return s;
}

function randomValue(r: Random, depth = 0): unknown {
  switch (int(r, depth > 2 ? 6 : 8)) {
    case 0:
      return null;
    case 1:
      return pick(r, [0, -1, 1.5, 2 ** 53, NaN, 1e308]);
    case 2:
      return junk(r, int(r, 12), true);
    case 3:
      return r() < 0.5;
    case 4:
      return pick(r, [...VOC_MINI_IDS, '..', '../../etc/passwd', '', '/', 'x'.repeat(300)]);
    case 5:
      return pick(r, [{}, [], '%', '\u0000']);
    case 6:
      return Array.from({ length: int(r, 4) }, () => randomValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = int(r, 4); i > 0; i--)
        o[pick(r, ['id', 'path', 'offset', 'limit', 'indices', 'width', 'x', '__proto__'])] = randomValue(
          r,
          depth + 1,
        );
      return o;
    }
  }
}

/** A malformed (or now and then valid) upgrade request. */
function randomUpgrade(r: Random, port: number): string {
  const token = pick(r, [TOKEN, TOKEN, 'wrong', '', '%', '%E0%A4%A', junk(r, 8, true)]);
  const path = pick(r, [
    `/ws?token=${token}`,
    '/ws',
    '//',
    '/%',
    `//ws?token=${token}`,
    `/ws?token=${token}&token=x`,
    '*',
    `http://127.0.0.1:${port}/ws`,
    `/${junk(r, 6, true).replace(/\s/g, '')}`,
    `/ws/../ws?token=${token}`,
  ]);
  const headers: Record<string, string | undefined> = {};
  if (r() < 0.4)
    headers['Origin'] = pick(r, [
      'null',
      '%',
      '',
      'http://evil.example',
      `http://127.0.0.1:${port}`,
      `http://localhost:${port}`,
      'http://[::1',
      junk(r, 10, true),
    ]);
  if (r() < 0.3)
    headers['Host'] = pick(r, [
      undefined,
      '',
      'evil.example',
      `localhost:${port}`,
      `[::1]:${port}`,
      '[zz]:1',
      junk(r, 8, true),
    ]);
  if (r() < 0.3)
    headers['Cookie'] = pick(r, [
      'segscope_token=%',
      `segscope_token_${port}=%`,
      `segscope_token_${port}=${TOKEN}`,
      '=;=;;',
      junk(r, 20, true),
    ]);
  if (r() < 0.15) headers['Sec-WebSocket-Key'] = pick(r, [undefined, '', 'short', junk(r, 24, true)]);
  if (r() < 0.1) headers['Sec-WebSocket-Version'] = pick(r, [undefined, '8', '', '13, 8']);
  if (r() < 0.1) headers['Authorization'] = pick(r, ['Bearer ', `Bearer ${TOKEN}`, 'Basic x', '%']);
  return upgradeRequest(port, headers, path.replace(/[\r\n]/g, ''));
}

/** A malformed (or now and then valid) frame, and what counts as a clear answer to it. */
function randomFrame(r: Random): Buffer {
  const t = (s: string) => new TextEncoder().encode(s);
  switch (int(r, 12)) {
    case 0:
      return frame(1, t(pick(r, ['null', '42', '"x"', '[]', 'true', '{}', '{"id":{}}'])));
    case 1:
      return frame(1, t(junk(r, int(r, 40), true)));
    case 2: {
      const msg = { kind: pick(r, ['req', 'res', 'event', 7]), id: randomValue(r), method: pick(r, METHODS) };
      return frame(1, t(JSON.stringify(msg)));
    }
    case 3: {
      // A well-formed request with a random payload: the contract's validation answers it.
      const method = pick(r, [
        ...METHODS.filter((m) => !/^(weights|training|engine|models|dataset:pick)/.test(m)),
        'nope',
      ]);
      const msg = { kind: 'req', id: int(r, 1e6), method, payload: randomValue(r) };
      return frame(1, t(JSON.stringify(msg)));
    }
    case 4: {
      // A binary request with a typed array: sometimes a labels:save of the wrong size.
      const payload = {
        id: pick(r, VOC_MINI_IDS),
        width: int(r, 600),
        height: int(r, 600),
        indices: new Uint8Array(int(r, 4096)),
        baseVersion: 'x',
      };
      const bytes = encodeMessage({
        kind: 'req',
        id: int(r, 1e6),
        method: 'labels:save',
        payload,
      }) as Uint8Array;
      if (r() < 0.5)
        for (let i = 0; i < 4; i++) bytes[4 + int(r, Math.max(1, bytes.length - 4))] = int(r, 256);
      return frame(2, bytes);
    }
    case 5:
      return frame(
        2,
        Uint8Array.from(junk(r, int(r, 64)), (c) => c.charCodeAt(0)),
      );
    case 6:
      return frame(1, Uint8Array.of(0xc3, 0x28, 0xff, int(r, 256)));
    case 7:
      return frame(1, t('{}'), { rsv: 1 + int(r, 7) });
    case 8:
      return frame(1, t('{}'), { mask: false });
    case 9:
      return frame(pick(r, [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]), t('x'));
    case 10:
      return frame(pick(r, [8, 9, 10]), new Uint8Array(126 + int(r, 200)));
    default:
      return frame(pick(r, [1, 2]), new Uint8Array(0), { declaredLength: MAX_FRAME_BYTES + 1 + int(r, 1e9) });
  }
}

const CLOSE_CODES = new Set([1002, 1003, 1007, 1008, 1009]);
const HTTP_CODES = new Set([101, 400, 401, 403, 404, 426, 429]);

function label(o: Outcome): string {
  if (o.kind === 'http') return `http ${o.status}`;
  if (o.kind === 'close') return `close ${o.code}`;
  if (o.kind === 'res') return `res ${o.ok ? 'ok' : o.code}`;
  return o.kind;
}

/** Runs `count` attempts, `width` at a time; resolves to the tally of outcomes. */
async function run(
  count: number,
  width: number,
  make: (i: number) => Promise<Outcome>,
): Promise<Map<string, number>> {
  const tally = new Map<string, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) {
        const o = await make(next++);
        tally.set(label(o), (tally.get(label(o)) ?? 0) + 1);
      }
    }),
  );
  return tally;
}

async function stillServing(): Promise<void> {
  const client = connectWs(
    `ws://127.0.0.1:${server.port}/ws?token=${TOKEN}`,
    (url) => new WebSocket(url) as unknown as SocketLike,
  );
  try {
    expect((await client.api['dataset:list']({ offset: 0, limit: 2 })).total).toBe(5);
  } finally {
    client.close();
  }
}

const print = (name: string, tally: Map<string, number>) =>
  console.log(
    `${name} (seed ${SEED}): ${[...tally]
      .sort()
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ')}`,
  );

describe('protocol fuzz', () => {
  it('answers or closes every malformed upgrade with a clear status', async () => {
    const r = rng(SEED);
    const requests = Array.from({ length: 2000 }, () => randomUpgrade(r, server.port));
    const tally = await run(requests.length, 16, (i) => attempt(server.port, requests[i]!));
    print('upgrades', tally);
    for (const [k, n] of tally)
      expect(k.startsWith('http ') && HTTP_CODES.has(Number(k.slice(5))), `${k} ×${n}`).toBe(true);
    await stillServing();
  }, 60_000);

  it('answers or closes every malformed frame and payload with a clear code', async () => {
    const r = rng(SEED + 1);
    const frames = Array.from({ length: 3000 }, () => randomFrame(r));
    const open = upgradeRequest(server.port, {}, `/ws?token=${TOKEN}`);
    const tally = await run(frames.length, 16, (i) => attempt(server.port, open, [frames[i]!]));
    print('frames', tally);
    for (const [k, n] of tally) {
      const clear = k.startsWith('res ') || (k.startsWith('close ') && CLOSE_CODES.has(Number(k.slice(6))));
      expect(clear, `${k} ×${n}`).toBe(true);
    }
    await stillServing();
  }, 90_000);
});
