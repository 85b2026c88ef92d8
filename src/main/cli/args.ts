// Argument handling shared by the CLI commands. Runs in the CLI process.

/** Bad usage: the CLI prints the message and exits with status 2. */
export class UsageError extends Error {}

/** Runs an argument parser, turning its errors into UsageError. */
export function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Reads an integer option within bounds. */
export function intOption(
  value: string | undefined,
  name: string,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}`);
  return n;
}
