// `segscope` with no command: start the desktop app, or say in one line why Electron cannot run here
// and how to fix it, then serve the browser UI instead. Runs in the CLI process.
import { spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { appDir } from './paths';
import { serve, type ServeArgs } from './serve';

const requireHere = createRequire(import.meta.url);

type ElectronBinary = { ok: true; path: string } | { ok: false; reason: string };

/** What launch() starts and prints; tests replace these with stand-ins for Electron and the server. */
export interface LaunchDeps {
  spawn: (command: string, args: string[], options: SpawnOptions) => ChildProcess;
  /** Electron's binary when it is installed, else null. */
  electronPath: () => string | null;
  /** Electron's own download script, or null when the electron package is absent. */
  installerPath: () => string | null;
  serve: (args: ServeArgs) => Promise<unknown>;
  log: (line: string) => void;
  /** Where Electron's stderr is echoed while it is also read for a diagnosis. */
  echo: (chunk: Buffer) => void;
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
  /** An exit within this long after the start is a failure to start. */
  startupMs: number;
}

function installedElectron(): string | null {
  try {
    const path = requireHere('electron') as unknown;
    return typeof path === 'string' && existsSync(path) ? path : null;
  } catch {
    return null;
  }
}

function electronInstaller(): string | null {
  try {
    return join(requireHere.resolve('electron/package.json'), '..', 'install.js');
  } catch {
    return null;
  }
}

const defaults: LaunchDeps = {
  spawn: nodeSpawn,
  electronPath: installedElectron,
  installerPath: electronInstaller,
  serve,
  log: (line) => console.log(line),
  echo: (chunk) => void process.stderr.write(chunk),
  env: process.env,
  platform: process.platform,
  startupMs: 20_000,
};

/** Runs a child to its end; resolves with its exit code or signal and the tail of its stderr. */
function runChild(
  deps: LaunchDeps,
  command: string,
  args: string[],
  options: SpawnOptions,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; error?: Error }> {
  return new Promise((resolve) => {
    let stderr = '';
    const child = deps.spawn(command, args, options);
    child.stderr?.on('data', (chunk: Buffer) => {
      deps.echo(chunk);
      stderr = (stderr + chunk.toString()).slice(-16_384);
    });
    child.once('error', (error) => resolve({ code: null, signal: null, stderr, error }));
    child.once('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

/**
 * Finds Electron's binary, running the package's own installer once when it is missing. The download
 * (about 100 MB) shows its progress bar on this terminal, after a line saying what is happening.
 */
export async function findElectron(deps: LaunchDeps = defaults): Promise<ElectronBinary> {
  const found = deps.electronPath();
  if (found) return { ok: true, path: found };
  const installer = deps.installerPath();
  if (!installer) return { ok: false, reason: 'the electron package is not installed' };
  deps.log('Downloading Electron for the desktop app (about 100 MB, once); its progress follows.');
  const env = { ...deps.env };
  delete env.ELECTRON_SKIP_BINARY_DOWNLOAD;
  const run = await runChild(deps, process.execPath, [installer], {
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 900_000,
  });
  const again = deps.electronPath();
  if (again) return { ok: true, path: again };
  const how = run.signal ? `was stopped by ${run.signal}` : `failed (exit code ${run.code}, see above)`;
  return { ok: false, reason: `its binary is missing and the download ${how}` };
}

/** Why a desktop window cannot open on this machine, or null when it can. */
export function displayProblem(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string | null {
  if (platform === 'linux' && !env.DISPLAY && !env.WAYLAND_DISPLAY) {
    return 'there is no display (DISPLAY and WAYLAND_DISPLAY are unset)';
  }
  return null;
}

/** Debian and Ubuntu packages of the libraries Electron most often lacks on a bare system. */
const LIBRARY_PACKAGES: Record<string, string> = {
  'libnss3.so': 'libnss3',
  'libnssutil3.so': 'libnss3',
  'libsmime3.so': 'libnss3',
  'libnspr4.so': 'libnspr4',
  'libasound.so.2': 'libasound2 (libasound2t64 on Ubuntu 24.04)',
  'libatk-1.0.so.0': 'libatk1.0-0',
  'libatk-bridge-2.0.so.0': 'libatk-bridge2.0-0',
  'libcups.so.2': 'libcups2',
  'libgbm.so.1': 'libgbm1',
  'libgtk-3.so.0': 'libgtk-3-0',
  'libdrm.so.2': 'libdrm2',
  'libxkbcommon.so.0': 'libxkbcommon0',
  'libXcomposite.so.1': 'libxcomposite1',
  'libXdamage.so.1': 'libxdamage1',
  'libXrandr.so.2': 'libxrandr2',
};

/**
 * One plain line saying why Electron ended at start-up and how to fix it, from its exit and the
 * messages Chromium prints in each case (missing library, sandbox helper, AppArmor, display).
 */
export function diagnoseStartup(
  exit: { code: number | null; signal: NodeJS.Signals | null; stderr: string },
  electron: string,
  platform: NodeJS.Platform = process.platform,
): string {
  const { code, signal, stderr } = exit;
  const library = /error while loading shared libraries: ([^:\s]+)/.exec(stderr)?.[1];
  if (library) {
    const pkg = Object.hasOwn(LIBRARY_PACKAGES, library) ? LIBRARY_PACKAGES[library] : undefined;
    return pkg
      ? `the system library ${library} is missing; install it (Debian/Ubuntu: sudo apt-get install ${pkg})`
      : `the system library ${library} is missing; install the package that provides it`;
  }
  const sandbox = join(dirname(electron), 'chrome-sandbox');
  const chmod = `sudo chown root:root ${sandbox} && sudo chmod 4755 ${sandbox}`;
  if (/SUID sandbox helper binary/i.test(stderr)) {
    return `Chromium's sandbox helper is not set up; run: ${chmod}`;
  }
  if (
    /No usable sandbox|apparmor|user namespaces/i.test(stderr) ||
    (platform === 'linux' && signal === 'SIGTRAP')
  ) {
    return (
      'its sandbox was refused (on Ubuntu 23.10 and later AppArmor blocks the user namespaces it needs); ' +
      `run: ${chmod}, or allow them with sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`
    );
  }
  if (/Missing X server|cannot open display|Failed to connect to the bus/i.test(stderr)) {
    return 'it cannot open the display; check that DISPLAY names a running X server you may use (xhost)';
  }
  if (signal) return `it was killed by ${signal} as it started; its messages are above`;
  return `it exited with code ${code} as it started; its messages are above`;
}

async function fallBack(args: ServeArgs, deps: LaunchDeps, problem: string): Promise<number> {
  deps.log(`Electron cannot run here: ${problem}; serving the browser UI instead.`);
  await deps.serve(args);
  return new Promise<number>(() => {}); // serve until stopped by a signal
}

export async function launch(args: ServeArgs, deps: LaunchDeps = defaults): Promise<number> {
  // The display is checked first: without one, downloading Electron would be wasted.
  const noDisplay = displayProblem(deps.env, deps.platform);
  if (noDisplay) return fallBack(args, deps, noDisplay);
  const electron = await findElectron(deps);
  if (!electron.ok) return fallBack(args, deps, electron.reason);
  const extra = args.dataset ? ['--dataset', args.dataset] : [];
  const started = Date.now();
  const exit = await runChild(deps, electron.path, [appDir, ...extra], {
    env: deps.env,
    stdio: ['inherit', 'inherit', 'pipe'],
  });
  if (exit.error) return fallBack(args, deps, `it could not be started (${exit.error.message})`);
  const failed = exit.signal !== null || exit.code !== 0;
  if (failed && Date.now() - started < deps.startupMs) {
    return fallBack(args, deps, diagnoseStartup(exit, electron.path, deps.platform));
  }
  return exit.code ?? 1;
}
