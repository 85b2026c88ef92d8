// The engine process's stderr, sorted: what the GPU binding (Dawn, through the `webgpu` package) prints
// on every start, such as "error: XDG_RUNTIME_DIR is invalid…" and Vulkan warnings that name its
// builder's paths, goes to a log file in the app's data folder; everything else reaches the user's
// terminal as before. `segscope doctor` names the file. Main process (CLI and desktop).
import { appendFileSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/** The folder of Segscope's own logs: $SEGSCOPE_LOG_DIR, else the platform's place for app state. */
export function logDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SEGSCOPE_LOG_DIR) return env.SEGSCOPE_LOG_DIR;
  if (process.platform === 'win32')
    return join(env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'Segscope');
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Logs', 'Segscope');
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'segscope');
}

/** The file the binding's messages go to. */
export function engineLogPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(logDir(env), 'engine.log');
}

/** A line the binding prints that asks nothing of the user. */
const NOISE = [/^error: XDG_RUNTIME_DIR is invalid/, /^Warning: /];
/** The lines that continue a binding's message: " - While …", "    at …", and the blank after it. */
const CONTINUATION = /^(\s+- |\s+at |\s*$)/;

/**
 * Reads `stderr` line by line: the binding's messages (and their continuation lines) are appended to
 * `logPath`, every other line is written to `out`.
 */
export function routeEngineStderr(
  stderr: Readable,
  out: { write(text: string): unknown } = process.stderr,
  logPath: string = engineLogPath(),
): void {
  let inNoise = false;
  let logReady = false;
  const log = (line: string) => {
    try {
      if (!logReady) mkdirSync(join(logPath, '..'), { recursive: true });
      logReady = true;
      appendFileSync(logPath, `${new Date().toISOString()} ${line}\n`);
    } catch {
      // An unwritable log must not stop the engine; the message is dropped, as it asks nothing of anyone.
    }
  };
  createInterface({ input: stderr, crlfDelay: Infinity }).on('line', (line) => {
    inNoise = NOISE.some((re) => re.test(line)) || (inNoise && CONTINUATION.test(line));
    if (inNoise) log(line);
    else out.write(`${line}\n`);
  });
}
