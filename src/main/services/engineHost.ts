// Starts the engine process and talks to it: one request at a time per id, progress relayed, and a
// crash (a native fault, out of memory) reported without taking main down. Every request is answered,
// with a result or an error, within a bounded time. The shell supplies how to start the process:
// utilityProcess in Electron, child_process.fork elsewhere. Plain Node, main process.
import { fork } from 'node:child_process';
import type { EngineMessage, EngineRequest, EngineResult } from '../../shared/engineProtocol';
import type { BackendInfo, BackendPreference, TrainProgress } from '../../shared/training';
import type { ItemsProgress } from '../../shared/engineProtocol';
import type { EngineStatus } from '../../shared/api';
import { WorkbenchError } from '../../shared/errors';
import { engineEnvironment } from './engineEnv';
import { routeEngineStderr } from './engineLog';

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
  /** Fails the request when the engine has been silent about it for too long. */
  timer: ReturnType<typeof setTimeout>;
  arm(): void;
}

/** The engine process ended (or never got going) while a request needed it. */
export class EngineStoppedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineStoppedError';
  }
}

export interface EngineHostOptions {
  /** How long a new engine may take to say it is ready before it is killed. */
  startTimeoutMs?: number;
  /**
   * How long a request may go without its result or any progress for it. Training reports every
   * batch, so this bounds the silence, not the length of a run.
   */
  idleTimeoutMs?: number;
}

/** Starts the engine bundle as a forked Node process (the server and the CLI). */
export function forkSpawner(entry: string): EngineSpawner {
  return () => {
    const child = fork(entry, [], {
      env: engineEnvironment(),
      // stderr is piped so that the GPU binding's start-up noise goes to a log file (engineLog.ts).
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    if (child.stderr) routeEngineStderr(child.stderr);
    return {
      // A send to an engine that just died fails; its exit is reported by onExit, so the error is dropped.
      send: (m) => void (child.connected && child.send(m, () => undefined)),
      onMessage: (l) => void child.on('message', (m) => l(m as EngineMessage)),
      onExit: (l) => {
        child.on('exit', (code, signal) =>
          l(signal ? `it was killed by ${signal}` : `it exited with code ${code}`),
        );
        // A process that cannot be started at all (EAGAIN, ENOMEM) reports an 'error' and no exit.
        child.on('error', (err) => l(`it could not be run (${err.message})`));
      },
      kill: () => void child.kill('SIGKILL'),
    };
  };
}

export class EngineHost {
  private process: EngineProcess | null = null;
  private ready: Promise<void> | null = null;
  /** The spawn in progress, which other callers of `start` wait for. */
  private starting: Promise<void> | null = null;
  private restarting: Promise<BackendInfo> | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private status: EngineStatus = { state: 'stopped', backend: null, message: null };
  private backendPreference: BackendPreference = 'auto';
  private readonly startTimeoutMs: number;
  private readonly idleTimeoutMs: number;

  constructor(
    private readonly spawn: EngineSpawner,
    private readonly onStatus: (status: EngineStatus) => void = () => {},
    options: EngineHostOptions = {},
  ) {
    this.startTimeoutMs = options.startTimeoutMs ?? 120_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 15 * 60_000;
  }

  getStatus(): EngineStatus {
    return this.status;
  }

  private setStatus(status: EngineStatus): void {
    this.status = status;
    this.onStatus(status);
  }

  /** Starts the engine if it is not running, and picks its backend. */
  async start(preference: BackendPreference = this.backendPreference): Promise<BackendInfo> {
    // A restart under way is about to replace the engine: use the new one, not the one being killed.
    if (this.restarting) await this.restarting.catch(() => undefined);
    return this.startNow(preference);
  }

  private async startNow(preference: BackendPreference = this.backendPreference): Promise<BackendInfo> {
    this.backendPreference = preference;
    // One spawn at a time: a second caller waits for the first one's engine instead of making its own.
    while (this.starting) await this.starting.catch(() => undefined);
    if (!this.process) {
      const starting = this.spawnEngine();
      this.starting = starting;
      try {
        await starting;
      } finally {
        this.starting = null;
      }
    }
    const backend = (await this.request({ type: 'init', backend: preference })) as BackendInfo;
    this.setStatus({ state: 'ready', backend, message: null });
    return backend;
  }

  /** Spawns the process; resolves when it says it is ready, rejects when it exits or stays silent first. */
  private spawnEngine(): Promise<void> {
    this.setStatus({ state: 'starting', backend: null, message: null });
    let proc: EngineProcess;
    try {
      proc = this.spawn();
    } catch (err) {
      const message = `the engine could not be started: ${(err as Error).message}`;
      this.setStatus({ state: 'crashed', backend: null, message });
      return Promise.reject(new EngineStoppedError(message));
    }
    this.process = proc;
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new EngineStoppedError(`the engine did not start within ${this.startTimeoutMs / 1000} s`));
        proc.kill();
      }, this.startTimeoutMs);
      proc.onMessage((message) => {
        if (message.type === 'ready') {
          clearTimeout(timer);
          resolve();
        } else this.onMessage(message);
      });
      proc.onExit((description) => {
        clearTimeout(timer);
        reject(new EngineStoppedError(`the engine stopped before it was ready: ${description}`));
        this.onExit(proc, description);
      });
    });
    ready.catch(() => undefined); // also awaited by callers; this keeps an unawaited one from being unhandled
    this.ready = ready;
    return ready;
  }

  /** Sends a request; resolves with the engine's result. Progress for it goes to `progress`. */
  async request<K extends RequestBody['type']>(
    body: Extract<RequestBody, { type: K }>,
    progress?: (p: TrainProgress | ItemsProgress) => void,
  ): Promise<EngineResult[K]> {
    if (!this.process) await this.start();
    await this.ready;
    const proc = this.process;
    if (!proc) throw new EngineStoppedError('the engine stopped');
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const entry: Pending = {
        resolve: resolve as (v: unknown) => void,
        reject,
        progress,
        timer: setTimeout(() => undefined, 0),
        arm: () => {
          clearTimeout(entry.timer);
          entry.timer = setTimeout(() => {
            this.pending.delete(id);
            reject(
              new Error(
                `the engine did not answer ${body.type} within ${Math.round(this.idleTimeoutMs / 1000)} s`,
              ),
            );
          }, this.idleTimeoutMs);
        },
      };
      entry.arm();
      this.pending.set(id, entry);
      proc.send({ ...body, id } as EngineRequest);
    });
  }

  private onMessage(message: EngineMessage): void {
    if (message.type === 'progress') {
      const entry = this.pending.get(message.id);
      entry?.arm();
      entry?.progress?.(message.progress);
      return;
    }
    if (message.type !== 'result') return;
    const entry = this.pending.get(message.id);
    this.pending.delete(message.id);
    if (!entry) return;
    clearTimeout(entry.timer);
    if (message.ok) entry.resolve(message.result);
    // A known kind keeps its code across the process boundary, so the UI can say `bad-file`, not `internal`.
    else
      entry.reject(message.code ? new WorkbenchError(message.code, message.error) : new Error(message.error));
  }

  private onExit(proc: EngineProcess, description: string): void {
    if (this.process !== proc) return;
    this.process = null;
    this.ready = null;
    const wasStopping = this.status.state === 'stopped';
    const message = `the engine stopped: ${description}`;
    for (const entry of this.pending.values()) {
      clearTimeout(entry.timer);
      entry.reject(new EngineStoppedError(message));
    }
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

  /**
   * Kills the engine if it runs, then starts a fresh one. Restarts asked for while one is under way
   * share it: every caller gets its answer, and one engine is left running.
   */
  restart(): Promise<BackendInfo> {
    this.restarting ??= this.restartNow().finally(() => (this.restarting = null));
    return this.restarting;
  }

  private async restartNow(): Promise<BackendInfo> {
    while (this.starting) await this.starting.catch(() => undefined);
    const proc = this.process;
    if (proc) {
      const exited = new Promise<void>((resolve) => proc.onExit(() => resolve()));
      this.kill('restarting');
      await exited;
    }
    return this.startNow();
  }
}
