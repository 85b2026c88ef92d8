// A child process that answers one JSON request per line with one JSON line (the PyTorch twin, and the
// wasm training step that needs a process per thread count), so that a bench can alternate its runs
// with a peer's. Lines that are not JSON objects (banners, warnings) are passed to stderr. Bench process.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

export class LineServer {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: ((value: Record<string, unknown>) => void)[] = [];
  private readonly failed: Promise<never>;

  /** Starts `command`; `ready` resolves to its first JSON line. */
  readonly ready: Promise<Record<string, unknown>>;

  constructor(command: string, args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.pipe(process.stderr);
    this.failed = new Promise((_, reject) =>
      this.child.on('exit', (code) => reject(new Error(`${command} ${args.join(' ')} exited with ${code}`))),
    );
    this.failed.catch(() => {});
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) {
        if (line.trim()) process.stderr.write(`${line}\n`);
        return;
      }
      this.waiting.shift()?.(JSON.parse(line) as Record<string, unknown>);
    });
    this.ready = this.next();
  }

  private next(): Promise<Record<string, unknown>> {
    return Promise.race([new Promise<Record<string, unknown>>((r) => this.waiting.push(r)), this.failed]);
  }

  /** Sends one request and resolves to the answer. */
  request(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const answer = this.next();
    this.child.stdin.write(`${JSON.stringify(body)}\n`);
    return answer;
  }

  close(): void {
    this.child.stdin.end();
    this.child.kill();
  }
}
