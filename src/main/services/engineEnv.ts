// The environment the engine process starts with. Main process (server, CLI and Electron alike).

/**
 * glibc malloc settings for the engine, unless the user set them: every allocation from the heap
 * (MALLOC_MMAP_MAX_=0) and none given back to the system (MALLOC_TRIM_THRESHOLD_). ONNX Runtime's
 * convolutions allocate and free scratch of up to hundreds of MB per call; through mmap, each call faults
 * all of it in again. Measured on a unet-vgg16 step at 256², batch 2, 2 cores: 13.4 s with glibc's
 * defaults against 6.4 s with these, at about 0.5 GB more peak memory (`node bench/run.mjs
 * bench/engine/cpu.ts`). Other C libraries ignore the variables.
 */
export const ENGINE_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_MAX_: '0',
  MALLOC_TRIM_THRESHOLD_: String(2 ** 40),
};

/** `base` plus the engine's malloc settings, where `base` does not set them itself. */
export function engineEnvironment(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...ENGINE_MALLOC_ENV, ...base };
}
