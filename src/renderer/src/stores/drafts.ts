// Model-assisted labelling in the UI: which run and checkpoint draft the masks, the current image's
// draft and how it compares with the label being edited, accepting it into the label (one undo step
// each, through the editor's canvas), the review queue that orders the image list, and fine-tuning on
// the reviewed images. Renderer.
import { defineStore } from 'pinia';
import { computed, markRaw, ref, shallowRef, watch } from 'vue';
import type { DraftResult, ImageFilter, RankResult } from '../../../shared/api';
import { acceptDraft, draftIou, type AcceptOptions, type QueueOrder } from '../../../shared/drafts';
import { correctDraftAt, type RegionAction } from '../../../shared/draftRegions';
import { draftUncertainty } from '../../../shared/draftRefine';
import type { RunSummary } from '../../../shared/training';
import { api } from '../api';
import { useAppStore } from './app';
import { useDatasetStore } from './dataset';
import { useEditorStore } from './editor';

export type DraftView = 'draft' | 'disagreement';

/** Background drafting of the queue's images. */
export type Drafting =
  | { state: 'idle' }
  | { state: 'running'; done: number; total: number }
  | { state: 'failed'; message: string };

/** Fine-tuning on the reviewed images. */
export type Finetune =
  | { state: 'idle' }
  | { state: 'running'; runId: string; parent: string; images: number; step: string }
  | { state: 'done'; runId: string }
  | { state: 'failed'; message: string };

export const useDraftsStore = defineStore('drafts', () => {
  const app = useAppStore();
  const dataset = useDatasetStore();
  const editor = useEditorStore();

  const runs = ref<RunSummary[]>([]);
  const runId = ref<string | null>(null);
  /** Null: the run's best checkpoint when it has one, else its last. */
  const checkpoint = ref<'best' | 'last' | null>(null);
  // The maps are large: kept out of deep reactivity, replaced whole.
  const draft = shallowRef<DraftResult | null>(null);
  const loading = ref(false);
  const visible = ref(true);
  const opacity = ref(0.8);
  const view = ref<DraftView>('draft');
  const threshold = ref(0.8);
  const acceptClass = ref<number | null>(null);
  const queueOrder = ref<QueueOrder | 'none'>('none');
  const todoOnly = ref(false);
  const queue = shallowRef<RankResult | null>(null);
  const drafting = ref<Drafting>({ state: 'idle' });
  const finetune = ref<Finetune>({ state: 'idle' });
  /** The label's IoU against the draft as it is being edited, recomputed after each edit. */
  const liveIou = ref<number | null>(null);
  /** Why the last acceptance changed nothing; cleared by the next one and when the image changes. */
  const notice = ref('');

  /**
   * Each ranked image's score in the queue, for the image list: the figure the queue orders by, as text,
   * and what it means.
   */
  const queueScores = computed(() => {
    const q = queue.value;
    const scores = new Map<string, { text: string; title: string }>();
    if (!q) return scores;
    for (const e of q.entries) {
      if (q.by === 'disagreement' && e.disagreement !== null)
        scores.set(e.id, {
          text: `Δ ${e.disagreement.toFixed(2)}`,
          title: `disagreement with the draft: 1 − IoU = ${e.disagreement.toFixed(3)}`,
        });
      else
        scores.set(e.id, {
          text: `H ${e.uncertainty.toFixed(2)}`,
          title: `the draft's uncertainty (mean normalised entropy) = ${e.uncertainty.toFixed(3)}`,
        });
    }
    return scores;
  });

  /**
   * Where the draft is unsure, for the panel: shares of pixels of low confidence (under 0.5) or in thin
   * regions (under 4 px wide), and the draft's region count. Only the figures stay reactive.
   */
  const uncertainty = computed(() => {
    const d = draft.value;
    if (!d) return null;
    const { fraction, lowConfidence, thin, regions } = draftUncertainty(
      d.labels,
      d.confidence,
      d.width,
      d.height,
    );
    return { fraction, lowConfidence, thin, regions };
  });
  /** Runs whose checkpoints can draft: finished, with a checkpoint. Newest first, as listed. */
  const usableRuns = computed(() =>
    runs.value.filter((r) => (r.hasBest || r.hasLast) && r.state.status !== 'running'),
  );
  /** Draft classes, most pixels first, for the legend and the accept-one-class picker. */
  const draftClasses = computed(() => {
    const d = draft.value;
    if (!d) return [];
    const counts = new Map<number, number>();
    for (const v of d.labels) counts.set(v, (counts.get(v) ?? 0) + 1);
    return [...counts].sort((a, b) => b[1] - a[1]).map(([index, pixels]) => ({ index, pixels }));
  });

  async function loadRuns(): Promise<void> {
    try {
      runs.value = await api()['runs:list']({});
      if (!runId.value || !usableRuns.value.some((r) => r.id === runId.value))
        runId.value = usableRuns.value[0]?.id ?? null;
    } catch (err) {
      app.report(err);
    }
  }

  /** Drafts the selected image with the chosen run (from the cache when it is there). */
  async function predictCurrent(): Promise<void> {
    const imageId = dataset.selectedId;
    const run = runId.value;
    if (!imageId || !run) {
      draft.value = null;
      return;
    }
    loading.value = true;
    try {
      const d = await api()['drafts:predict']({
        runId: run,
        imageId,
        ...(checkpoint.value ? { checkpoint: checkpoint.value } : {}),
      });
      if (dataset.selectedId !== imageId || runId.value !== run) return; // the user moved on
      draft.value = markRaw(d);
      updateLiveIou();
    } catch (err) {
      draft.value = null;
      app.report(err);
    } finally {
      loading.value = false;
    }
  }

  /** The draft matches the image being edited (same id and size). */
  function usableDraft(): DraftResult | null {
    const d = draft.value;
    const label = editor.label;
    if (!d || !label || d.imageId !== label.id || d.width !== label.width || d.height !== label.height)
      return null;
    return d;
  }

  function updateLiveIou(): void {
    const d = usableDraft();
    const map = editor.canvas?.map;
    const names = dataset.summary?.classes.map((c) => c.name) ?? [];
    liveIou.value = d && map && names.length ? draftIou(map.indices, d.labels, names) : null;
  }

  /**
   * Accepts the draft where `options` allow, as one undo step that honours Protect. When no pixel
   * changes, nothing is recorded and `notice` says why in the user's terms (`unchanged`).
   */
  function accept(options: Omit<AcceptOptions, 'protect'>, unchanged: string): void {
    const d = usableDraft();
    if (!d || !editor.canvas) return;
    const changed = editor.canvas.applyEdit((target) =>
      acceptDraft(target, d.labels, { ...options, protect: editor.protect }),
    );
    notice.value = changed ? '' : unchanged;
  }
  const protectNote = () => (editor.protect === 'all' ? '' : ' (Protect is on)');
  const acceptAll = () => accept({}, `Nothing changed: the label already matches the draft${protectNote()}.`);
  const acceptOneClass = (index: number) =>
    accept(
      { classIndex: index },
      `Nothing changed: the label already has this class where the draft does${protectNote()}.`,
    );
  const acceptConfident = () => {
    const d = usableDraft();
    const t = threshold.value;
    const any = d ? d.confidence.some((c) => c >= t) : false;
    accept(
      { confidence: d?.confidence, threshold: t },
      any
        ? `Nothing changed: where the draft is at least ${Math.round(100 * t)}% confident the label already matches it${protectNote()}.`
        : `Nothing changed: no pixel of the draft is at least ${Math.round(100 * t)}% confident. Lower the threshold to accept more.`,
    );
  };
  const acceptRegion = (region: Uint8Array) =>
    accept(
      { region },
      `Nothing changed: inside that shape the label already matches the draft${protectNote()}.`,
    );
  /** The region tool's click at image point (x, y): one undo step that honours Protect. */
  function correctAt(x: number, y: number, action: RegionAction): void {
    const d = usableDraft();
    if (!d || !editor.canvas) return;
    editor.canvas.applyEdit((target) => correctDraftAt(target, d.labels, x, y, action, editor.protect));
  }

  /** Whether the review filter in the image list was set by "to do only" (and is the queue's to lift). */
  let todoSet = false;
  /** The image list's filter without the queue's parts (its order, and the filter "to do only" set). */
  function plainFilter(): ImageFilter {
    const f: ImageFilter = { ...dataset.filter };
    delete f.order;
    if (todoSet) delete f.review;
    return f;
  }

  /**
   * Orders the image list by the queue (and with `todoOnly` hides reviewed images); 'none' restores the
   * dataset's order. The order stays put while the annotator works through it; it is worked out again
   * on request, when drafting ends and when a fine-tuned checkpoint takes over.
   */
  async function applyQueue(): Promise<void> {
    const run = runId.value;
    const base = plainFilter();
    todoSet = todoOnly.value;
    const todo: ImageFilter = todoOnly.value ? { review: 'todo' } : {};
    if (queueOrder.value === 'none' || !run) {
      queue.value = null;
      await dataset.setFilter({ ...base, ...todo });
      return;
    }
    try {
      const result = await api()['drafts:rank']({
        runId: run,
        by: queueOrder.value,
        ...(checkpoint.value ? { checkpoint: checkpoint.value } : {}),
      });
      queue.value = markRaw(result);
      // Images without a draft yet come after the ranked ones until drafting reaches them.
      const order = [...result.entries.map((e) => e.id), ...result.pending];
      await dataset.setFilter({ ...base, order, ...todo });
      if (result.pending.length && drafting.value.state !== 'running') await draftAll();
    } catch (err) {
      app.report(err);
    }
  }

  /** Drafts every image not yet cached, in the background; the queue refreshes when it ends. */
  async function draftAll(): Promise<void> {
    const run = runId.value;
    if (!run) return;
    try {
      const r = await api()['drafts:predictAll']({
        runId: run,
        ...(checkpoint.value ? { checkpoint: checkpoint.value } : {}),
      });
      drafting.value = { state: 'running', done: r.cached, total: r.total };
    } catch (err) {
      drafting.value = { state: 'failed', message: err instanceof Error ? err.message : String(err) };
    }
  }

  async function cancelDrafting(): Promise<void> {
    await api()['drafts:cancel']({});
  }

  /** Saves the label being edited, then fine-tunes the run on the reviewed images plus its train split. */
  async function startFinetune(): Promise<void> {
    const run = runId.value;
    if (!run) return;
    if (!(await editor.saveNow())) return;
    try {
      const r = await api()['drafts:finetune']({
        runId: run,
        ...(checkpoint.value ? { checkpoint: checkpoint.value } : {}),
      });
      finetune.value = {
        state: 'running',
        runId: r.runId,
        parent: r.parent,
        images: r.trainImages,
        step: '',
      };
    } catch (err) {
      finetune.value = { state: 'failed', message: err instanceof Error ? err.message : String(err) };
    }
  }

  api().on('drafts:progress', (p) => {
    if (p.runId === runId.value) drafting.value = { state: 'running', done: p.done, total: p.total };
  });
  api().on('drafts:finished', (f) => {
    if (f.runId !== runId.value) return;
    drafting.value =
      f.status === 'failed' ? { state: 'failed', message: f.error ?? 'failed' } : { state: 'idle' };
    if (f.status === 'done' && queueOrder.value !== 'none') void applyQueue();
  });
  api().on('training:progress', (p) => {
    const f = finetune.value;
    if (f.state !== 'running' || p.runId !== f.runId || p.kind !== 'step') return;
    finetune.value = { ...f, step: `step ${p.step}/${p.steps}` };
  });
  api().on('training:finished', (f) => {
    const ft = finetune.value;
    if (ft.state !== 'running' || f.runId !== ft.runId) {
      // A run that finished in the Train tab can draft from now on.
      void loadRuns();
      return;
    }
    if (f.status !== 'done') {
      finetune.value = { state: 'failed', message: f.error ?? `fine-tuning ${f.status}` };
      return;
    }
    // The new checkpoint drafts from now on: the current image and the queue follow it.
    finetune.value = { state: 'done', runId: f.runId };
    void loadRuns().then(() => {
      runId.value = f.runId;
      checkpoint.value = null;
    });
  });
  watch(
    () => dataset.selectedId,
    () => {
      notice.value = '';
      void predictCurrent();
    },
  );
  watch([runId, checkpoint], () => {
    void predictCurrent();
    if (queueOrder.value !== 'none') void applyQueue();
  });
  watch([queueOrder, todoOnly], () => void applyQueue());
  watch(
    () => [editor.revision, editor.label] as const,
    () => updateLiveIou(),
  );

  return {
    runs,
    usableRuns,
    runId,
    checkpoint,
    draft,
    draftClasses,
    loading,
    visible,
    opacity,
    view,
    threshold,
    acceptClass,
    queueOrder,
    todoOnly,
    queue,
    drafting,
    finetune,
    liveIou,
    notice,
    queueScores,
    uncertainty,
    loadRuns,
    predictCurrent,
    acceptAll,
    acceptOneClass,
    acceptConfident,
    acceptRegion,
    correctAt,
    applyQueue,
    draftAll,
    cancelDrafting,
    startFinetune,
  };
});
