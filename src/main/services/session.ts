// The state one running app shares between its windows or browser tabs: the open dataset and the
// event fan-out. Plain Node, main process.
import { join } from 'node:path';
import type { DatasetSummary, EventName, Events, OpenResult } from '../../shared/api';
import { WorkbenchError } from '../../shared/errors';
import { Dataset } from './dataset';
import { thumbnail } from './imageFiles';
import { maskThumbnail } from './maskThumbs';
import { EngineHost, type EngineSpawner } from './engineHost';
import { assertRealInside } from '../common/confine';
import { TrainingService } from './training';
import { findVocRoot } from './vocFolder';

export type EventSink = <E extends EventName>(event: E, payload: Events[E]) => void;

/** Kinds of bytes the media URL scheme serves. */
export type MediaKind = 'image' | 'thumb' | 'mask';

export class WorkbenchSession {
  private current: Dataset | null = null;
  private readonly sinks = new Set<EventSink>();
  private trainingService: TrainingService | null = null;

  /**
   * Gives the session an engine, started by `spawn` when first needed; `pythonDir` (the PyTorch engine's
   * package) lets runs train on PyTorch too.
   */
  useEngine(spawn: EngineSpawner, options: { pythonDir?: string } = {}): void {
    const host = new EngineHost(spawn, (status) => this.emit('engine:status', status));
    this.trainingService = new TrainingService(this, host, { pythonDir: options.pythonDir });
  }

  /** Training and the engine behind it; throws when the shell gave the session no engine. */
  get training(): TrainingService {
    if (!this.trainingService) throw new WorkbenchError('unavailable', 'this Segscope has no engine');
    return this.trainingService;
  }

  /** Registers a transport's event sender; returns the function that removes it. */
  addEventSink(sink: EventSink): () => void {
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }

  emit<E extends EventName>(event: E, payload: Events[E]): void {
    for (const sink of this.sinks) sink(event, payload);
  }

  /**
   * Opens the dataset at `picked`, or inside it when `year` is given. A folder holding several
   * datasets yields the choice instead of opening one.
   */
  async open(picked: string, year?: string): Promise<OpenResult> {
    const found = await findVocRoot(picked);
    let root: string;
    if (found.kind === 'devkit') {
      if (year === undefined) return { kind: 'choose-year', folder: found.folder, years: found.years };
      // `2007` names `VOC2007` as well: people say the year, the folder says VOC.
      const name = found.years.includes(year) ? year : found.years.find((y) => y === `VOC${year}`);
      if (!name) {
        throw new WorkbenchError(
          'not-found',
          `${found.folder}: has no dataset ${year} (it has ${found.years.join(', ')})`,
        );
      }
      root = join(found.folder, name);
    } else {
      root = found.root;
    }
    this.current = await Dataset.open(root);
    const dataset = this.current.summary();
    this.emit('dataset:opened', dataset);
    return { kind: 'opened', dataset };
  }

  /** The open dataset; throws `no-dataset` when there is none. */
  get dataset(): Dataset {
    if (!this.current) throw new WorkbenchError('no-dataset', 'no dataset is open');
    return this.current;
  }

  summary(): DatasetSummary | null {
    return this.current?.summary() ?? null;
  }

  /** The file behind a media URL; ids are looked up in the dataset, never used as paths. */
  async mediaFile(kind: MediaKind, id: string): Promise<string> {
    const ds = this.dataset;
    if (kind === 'mask') {
      const label = ds.labelPath(id);
      await assertRealInside(ds.root, label);
      // Checked like the image thumbnail: a planted link in the cache is neither written through nor served.
      const cache = await ds.workspace.inside(ds.workspace.thumbPath(id).replace(/\.jpg$/, '.mask.png'));
      return maskThumbnail(label, cache, ds.newLabelPalette());
    }
    const image = ds.imagePath(id);
    await assertRealInside(ds.root, image);
    return kind === 'image' ? image : thumbnail(image, await ds.workspace.inside(ds.workspace.thumbPath(id)));
  }
}
