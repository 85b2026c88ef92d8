// Captures what a CLI command prints, for tests that run `main()` in-process.
import { vi } from 'vitest';

/** Replaces console.log and console.error until `vi.restoreAllMocks()`; returns the printed lines. */
export function captureConsole(): { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  return { out, err };
}
