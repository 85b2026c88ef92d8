// The launcher's fallbacks. Electron cannot run on the CI machines, so each failure is played by a
// real child process standing in for Electron's binary (a shell script that prints what Chromium
// prints in that case and ends the same way) or for its download script; the browser server is
// replaced by a recorder. Everything else is the real launcher.
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { launch, type LaunchDeps } from '../../../../src/main/cli/launch';
import type { ServeArgs } from '../../../../src/main/cli/serve';
import { tempDir } from '../../../helpers/data';

function fakeElectron(body: string): string {
  const file = join(tempDir('segscope-electron-'), 'electron');
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

function harness(overrides: Partial<LaunchDeps>) {
  const lines: string[] = [];
  const served: ServeArgs[] = [];
  const echoed: string[] = [];
  const deps: LaunchDeps = {
    spawn,
    electronPath: () => null,
    installerPath: () => null,
    serve: async (args) => void served.push(args),
    log: (line) => void lines.push(line),
    echo: (chunk) => void echoed.push(chunk.toString()),
    env: { DISPLAY: ':0', PATH: process.env.PATH },
    platform: 'linux',
    startupMs: 20_000,
    ...overrides,
  };
  return { deps, lines, served, echoed };
}

/** launch() serves until stopped, so a fallback is seen in what it printed and served. */
async function fallsBack(h: ReturnType<typeof harness>): Promise<string> {
  void launch({ dataset: '/data/VOC2012' }, h.deps);
  await vi.waitFor(() => expect(h.served).toEqual([{ dataset: '/data/VOC2012' }]), { timeout: 10_000 });
  expect(h.lines.at(-1)).toMatch(/^Electron cannot run here: .*; serving the browser UI instead\.$/);
  return h.lines.at(-1)!;
}

describe('segscope launcher', () => {
  it('serves the browser UI without trying Electron when there is no display', async () => {
    const electronPath = vi.fn(() => null);
    const h = harness({ env: {}, electronPath });
    expect(await fallsBack(h)).toContain('there is no display');
    expect(electronPath).not.toHaveBeenCalled();
  });

  it('falls back when the electron package is not installed', async () => {
    expect(await fallsBack(harness({}))).toContain('the electron package is not installed');
  });

  it('says it is downloading Electron, shows the download, and falls back when it fails', async () => {
    const installer = join(tempDir(), 'install.js');
    writeFileSync(installer, 'console.error("HTTPError: Response code 404"); process.exit(1);');
    const h = harness({ installerPath: () => installer });
    const line = await fallsBack(h);
    expect(h.lines[0]).toMatch(/^Downloading Electron for the desktop app \(about 100 MB, once\)/);
    expect(line).toContain('its binary is missing and the download failed (exit code 1, see above)');
  });

  it('starts Electron once the download has put the binary in place', async () => {
    const dir = tempDir();
    const binary = join(dir, 'electron');
    const installer = join(dir, 'install.js');
    writeFileSync(
      installer,
      `require('fs').writeFileSync(${JSON.stringify(binary)}, '#!/bin/sh\\nexit 0\\n', { mode: 0o755 });`,
    );
    const h = harness({
      installerPath: () => installer,
      electronPath: () => (existsSync(binary) ? binary : null),
    });
    expect(await launch({}, h.deps)).toBe(0);
    expect(h.served).toEqual([]);
  });

  it('explains the sandbox fix when Electron dies with SIGTRAP (AppArmor, Ubuntu 24.04)', async () => {
    const electron = fakeElectron(
      'echo "[1:FATAL:sandbox/linux/suid/client/setuid_sandbox_host.cc] No usable sandbox!" >&2\nkill -TRAP $$',
    );
    const h = harness({ electronPath: () => electron });
    const line = await fallsBack(h);
    expect(line).toContain('AppArmor');
    expect(line).toContain(`sudo chmod 4755 ${join(electron, '..', 'chrome-sandbox')}`);
    expect(line).toContain('kernel.apparmor_restrict_unprivileged_userns=0');
    expect(h.echoed.join('')).toContain('No usable sandbox!'); // Electron's own message still shows
  });

  it('explains the chrome-sandbox fix when the SUID helper is misconfigured', async () => {
    const electron = fakeElectron(
      'echo "The SUID sandbox helper binary was found, but is not configured correctly." >&2\nkill -TRAP $$',
    );
    const line = await fallsBack(harness({ electronPath: () => electron }));
    expect(line).toContain("Chromium's sandbox helper is not set up; run: sudo chown root:root");
  });

  it('names the missing shared library and its package', async () => {
    const electron = fakeElectron(
      'echo "electron: error while loading shared libraries: libnss3.so: cannot open shared object file: No such file or directory" >&2\nexit 127',
    );
    const line = await fallsBack(harness({ electronPath: () => electron }));
    expect(line).toContain('the system library libnss3.so is missing');
    expect(line).toContain('sudo apt-get install libnss3');
  });

  it('falls back on an error code at start-up, and on any other signal', async () => {
    const code = await fallsBack(
      harness({ electronPath: () => fakeElectron('echo "something broke" >&2\nexit 3') }),
    );
    expect(code).toContain('it exited with code 3 as it started');
    const killed = await fallsBack(harness({ electronPath: () => fakeElectron('kill -SEGV $$') }));
    expect(killed).toContain('it was killed by SIGSEGV as it started');
  });

  it('returns the exit code, without falling back, when the app ran past start-up', async () => {
    const h = harness({ electronPath: () => fakeElectron('exit 3'), startupMs: 0 });
    expect(await launch({}, h.deps)).toBe(3);
    expect(h.served).toEqual([]);
    const ok = harness({ electronPath: () => fakeElectron('exit 0') });
    expect(await launch({}, ok.deps)).toBe(0);
    expect(ok.lines).toEqual([]);
  });
});
