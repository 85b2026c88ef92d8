// The packaging config (electron-builder.json) against what the app really loads: every native addon,
// shared library and .wasm file of the runtime dependencies and of the built output must be kept out
// of the asar, or the packaged engine fails at import. No build runs here (it downloads Electron);
// the test reads the installed node_modules and out/ (built first when missing).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '../../..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  optionalDependencies: Record<string, string>;
};
const config = JSON.parse(readFileSync(join(ROOT, 'electron-builder.json'), 'utf8')) as {
  files: string[];
  asarUnpack: string[];
  electronFuses: Record<string, boolean>;
  linux: { target: string[] };
  mac: { target: string[]; entitlementsInherit: string };
  win: { target: string[] };
};
// The matcher electron-builder itself applies to asarUnpack, from its own dependencies.
const { minimatch } = createRequire(require.resolve('app-builder-lib/package.json'))('minimatch') as {
  minimatch: (path: string, pattern: string, options: { dot: boolean }) => boolean;
};
const runtime = { ...pkg.dependencies, ...pkg.optionalDependencies };
/** A file electron-builder must unpack: native addons, the libraries they load, and wasm. */
const LOADED = /\.(node|wasm|dll|dylib)$|\.so(\.\d+)*$/;

/** Where Node's resolution finds package `name` from folder `from` (package.json `exports` aside). */
function installed(name: string, from: string): string | null {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return null;
  }
}

/** The folder of every installed runtime dependency, transitively, as Node would resolve them. */
function runtimePackages(): Map<string, string> {
  const found = new Map<string, string>(); // folder -> name
  const visit = (name: string, from: string, optional: boolean): void => {
    const dir = installed(name, from);
    if (!dir) {
      if (optional) return; // an optional dependency that did not install (tfjs-node here)
      throw new Error(`${name}: a runtime dependency is not installed (from ${from})`);
    }
    if (found.has(dir)) return;
    found.set(dir, name);
    const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    for (const dep of Object.keys(meta.dependencies ?? {}))
      visit(dep, dir, Boolean(meta.optionalDependencies?.[dep]));
    for (const dep of Object.keys(meta.optionalDependencies ?? {})) visit(dep, dir, true);
  };
  for (const name of Object.keys(pkg.dependencies)) visit(name, ROOT, false);
  for (const name of Object.keys(pkg.optionalDependencies)) visit(name, ROOT, true);
  return found;
}

/** Files under `dir` matching LOADED, not descending into nested packages (visited on their own). */
function loadedFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'node_modules') out.push(...loadedFiles(path));
    else if (entry.isFile() && LOADED.test(entry.name)) out.push(path);
  }
  return out;
}

const unpacked = (file: string): boolean => {
  const rel = relative(ROOT, file).split(sep).join('/');
  return config.asarUnpack.some((pattern) => minimatch(rel, pattern, { dot: true }));
};

beforeAll(() => {
  if (!existsSync(join(ROOT, 'out/main/engine.js'))) {
    execFileSync(process.execPath, [join(ROOT, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], {
      cwd: ROOT,
      stdio: 'ignore',
    });
  }
}, 120_000);

describe('packaging config', () => {
  it('keeps every native addon, shared library and .wasm of the runtime dependencies out of the asar', () => {
    const files = [...runtimePackages().keys()].flatMap(loadedFiles);
    // These are what the engine loads on this machine; if one is missing the scan itself is broken.
    const names = files.map((f) => relative(ROOT, f).split(sep).join('/'));
    expect(names).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^node_modules\/@img\/sharp-[\w-]+\/lib\/sharp-[\w.-]+\.node$/),
        expect.stringMatching(
          /^node_modules\/@tensorflow\/tfjs-backend-wasm\/dist\/tfjs-backend-wasm-simd\.wasm$/,
        ),
        expect.stringMatching(/^node_modules\/webgpu\/dist\/[\w-]+\/dawn\.node$/),
        expect.stringMatching(/^node_modules\/onnxruntime-node\/bin\/.*\/onnxruntime_binding\.node$/),
      ]),
    );
    expect(names.filter((n) => !unpacked(join(ROOT, n)))).toEqual([]);
  });

  it('keeps any .node or .wasm of the built output out of the asar, and packs the output', () => {
    const built = loadedFiles(join(ROOT, 'out'));
    expect(built.filter((f) => !unpacked(f))).toEqual([]);
    expect(config.files).toContain('out/**/*');
  });

  it('ships every package the built main, CLI and engine import as a runtime dependency', () => {
    const bundles = readdirSync(join(ROOT, 'out/main'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.js'))
      .map((f) => readFileSync(join(ROOT, 'out/main', f), 'utf8'));
    const specifiers = new Set<string>();
    for (const code of bundles) {
      for (const m of code.matchAll(
        // `from` must stand alone: an option named 'init-from' is not an import. Specifiers have no spaces.
        /(?:(?<![\w-])from\s*|import\s*\(\s*|require(?:Here|FromHere)?\s*\(\s*|resolve\s*\(\s*)["']([^"'./\s][^"'\s]*)["']/g,
      )) {
        specifiers.add(m[1]!);
      }
    }
    const packages = [...specifiers]
      .filter((s) => !s.startsWith('node:') && !builtinModules.includes(s.split('/')[0]!))
      .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!));
    const notShipped = [...new Set(packages)].filter((p) => p !== 'electron' && !(p in runtime));
    expect(packages).toEqual(expect.arrayContaining(['sharp', '@tensorflow/tfjs-backend-wasm']));
    expect(notShipped).toEqual([]);
  });

  it('builds AppImage, deb, dmg and nsis, with fuses and the macOS entitlement the engine needs', () => {
    expect(config.linux.target).toEqual(['AppImage', 'deb']);
    expect(config.mac.target).toEqual(['dmg']);
    expect(config.win.target).toEqual(['nsis']);
    // The engine is a utilityProcess, so nothing needs ELECTRON_RUN_AS_NODE.
    expect(config.electronFuses).toMatchObject({ runAsNode: false, enableNodeCliInspectArguments: false });
    const inherit = readFileSync(join(ROOT, config.mac.entitlementsInherit), 'utf8');
    expect(inherit).toMatch(/<key>com\.apple\.security\.cs\.disable-library-validation<\/key>\s*<true\/>/);
    // The engine's side of it: tests/unit/main/electron/engineProcess.test.ts.
  });
});
