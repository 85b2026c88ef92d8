// The one implementation of the contract. Both transports serve this object. Plain Node, main process.
import type { Handlers, ImageItem, TorchChoice, Transport } from '../../shared/api';
import { MODEL_CATALOG } from '../../shared/modelCatalog';
import { WorkbenchError } from '../../shared/errors';
import { appVersion } from './appVersion';
import { checkDataset } from './check';
import { readLabel, saveLabel } from './labels';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { downloadKerasWeights, KERAS_WEIGHTS } from './kerasDownload';
import { attachRun, deleteRun, derivedPlace, listRuns, runFolder } from './runs';
import { listFolders } from './folders';
import { derivedLayout, RunFolder } from '../common/runFolder';
import { ViewerService } from './viewer';
import { DraftService } from './drafts';
import type { MediaKind, WorkbenchSession } from './session';

/** What differs between transports: how media URLs look and whether native dialogs exist. */
export interface TransportContext {
  transport: Transport;
  electronVersion: string | null;
  /** URL under which the transport serves media of image `id`. */
  mediaUrl(kind: MediaKind, id: string): string;
  /** Shows a native folder picker; absent where there is none (the browser transport). */
  pickFolder?: () => Promise<string | null>;
}

export function createHandlers(session: WorkbenchSession, ctx: TransportContext): Handlers {
  const viewer = new ViewerService(session);
  const drafts = new DraftService(session);
  const updated = (): void => {
    const summary = session.summary();
    if (summary) session.emit('dataset:updated', summary);
  };
  /** How to run a start or resume on the PyTorch engine, when the request asks for it. */
  const torchLaunch = async (choice: TorchChoice | undefined) =>
    choice ? session.training.torchLaunch(choice, await session.training.torchStatus()) : undefined;
  return {
    'app:info': async () => ({
      name: 'Segscope',
      version: appVersion,
      platform: process.platform,
      arch: process.arch,
      transport: ctx.transport,
      node: process.versions.node,
      electron: ctx.electronVersion,
    }),
    'dataset:open': async ({ path, year }) => session.open(path, year),
    'dataset:pick': async () => {
      if (!ctx.pickFolder) {
        throw new WorkbenchError(
          'unavailable',
          'no folder dialog in the browser; type the folder path instead',
        );
      }
      const path = await ctx.pickFolder();
      return path === null ? null : session.open(path);
    },
    'dataset:current': async () => session.summary(),
    'folders:list': async ({ path }) => listFolders(path),
    'dataset:list': async ({ offset, limit, filter }) => {
      const { total, rows } = session.dataset.list(filter ?? {}, offset, limit);
      const items: ImageItem[] = rows.map((row) => ({
        ...row,
        imageUrl: ctx.mediaUrl('image', row.id),
        thumbUrl: ctx.mediaUrl('thumb', row.id),
        maskUrl: ctx.mediaUrl('mask', row.id),
      }));
      return { total, offset, items };
    },
    'dataset:check': async () => checkDataset(session.dataset),
    'dataset:setReview': async ({ ids, status }) => {
      await session.dataset.setReview(ids, status);
      updated();
      return { updated: ids.length };
    },
    'classes:update': async ({ index, name, color }) => {
      await session.dataset.editClass(index, { ...(name ? { name } : {}), ...(color ? { color } : {}) });
      updated();
      return session.dataset.summary();
    },
    'workspace:reset': async ({ file }) => {
      await session.dataset.resetWorkspaceFile(file);
      updated();
      return session.dataset.summary();
    },
    'labels:read': async ({ id }) => readLabel(session.dataset, id),
    'labels:save': async (req) => {
      const result = await saveLabel(session.dataset, req);
      session.emit('labels:saved', { id: req.id, version: result.version });
      return result;
    },
    'engine:status': async () => session.training.engine.getStatus(),
    'engine:start': async ({ backend }) => {
      await session.training.engine.start(backend);
      return session.training.engine.getStatus();
    },
    'engine:restart': async () => {
      await session.training.engine.restart();
      return session.training.engine.getStatus();
    },
    // The static catalog: listing models must not wait for the engine or build a model.
    'models:list': async () => [...MODEL_CATALOG],
    'torch:status': async () => session.training.torchStatus(),
    'training:start': async ({ settings, torch }) => {
      const { runId, trainImages } = await session.training.start(
        settings,
        [],
        undefined,
        await torchLaunch(torch),
      );
      return { runId, trainImages };
    },
    'training:resume': async ({ runId, torch }) => session.training.resume(runId, await torchLaunch(torch)),
    'training:cancel': async () => session.training.cancel(),
    'runs:list': async () => listRuns(session.dataset.root),
    'runs:attach': async ({ path }) => ({ runId: await attachRun(session.dataset.root, path) }),
    'runs:delete': async ({ runId }) => {
      if (session.training.running === runId)
        throw new WorkbenchError('conflict', `run ${runId} is training; cancel it before deleting it`);
      return { deleted: await deleteRun(session.dataset.root, runId) };
    },
    'weights:download': async ({ kind }) => {
      const workspace = session.dataset.workspace;
      const dest = await workspace.inside(join(workspace.dir, 'weights', KERAS_WEIGHTS[kind].file));
      // A file downloaded before was checked against Keras's MD5 when it was written.
      if (
        await stat(dest).then(
          (f) => f.isFile(),
          () => false,
        )
      )
        return { path: dest };
      const { path } = await downloadKerasWeights(kind, dest, (p) =>
        session.emit('weights:progress', { kind, ...p }),
      );
      return { path };
    },
    'runs:export': async ({ runId, checkpoint }) => {
      const root = session.dataset.root;
      const runDir = await runFolder(root, runId);
      const run = new RunFolder(runDir);
      const which = checkpoint ?? ((await run.hasCheckpoint('best')) ? 'best' : 'last');
      if (!(await run.hasCheckpoint(which)))
        throw new WorkbenchError('not-found', `${runDir}: has no ${which} checkpoint yet`);
      // An attached run is only read: its export goes to the dataset's workspace, keyed by the run.
      const place = derivedPlace(root, runId, runDir);
      const layout = derivedLayout(place.dir, place.root);
      await layout.files.mkdir(layout.exportDir);
      const out = await layout.files.check(layout.exportFile(runId, which));
      const r = await session.training.engine.request({ type: 'export', runDir, checkpoint: which, out });
      return { path: r.path, bytes: r.bytes };
    },
    'viewer:segment': async (req) => viewer.segment(req),
    'viewer:cam': async (req) => viewer.cam(req),
    'viewer:camSweep': async (req) => viewer.camSweep(req),
    'drafts:predict': async (req) => drafts.predict(req),
    'drafts:predictAll': async (req) => drafts.startPredictAll(req),
    'drafts:cancel': async () => drafts.cancel(),
    'drafts:rank': async (req) => drafts.rankRun(req),
    'drafts:finetune': async (req) => drafts.finetune(req),
  };
}
