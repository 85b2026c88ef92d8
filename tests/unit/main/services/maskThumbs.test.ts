// Mask thumbnails: the label's class colours at thumbnail size with no blended colours, and a cached
// file rebuilt only when the label is newer.
import { statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { maskThumbnail } from '../../../../src/main/services/maskThumbs';
import { vocColormap } from '../../../../src/shared/voc';
import { tempDir, VOC_MINI, VOC_MINI_IDS } from '../../../helpers/data';

describe('maskThumbnail', () => {
  it('draws only class colours, at most 160 px, and reuses the cache until the label changes', async () => {
    const label = join(VOC_MINI, 'SegmentationClass', `${VOC_MINI_IDS[0]}.png`);
    const cache = join(tempDir(), 'm.png');
    const palette = vocColormap();
    expect(await maskThumbnail(label, cache, palette)).toBe(cache);
    const { data, info } = await sharp(cache).raw().toBuffer({ resolveWithObject: true });
    expect(Math.max(info.width, info.height)).toBe(160);
    const colours = new Set<string>();
    for (let i = 0; i < 256; i++)
      colours.add(`${palette[i * 3]},${palette[i * 3 + 1]},${palette[i * 3 + 2]}`);
    for (let i = 0; i < data.length; i += info.channels)
      expect(colours.has(`${data[i]},${data[i + 1]},${data[i + 2]}`)).toBe(true);
    const made = statSync(cache).mtimeMs;
    utimesSync(cache, new Date(made + 10_000), new Date(made + 10_000));
    await maskThumbnail(label, cache, palette);
    // Not rebuilt: a rebuild would have set the time to now.
    expect(statSync(cache).mtimeMs).toBeGreaterThan(made + 5_000);
  });
});
