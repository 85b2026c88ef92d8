// PNG files whose header claims far more pixels than the file holds: what a hostile or broken dataset can
// hand Segscope, to check that sizes are refused from the header before anything is inflated.
import { crc32, deflateSync } from 'node:zlib';

function chunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(8 + data.length + 4);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), 8 + data.length);
  return out;
}

/**
 * An 8-bit palette PNG of side×side zeros, about 400 KB at the default 20000 (400 MB once inflated). With
 * `cutData` its IDAT is a few bytes of nothing: any reader that gets past the header fails to decode it.
 */
export function pngBomb(side = 20000, cutData = false): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 8;
  ihdr[9] = 3;
  // Rows of zeros, filter byte 0 included, deflate about 1000 to 1.
  const idat = cutData
    ? Buffer.from([0, 1, 2, 3])
    : deflateSync(Buffer.alloc((side + 1) * side), { level: 9 });
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('PLTE', Buffer.alloc(3)),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
