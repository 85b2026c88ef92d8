// The cache of drafts under `<dataset>/.segscope/drafts/<run-id>/<checkpoint>/`: per image the draft as
// a palette PNG, its confidence as one byte per pixel, and a small JSON with its scores and what it was
// made from (the checkpoint's version, the image's size). A checkpoint rewritten on disk empties its
// folder; an entry made from another checkpoint or at another size is made again; a saved label makes
// that image's score stale. Every file is touched through the dataset's confinement, so a link planted
// in the cache never leads a read, a write or a delete outside the dataset. Plain Node, main process.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeLabelPng, encodeLabelPng } from '../../shared/labelPng';
import { WorkbenchError } from '../../shared/errors';
import { Confined } from '../common/confine';
import { CHECKPOINT_FILES } from '../common/runFolder';
import { WORKSPACE_DIR } from './workspace';

/** The JSON kept beside each cached draft. */
export interface DraftMeta {
  /** Version 1 had no entropy, version 2 was not refined against the image; such drafts are made again. */
  version: typeof DRAFT_META_VERSION;
  /**
   * The version of the checkpoint it was made by (its files' times and sizes). An entry without one (made
   * before it was kept) or with another is made again.
   */
  checkpoint: string;
  /** The size of the image it was made from, which is the draft's size. */
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

/** Whether `err` is a confinement refusal (a link out), which must reach the caller, not read as "no draft". */
function refused(err: unknown): boolean {
  return err instanceof WorkbenchError && err.code === 'outside-root';
}

/** Empties the cache folder `dir` when it was made by another version of the checkpoint. */
async function emptyIfStale(files: Confined, dir: string, key: string): Promise<void> {
  const keyFile = join(dir, 'checkpoint.json');
  const previous = await files
    .readFile(keyFile, 'utf8')
    .then((t) => (JSON.parse(t) as { key: string }).key)
    .catch((err: unknown) => {
      if (refused(err)) throw err;
      return null;
    });
  if (previous === key) return;
  // Never across a link: a linked folder or file in the cache is unlinked, not followed.
  await files.remove(dir);
  await files.writeJson(keyFile, { key });
}

export class DraftCache {
  private constructor(
    readonly dir: string,
    /** The checkpoint version the drafts here must have been made by. */
    readonly key: string,
    private readonly files: Confined,
  ) {}

  /**
   * The cache of one run's checkpoint. `checkpointDir` is that checkpoint's folder: when its model.json
   * or weights changed since the drafts were made (a resumed run rewrote it), the old drafts are dropped.
   */
  static async open(datasetRoot: string, runId: string, checkpoint: string, checkpointDir: string) {
    const files = new Confined(datasetRoot);
    const dir = await files.check(join(draftsRoot(datasetRoot), runId, checkpoint));
    const key = [
      await fileVersion(join(checkpointDir, CHECKPOINT_FILES.model)),
      await fileVersion(join(checkpointDir, CHECKPOINT_FILES.weights)),
    ].join('/');
    // One check per folder and checkpoint version at a time: two callers that both saw a stale key
    // must not both empty the folder, the second after the first had written new drafts.
    const id = `${dir}\u0000${key}`;
    let check = checks.get(id);
    if (!check) {
      check = emptyIfStale(files, dir, key);
      checks.set(id, check);
      check.finally(() => checks.delete(id)).catch(() => undefined);
    }
    await check;
    return new DraftCache(dir, key, files);
  }

  private paths(id: string): { png: string; conf: string; meta: string } {
    return {
      png: join(this.dir, `${id}.png`),
      conf: join(this.dir, `${id}.conf`),
      meta: join(this.dir, `${id}.json`),
    };
  }

  /**
   * The JSON of `id`'s draft; null when there is none, or one of another version, made by another
   * checkpoint, or (given `size`) made from an image of another size: it is then made again.
   */
  async meta(id: string, size?: { width: number; height: number }): Promise<DraftMeta | null> {
    let meta: DraftMeta;
    try {
      meta = JSON.parse(await this.files.readFile(this.paths(id).meta, 'utf8')) as DraftMeta;
    } catch (err) {
      if (refused(err)) throw err;
      return null;
    }
    if (!meta || meta.version !== DRAFT_META_VERSION || meta.checkpoint !== this.key) return null;
    if (size && (meta.width !== size.width || meta.height !== size.height)) return null;
    return meta;
  }

  /** The cached draft of `id`, or null when there is none or it cannot be read (it is then made again). */
  async read(id: string, size?: { width: number; height: number }): Promise<CachedDraft | null> {
    const meta = await this.meta(id, size);
    if (!meta) return null;
    const p = this.paths(id);
    try {
      const [png, conf] = await Promise.all([this.files.readFile(p.png), this.files.readFile(p.conf)]);
      const labels = decodeLabelPng(png).indices;
      if (labels.length !== meta.width * meta.height || conf.length !== labels.length) return null;
      return { meta, labels, confidence: Float32Array.from(conf, (b) => b / 255) };
    } catch (err) {
      if (refused(err)) throw err;
      return null;
    }
  }

  /** Stores a draft; the JSON is written last, so a draft counts as cached only once it is whole. */
  async write(
    id: string,
    draft: Omit<CachedDraft, 'meta'>,
    meta: Omit<DraftMeta, 'checkpoint'>,
    palette: Uint8Array,
  ) {
    const p = this.paths(id);
    const png = encodeLabelPng({ width: meta.width, height: meta.height, indices: draft.labels }, palette);
    const conf = Uint8Array.from(draft.confidence, (c) => Math.round(Math.min(1, Math.max(0, c)) * 255));
    await this.files.writeFile(p.png, png);
    await this.files.writeFile(p.conf, conf);
    const whole: DraftMeta = { ...meta, checkpoint: this.key };
    await this.files.writeJson(p.meta, whole);
    return whole;
  }

  async setScore(id: string, meta: DraftMeta): Promise<void> {
    await this.files.writeJson(this.paths(id).meta, meta);
  }
}

/**
 * Marks the cached score of image `id` stale in every run's and checkpoint's cache of the dataset, so
 * the next ranking compares the draft with the label as saved. Called by the labels service after a save.
 */
export async function invalidateDraftScores(datasetRoot: string, id: string): Promise<void> {
  const files = new Confined(datasetRoot);
  const root = draftsRoot(datasetRoot);
  // A folder of the cache that is a link out is not the dataset's: it is skipped (its drafts are
  // refused on every read too), and the save that called this stands.
  const list = (dir: string) => files.list(dir).catch(() => [] as string[]);
  for (const run of await list(root)) {
    for (const checkpoint of await list(join(root, run))) {
      const path = join(root, run, checkpoint, `${id}.json`);
      let meta: DraftMeta;
      try {
        meta = JSON.parse(await files.readFile(path, 'utf8')) as DraftMeta;
      } catch {
        continue; // no draft of this image here, or a link out
      }
      if (meta && meta.score !== null) await files.writeJson(path, { ...meta, score: null });
    }
  }
}
