// The segscope-media:// protocol: image bytes by URL, so they never cross IPC. It is CORS-enabled
// and answers the app's origin, so the viewer can read the pixels of an image it draws on a canvas
// (an untainted canvas) whether the page comes from segscope-app:// or the dev server. Electron main process.
import { net, protocol } from 'electron';
import { pathToFileURL } from 'node:url';
import type { MediaKind, WorkbenchSession } from '../services/session';
import { toWireError } from '../../shared/errors';

export const MEDIA_SCHEME = 'segscope-media';

/** Must run before the app is ready; registers the app scheme too, since it may be called once only. */
export function registerSchemes(appScheme: string): void {
  protocol.registerSchemesAsPrivileged([
    {
      scheme: appScheme,
      privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true, codeCache: true },
    },
    {
      scheme: MEDIA_SCHEME,
      privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true, corsEnabled: true },
    },
  ]);
}

/** URL of media of image `id`; ids are looked up in the open dataset, never used as paths. */
export function mediaUrl(kind: MediaKind, id: string): string {
  return `${MEDIA_SCHEME}://${kind}/${encodeURIComponent(id)}`;
}

/** `allowedOrigins` are the page origins that may read media pixels: the app's, and the dev server's. */
export function handleMediaProtocol(session: WorkbenchSession, allowedOrigins: readonly string[]): void {
  protocol.handle(MEDIA_SCHEME, async (request) => {
    const origin = request.headers.get('origin');
    // nosniff: a file served as image/png is never run as anything else, whatever bytes it holds.
    const cors: Record<string, string> = {
      'x-content-type-options': 'nosniff',
      ...(origin && allowedOrigins.includes(origin)
        ? { 'access-control-allow-origin': origin, vary: 'origin' }
        : {}),
    };
    let url: URL;
    let id: string;
    try {
      url = new URL(request.url);
      id = decodeURIComponent(url.pathname.slice(1));
    } catch {
      return new Response('bad request: the URL holds a malformed escape', {
        status: 400,
        headers: { ...cors, 'content-type': 'text/plain' },
      });
    }
    try {
      if (url.host !== 'image' && url.host !== 'thumb' && url.host !== 'mask')
        throw new Error(`unknown media kind ${url.host}`);
      const file = await net.fetch(pathToFileURL(await session.mediaFile(url.host, id)).href);
      const headers = new Headers(file.headers);
      for (const [k, v] of Object.entries(cors)) headers.set(k, v);
      return new Response(file.body, { status: file.status, headers });
    } catch (err) {
      return new Response(toWireError(err).message, {
        status: 404,
        headers: { ...cors, 'content-type': 'text/plain' },
      });
    }
  });
}
