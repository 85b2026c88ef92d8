// THE contract between the UI and main: every method, its request schema, its response type, and
// every event. Imported by main (to implement and validate), by the preload and by the renderer.
import type { CamMethod } from './camMethods';
import { z } from 'zod';
import type { Envelope } from './errors';
import type { ClassDef } from './voc';
import type { ModelInfo } from './engineProtocol';
import type { BackendInfo, RunSummary, TrainProgress, RunStatus } from './training';
import type { DraftScores, QueueOrder } from './drafts';
import { BACKEND_PREFERENCES, TRAIN_SETTINGS_SCHEMA } from './training';
import { CAM_METHODS } from './camMethods';

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

/** Whether an image's label has been reviewed. */
export type ReviewStatus = 'todo' | 'done';

/** A dataset that is open in this session. */
export interface DatasetSummary {
  /** Absolute path of the dataset root (the folder that holds `JPEGImages/`). */
  root: string;
  /** Display name, e.g. `VOC2012`. */
  name: string;
  /** `SegmentationClass` or `SegmentationClassAug`. */
  labelDir: string;
  imageCount: number;
  labeledCount: number;
  classes: ClassDef[];
  /** Where the class list came from. */
  classSource: 'voc' | 'labelmap.txt' | 'class_names.txt';
  /** One entry per `ImageSets/Segmentation/*.txt`; count is of listed ids that have an image. */
  splits: { name: string; count: number }[];
  /** Images listed in no split. */
  unlistedCount: number;
  /**
   * Workspace files that could not be used as they are on disk. The part each one holds is read-only
   * until the user resets that file (`workspace:reset`) or fixes it; nothing overwrites it meanwhile.
   */
  workspaceProblems: WorkspaceProblem[];
}

/** The JSON files of a dataset's workspace (`<dataset>/.segscope/`) that hold the user's state. */
export const WORKSPACE_FILES = ['review.json', 'classes.json', 'labels.json', 'attached-runs.json'] as const;
/** One of {@link WORKSPACE_FILES}. */
export type WorkspaceFileName = (typeof WORKSPACE_FILES)[number];

/** A workspace file that is damaged (not JSON, cut short, of the wrong shape) or cannot be read. */
export interface WorkspaceProblem {
  file: WorkspaceFileName;
  /** Absolute path of the file. */
  path: string;
  /** What is wrong with it, naming the file, e.g. `…/review.json: done: expected array, received number`. */
  message: string;
}

/** What opening a folder found: a dataset, or a VOCdevkit holding several from which to choose. */
export type OpenResult =
  { kind: 'opened'; dataset: DatasetSummary } | { kind: 'choose-year'; folder: string; years: string[] };

/** The sub-folders of one folder, for the start screen's folder browser. */
export interface FolderListing {
  /** Absolute path of the folder listed. */
  path: string;
  /** Its parent, or null at the file system's root. */
  parent: string | null;
  /** Names of its sub-folders, hidden ones left out, sorted. */
  folders: string[];
  /** True when there were more folders than were listed. */
  truncated: boolean;
  /**
   * What the listed folders are, where Segscope can open them: a VOC-layout dataset (JPEGImages/ with a
   * label folder) or a Segscope run folder. Folders not named here are plain folders.
   */
  marks: FolderMark[];
}

/** A listed folder that Segscope can open, and as what. */
export interface FolderMark {
  name: string;
  kind: 'dataset' | 'run';
}

/** One image of the dataset browser. */
export interface ImageItem {
  id: string;
  /** URL of the image bytes: a custom protocol in Electron, plain HTTP in the browser. */
  imageUrl: string;
  /** URL of a small JPEG thumbnail, made on first request and cached in the workspace. */
  thumbUrl: string;
  /** URL of a small PNG of the label in its class colours; it answers 404 while the image has no label. */
  maskUrl: string;
  hasLabel: boolean;
  splits: string[];
  review: ReviewStatus;
}

/** One window of the image list; the list is never sent whole. */
export interface ImagePage {
  total: number;
  offset: number;
  items: ImageItem[];
}

/** A label map as the editor holds it. */
export interface LabelData {
  id: string;
  width: number;
  height: number;
  /** One class index per pixel, row-major; 255 is void. */
  indices: Uint8Array;
  /** RGB triplets: the file's own palette, or the dataset's colours for a new or non-palette label. */
  palette: Uint8Array;
  /** How the file stored the classes. */
  source: 'palette' | 'gray' | 'rgb';
  /** False when the image has no label yet; indices are then all background. */
  exists: boolean;
  /** The file's version on disk, to pass back when saving; null when there is no file. */
  version: string | null;
  /** Things worth telling the user that do not stop editing, e.g. a 0/255 binary mask. */
  warnings: string[];
}

/** What a save did. */
export interface SaveResult {
  /** The new version on disk. */
  version: string;
  /** Where the original was backed up, when this save overwrote a label Segscope did not create. */
  backup: string | null;
  /** True when this save created the label file. */
  created: boolean;
}

/** A problem found by the dataset check. */
export interface CheckProblem {
  id: string;
  kind: 'unreadable' | 'size-mismatch' | 'binary-mask' | 'unknown-class' | 'missing-image';
  message: string;
}

/** The dataset check's findings. */
export interface CheckReport {
  root: string;
  /** Number of label files read. */
  checked: number;
  problems: CheckProblem[];
  /** Every class index that is defined or occurs (255 included), with its pixel and image counts. */
  classes: { index: number; name: string; pixels: number; images: number }[];
}

/** A run's segmentation of one image, at the image's size. */
export interface SegmentResult {
  runId: string;
  imageId: string;
  width: number;
  height: number;
  /** Argmax class per pixel. */
  labels: Uint8Array;
  /** Softmax probability of the argmax class per pixel. */
  confidence: Float32Array;
  /** Classes in the prediction, most pixels first, with their share of the image. */
  classes: { index: number; name: string; pixels: number; share: number }[];
}

/** The Grad-CAM methods the engine offers. */
export type { CamMethod };

/** A Grad-CAM heatmap at the image's size, 0..1. */
export interface CamResult {
  layer: string;
  width: number;
  height: number;
  cam: Float32Array;
  /** Nothing at the layer raises the class's score: the map is all 0, for this class as for any. */
  empty: boolean;
}

/** What `python -m segscope_torch info` reports of a Python with PyTorch: the build and its devices. */
export interface TorchInfo {
  python: string;
  executable: string;
  torch: string;
  cuda: string | null;
  cudaAvailable: boolean;
  gpus: { index: number; name: string; memoryBytes: number }[];
  distributed: boolean;
  gloo: boolean;
  nccl: boolean;
}

/** Whether this machine can train on the PyTorch engine: the Python found and its torch, or why not. */
export type TorchStatus = { found: true; python: string; info: TorchInfo } | { found: false; error: string };

/** How a run is trained on the PyTorch engine (torchrun's workers on this machine). */
export interface TorchChoice {
  /** Worker processes: one per GPU, or CPU slots. */
  nproc: number;
  device: 'cpu' | 'cuda';
  /** Mixed precision, on CUDA only. */
  amp: boolean;
}

/** The engine process as the UI sees it. */
export interface EngineStatus {
  state: 'stopped' | 'starting' | 'ready' | 'crashed';
  backend: BackendInfo | null;
  /** Why it stopped or crashed. */
  message: string | null;
}

/** Filters of the image list; each one that is set must match. */
export interface ImageFilter {
  /** A split name, or `unlisted` for images in no split. */
  split?: string;
  labeled?: boolean;
  review?: ReviewStatus;
  /** Case-insensitive substring of the id. */
  search?: string;
  /** Only these ids, in this order (the review queue); the other filters still apply. */
  order?: string[];
}

/** A run's draft of one image, at the image's size: the engine's segmentation plus its scores. */
export interface DraftResult extends DraftScores {
  runId: string;
  /** The checkpoint that made the draft. */
  checkpoint: 'best' | 'last';
  imageId: string;
  width: number;
  height: number;
  /** Argmax class per pixel. */
  labels: Uint8Array;
  /** Softmax probability of the argmax class per pixel, 0..1. */
  confidence: Float32Array;
  /** True when the draft came from the cache under `.segscope/drafts/`. */
  cached: boolean;
}

/** One image of the review queue with its scores. */
export interface RankEntry {
  id: string;
  hasLabel: boolean;
  review: ReviewStatus;
  iou: number | null;
  disagreement: number | null;
  /** Mean normalised softmax entropy of the draft, 0..1. */
  uncertainty: number;
  meanConfidence: number;
}

/** The review queue of a run's checkpoint over a split, most in need of review first. */
export interface RankResult {
  runId: string;
  checkpoint: 'best' | 'last';
  by: QueueOrder;
  split: string | null;
  entries: RankEntry[];
  /** Ids of the split with no cached draft yet (predict them to rank them), sorted. */
  pending: string[];
}

const empty = z.object({}).strict();
/** A folder path typed or picked by the user. It is resolved and checked in main before use. */
const folderPath = z.string().min(1).max(4096);
/** An image id. Main also checks that it names an image of the open dataset. */
const imageId = z.string().min(1).max(255);
const runId = z.string().regex(/^[A-Za-z0-9._-]{1,100}$/);
const checkpoint = z.enum(['best', 'last']);
const camMethod = z.enum(CAM_METHODS);
/** The settings a UI may send: initFrom (a checkpoint path) is main's to set, for fine-tuning only. */
const trainSettings = TRAIN_SETTINGS_SCHEMA.omit({ initFrom: true });
const torchChoice = z
  .object({
    nproc: z.number().int().min(1).max(64),
    device: z.enum(['cpu', 'cuda']),
    amp: z.boolean(),
  })
  .strict();
const rgb = z.tuple([
  z.number().int().min(0).max(255),
  z.number().int().min(0).max(255),
  z.number().int().min(0).max(255),
]);
/** A class name as the user may set it. */
const className = z.string().min(1).max(100);

/**
 * A user's rename or recolour of one class, as `classes:update` accepts it and as the workspace's
 * `classes.json` must hold it: a colour is three bytes, never a name like `"red"`; a name is a string.
 */
export const classEdit = z.object({ name: className.optional(), color: rgb.optional() }).strict();

/**
 * Request schemas, one per method, keyed `domain:verb`. Main validates every payload against these
 * before a handler sees it. Security notes say what main checks beyond the schema.
 */
export const requests = {
  /** Version, platform and transport. */
  'app:info': empty,
  /**
   * Opens a dataset folder, or a VOCdevkit folder with `year` naming the dataset inside it.
   * Security: any folder the user names; main checks the VOC layout before reading anything.
   */
  'dataset:open': z.object({ path: folderPath, year: z.string().min(1).max(255).optional() }).strict(),
  /**
   * Shows the native folder dialog in main and opens the folder chosen there, so the path never comes
   * from the renderer. Resolves to null when cancelled; fails with `unavailable` in the browser.
   */
  'dataset:pick': empty,
  /** The dataset open in this session, or null. */
  'dataset:current': empty,
  /**
   * The sub-folders of `path` (the home folder when absent), for choosing a dataset without typing its
   * path. Security: lists folder names only, never files or their contents; token-guarded like every call.
   */
  'folders:list': z.object({ path: z.string().max(4096).optional() }).strict(),
  /** A window of the filtered image list. */
  'dataset:list': z
    .object({
      offset: z.number().int().min(0),
      limit: z.number().int().min(1).max(1000),
      filter: z
        .object({
          split: z.string().max(255).optional(),
          labeled: z.boolean().optional(),
          review: z.enum(['todo', 'done']).optional(),
          search: z.string().max(255).optional(),
          order: z.array(imageId).max(100_000).optional(),
        })
        .strict()
        .optional(),
    })
    .strict(),
  /** Checks every label of the open dataset. Reads only. */
  'dataset:check': empty,
  /** Marks images reviewed or to do. Security: every id must be an image of the open dataset. */
  'dataset:setReview': z
    .object({ ids: z.array(imageId).min(1).max(100_000), status: z.enum(['todo', 'done']) })
    .strict(),
  /** Renames or recolours a class, in the workspace only; label files are not touched. */
  'classes:update': z
    .object({
      index: z.number().int().min(0).max(254),
      name: className.optional(),
      color: rgb.optional(),
    })
    .strict(),
  /**
   * Replaces a damaged workspace file (see `DatasetSummary.workspaceProblems`) with an empty one, after
   * copying it to `.segscope/backup/workspace/`; resolves to the summary without that problem. A file
   * that has been fixed on disk meanwhile is read as it is, and nothing is reset.
   */
  'workspace:reset': z.object({ file: z.enum(WORKSPACE_FILES) }).strict(),
  /** The label map of an image. Security: the id must be an image of the open dataset. */
  'labels:read': z.object({ id: imageId }).strict(),
  /**
   * Saves a label map atomically, backing up the original on its first overwrite. Fails with
   * `conflict` when the file changed since `baseVersion`, unless `force`. Security: as labels:read.
   */
  'labels:save': z
    .object({
      id: imageId,
      width: z.number().int().min(1).max(65535),
      height: z.number().int().min(1).max(65535),
      indices: z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected a Uint8Array of class indices'),
      baseVersion: z.string().max(100).nullable(),
      force: z.boolean().optional(),
    })
    .strict(),
  /** The engine's state and backend. */
  'engine:status': empty,
  /** Starts the engine if needed, picking the backend (auto: the fastest that loads). */
  'engine:start': z.object({ backend: z.enum(BACKEND_PREFERENCES).optional() }).strict(),
  /** Kills the engine (if running) and starts a fresh one. */
  'engine:restart': empty,
  /** Every model the engine can train, with parameter counts and conv layer names. */
  'models:list': empty,
  /** Whether a Python with PyTorch is here to train on, with its version and devices (asked once). */
  'torch:status': empty,
  /**
   * Starts a training run on the open dataset; unset settings take the paper's defaults. With `torch`,
   * the PyTorch engine trains it (Segscope's engine prepares the run).
   */
  'training:start': z.object({ settings: trainSettings.partial(), torch: torchChoice.optional() }).strict(),
  /** Continues a run from its last checkpoint. Security: the run id must name a run of the open dataset. */
  'training:resume': z.object({ runId: runId, torch: torchChoice.optional() }).strict(),
  /** Cancels the running training; it stops within 2 s and keeps its `last` checkpoint. */
  'training:cancel': empty,
  /** The runs of the open dataset, newest first. */
  'runs:list': empty,
  /** Deletes a run folder that is not training. Security: the run id must name a run of the open dataset. */
  'runs:delete': z.object({ runId: runId }).strict(),
  /**
   * Lists a run folder trained elsewhere (`segscope train --out`) with the open dataset's runs. Security:
   * the folder must hold a run's configuration; it is only read (and, for Inspect, its checkpoints loaded).
   */
  'runs:attach': z.object({ path: folderPath }).strict(),
  /**
   * Downloads Keras's ImageNet weights ("notop" .h5) into the dataset's workspace, with progress events;
   * resolves to the file's path. Needs internet; fails with a clear message without it.
   */
  'weights:download': z.object({ kind: z.enum(['vgg16', 'resnet50']) }).strict(),
  /**
   * Writes a run's checkpoint (default: best when there is one) as an ONNX file in the run's `export/`
   * folder; resolves to its path. Security: the run id must name a run of the open dataset.
   */
  'runs:export': z.object({ runId, checkpoint: checkpoint.optional() }).strict(),
  /** Segments an image of the open dataset with a run. Security: ids must name an image and a run of the dataset. */
  'viewer:segment': z.object({ runId, checkpoint: checkpoint.optional(), imageId }).strict(),
  /** Grad-CAM of one class at one layer (default: the model's last encoder conv). Security: as viewer:segment. */
  'viewer:cam': z
    .object({
      runId,
      checkpoint: checkpoint.optional(),
      imageId,
      classIndex: z.number().int().min(0).max(254),
      layer: z.string().min(1).max(200).optional(),
      method: camMethod,
    })
    .strict(),
  /** One small Grad-CAM per encoder conv layer, shallow to deep. Security: as viewer:segment. */
  'viewer:camSweep': z
    .object({
      runId,
      checkpoint: checkpoint.optional(),
      imageId,
      classIndex: z.number().int().min(0).max(254),
      method: camMethod,
    })
    .strict(),
  /**
   * The draft of one image by a run's checkpoint (default: best, else last), from the cache when it is
   * there, and its scores against the image's label. Security: as viewer:segment.
   */
  'drafts:predict': z.object({ runId, checkpoint: checkpoint.optional(), imageId }).strict(),
  /**
   * Drafts every image of a split (or all images) in the background, with `drafts:progress` events and
   * a `drafts:finished` event; images already cached are skipped. Security: the split must be the open
   * dataset's, the run one of its runs.
   */
  'drafts:predictAll': z
    .object({ runId, checkpoint: checkpoint.optional(), split: z.string().min(1).max(255).optional() })
    .strict(),
  /** Cancels the background drafting, between two images. */
  'drafts:cancel': empty,
  /** The review queue from the cached drafts. Security: as drafts:predictAll. */
  'drafts:rank': z
    .object({
      runId,
      checkpoint: checkpoint.optional(),
      split: z.string().min(1).max(255).optional(),
      by: z.enum(['disagreement', 'uncertainty', 'unlabelled']),
    })
    .strict(),
  /**
   * Fine-tunes a run on the images marked reviewed plus its train split: a new training run starting
   * from the run's checkpoint, in the background (its events are training:progress/finished).
   * Security: the run id must name a run of the open dataset.
   */
  'drafts:finetune': z
    .object({
      runId,
      checkpoint: checkpoint.optional(),
      epochs: z.number().int().min(1).max(1000).optional(),
    })
    .strict(),
} as const;

/** Response types, one per method. */
export interface Responses {
  'app:info': AppInfo;
  'dataset:open': OpenResult;
  'dataset:pick': OpenResult | null;
  'dataset:current': DatasetSummary | null;
  'folders:list': FolderListing;
  'dataset:list': ImagePage;
  'dataset:check': CheckReport;
  'dataset:setReview': { updated: number };
  'classes:update': DatasetSummary;
  'workspace:reset': DatasetSummary;
  'labels:read': LabelData;
  'labels:save': SaveResult;
  'engine:status': EngineStatus;
  'engine:start': EngineStatus;
  'engine:restart': EngineStatus;
  'models:list': ModelInfo[];
  'torch:status': TorchStatus;
  'training:start': { runId: string };
  'training:resume': { runId: string };
  'training:cancel': { cancelled: boolean };
  'runs:list': RunSummary[];
  'runs:delete': { deleted: string };
  'runs:attach': { runId: string };
  'weights:download': { path: string };
  'runs:export': { path: string; bytes: number };
  'viewer:segment': SegmentResult;
  'viewer:cam': CamResult;
  'viewer:camSweep': { layers: CamResult[] };
  'drafts:predict': DraftResult;
  'drafts:predictAll': { total: number; cached: number };
  'drafts:cancel': { cancelled: boolean };
  'drafts:rank': RankResult;
  'drafts:finetune': { runId: string; parent: string; trainImages: number; reviewed: number };
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
  /** Classes or review status changed. */
  'dataset:updated': DatasetSummary;
  /** A label was written, by any window. */
  'labels:saved': { id: string; version: string };
  /** The engine started, picked a backend, stopped or crashed. */
  'engine:status': EngineStatus;
  /** A training step or epoch finished. */
  'training:progress': TrainProgress;
  /** Bytes of a weights download so far; `total` is null when the server does not say. */
  'weights:progress': { kind: 'vgg16' | 'resnet50'; received: number; total: number | null };
  /** A run ended; `error` says why when it failed. */
  'training:finished': { runId: string; status: RunStatus; error: string | null };
  /** Background drafting of a split: images drafted so far. */
  'drafts:progress': { runId: string; checkpoint: 'best' | 'last'; done: number; total: number };
  /** Background drafting ended. */
  'drafts:finished': {
    runId: string;
    checkpoint: 'best' | 'last';
    status: 'done' | 'cancelled' | 'failed';
    error: string | null;
  };
}
export type EventName = keyof Events;

/** Every method, for the clients generated from the contract. */
export const METHODS = Object.keys(requests) as Method[];
/** Every event name; the record form makes a missing or extra name a compile error. */
export const EVENTS = Object.keys({
  'dataset:opened': true,
  'dataset:updated': true,
  'labels:saved': true,
  'engine:status': true,
  'training:progress': true,
  'training:finished': true,
  'weights:progress': true,
  'drafts:progress': true,
  'drafts:finished': true,
} satisfies Record<EventName, true>) as EventName[];

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
