// Label PNGs decode in a worker thread when the server runs, so that a large label (5120×5120, about
// 0.4 s to decode) does not hold the server's event loop: the label that comes back is exact, and a
// damaged one is reported by name. The worker is the real one, bundled from its source as the app's
// build does.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type RunningServer } from '../../../../src/main/server/server';
import { WorkbenchSession } from '../../../../src/main/services/session';
import { useLabelDecodeWorker } from '../../../../src/main/services/labelDecoder';
import { encodeLabelPng } from '../../../../src/shared/labelPng';
import { vocColormap } from '../../../../src/shared/voc';
import { connectWs, type SocketLike, type WsClient } from '../../../../src/renderer/src/transport/wsClient';
import { bundleForNode } from '../../../helpers/bundle';
import { copyVocMini, tempDir } from '../../../helpers/data';

const SIDE = 5120;
let server: RunningServer;
let a: WsClient;
let indices: Uint8Array;

beforeAll(async () => {
  useLabelDecodeWorker(await bundleForNode('src/main/services/labelDecodeWorker.ts'));
  const root = copyVocMini();
  await sharp({ create: { width: SIDE, height: SIDE, channels: 3, background: '#808080' } })
    .png()
    .toFile(join(root, 'JPEGImages', 'big.png'));
  indices = new Uint8Array(SIDE * SIDE);
  for (let i = 0; i < indices.length; i++) indices[i] = ((i % SIDE) >> 4) % 21;
  writeFileSync(
    join(root, 'SegmentationClass', 'big.png'),
    encodeLabelPng({ width: SIDE, height: SIDE, indices }, vocColormap()),
  );
  const cut = join(root, 'SegmentationClass', '2007_000033.png');
  const whole = readFileSync(cut);
  writeFileSync(cut, whole.subarray(0, whole.length - 200));
  const session = new WorkbenchSession();
  await session.open(root);
  const staticDir = tempDir();
  writeFileSync(join(staticDir, 'index.html'), '');
  server = await startServer({ session, staticDir, port: 0, token: 't' });
  const url = `ws://127.0.0.1:${server.port}/ws?token=t`;
  a = connectWs(url, (u) => new WebSocket(u) as unknown as SocketLike);
  await a.api['app:info']({});
}, 120_000);
afterAll(async () => {
  useLabelDecodeWorker(null);
  a?.close();
  await server?.close();
});

describe('label decoding in a worker thread', () => {
  it('decodes a large label exactly', async () => {
    const label = await a.api['labels:read']({ id: 'big' });
    expect(label.width).toBe(SIDE);
    expect(Buffer.compare(Buffer.from(label.indices), Buffer.from(indices))).toBe(0);
  });

  it('reports a damaged label from the worker as bad-file, naming the file', async () => {
    const err = await a.api['labels:read']({ id: '2007_000033' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({
      code: 'bad-file',
      message: expect.stringMatching(/2007_000033\.png: truncated or corrupt PNG data/),
    });
  });
});
