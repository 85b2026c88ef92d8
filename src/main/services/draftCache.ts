// The cache of drafts under `<dataset>/.segscope/drafts/<run-id>/<checkpoint>/`: per image the draft as
// a palette PNG, its confidence as one byte per pixel, and a small JSON with its scores. A checkpoint
// rewritten on disk empties its folder; a saved label makes that image's score stale. Plain Node, main
// process.
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeLabelPng, encodeLabelPng } from '../../shared/labelPng';
import { writeFileAtomic, writeJsonAtomic } from './atomicFile';
import { WORKSPACE_DIR } from './workspace';

/** The JSON kept beside each cached draft. */
export interface DraftMeta {
  /** Version 1 had no entropy, version 2 was not refined against the image; such drafts are made again. */
  version: typeof DRAFT_META_VERSION;
  width: number;
  height: number;
  /** Mean of the full-precision confidences, before they were stored as bytes. */
  meanConfidence: number;
  /** Mean normalised softmax entropy (0..1) of the draft: its uncertainty score. */
  meanEntropy: number;
  /** The draft's IoU against the label at `labelVersion`; null once a save made it stale. */
  score: { iou: number | null; labelVersion: string | null } | null;
}

export const DRAFT_META_VERSION = 3;

/** A cached draft read back; confidences are the stored bytes / 255. */
export interface CachedDraft {
  meta: DraftMeta;
  labels: Uint8Array;
  confidence: Float32Array;
}

export function draftsRoot(datasetRoot: string): string {
  return join(datasetRoot, WORKSPACE_DIR, 'drafts');
}

/** `mtime-size` of a file, or null when it is missing: how label and checkpoint versions are told apart. */
export async function fileVersion(path: string): Promise<string | null> {
  const info = await stat(path).catch(() => null);
  return info ? `${info.mtimeMs}-${info.size}` : null;
}

const checks = new Map<string, Promise<void>>();

/** Empties the cache folder `dir` when it was made by another version of the checkpoint. */
async function emptyIfStale(dir: string, key: string): Promise<void> {
  const keyFile = join(dir, 'checkpoint.json');
  const previous = await readFile(keyFile, 'utf8')
    .then((t) => (JSON.parse(t) as { key: string }).key)
    .catch(() => null);
  if (previous === key) return;
  await rm(dir, { recursive: true, force: true });
  await writeJsonAtomic(keyFile, { key });
}

export class DraftCache {
  private constructor(readonly dir: string) {}

  /**
   * The cache of one run's checkpoint. `checkpointDir` is that checkpoint's folder: when its model.json
   * or weights changed since the drafts were made (a resumed run rewrote it), the old drafts are dropped.
   */
  static async open(datasetRoot: string, runId: string, checkpoint: string, checkpointDir: string) {
    const dir = join(draftsRoot(datasetRoot), runId, checkpoint);
    const key = [
      await fileVersion(join(checkpointDir, 'model.json')),
      await fileVersion(join(checkpointDir, 'weights.bin')),
    ].join('/');
    // One check per folder and checkpoint version at a time: two callers that both saw a stale key
    // must not both empty the folder, the second after the first had written new drafts.
    const id = `${dir}\u0000${key}`;
    let check = checks.get(id);
    if (!check) {
      check = emptyIfStale(dir, key);
      checks.set(id, check);
      check.finally(() => checks.delete(id)).catch(() => undefined);
    }
    await check;
    return new DraftCache(dir);
  }

  private paths(id: string): { png: string; conf: string; meta: string } {
    return {
      png: join(this.dir, `${id}.png`),
      conf: join(this.dir, `${id}.conf`),
      meta: join(this.dir, `${id}.json`),
    };
  }

  /** The JSON of `id`'s draft; null when there is none, or one of another version (it is made again). */
  async meta(id: string): Promise<DraftMeta | null> {
    try {
      const meta = JSON.parse(await readFile(this.paths(id).meta, 'utf8')) as DraftMeta;
      return meta.version === DRAFT_META_VERSION ? meta : null;
    } catch {
      return null;
    }
  }

  /** The cached draft of `id`, or null when there is none or it cannot be read (it is then made again). */
  async read(id: string): Promise<CachedDraft | null> {
    const meta = await this.meta(id);
    if (!meta) return null;
    const p = this.paths(id);
    try {
      const [png, conf] = await Promise.all([readFile(p.png), readFile(p.conf)]);
      const labels = decodeLabelPng(png).indices;
      if (labels.length !== meta.width * meta.height || conf.length !== labels.length) return null;
      return { meta, labels, confidence: Float32Array.from(conf, (b) => b / 255) };
    } catch {
      return null;
    }
  }

  /** Stores a draft; the JSON is written last, so a draft counts as cached only once it is whole. */
  async write(id: string, draft: Omit<CachedDraft, 'meta'>, meta: DraftMeta, palette: Uint8Array) {
    const p = this.paths(id);
    const png = encodeLabelPng({ width: meta.width, height: meta.height, indices: draft.labels }, palette);
    const conf = Uint8Array.from(draft.confidence, (c) => Math.round(Math.min(1, Math.max(0, c)) * 255));
    await writeFileAtomic(p.png, png);
    await writeFileAtomic(p.conf, conf);
    await writeJsonAtomic(p.meta, meta);
  }

  async setScore(id: string, meta: DraftMeta): Promise<void> {
    await writeJsonAtomic(this.paths(id).meta, meta);
  }
}

/**
 * Marks the cached score of image `id` stale in every run's and checkpoint's cache of the dataset, so
 * the next ranking compares the draft with the label as saved. Called by the labels service after a save.
 */
export async function invalidateDraftScores(datasetRoot: string, id: string): Promise<void> {
  const root = draftsRoot(datasetRoot);
  const runs = await readdir(root).catch(() => [] as string[]);
  for (const run of runs) {
    const checkpoints = await readdir(join(root, run)).catch(() => [] as string[]);
    for (const checkpoint of checkpoints) {
      const path = join(root, run, checkpoint, `${id}.json`);
      let meta: DraftMeta;
      try {
        meta = JSON.parse(await readFile(path, 'utf8')) as DraftMeta;
      } catch {
        continue; // no draft of this image here
      }
      if (meta.score !== null) await writeJsonAtomic(path, { ...meta, score: null });
    }
  }
}
