// The engine's own sample reader (training decodes images and labels in the engine process): a PNG whose
// header claims more pixels than the limit, or another size than its image, is refused from the header,
// naming the file. The files' data is cut short, so a reader that decoded past the header would fail with
// a decode error instead of these messages.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLabel, readRgb } from '../../../../src/main/engine/data/samples';
import { vocColormap } from '../../../../src/shared/voc';
import { tempDir, VOC_MINI } from '../../../helpers/data';
import { pngBomb } from '../../../helpers/pngBomb';

describe('engine sample reader', () => {
  it('refuses an image over the pixel limit from its header', async () => {
    // 9000² is over Segscope's limit and under sharp's own default one (16383²).
    const path = join(tempDir(), 'bomb.png');
    writeFileSync(path, pngBomb(9000, true));
    await expect(readRgb(path)).rejects.toThrow(
      `${path}: is over the limit of 67,108,864 pixels (8192×8192) that Segscope accepts`,
    );
  });

  it('refuses a label whose header declares another size than its image, before decoding it', async () => {
    const image = await readRgb(join(VOC_MINI, 'JPEGImages', '2007_000032.jpg'));
    const path = join(tempDir(), 'label.png');
    writeFileSync(path, pngBomb(20000, true));
    await expect(readLabel(path, vocColormap(), image.width, image.height)).rejects.toThrow(
      `${path}: the label is 20000×20000 but its image is ${image.width}×${image.height}`,
    );
  });

  it('still reads a real image and its label', async () => {
    const image = await readRgb(join(VOC_MINI, 'JPEGImages', '2007_000032.jpg'));
    const label = await readLabel(
      join(VOC_MINI, 'SegmentationClass', '2007_000032.png'),
      vocColormap(),
      image.width,
      image.height,
    );
    expect([image.width, image.height]).toEqual([500, 281]);
    expect(label.length).toBe(500 * 281);
    expect(image.data.length).toBe(500 * 281 * 3);
  });
});
