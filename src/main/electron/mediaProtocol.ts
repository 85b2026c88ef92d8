// The segscope-media:// protocol: image bytes by URL, so they never cross IPC. Electron main process.
import { net, protocol } from 'electron';
import { pathToFileURL } from 'node:url';
import type { MediaKind, WorkbenchSession } from '../services/session';
import { toWireError } from '../../shared/errors';

export const MEDIA_SCHEME = 'segscope-media';

/** Must run before the app is ready. */
export function registerMediaScheme(): void {
  protocol.registerSchemesAsPrivileged([
    {
      scheme: MEDIA_SCHEME,
      privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true },
    },
  ]);
}

/** URL of media of image `id`; ids are looked up in the open dataset, never used as paths. */
export function mediaUrl(kind: MediaKind, id: string): string {
  return `${MEDIA_SCHEME}://${kind}/${encodeURIComponent(id)}`;
}

export function handleMediaProtocol(session: WorkbenchSession): void {
  protocol.handle(MEDIA_SCHEME, async (request) => {
    const url = new URL(request.url);
    try {
      if (url.host !== 'image' && url.host !== 'thumb' && url.host !== 'mask')
        throw new Error(`unknown media kind ${url.host}`);
      const id = decodeURIComponent(url.pathname.slice(1));
      return await net.fetch(pathToFileURL(await session.mediaFile(url.host, id)).href);
    } catch (err) {
      return new Response(toWireError(err).message, { status: 404 });
    }
  });
}
