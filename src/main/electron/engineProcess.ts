// Starts the engine as an Electron utilityProcess, so a native crash or out-of-memory error in tfjs
// ends that process and not the app. Electron main process.
import { utilityProcess } from 'electron';
import type { EngineMessage, EngineRequest } from '../../shared/engineProtocol';
import type { EngineSpawner } from '../services/engineHost';

export function utilitySpawner(entry: string): EngineSpawner {
  return () => {
    const child = utilityProcess.fork(entry, [], { serviceName: 'Segscope engine', stdio: 'inherit' });
    return {
      send: (message: EngineRequest) => child.postMessage(message),
      onMessage: (listener) =>
        void child.on('message', (message: unknown) => listener(message as EngineMessage)),
      onExit: (listener) => void child.on('exit', (code: number) => listener(`it exited with code ${code}`)),
      kill: () => void child.kill(),
    };
  };
}
