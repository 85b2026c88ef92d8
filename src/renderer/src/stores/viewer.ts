// The viewer: which run segments which image, the prediction and the ground truth, the Grad-CAM
// pickers and result, the layer sweep, and the zoom and pan that all four panes share. Renderer.
import { defineStore } from 'pinia';
import { computed, markRaw, ref, shallowRef, watch } from 'vue';
import type { CamMethod, CamResult, LabelData, SegmentResult } from '../../../shared/api';
import type { ModelInfo } from '../../../shared/engineProtocol';
import { inspectableRuns, runToInspect } from '../../../shared/runChoice';
import type { RunSummary } from '../../../shared/training';
import { DEFAULT_CAM_METHOD } from '../../../shared/camMethods';
import { api } from '../api';
import { useAppStore } from './app';
import { useDatasetStore } from './dataset';

export interface PaneView {
  scale: number;
  x: number;
  y: number;
}

export type ViewerState =
  { state: 'idle' } | { state: 'segmenting' } | { state: 'ready' } | { state: 'failed'; message: string };

export const useViewerStore = defineStore('viewer', () => {
  const app = useAppStore();
  const dataset = useDatasetStore();
  const runs = shallowRef<RunSummary[]>([]);
  const models = shallowRef<ModelInfo[]>([]);
  const runId = ref<string | null>(null);
  const checkpoint = ref<'best' | 'last'>('best');
  const state = ref<ViewerState>({ state: 'idle' });
  const segment = shallowRef<SegmentResult | null>(null);
  const truth = shallowRef<LabelData | null>(null);
  const maskSource = ref<'prediction' | 'truth'>('prediction');
  const alpha = ref(0.7);
  const camClass = ref<number | null>(null);
  const camLayer = ref<string | null>(null);
  const camMethod = ref<CamMethod>(DEFAULT_CAM_METHOD);
  const cam = shallowRef<CamResult | null>(null);
  const camError = ref<string | null>(null);
  const camBusy = ref(false);
  const sweep = shallowRef<CamResult[] | null>(null);
  const sweepBusy = ref(false);
  const view = ref<PaneView>({ scale: 1, x: 0, y: 0 });
  const hover = ref<{ x: number; y: number } | null>(null);

  const run = computed(() => runs.value.find((r) => r.id === runId.value) ?? null);
  const model = computed(() => models.value.find((m) => m.id === run.value?.settings.model) ?? null);
  /** Every conv layer of the run's model, for the layer picker. */
  const layers = computed(() => model.value?.convLayers ?? []);
  /** The default layer, as the model defines it: its last encoder conv (VGG16's block5_conv3). */
  const defaultLayer = computed(() => model.value?.camLayer ?? layers.value.at(-1) ?? null);
  /** Runs with a checkpoint that learned something: at least one finished epoch. Newest first. */
  const usableRuns = computed(() => inspectableRuns(runs.value));
  /** The run the viewer chose by itself, and why; shown while that run is the one shown. */
  const chosen = ref<{ id: string; why: string } | null>(null);
  const choiceNote = computed(() => (chosen.value?.id === runId.value ? chosen.value.why : null));
  /** Says so when the run has no `best` (it trained without validation) and `last` is shown instead. */
  const checkpointNote = computed(() =>
    run.value && !run.value.hasBest
      ? `Run ${run.value.id} has no best checkpoint (it trained without validation): showing last.`
      : null,
  );
  /** The method, class and layer the last layer sweep was computed for. */
  const sweepOf = ref<{ method: CamMethod; classIndex: number } | null>(null);

  async function init(): Promise<void> {
    try {
      [runs.value, models.value] = await Promise.all([api()['runs:list']({}), api()['models:list']({})]);
      if (!runId.value || !usableRuns.value.some((r) => r.id === runId.value)) {
        const pick = runToInspect(runs.value);
        chosen.value = pick && { id: pick.run.id, why: pick.why };
        runId.value = pick?.run.id ?? null;
      }
      fitCheckpoint();
    } catch (err) {
      app.report(err);
    }
  }

  /** Lists a run folder trained elsewhere with the dataset's runs, and shows it. */
  async function attach(path: string): Promise<boolean> {
    try {
      const { runId: id } = await api()['runs:attach']({ path });
      await init();
      runId.value = id;
      fitCheckpoint();
      return true;
    } catch (err) {
      app.report(err);
      return false;
    }
  }

  /** Falls back from `best` to `last` where the run has no best. */
  function fitCheckpoint(): void {
    if (run.value && !run.value.hasBest) checkpoint.value = 'last';
  }

  async function refresh(): Promise<void> {
    const id = dataset.selectedId;
    const rid = runId.value;
    segment.value = null;
    cam.value = null;
    sweep.value = null;
    camError.value = null;
    if (!id) return;
    try {
      truth.value = markRaw(await api()['labels:read']({ id }));
    } catch {
      truth.value = null; // an unreadable label is the editor's business; the viewer shows the prediction
    }
    if (!rid) return;
    state.value = { state: 'segmenting' };
    try {
      const result = await api()['viewer:segment']({ runId: rid, checkpoint: checkpoint.value, imageId: id });
      if (dataset.selectedId !== id || runId.value !== rid) return;
      segment.value = markRaw(result);
      state.value = { state: 'ready' };
      // The default class: the largest one that is not background.
      const present = result.classes.map((c) => c.index);
      if (camClass.value === null || !present.includes(camClass.value)) {
        camClass.value = result.classes.find((c) => c.index !== 0)?.index ?? result.classes[0]?.index ?? null;
      }
      if (!camLayer.value || !layers.value.includes(camLayer.value)) camLayer.value = defaultLayer.value;
      await computeCam();
    } catch (err) {
      state.value = { state: 'failed', message: err instanceof Error ? err.message : String(err) };
    }
  }

  async function computeCam(): Promise<void> {
    const id = dataset.selectedId;
    if (!id || !runId.value || camClass.value === null) return;
    camBusy.value = true;
    camError.value = null;
    try {
      const result = await api()['viewer:cam']({
        runId: runId.value,
        checkpoint: checkpoint.value,
        imageId: id,
        classIndex: camClass.value,
        method: camMethod.value,
        ...(camLayer.value ? { layer: camLayer.value } : {}),
      });
      cam.value = markRaw(result);
    } catch (err) {
      cam.value = null;
      camError.value = err instanceof Error ? err.message : String(err);
    } finally {
      camBusy.value = false;
    }
  }

  async function runSweep(): Promise<void> {
    const id = dataset.selectedId;
    if (!id || !runId.value || camClass.value === null) return;
    sweepBusy.value = true;
    try {
      const result = await api()['viewer:camSweep']({
        runId: runId.value,
        checkpoint: checkpoint.value,
        imageId: id,
        classIndex: camClass.value,
        method: camMethod.value,
      });
      sweep.value = result.layers.map((l) => markRaw(l));
      sweepOf.value = { method: camMethod.value, classIndex: camClass.value };
    } catch (err) {
      app.report(err);
    } finally {
      sweepBusy.value = false;
    }
  }

  /** Hides the layer sweep. */
  function closeSweep(): void {
    sweep.value = null;
    sweepOf.value = null;
  }

  watch(runId, fitCheckpoint);
  watch([() => dataset.selectedId, runId, checkpoint], () => void refresh());
  watch([camClass, camLayer, camMethod], () => {
    sweep.value = null;
    if (state.value.state === 'ready') void computeCam();
  });
  api().on('training:finished', () => void init());

  return {
    runs,
    usableRuns,
    runId,
    checkpoint,
    checkpointNote,
    choiceNote,
    sweepOf,
    run,
    state,
    segment,
    truth,
    maskSource,
    alpha,
    camClass,
    camLayer,
    camMethod,
    cam,
    camError,
    camBusy,
    sweep,
    sweepBusy,
    view,
    hover,
    layers,
    defaultLayer,
    init,
    attach,
    refresh,
    runSweep,
    closeSweep,
  };
});
