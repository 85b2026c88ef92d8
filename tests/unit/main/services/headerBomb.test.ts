// A PNG bomb: a small file whose header claims 20000×20000 pixels of zeros (400 MB once inflated). As
// a label or as an image it is refused from its header, naming the file and the limit, while the
// server keeps answering other clients; `check` reports it without decoding it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type RunningServer } from '../../../../src/main/server/server';
import { WorkbenchSession } from '../../../../src/main/services/session';
import { checkDataset } from '../../../../src/main/services/check';
import { connectWs, type SocketLike, type WsClient } from '../../../../src/renderer/src/transport/wsClient';
import { copyVocMini, tempDir } from '../../../helpers/data';
import { pngBomb } from '../../../helpers/pngBomb';
import { encodeLabelPng } from '../../../../src/shared/labelPng';
import { vocColormap } from '../../../../src/shared/voc';

let root: string;
let server: RunningServer;
let a: WsClient;
let b: WsClient;
let bytes: Buffer;

beforeAll(async () => {
  root = copyVocMini();
  bytes = pngBomb();
  writeFileSync(join(root, 'SegmentationClass', '2007_000032.png'), bytes);
  writeFileSync(join(root, 'JPEGImages', 'bomb.png'), bytes);
  writeFileSync(join(root, 'SegmentationClass', 'bomb.png'), bytes);
  // A small label of the wrong size: refused from its header too.
  const wrong = { width: 600, height: 600, indices: new Uint8Array(600 * 600) };
  writeFileSync(join(root, 'SegmentationClass', '2007_000033.png'), encodeLabelPng(wrong, vocColormap()));
  const session = new WorkbenchSession();
  await session.open(root);
  const staticDir = tempDir();
  writeFileSync(join(staticDir, 'index.html'), '');
  server = await startServer({ session, staticDir, port: 0, token: 't' });
  const url = `ws://127.0.0.1:${server.port}/ws?token=t`;
  a = connectWs(url, (u) => new WebSocket(u) as unknown as SocketLike);
  b = connectWs(url, (u) => new WebSocket(u) as unknown as SocketLike);
  await Promise.all([a.api['app:info']({}), b.api['app:info']({})]);
}, 60_000);
afterAll(async () => {
  a?.close();
  b?.close();
  await server?.close();
});

describe('a 20000×20000 PNG header', () => {
  it('is a small file', () => {
    expect(bytes.length).toBeLessThan(2_000_000);
  });

  it('is refused as a label from its header while another client keeps being answered', async () => {
    const latencies: number[] = [];
    let reading = true;
    const other = (async () => {
      while (reading) {
        const t0 = performance.now();
        await b.api['dataset:list']({ offset: 0, limit: 5 });
        latencies.push(performance.now() - t0);
      }
    })();
    const t0 = performance.now();
    const refusals = await Promise.all(
      ['2007_000032', 'bomb', '2007_000033'].map((id) =>
        a.api['labels:read']({ id }).then(
          () => null,
          (err: { code: string; message: string }) => err,
        ),
      ),
    );
    const took = performance.now() - t0;
    reading = false;
    await other;
    expect(refusals[0]).toMatchObject({ code: 'bad-file' });
    expect(refusals[0]!.message).toMatch(
      /2007_000032\.png: the header declares 20000×20000; over the limit of 67,108,864 pixels/,
    );
    expect(refusals[2]).toMatchObject({ code: 'bad-file' });
    expect(refusals[2]!.message).toMatch(
      /2007_000033\.png: the label is 600×600 but its image .* is \d+×\d+/,
    );
    expect(refusals[1]).toMatchObject({ code: 'bad-file' });
    expect(refusals[1]!.message).toMatch(/bomb\.png: is 20000×20000, over the limit of 67,108,864 pixels/);
    expect(took).toBeLessThan(2000);
    expect(latencies.length).toBeGreaterThan(0);
    expect(Math.max(...latencies)).toBeLessThan(1000);
  });

  it('is reported by check without being decoded', async () => {
    const session = new WorkbenchSession();
    await session.open(root);
    const before = process.memoryUsage().rss;
    const t0 = performance.now();
    const report = await checkDataset(session.dataset);
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
    const byId = new Map(report.problems.map((p) => [p.id, p]));
    expect(byId.get('2007_000032')).toMatchObject({ kind: 'size-mismatch' });
    expect(byId.get('bomb')).toMatchObject({ kind: 'unreadable' });
    expect(byId.get('bomb')!.message, JSON.stringify(report.problems)).toMatch(/over the limit/);
  });
});
