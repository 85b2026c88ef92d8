// Where the built app lives, found from the CLI bundle's own location (out/main/cli.js, or one of its
// lazily loaded chunks in out/main/chunks/).
import { fileURLToPath } from 'node:url';
import { basename, dirname, resolve } from 'node:path';

const dir = fileURLToPath(new URL('.', import.meta.url));
const here = basename(dir) === 'chunks' ? dirname(dir) : dir;

/** The project folder: Electron is started on it, and its package.json points at out/main. */
export const appDir = resolve(here, '../..');
/** The built renderer that the browser transport serves. */
export const rendererDir = resolve(here, '../renderer');
/** The engine bundle, started as a process of its own. */
export const engineEntry = resolve(here, 'engine.js');
/** The worker-thread bundle that decodes label PNGs off the server's event loop. */
export const labelDecoderEntry = resolve(here, 'labelDecoder.js');
/** The PyTorch engine's Python package (python/segscope_torch), put on the workers' PYTHONPATH. */
export const pythonDir = resolve(here, '../../python');
