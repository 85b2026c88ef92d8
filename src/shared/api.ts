// THE contract between the UI and main: every method, its request schema, its response type, and
// every event. Imported by main (to implement and validate), by the preload and by the renderer.
import { z } from 'zod';
import type { Envelope } from './errors';

/** How the UI is connected to main. */
export type Transport = 'electron' | 'browser';

/** Facts about the running app, shown in the status bar. */
export interface AppInfo {
  name: string;
  version: string;
  /** `process.platform` of the machine that runs main, e.g. `linux`. */
  platform: string;
  arch: string;
  transport: Transport;
  /** Node.js version of main. */
  node: string;
  /** Electron version, or null when main runs in plain Node (browser transport). */
  electron: string | null;
}

/** A dataset that is open in this session. */
export interface DatasetSummary {
  /** Absolute path of the dataset root (the folder that holds `JPEGImages/`). */
  root: string;
  /** Display name, e.g. `VOC2012`. */
  name: string;
  imageCount: number;
  labeledCount: number;
}

/** One image of the dataset browser. */
export interface ImageItem {
  id: string;
  /** URL of the image bytes: a custom protocol in Electron, plain HTTP in the browser. */
  imageUrl: string;
  hasLabel: boolean;
}

/** One window of the image list; the list is never sent whole. */
export interface ImagePage {
  total: number;
  offset: number;
  items: ImageItem[];
}

const empty = z.object({}).strict();
/** A folder path typed or picked by the user. It is resolved and checked in main before use. */
const folderPath = z.string().min(1).max(4096);

/**
 * Request schemas, one per method, keyed `domain:verb`. Main validates every payload against these
 * before a handler sees it. Security notes say what main checks beyond the schema.
 */
export const requests = {
  /** Version, platform and transport. */
  'app:info': empty,
  /** Opens a dataset folder. Security: any folder the user names; main checks it has the VOC layout. */
  'dataset:open': z.object({ path: folderPath }).strict(),
  /**
   * Shows the native folder dialog in main and opens the folder chosen there, so the path never comes
   * from the renderer. Resolves to null when cancelled; fails with `unavailable` in the browser.
   */
  'dataset:pick': empty,
  /** The dataset open in this session, or null. */
  'dataset:current': empty,
  /** A window of the image list. */
  'dataset:list': z
    .object({ offset: z.number().int().min(0), limit: z.number().int().min(1).max(1000) })
    .strict(),
} as const;

/** Response types, one per method. */
export interface Responses {
  'app:info': AppInfo;
  'dataset:open': DatasetSummary;
  'dataset:pick': DatasetSummary | null;
  'dataset:current': DatasetSummary | null;
  'dataset:list': ImagePage;
}

/** Every method name, e.g. `dataset:open`. */
export type Method = keyof typeof requests;
/** The payload a caller passes to method M. */
export type Req<M extends Method> = z.input<(typeof requests)[M]>;
/** What method M resolves to. */
export type Res<M extends Method> = Responses[M];

/** Events pushed from main to every connected UI. Names are past tense or progress nouns. */
export interface Events {
  'dataset:opened': DatasetSummary;
}
export type EventName = keyof Events;

/** Every method, for the clients generated from the contract. */
export const METHODS = Object.keys(requests) as Method[];
/** Every event name; the record form makes a missing or extra name a compile error. */
export const EVENTS = Object.keys({ 'dataset:opened': true } satisfies Record<
  EventName,
  true
>) as EventName[];

/** The interface the renderer talks to. Both transports implement it; the UI cannot tell them apart. */
export type WorkbenchApi = { [M in Method]: (req: Req<M>) => Promise<Res<M>> } & {
  /** Subscribes to an event; returns the unsubscribe function. */
  on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): () => void;
};

/**
 * What the Electron preload exposes as `window.segscopeBridge`: one function per method, each
 * answering with an envelope, since Error objects lose their code crossing the context bridge.
 */
export type RawBridge = { [M in Method]: (req: Req<M>) => Promise<Envelope<Res<M>>> } & Pick<
  WorkbenchApi,
  'on'
>;

/** The main-side implementation: one handler per method, so a missing handler is a compile error. */
export type Handlers = { [M in Method]: (req: z.output<(typeof requests)[M]>) => Promise<Res<M>> };

// Compile-time proof that requests and Responses describe the same methods.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const contractIsComplete: Same<Method, keyof Responses> = true;
void contractIsComplete;
