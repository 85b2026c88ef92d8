// The browser transport on a real socket: token checks over HTTP and WebSocket, and the renderer's
// own WebSocket client (fed the `ws` package's socket, since Node 20 has no global WebSocket).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type RunningServer } from '../../../../src/main/server/server';
import { WorkbenchSession } from '../../../../src/main/services/session';
import { connectWs, type SocketLike } from '../../../../src/renderer/src/transport/wsClient';
import { tempDir, VOC_MINI, VOC_MINI_IDS } from '../../../helpers/data';

let server: RunningServer;
let session: WorkbenchSession;
const TOKEN = 'test-token-123';
const base = () => `http://127.0.0.1:${server.port}`;
const wsUrl = (token?: string) =>
  `ws://127.0.0.1:${server.port}/ws${token === undefined ? '' : `?token=${token}`}`;
const socket = (url: string) => new WebSocket(url) as unknown as SocketLike;

beforeEach(async () => {
  const staticDir = tempDir();
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>Segscope</title>');
  session = new WorkbenchSession();
  await session.open(VOC_MINI);
  server = await startServer({ session, staticDir, port: 0, token: TOKEN });
});
afterEach(async () => server.close());

/** Resolves with how a raw WebSocket attempt ended: 'open', or the HTTP status it was refused with. */
function tryConnect(url: string): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on('open', () => {
      ws.close();
      resolve('open');
    });
    ws.on('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
    ws.on('error', () => resolve('error'));
  });
}

describe('browser transport', () => {
  it('binds to 127.0.0.1 by default and prints a URL with the token', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/?token=${TOKEN}`);
  });

  it('answers 401 over HTTP without the token or with a wrong one, and serves nothing', async () => {
    for (const path of ['/', '/index.html', '/media/image/2007_000032', '/?token=wrong']) {
      const res = await fetch(base() + path);
      expect(res.status, path).toBe(401);
      expect(await res.text()).not.toContain('<title>');
    }
    const bearerWrong = await fetch(base() + '/', { headers: { authorization: 'Bearer nope' } });
    expect(bearerWrong.status).toBe(401);
  });

  it('serves the page with the token and sets a cookie that authorises images', async () => {
    const page = await fetch(`${base()}/?token=${TOKEN}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
    const image = await fetch(`${base()}/media/image/2007_000032`, { headers: { cookie } });
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/jpeg');
    const bytes = new Uint8Array(await image.arrayBuffer());
    expect([bytes[0], bytes[1]]).toEqual([0xff, 0xd8]);
  });

  it('never serves files outside the renderer folder or ids outside the dataset', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    for (const path of [
      '/..%2f..%2fetc%2fpasswd',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/media/image/..%2f..%2fImageSets%2fSegmentation%2ftrain',
    ]) {
      const res = await fetch(base() + path, { headers: auth });
      expect(res.status, path).toBe(404);
    }
  });

  it('closes WebSocket upgrades without the right token', async () => {
    expect(await tryConnect(wsUrl())).toBe('401');
    expect(await tryConnect(wsUrl('wrong'))).toBe('401');
    expect(await tryConnect(wsUrl(TOKEN))).toBe('open');
  });

  it('refuses a cross-origin WebSocket even with the token', async () => {
    const status = await new Promise<string>((resolve) => {
      const ws = new WebSocket(wsUrl(TOKEN), { headers: { origin: 'http://evil.example' } });
      ws.on('open', () => resolve('open'));
      ws.on('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
    });
    expect(status).toBe('403');
  });

  it('serves the contract to the renderer client, errors and events included', async () => {
    const a = connectWs(wsUrl(TOKEN), socket);
    const b = connectWs(wsUrl(TOKEN), socket);
    try {
      const info = await a.api['app:info']({});
      expect(info.transport).toBe('browser');
      const page = await a.api['dataset:list']({ offset: 0, limit: 10 });
      expect(page.items.map((i) => i.id)).toEqual(VOC_MINI_IDS);
      expect(page.items[0]!.imageUrl).toBe('/media/image/2007_000032');

      await expect(a.api['dataset:open']({ path: tempDir() })).rejects.toMatchObject({ code: 'not-voc' });

      const heard = new Promise((resolve) => b.api.on('dataset:opened', resolve));
      await b.api['app:info']({}); // b's socket is open before a opens a dataset
      await a.api['dataset:open']({ path: VOC_MINI });
      expect(await heard).toMatchObject({ name: 'VOC2012', imageCount: 5 });
    } finally {
      a.close();
      b.close();
    }
  });

  it('rejects pending calls when the server goes away', async () => {
    const client = connectWs(wsUrl(TOKEN), socket);
    await client.api['app:info']({});
    const closing = server.close();
    await expect(client.api['app:info']({})).rejects.toThrow(/connection|refused|connect/);
    await closing;
    server = await startServer({ session, staticDir: tempDir(), port: 0, token: TOKEN }); // for afterEach
  });
});
