// Starts the engine as an Electron utilityProcess, so a native crash or out-of-memory error in tfjs
// ends that process and not the app. Electron main process.
import { utilityProcess } from 'electron';
import type { EngineMessage, EngineRequest } from '../../shared/engineProtocol';
import { engineEnvironment } from '../services/engineEnv';
import type { EngineSpawner } from '../services/engineHost';

export function utilitySpawner(entry: string): EngineSpawner {
  return () => {
    const child = utilityProcess.fork(entry, [], {
      serviceName: 'Segscope engine',
      env: engineEnvironment(),
      stdio: 'inherit',
      // macOS: run in the Plugin helper, which the build signs with disable-library-validation, so a
      // signed app can still load the engine's native addons (sharp, onnxruntime, Dawn).
      allowLoadingUnsignedLibraries: process.platform === 'darwin',
    });
    return {
      send: (message: EngineRequest) => child.postMessage(message),
      onMessage: (listener) =>
        void child.on('message', (message: unknown) => listener(message as EngineMessage)),
      onExit: (listener) => void child.on('exit', (code: number) => listener(`it exited with code ${code}`)),
      kill: () => void child.kill(),
    };
  };
}
