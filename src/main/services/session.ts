// The state one running app shares between its windows or browser tabs: the open dataset and the
// event fan-out. Plain Node, main process.
import { join } from 'node:path';
import type { DatasetSummary, EventName, Events } from '../../shared/api';
import { WorkbenchError } from '../../shared/errors';
import { findVocRoot, scanVocFolder, type VocFolder } from './vocLayout';

export type EventSink = <E extends EventName>(event: E, payload: Events[E]) => void;

/** An open dataset with its file index. */
export interface OpenDataset extends VocFolder {
  ids: string[];
}

export class WorkbenchSession {
  private current: OpenDataset | null = null;
  private readonly sinks = new Set<EventSink>();

  /** Registers a transport's event sender; returns the function that removes it. */
  addEventSink(sink: EventSink): () => void {
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }

  emit<E extends EventName>(event: E, payload: Events[E]): void {
    for (const sink of this.sinks) sink(event, payload);
  }

  async open(picked: string): Promise<DatasetSummary> {
    const root = await findVocRoot(picked);
    const folder = await scanVocFolder(root);
    this.current = { ...folder, ids: [...folder.images.keys()] };
    const summary = this.summary();
    if (summary) this.emit('dataset:opened', summary);
    return summary!;
  }

  /** The open dataset; throws `no-dataset` when there is none. */
  get dataset(): OpenDataset {
    if (!this.current) throw new WorkbenchError('no-dataset', 'no dataset is open');
    return this.current;
  }

  summary(): DatasetSummary | null {
    const d = this.current;
    if (!d) return null;
    return { root: d.root, name: d.name, imageCount: d.ids.length, labeledCount: d.labels.size };
  }

  /** Absolute path of an image file, for the media protocol. */
  imagePath(id: string): string {
    const file = this.dataset.images.get(id);
    if (!file) throw new WorkbenchError('not-found', `image ${JSON.stringify(id)} is not in the dataset`);
    return join(this.dataset.root, 'JPEGImages', file);
  }
}
