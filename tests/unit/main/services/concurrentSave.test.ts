// Overlapping `labels:save` calls based on the same version, through both transports: the first one
// wins and the other gets `conflict`, so no update is silently lost. The desktop transport is
// exercised through `dispatch`, the function its ipcMain handlers call (Electron itself cannot run
// here, and nothing else of it is involved); the browser transport over real WebSockets.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Handlers, WorkbenchApi } from '../../../../src/shared/api';
import type { Envelope } from '../../../../src/shared/errors';
import { createHandlers } from '../../../../src/main/services/handlers';
import { dispatch } from '../../../../src/main/services/dispatch';
import { WorkbenchSession } from '../../../../src/main/services/session';
import { startServer, type RunningServer } from '../../../../src/main/server/server';
import { connectWs, type SocketLike, type WsClient } from '../../../../src/renderer/src/transport/wsClient';
import { decodeLabelPng } from '../../../../src/shared/labelPng';
import { copyVocMini, tempDir } from '../../../helpers/data';

const ID = '2007_000032';
const ROUNDS = 25;

let root: string;
let session: WorkbenchSession;
let handlers: Handlers;
let server: RunningServer;
let a: WsClient;
let b: WsClient;

beforeAll(async () => {
  root = copyVocMini();
  session = new WorkbenchSession();
  await session.open(root);
  handlers = createHandlers(session, { transport: 'electron', electronVersion: 'test', mediaUrl: () => '' });
  const staticDir = tempDir();
  writeFileSync(join(staticDir, 'index.html'), '');
  server = await startServer({ session, staticDir, port: 0, token: 't' });
  const url = `ws://127.0.0.1:${server.port}/ws?token=t`;
  a = connectWs(url, (u) => new WebSocket(u) as unknown as SocketLike);
  b = connectWs(url, (u) => new WebSocket(u) as unknown as SocketLike);
});
afterAll(async () => {
  a?.close();
  b?.close();
  await server?.close();
});

type Save = WorkbenchApi['labels:save'];
type SaveReq = Parameters<Save>[0];

/** The desktop transport's call: the envelope ipcMain would return, unwrapped as the preload does. */
const ipcSave: Save = async (req) => {
  const envelope = (await dispatch(handlers, 'labels:save', req)) as Envelope<Awaited<ReturnType<Save>>>;
  if (!envelope.ok) throw Object.assign(new Error(envelope.error.message), { code: envelope.error.code });
  return envelope.result;
};

/** Two edits of the same version, saved at once; returns how each ended and the file's indices. */
async function race(
  first: Save,
  second: Save,
): Promise<{ outcomes: string[]; onDisk: Uint8Array; sent: Uint8Array[] }> {
  const label = await a.api['labels:read']({ id: ID });
  const edits = [1, 2].map((k) => label.indices.map((v) => (v === 255 ? 255 : (v + k) % 21)));
  const req = (indices: Uint8Array): SaveReq => ({
    id: ID,
    width: label.width,
    height: label.height,
    indices,
    baseVersion: label.version,
  });
  const settled = await Promise.allSettled([first(req(edits[0]!)), second(req(edits[1]!))]);
  const outcomes = settled.map((s) =>
    s.status === 'fulfilled' ? 'saved' : ((s.reason as { code?: string }).code ?? String(s.reason)),
  );
  const onDisk = decodeLabelPng(readFileSync(join(root, 'SegmentationClass', `${ID}.png`))).indices;
  return { outcomes, onDisk, sent: edits };
}

describe('overlapping saves of one label', () => {
  const pairs: [string, () => [Save, Save]][] = [
    ['two browser tabs', () => [a.api['labels:save'], b.api['labels:save']]],
    ['two desktop calls', () => [ipcSave, ipcSave]],
    ['a browser tab and the desktop window', () => [a.api['labels:save'], ipcSave]],
  ];
  it.each(pairs)('%s: exactly one save wins each round and the file holds its indices', async (_n, make) => {
    const [first, second] = make();
    const tally = { saved: 0, conflict: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      const { outcomes, onDisk, sent } = await race(first, second);
      expect(outcomes.slice().sort(), `round ${round}`).toEqual(['conflict', 'saved']);
      const winner = outcomes.indexOf('saved');
      expect(Buffer.compare(Buffer.from(onDisk), Buffer.from(sent[winner]!)), `round ${round}`).toBe(0);
      tally.saved++;
      tally.conflict++;
    }
    expect(tally).toEqual({ saved: ROUNDS, conflict: ROUNDS });
  });
});
