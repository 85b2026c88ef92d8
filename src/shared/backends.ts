// The one list of tfjs backends the engine can run on, fastest first: the order `auto` tries them in,
// what `--backend` and the panel accept, and what help text lists. Plain data, runs in any process.

/** Every backend, fastest first: the order `auto` tries. */
export const BACKENDS = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'] as const;

/** A tfjs backend. */
export type BackendName = (typeof BACKENDS)[number];

/** Every backend preference: `auto` (the first of `BACKENDS` that loads) or one backend. */
export const BACKEND_PREFERENCES = ['auto', ...BACKENDS] as const;

export type BackendPreference = (typeof BACKEND_PREFERENCES)[number];
