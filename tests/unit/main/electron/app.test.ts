// The desktop app's start-up. The `electron` module is mocked (its binary cannot run on the CI
// machines); like Electron, the mock throws when a protocol or an IPC channel is handled twice, so a
// second start would fail here as it would in the app. The services beneath are the real ones.
import { describe, expect, it, vi } from 'vitest';
import { WorkbenchSession } from '../../../../src/main/services/session';
import { METHODS } from '../../../../src/shared/api';

const state = vi.hoisted(() => ({
  protocols: [] as string[],
  channels: [] as string[],
  windows: 0,
  permission: null as null | ((c: unknown, p: string, cb: (ok: boolean) => void) => void),
  check: null as null | ((...a: unknown[]) => boolean),
  device: null as null | ((...a: unknown[]) => boolean),
  ready: null as null | (() => void),
}));

vi.mock('electron', () => {
  const whenReady = new Promise<void>((resolve) => (state.ready = resolve));
  return {
    app: { whenReady: () => whenReady },
    dialog: { showErrorBox: vi.fn(), showOpenDialog: vi.fn() },
    net: { fetch: vi.fn() },
    session: {
      defaultSession: {
        setPermissionRequestHandler: (fn: typeof state.permission) => void (state.permission = fn),
        setPermissionCheckHandler: (fn: typeof state.check) => void (state.check = fn),
        setDevicePermissionHandler: (fn: typeof state.device) => void (state.device = fn),
      },
    },
    protocol: {
      handle: (scheme: string) => {
        if (state.protocols.includes(scheme)) throw new Error(`The scheme has been handled: ${scheme}`);
        state.protocols.push(scheme);
      },
    },
    ipcMain: {
      handle: (channel: string) => {
        if (state.channels.includes(channel))
          throw new Error(`Attempted to register a second handler for '${channel}'`);
        state.channels.push(channel);
      },
      removeHandler: vi.fn(),
    },
    BrowserWindow: class {
      webContents = { on: vi.fn(), setWindowOpenHandler: vi.fn(), isDestroyed: () => false, send: vi.fn() };
      constructor() {
        state.windows++;
      }
      once() {}
      on() {}
      show() {}
      loadURL() {
        return Promise.resolve();
      }
    },
  };
});

describe('desktop app start-up', () => {
  it('starts once when start() is called again before the first start has finished (macOS activate)', async () => {
    const { createDesktopApp } = await import('../../../../src/main/electron/app');
    const desktop = createDesktopApp(new WorkbenchSession(), ['electron']);
    const first = desktop.start();
    const second = desktop.start(); // `activate` while the app is still getting ready
    expect(second).toBe(first);
    state.ready!();
    await Promise.all([first, second]);
    await desktop.start(); // and once it has started
    expect(state.windows).toBe(1);
    expect(state.protocols.sort()).toEqual(['segscope-app', 'segscope-media']);
    expect(state.channels.sort()).toEqual([...METHODS].sort());
  });

  it('denies every permission request, check and device request', () => {
    for (const permission of [
      'media',
      'geolocation',
      'notifications',
      'midiSysex',
      'openExternal',
      'fullscreen',
    ]) {
      const callback = vi.fn();
      state.permission!({}, permission, callback);
      expect(callback).toHaveBeenCalledWith(false);
      expect(state.check!({}, permission, 'segscope-app://app', {})).toBe(false);
    }
    expect(state.device!({ deviceType: 'usb', origin: 'segscope-app://app' })).toBe(false);
  });
});
