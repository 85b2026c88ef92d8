// Entry of the worker thread that decodes label PNGs, so that inflating a large label never blocks
// the server's event loop (and with it every other client). Built as out/main/labelDecoder.js.
// Worker thread of the main (or server) process.
import { parentPort } from 'node:worker_threads';
import { decodeLabelPng, LabelFormatError } from '../../shared/labelPng';
import type { DecodeReply, DecodeRequest } from './labelDecoder';

parentPort!.on('message', ({ id, bytes, colormap }: DecodeRequest) => {
  let reply: DecodeReply;
  try {
    const label = decodeLabelPng(bytes, { colormap });
    reply = { id, ok: true, label };
  } catch (err) {
    reply = {
      id,
      ok: false,
      format: err instanceof LabelFormatError,
      message: err instanceof Error ? err.message : String(err),
    };
  }
  // The indices move to the main thread instead of being copied.
  parentPort!.postMessage(reply, reply.ok ? [reply.label.indices.buffer as ArrayBuffer] : []);
});
