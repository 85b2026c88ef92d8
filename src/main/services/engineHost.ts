// Starts the engine process and talks to it: one request at a time per id, progress relayed, and a
// crash (a native fault, out of memory) reported without taking main down. The shell supplies how to
// start the process: utilityProcess in Electron, child_process.fork elsewhere. Plain Node, main process.
import { fork } from 'node:child_process';
import type { EngineMessage, EngineRequest, EngineResult } from '../../shared/engineProtocol';
import type { BackendInfo, BackendPreference, TrainProgress } from '../../shared/training';
import type { ItemsProgress } from '../../shared/engineProtocol';
import type { EngineStatus } from '../../shared/api';

/** The running engine process, whichever way it was started. */
export interface EngineProcess {
  send(message: EngineRequest): void;
  onMessage(listener: (message: EngineMessage) => void): void;
  onExit(listener: (description: string) => void): void;
  kill(): void;
}
export type EngineSpawner = () => EngineProcess;

type RequestBody = EngineRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  progress?: (p: TrainProgress | ItemsProgress) => void;
}

/** Starts the engine bundle as a forked Node process (the server and the CLI). */
export function forkSpawner(entry: string): EngineSpawner {
  return () => {
    const child = fork(entry, [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    return {
      // A send to an engine that just died fails; its exit is reported by onExit, so the error is dropped.
      send: (m) => void (child.connected && child.send(m, () => undefined)),
      onMessage: (l) => void child.on('message', (m) => l(m as EngineMessage)),
      onExit: (l) =>
        void child.on('exit', (code, signal) =>
          l(signal ? `it was killed by ${signal}` : `it exited with code ${code}`),
        ),
      kill: () => void child.kill('SIGKILL'),
    };
  };
}

export class EngineHost {
  private process: EngineProcess | null = null;
  private ready: Promise<void> | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private status: EngineStatus = { state: 'stopped', backend: null, message: null };
  private backendPreference: BackendPreference = 'auto';

  constructor(
    private readonly spawn: EngineSpawner,
    private readonly onStatus: (status: EngineStatus) => void = () => {},
  ) {}

  getStatus(): EngineStatus {
    return this.status;
  }

  private setStatus(status: EngineStatus): void {
    this.status = status;
    this.onStatus(status);
  }

  /** Starts the engine if it is not running, and picks its backend. */
  async start(preference: BackendPreference = this.backendPreference): Promise<BackendInfo> {
    this.backendPreference = preference;
    if (!this.process) {
      this.setStatus({ state: 'starting', backend: null, message: null });
      const proc = this.spawn();
      this.process = proc;
      this.ready = new Promise<void>((resolve) => {
        proc.onMessage((message) => {
          if (message.type === 'ready') resolve();
          else this.onMessage(message);
        });
      });
      proc.onExit((description) => this.onExit(proc, description));
      await this.ready;
    }
    const backend = (await this.request({ type: 'init', backend: preference })) as BackendInfo;
    this.setStatus({ state: 'ready', backend, message: null });
    return backend;
  }

  /** Sends a request; resolves with the engine's result. Progress for it goes to `progress`. */
  async request<K extends RequestBody['type']>(
    body: Extract<RequestBody, { type: K }>,
    progress?: (p: TrainProgress | ItemsProgress) => void,
  ): Promise<EngineResult[K]> {
    if (!this.process) await this.start();
    await this.ready;
    const proc = this.process!;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, progress });
      proc.send({ ...body, id } as EngineRequest);
    });
  }

  private onMessage(message: EngineMessage): void {
    if (message.type === 'progress') {
      this.pending.get(message.id)?.progress?.(message.progress);
      return;
    }
    if (message.type !== 'result') return;
    const entry = this.pending.get(message.id);
    this.pending.delete(message.id);
    if (!entry) return;
    if (message.ok) entry.resolve(message.result);
    else entry.reject(new Error(message.error));
  }

  private onExit(proc: EngineProcess, description: string): void {
    if (this.process !== proc) return;
    this.process = null;
    this.ready = null;
    const wasStopping = this.status.state === 'stopped';
    const message = `the engine stopped: ${description}`;
    for (const entry of this.pending.values()) entry.reject(new Error(message));
    this.pending.clear();
    if (!wasStopping) this.setStatus({ state: 'crashed', backend: null, message });
  }

  /** Kills the engine at once, failing whatever it was doing. */
  kill(reason = 'stopped by Segscope'): void {
    const proc = this.process;
    if (!proc) return;
    this.setStatus({ state: 'stopped', backend: null, message: reason });
    proc.kill();
  }

  /** Kills the engine if it runs, then starts a fresh one. */
  async restart(): Promise<BackendInfo> {
    if (this.process) {
      const proc = this.process;
      const exited = new Promise<void>((resolve) => proc.onExit(() => resolve()));
      this.kill('restarting');
      await exited;
    }
    return this.start();
  }
}
