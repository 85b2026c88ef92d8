// Build for the three Electron targets. The main target also emits the CLI (which hosts the
// browser transport), so `segscope` and the desktop app ship from one build.
import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import vue from '@vitejs/plugin-vue';

export default defineConfig({
  main: {
    build: {
      rollupOptions: {
        input: {
          index: resolve(__dirname, 'src/main/electron/main.ts'),
          cli: resolve(__dirname, 'src/main/cli/index.ts'),
          // The engine runs as a process of its own; see src/main/engine/worker.ts.
          engine: resolve(__dirname, 'src/main/engine/worker.ts'),
          // Decodes label PNGs in a worker thread; see src/main/services/labelDecoder.ts.
          labelDecoder: resolve(__dirname, 'src/main/services/labelDecodeWorker.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      // A sandboxed preload can require nothing but electron, so the contract is bundled in.
      externalizeDeps: false,
      rollupOptions: {
        input: { index: resolve(__dirname, 'src/preload/index.ts') },
        // A sandboxed preload cannot load ES modules.
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(__dirname, 'src/renderer'),
    build: {
      rollupOptions: { input: { index: resolve(__dirname, 'src/renderer/index.html') } },
    },
    plugins: [vue()],
  },
});
