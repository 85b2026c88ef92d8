// The app and media protocols. The `electron` module is mocked (its binary cannot run on the CI
// machines): the mock keeps the handler each protocol registers, and the test calls it with real
// Requests, against real files and the real session on voc-mini.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { WorkbenchSession } from '../../../../src/main/services/session';
import { tempDir, VOC_MINI } from '../../../helpers/data';

const handlers = vi.hoisted(() => new Map<string, (request: Request) => Promise<Response>>());

vi.mock('electron', () => ({
  protocol: {
    handle: (scheme: string, fn: (request: Request) => Promise<Response>) => handlers.set(scheme, fn),
  },
  // net.fetch of a file: URL, as Electron's does it, with Node's own file reading.
  net: {
    fetch: async (url: string) => {
      const { readFile } = await import('node:fs/promises');
      const { fileURLToPath } = await import('node:url');
      return new Response(new Uint8Array(await readFile(fileURLToPath(url))), {
        headers: { 'content-type': 'image/jpeg' },
      });
    },
  },
}));

let root: string;

beforeAll(async () => {
  // A folder whose name would have broken a URL built by string concatenation.
  root = join(tempDir(), 'my #1 build?', 'out', 'renderer');
  mkdirSync(join(root, 'assets'), { recursive: true });
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>Segscope</title>');
  writeFileSync(join(root, 'assets', 'index.js'), 'export {}');
  writeFileSync(join(root, '..', 'secret.txt'), 'not for the page');
  const { handleAppProtocol } = await import('../../../../src/main/electron/appProtocol');
  handleAppProtocol(root);
  const session = new WorkbenchSession();
  await session.open(VOC_MINI);
  const { handleMediaProtocol } = await import('../../../../src/main/electron/mediaProtocol');
  handleMediaProtocol(session, ['segscope-app://app']);
});

const app = (url: string) => handlers.get('segscope-app')!(new Request(url));
const media = (url: string, origin?: string) =>
  handlers.get('segscope-media')!(new Request(url, origin ? { headers: { origin } } : {}));

describe('app protocol', () => {
  it('finds the page from a module URL in a folder whose name holds # and ?', async () => {
    const { rendererRoot, rendererUrl } = await import('../../../../src/main/electron/window');
    const moduleUrl = pathToFileURL(join(root, '..', 'main', 'index.js')).href;
    expect(rendererRoot(moduleUrl)).toBe(root + '/');
    expect(rendererUrl({})).toBe('segscope-app://app/index.html');
    expect(rendererUrl({ ELECTRON_RENDERER_URL: 'http://localhost:5173' })).toBe('http://localhost:5173');
  });

  it('serves the built page with its type and a CSP that allows no ws: connections', async () => {
    const page = await app('segscope-app://app/index.html');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>Segscope</title>');
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("connect-src 'self';");
    expect(csp).not.toMatch(/ws:|wss:/);
    const script = await app('segscope-app://app/assets/index.js');
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  });

  it('refuses paths that leave the renderer folder and foreign hosts', async () => {
    expect((await app('segscope-app://app/%2e%2e/secret.txt')).status).toBe(404);
    expect((await app('segscope-app://app/..%2fsecret.txt')).status).toBe(404);
    expect((await app('segscope-app://other/index.html')).status).toBe(404);
    expect((await app('segscope-app://app/missing.js')).status).toBe(404);
  });

  it('answers a malformed escape with 400 instead of throwing URIError out of the handler', async () => {
    for (const path of ['%E0%A4%A', '%', 'assets/%zz.js', '%C0%AF']) {
      const res = await app(`segscope-app://app/${path}`);
      expect(res.status, path).toBe(400);
      expect(await res.text()).toContain('malformed escape');
    }
    const { appFile, MalformedUrl } = await import('../../../../src/main/electron/appProtocol');
    expect(() => appFile(root, 'segscope-app://app/%E0%A4%A')).toThrow(MalformedUrl);
  });
});

describe('media protocol', () => {
  it("answers the app's origin with CORS headers, so canvases that draw its images stay readable", async () => {
    const res = await media('segscope-media://image/2007_000032', 'segscope-app://app');
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('segscope-app://app');
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(1000);
  });

  it('grants no other origin, and answers 404 for an unknown id', async () => {
    const other = await media('segscope-media://image/2007_000032', 'https://example.com');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect((await media('segscope-media://image/nope', 'segscope-app://app')).status).toBe(404);
  });

  it('sends nosniff with every answer, and 400 for a malformed escape', async () => {
    const res = await media('segscope-media://image/2007_000032', 'segscope-app://app');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const missing = await media('segscope-media://image/nope');
    expect(missing.headers.get('x-content-type-options')).toBe('nosniff');
    const bad = await media('segscope-media://image/%E0%A4%A', 'segscope-app://app');
    expect(bad.status).toBe(400);
    expect(bad.headers.get('x-content-type-options')).toBe('nosniff');
    expect(bad.headers.get('access-control-allow-origin')).toBe('segscope-app://app');
  });
});
