// The one implementation of the contract. Both transports serve this object. Plain Node, main process.
import type { Handlers, Transport } from '../../shared/api';
import { WorkbenchError } from '../../shared/errors';
import { appVersion } from './appVersion';
import type { WorkbenchSession } from './session';

/** What differs between transports: how media URLs look and whether native dialogs exist. */
export interface TransportContext {
  transport: Transport;
  electronVersion: string | null;
  /** URL under which the transport serves the bytes of image `id`. */
  imageUrl(id: string): string;
  /** Shows a native folder picker; absent where there is none (the browser transport). */
  pickFolder?: () => Promise<string | null>;
}

export function createHandlers(session: WorkbenchSession, ctx: TransportContext): Handlers {
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
    'dataset:open': async ({ path }) => session.open(path),
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
    'dataset:list': async ({ offset, limit }) => {
      const d = session.dataset;
      const items = d.ids.slice(offset, offset + limit).map((id) => ({
        id,
        imageUrl: ctx.imageUrl(id),
        hasLabel: d.labels.has(id),
      }));
      return { total: d.ids.length, offset, items };
    },
  };
}
