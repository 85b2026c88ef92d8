// Shared setup for end-to-end tests: the built CLI serving the browser transport on a random port,
// and Debian's Chromium driven by playwright-core. With SEGSCOPE_E2E_TRANSPORT=bridge, pages talk to
// main through the built preload under an emulated contextBridge instead (tests/e2e/bridge/).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { bridgeScript } from './bridge/script';

// import.meta.url rather than __dirname: the editor bench loads this file outside vitest.
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const OUTPUT = join(ROOT, 'test-output', 'e2e');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** How the pages of this run reach main: the page's own WebSocket, or the emulated preload bridge. */
export const TRANSPORT: 'websocket' | 'bridge' =
  process.env.SEGSCOPE_E2E_TRANSPORT === 'bridge' ? 'bridge' : 'websocket';

export interface Served {
  url: string;
  origin: string;
  token: string;
  process: ChildProcess;
  /** Everything the process printed, for assertions and failure messages. */
  output: () => string;
  stop(): Promise<void>;
}

/** Runs `node out/main/cli.js <args>` to its end; rejects with everything it printed unless it exits 0. */
export function runCli(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'out/main/cli.js'), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`segscope ${args[0]} exited ${code}:\n${out}`)),
    );
  });
}

/** Runs `node out/main/cli.js <args>` and resolves once it prints the browser URL. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Served> {
  const child = spawn(process.execPath, [join(ROOT, 'out/main/cli.js'), ...args], { cwd: ROOT, env });
  let text = '';
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed within 60 s:\n${text}`)), 60_000);
    const onData = (chunk: Buffer): void => {
      text += chunk.toString();
      const match = /(http:\/\/[^\s]+\/\?token=([^\s]+))/.exec(text);
      if (!match) return;
      clearTimeout(timer);
      const url = new URL(match[1]!);
      resolvePromise({
        url: match[1]!,
        origin: url.origin,
        token: decodeURIComponent(match[2]!),
        process: child,
        output: () => text,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`segscope exited with ${code} before printing a URL:\n${text}`));
    });
  });
}

export async function launchChromium(): Promise<Browser> {
  mkdirSync(OUTPUT, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

/** A new page of `browser`; in the bridge run, the emulated preload is installed before the app loads. */
export async function newPage(browser: Browser, options: BrowserContextOptions = {}): Promise<Page> {
  const page = await browser.newPage(options);
  if (TRANSPORT === 'bridge') await page.addInitScript({ content: await bridgeScript() });
  return page;
}
