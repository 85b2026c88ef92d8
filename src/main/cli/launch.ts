// `segscope` with no command: start the desktop app, or say in one line why Electron cannot run here
// and serve the browser UI instead. Runs in the CLI process.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { appDir } from './paths';
import { serve, type ServeArgs } from './serve';

const requireHere = createRequire(import.meta.url);

type ElectronBinary = { ok: true; path: string } | { ok: false; reason: string };

function electronPath(): string | null {
  try {
    const path = requireHere('electron') as unknown;
    return typeof path === 'string' && existsSync(path) ? path : null;
  } catch {
    return null;
  }
}

/** Finds Electron's binary, running the package's own installer once when it is missing. */
export function findElectron(): ElectronBinary {
  const found = electronPath();
  if (found) return { ok: true, path: found };
  let installer: string;
  try {
    installer = join(requireHere.resolve('electron/package.json'), '..', 'install.js');
  } catch {
    return { ok: false, reason: 'the electron package is not installed' };
  }
  const env = { ...process.env };
  delete env.ELECTRON_SKIP_BINARY_DOWNLOAD;
  const run = spawnSync(process.execPath, [installer], { env, encoding: 'utf8', timeout: 300_000 });
  const again = electronPath();
  if (again) return { ok: true, path: again };
  const why = (run.stderr || run.stdout || '')
    .split('\n')
    .find((l) => /error/i.test(l))
    ?.trim();
  return { ok: false, reason: `its binary is missing and could not be downloaded${why ? ` (${why})` : ''}` };
}

/** Why a desktop window cannot open on this machine, or null when it can. */
export function displayProblem(
  env: NodeJS.ProcessEnv = process.env,
  platform = process.platform,
): string | null {
  if (platform === 'linux' && !env.DISPLAY && !env.WAYLAND_DISPLAY) {
    return 'there is no display (DISPLAY and WAYLAND_DISPLAY are unset)';
  }
  return null;
}

export async function launch(args: ServeArgs): Promise<number> {
  // The display is checked first: without one, downloading Electron would be wasted.
  const noDisplay = displayProblem();
  const electron: ElectronBinary = noDisplay ? { ok: false, reason: noDisplay } : findElectron();
  if (!electron.ok) {
    const problem = electron.reason;
    console.log(`Electron cannot run here: ${problem}; serving the browser UI instead.`);
    await serve(args);
    return new Promise<number>(() => {}); // serve until stopped by a signal
  }
  const extra = args.dataset ? ['--dataset', args.dataset] : [];
  const child = spawn(electron.path, [appDir, ...extra], { stdio: 'inherit' });
  return new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}
