// Which transport the page picks. In the desktop app a missing preload bridge must be a clear error,
// not a silent fall back to a WebSocket that cannot exist there. Pure logic, nothing mocked.
import { describe, expect, it } from 'vitest';
import { chooseTransport } from '../../../../src/renderer/src/transport';

const chrome =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36';
const electron = `${chrome.replace(' Safari', ' Electron/41.10.7 Safari')}`;

describe('transport choice', () => {
  it('uses the bridge whenever the preload provided one', () => {
    expect(chooseTransport({ hasBridge: true, protocol: 'segscope-app:', userAgent: electron })).toBe(
      'bridge',
    );
    expect(chooseTransport({ hasBridge: true, protocol: 'http:', userAgent: chrome })).toBe('bridge');
  });

  it('uses the WebSocket in a browser', () => {
    expect(chooseTransport({ hasBridge: false, protocol: 'http:', userAgent: chrome })).toBe('websocket');
  });

  it('says the bridge is missing in the desktop app, whatever the page was loaded from', () => {
    for (const page of [
      { protocol: 'segscope-app:', userAgent: electron },
      { protocol: 'file:', userAgent: electron },
      { protocol: 'http:', userAgent: electron }, // electron-vite dev
    ]) {
      expect(() => chooseTransport({ hasBridge: false, ...page })).toThrow(
        /desktop bridge is missing.*preload/,
      );
    }
  });
});
