// Test helpers for the PyTorch engine: the Python with torch these machines have (Debian's; pyenv's python3
// on PATH has none), and running one of python/segscope_torch's modules. Node process.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** Debian's python3-torch, unless SEGSCOPE_PYTHON names another Python with torch. */
export const PYTHON = process.env.SEGSCOPE_PYTHON ?? '/usr/bin/python3';
export const PYTHON_PACKAGE_DIR = join(__dirname, '..', '..', '..', '..', '..', 'python');

/** Runs `python -m module ...args` with the package on PYTHONPATH; rejects with its stderr on failure. */
export function runPython(
  module: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-m', module, ...args], {
      env: { ...process.env, PYTHONPATH: PYTHON_PACKAGE_DIR, OMP_NUM_THREADS: '1', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve({ stdout, stderr }) : reject(new Error(`${module} exited ${code}: ${stderr}`)),
    );
  });
}
