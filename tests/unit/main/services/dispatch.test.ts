import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createHandlers } from '../../../../src/main/services/handlers';
import { dispatch } from '../../../../src/main/services/dispatch';
import { WorkbenchSession } from '../../../../src/main/services/session';
import { tempDir, VOC_MINI, VOC_MINI_DEVKIT, VOC_MINI_IDS } from '../../../helpers/data';

function setup() {
  const session = new WorkbenchSession();
  const handlers = createHandlers(session, {
    transport: 'browser',
    electronVersion: null,
    mediaUrl: (kind, id) => `/media/${kind}/${id}`,
  });
  return { session, handlers };
}

describe('dispatch', () => {
  it('answers app:info', async () => {
    const { handlers } = setup();
    const res = await dispatch(handlers, 'app:info', {});
    expect(res.ok).toBe(true);
    expect(res.ok && res.result).toMatchObject({ name: 'Segscope', transport: 'browser', electron: null });
  });

  it('refuses unknown methods and malformed payloads with a clear message', async () => {
    const { handlers } = setup();
    expect(await dispatch(handlers, 'fs:delete', {})).toEqual({
      ok: false,
      error: { code: 'unknown-method', message: 'unknown method "fs:delete"' },
    });
    const bad = await dispatch(handlers, 'dataset:list', { offset: 'zero', limit: 1 });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error.code).toBe('bad-request');
    expect(!bad.ok && bad.error.message).toContain('offset');
    // Inherited property names are not methods.
    expect((await dispatch(handlers, 'constructor', {})).ok).toBe(false);
  });

  it('opens voc-mini from its VOCdevkit folder and lists it a page at a time', async () => {
    const { handlers } = setup();
    const opened = await dispatch(handlers, 'dataset:open', { path: VOC_MINI_DEVKIT });
    expect(opened).toMatchObject({
      ok: true,
      result: {
        kind: 'opened',
        dataset: { root: VOC_MINI, name: 'VOC2012', imageCount: 5, labeledCount: 5 },
      },
    });
    const first = await dispatch(handlers, 'dataset:list', { offset: 0, limit: 3 });
    const second = await dispatch(handlers, 'dataset:list', { offset: 3, limit: 3 });
    const ids = [first, second].flatMap((p) =>
      p.ok ? (p.result as { items: { id: string }[] }).items.map((i) => i.id) : [],
    );
    expect(ids).toEqual(VOC_MINI_IDS);
    expect(first.ok && first.result).toMatchObject({ total: 5, offset: 0 });
  });

  it('says which folder is not VOC, and which years a VOCdevkit holds', async () => {
    const { handlers } = setup();
    const empty = tempDir();
    const notVoc = await dispatch(handlers, 'dataset:open', { path: empty });
    expect(notVoc).toEqual({
      ok: false,
      error: { code: 'not-voc', message: expect.stringContaining(empty) },
    });
    const missing = await dispatch(handlers, 'dataset:open', { path: join(empty, 'nope') });
    expect(!missing.ok && missing.error.code).toBe('not-found');
    writeFileSync(join(empty, 'photo.jpg'), 'x');
    const file = await dispatch(handlers, 'dataset:open', { path: join(empty, 'photo.jpg') });
    expect(!file.ok && file.error.message).toBe(
      `${join(empty, 'photo.jpg')}: is a file; choose the folder that holds JPEGImages/`,
    );

    const devkit = tempDir();
    for (const year of ['VOC2007', 'VOC2012']) {
      mkdirSync(join(devkit, year, 'JPEGImages'), { recursive: true });
      mkdirSync(join(devkit, year, 'SegmentationClass'), { recursive: true });
    }
    const several = await dispatch(handlers, 'dataset:open', { path: devkit });
    expect(several).toEqual({
      ok: true,
      result: { kind: 'choose-year', folder: devkit, years: ['VOC2007', 'VOC2012'] },
    });
    const chosen = await dispatch(handlers, 'dataset:open', { path: devkit, year: 'VOC2012' });
    expect(chosen.ok && chosen.result).toMatchObject({ kind: 'opened', dataset: { name: 'VOC2012' } });
    // The year alone names the VOC folder too (`--year 2007`).
    const byYear = await dispatch(handlers, 'dataset:open', { path: devkit, year: '2007' });
    expect(byYear.ok && byYear.result).toMatchObject({ kind: 'opened', dataset: { name: 'VOC2007' } });
    const wrongYear = await dispatch(handlers, 'dataset:open', { path: devkit, year: 'VOC1999' });
    expect(!wrongYear.ok && wrongYear.error.message).toContain('has no dataset VOC1999');

    // JPEGImages alone is not a segmentation dataset, and the message says what to do.
    const detection = tempDir();
    mkdirSync(join(detection, 'JPEGImages'));
    const noLabels = await dispatch(handlers, 'dataset:open', { path: detection });
    expect(!noLabels.ok && noLabels.error.message).toContain('no SegmentationClass/');
  });

  it('refuses dataset calls before a dataset is open, and the folder dialog in the browser', async () => {
    const { handlers } = setup();
    const list = await dispatch(handlers, 'dataset:list', { offset: 0, limit: 1 });
    expect(!list.ok && list.error.code).toBe('no-dataset');
    const pick = await dispatch(handlers, 'dataset:pick', {});
    expect(!pick.ok && pick.error.code).toBe('unavailable');
  });

  it('lists only ids with an image, and images of every accepted extension', async () => {
    const root = tempDir();
    mkdirSync(join(root, 'JPEGImages'));
    mkdirSync(join(root, 'SegmentationClass'));
    for (const f of ['a.jpg', 'b.JPEG', 'c.png', 'notes.txt'])
      writeFileSync(join(root, 'JPEGImages', f), 'x');
    for (const f of ['a.png', 'orphan.png']) writeFileSync(join(root, 'SegmentationClass', f), 'x');
    const { session } = setup();
    const opened = await session.open(root);
    expect(opened.kind === 'opened' && opened.dataset).toMatchObject({ imageCount: 3, labeledCount: 1 });
    expect(session.dataset.ids).toEqual(['a', 'b', 'c']);
  });
});
