// Damaged workspace files (`.segscope/*.json`): every schema violation, valid JSON of the wrong shape,
// and files cut short. The dataset still opens, the problem names the file, the part that file holds is
// read-only and the file is not rewritten until the user resets it (which backs the bad one up first).
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { WORKSPACE_FILES, type WorkspaceFileName } from '../../../../src/shared/api';
import type { Envelope } from '../../../../src/shared/errors';
import { Dataset } from '../../../../src/main/services/dataset';
import { dispatch } from '../../../../src/main/services/dispatch';
import { createHandlers } from '../../../../src/main/services/handlers';
import { readLabel, saveLabel } from '../../../../src/main/services/labels';
import { attachRun, deleteRun, listRuns, runFolder, runsDir } from '../../../../src/main/services/runs';
import { WorkbenchSession } from '../../../../src/main/services/session';
import { copyVocMini, tempDir } from '../../../helpers/data';
import { vocMiniJob } from '../../../helpers/runs';

let root: string;
let ws: string;
beforeEach(() => {
  root = copyVocMini();
  ws = join(root, '.segscope');
  mkdirSync(ws, { recursive: true });
});

/** Damage shared by every file: not JSON, cut short, empty, and JSON that is not an object of the file. */
const COMMON: [string, string][] = [
  ['null', 'null'],
  ['a number', '5'],
  ['an array', '[]'],
  ['a string', '"review"'],
  ['an empty file', ''],
  ['not JSON', 'not json at all'],
  ['a missing version', '{}'],
  ['another version', '{"version":2}'],
];

/** Valid JSON of the wrong shape, per file, and a truncated copy of a good file. */
const SPECIFIC: Record<WorkspaceFileName, [string, string][]> = {
  'review.json': [
    ['done a number', '{"version":1,"done":5}'],
    ['done missing', '{"version":1}'],
    ['done holding a number', '{"version":1,"done":["2007_000032",7]}'],
    ['done holding a path', '{"version":1,"done":["../x"]}'],
    ['truncated', '{"version":1,"done":["2007_000032",'],
  ],
  'classes.json': [
    ['a colour named "red"', '{"version":1,"edits":{"1":{"color":"red"}}}'],
    ['an object as a name', '{"version":1,"edits":{"1":{"name":{"x":1}}}}'],
    ['a colour out of range', '{"version":1,"edits":{"1":{"color":[0,0,300]}}}'],
    ['a colour of two channels', '{"version":1,"edits":{"1":{"color":[0,0]}}}'],
    ['an empty name', '{"version":1,"edits":{"1":{"name":""}}}'],
    ['a key that is no class index', '{"version":1,"edits":{"constructor":{"name":"x"}}}'],
    ['class 255 (void)', '{"version":1,"edits":{"255":{"name":"x"}}}'],
    ['an unknown field in an edit', '{"version":1,"edits":{"1":{"label":"x"}}}'],
    ['edits an array', '{"version":1,"edits":[]}'],
    ['truncated', '{"version":1,"edits":{"1":{"name":"pl'],
  ],
  'labels.json': [
    ['created a string', '{"version":1,"created":"2007_000032"}'],
    ['created holding null', '{"version":1,"created":[null]}'],
    ['truncated', '{"version":1,"created":['],
  ],
  'attached-runs.json': [
    ['runs an array', '{"version":1,"runs":["/tmp/x"]}'],
    ['a relative path', '{"version":1,"runs":{"r":"relative/run"}}'],
    ['a path that is a number', '{"version":1,"runs":{"r":5}}'],
    ['a key that is no run id', '{"version":1,"runs":{"../r":"/tmp/r"}}'],
    ['truncated', '{"version":1,"runs":{"r":"/tm'],
  ],
};

/** Tries the write that the file's part makes; resolves to the error it was refused with, if any. */
async function tryWrite(ds: Dataset, file: WorkspaceFileName): Promise<Error | null> {
  try {
    if (file === 'review.json') await ds.setReview(['2007_000032'], 'done');
    else if (file === 'classes.json') await ds.editClass(1, { name: 'plane' });
    else if (file === 'labels.json') {
      // A label Segscope creates: recorded in labels.json when that file is sound.
      const id = '2007_000032';
      const label = await readLabel(ds, id);
      await saveLabel(ds, { ...label, baseVersion: label.version, force: true });
    } else {
      const run = join(tempDir(), 'elsewhere');
      mkdirSync(run);
      writeFileSync(join(run, 'config.json'), JSON.stringify(vocMiniJob({}, run)));
      await attachRun(ds.root, run);
    }
    return null;
  } catch (err) {
    return err as Error;
  }
}

describe('a damaged workspace file', () => {
  for (const file of WORKSPACE_FILES) {
    for (const [what, text] of [...COMMON, ...SPECIFIC[file]]) {
      it(`${file} holding ${what}: the dataset opens, the problem names the file, the file is kept`, async () => {
        const path = join(ws, file);
        writeFileSync(path, text);
        const ds = await Dataset.open(root);
        const problems = ds.summary().workspaceProblems;
        expect(problems).toHaveLength(1);
        expect(problems[0]).toMatchObject({ file, path });
        expect(problems[0]!.message).toContain(path);
        expect(ds.summary().imageCount).toBe(5);

        const refused = await tryWrite(ds, file);
        // labels.json only records what Segscope created: the save itself must go through.
        if (file === 'labels.json') expect(refused).toBeNull();
        else expect(refused?.message).toContain(path);
        expect(readFileSync(path, 'utf8')).toBe(text);
      });
    }
  }

  it('leaves the other parts writable', async () => {
    writeFileSync(join(ws, 'review.json'), '{"done":5}');
    const ds = await Dataset.open(root);
    await ds.editClass(1, { name: 'plane' });
    expect(ds.classes()[1]!.name).toBe('plane');
    expect(ds.row('2007_000032').review).toBe('todo');
  });

  it('is backed up, then reset to an empty one, by workspace:reset', async () => {
    const bad = '{"version":1,"edits":{"1":{"color":"red"}}}';
    writeFileSync(join(ws, 'classes.json'), bad);
    const session = new WorkbenchSession();
    await session.open(root);
    const handlers = createHandlers(session, {
      transport: 'browser',
      electronVersion: null,
      mediaUrl: () => '',
    });
    const reset = (await dispatch(handlers, 'workspace:reset', { file: 'classes.json' })) as Envelope<{
      workspaceProblems: unknown[];
    }>;
    expect(reset.ok && reset.result.workspaceProblems).toEqual([]);
    const backups = readdirSync(join(ws, 'backup', 'workspace'));
    expect(backups).toHaveLength(1);
    expect(backups[0]).toMatch(/^classes\.json\..*\.bad$/);
    expect(readFileSync(join(ws, 'backup', 'workspace', backups[0]!), 'utf8')).toBe(bad);
    expect(JSON.parse(readFileSync(join(ws, 'classes.json'), 'utf8'))).toEqual({ version: 1, edits: {} });
    await session.dataset.editClass(1, { name: 'plane' });
    expect(session.dataset.classes()[1]!.name).toBe('plane');
  });

  it('fixed by hand is read as it is when reset, with no backup', async () => {
    writeFileSync(join(ws, 'review.json'), 'null');
    const ds = await Dataset.open(root);
    writeFileSync(join(ws, 'review.json'), '{"version":1,"done":["2007_000033"]}');
    expect(await ds.resetWorkspaceFile('review.json')).toBeNull();
    expect(ds.summary().workspaceProblems).toEqual([]);
    expect(ds.row('2007_000033').review).toBe('done');
    expect(readdirSync(ws)).not.toContain('backup');
  });

  it('attached-runs.json damaged: the own runs are still listed, an attached one cannot be deleted', async () => {
    const own = join(runsDir(root), 'own-run');
    mkdirSync(own, { recursive: true });
    writeFileSync(join(own, 'config.json'), JSON.stringify(vocMiniJob({}, own)));
    writeFileSync(join(ws, 'attached-runs.json'), '{"version":1,"runs":{"away":5}}');
    expect((await listRuns(root)).map((r) => r.id)).toEqual(['own-run']);
    await expect(deleteRun(root, 'away')).rejects.toMatchObject({ code: 'not-found' });
  });
});

describe('class edits at the contract', () => {
  it('refuses a colour of "red" and an object as a name', async () => {
    const session = new WorkbenchSession();
    await session.open(root);
    const handlers = createHandlers(session, {
      transport: 'browser',
      electronVersion: null,
      mediaUrl: () => '',
    });
    for (const payload of [
      { index: 1, color: 'red' },
      { index: 1, name: { toString: 'x' } },
      { index: 1, color: [1, 2] },
    ]) {
      const r = await dispatch(handlers, 'classes:update', payload);
      expect(r).toMatchObject({ ok: false, error: { code: 'bad-request' } });
    }
  });
});

describe('run ids named like object properties', () => {
  for (const id of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
    it(`${id}: not-found from every run method, never internal`, async () => {
      const session = new WorkbenchSession();
      // The run is looked up before any engine is needed; one that is asked for fails the test.
      session.useEngine(() => {
        throw new Error('no engine should start for a run that does not exist');
      });
      await session.open(root);
      const handlers = createHandlers(session, {
        transport: 'browser',
        electronVersion: null,
        mediaUrl: () => '',
      });
      await expect(runFolder(root, id)).rejects.toMatchObject({ code: 'not-found' });
      const calls: [string, object][] = [
        ['runs:delete', { runId: id }],
        ['runs:export', { runId: id }],
        ['training:resume', { runId: id }],
        ['drafts:finetune', { runId: id }],
        ['drafts:predict', { runId: id, imageId: '2007_000032' }],
        ['drafts:rank', { runId: id, by: 'uncertainty' }],
        ['viewer:segment', { runId: id, imageId: '2007_000032' }],
      ];
      for (const [method, payload] of calls) {
        const r = await dispatch(handlers, method, payload);
        expect(r, method).toMatchObject({ ok: false, error: { code: 'not-found' } });
      }
    });
  }

  it('attaches run folders named constructor, toString and __proto__, and lists them all', async () => {
    const parent = tempDir();
    const ids: string[] = [];
    for (const name of ['constructor', 'toString', '__proto__']) {
      const run = join(parent, name);
      mkdirSync(run);
      writeFileSync(join(run, 'config.json'), JSON.stringify(vocMiniJob({}, run)));
      ids.push(await attachRun(root, run));
    }
    expect(ids).toEqual(['constructor', 'toString', 'run-__proto__']);
    expect((await listRuns(root)).map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(await runFolder(root, 'toString')).toBe(join(parent, 'toString'));
    await deleteRun(root, 'constructor');
    expect((await listRuns(root)).map((r) => r.id).sort()).toEqual(['run-__proto__', 'toString']);
  });
});
