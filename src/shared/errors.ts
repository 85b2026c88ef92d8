// Errors that cross the transport. Runs in every process: main raises them, the clients rebuild them.

/** Machine-readable reason for a failed call; the message is for people and names the file. */
export type ErrorCode =
  | 'bad-request' // the payload does not match the contract
  | 'unknown-method'
  | 'no-dataset' // a dataset call before any dataset was opened
  | 'not-found'
  | 'not-voc' // a folder without the VOC layout
  | 'bad-file' // a file that exists but cannot be read or decoded
  | 'outside-root' // a path that resolves outside the dataset root
  | 'conflict' // the file changed on disk since it was read
  | 'unavailable' // the feature exists in the contract but is not available here
  | 'internal';

/** An error with a code that survives the trip through either transport. */
export class WorkbenchError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'WorkbenchError';
    this.code = code;
  }
}

/** The plain-data form of an error on the wire. */
export interface WireError {
  code: ErrorCode;
  message: string;
}

/** Result envelope used by both transports, so a failure never depends on how a runtime serialises Error. */
export type Envelope<T> = { ok: true; result: T } | { ok: false; error: WireError };

/** Turns anything thrown by a handler into its wire form; unexpected errors keep their message. */
export function toWireError(err: unknown): WireError {
  if (err instanceof WorkbenchError) return { code: err.code, message: err.message };
  if (err instanceof Error) return { code: 'internal', message: err.message };
  return { code: 'internal', message: String(err) };
}
