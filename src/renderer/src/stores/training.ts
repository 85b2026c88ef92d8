// Training from the panel: the engine's state and backend, the models, the settings, the live run as
// a discriminated union, and the past runs. Renderer.
import { defineStore } from 'pinia';
import { computed, ref, shallowRef, watch } from 'vue';
import type { EngineStatus, TorchChoice, TorchStatus } from '../../../shared/api';
import type { ModelInfo } from '../../../shared/engineProtocol';
import {
  DEFAULT_TRAIN_SETTINGS,
  type EpochRecord,
  type RunSummary,
  type TrainProgress,
  type TrainSettings,
} from '../../../shared/training';
import { heapProblem, proposedDefaults, proposedInputSize } from '../../../shared/trainDefaults';
import { trainFieldErrors } from '../../../shared/trainForm';
import { modelBackbone, type KerasWeights } from '../../../shared/modelCatalog';
import { api } from '../api';
import { useAppStore } from './app';
import { useDatasetStore } from './dataset';

/** A point of the live loss curve: the global step and the batch loss. */
export interface StepPoint {
  step: number;
  loss: number;
}

export type LiveRun =
  | { state: 'idle' }
  | { state: 'starting'; runId: string | null }
  | ({ state: 'running' } & Omit<Extract<TrainProgress, { kind: 'step' }>, 'kind'>)
  | { state: 'cancelling'; runId: string }
  | { state: 'ended'; runId: string; status: string; error: string | null };

export const useTrainingStore = defineStore('training', () => {
  const app = useAppStore();
  const dataset = useDatasetStore();
  const engine = ref<EngineStatus>({ state: 'stopped', backend: null, message: null });
  const models = ref<ModelInfo[]>([]);
  const modelsLoading = ref(false);
  // Replaced by the backend's proposal, or the dataset's remembered settings, once the engine is up.
  const settings = ref<TrainSettings>({ ...DEFAULT_TRAIN_SETTINGS });
  /** Where the form's settings came from, in a sentence the panel shows above them. */
  const settingsNote = ref<string | null>(null);
  /** The dataset whose settings the form holds; the form is set up once per dataset. */
  const settingsRoot = ref<string | null>(null);
  /** Why the last start was refused; cleared as soon as the form changes. */
  const startError = ref<string | null>(null);
  const runs = shallowRef<RunSummary[]>([]);
  const live = ref<LiveRun>({ state: 'idle' });
  /** Curves of the live run; arrays are replaced, never mutated, to keep them out of deep reactivity. */
  const stepPoints = shallowRef<StepPoint[]>([]);
  const epochPoints = shallowRef<EpochRecord[]>([]);
  const selectedRunId = ref<string | null>(null);
  const selectedRun = computed(() => runs.value.find((r) => r.id === selectedRunId.value) ?? null);
  /** The "Backbone weights" control: none, or a Keras `.h5` file the user names by its path. */
  const backboneMode = ref<'none' | 'file'>(settings.value.backboneWeights ? 'file' : 'none');
  const backbonePath = ref(settings.value.backboneWeights ?? '');
  function setBackbone(mode: 'none' | 'file', path = backbonePath.value): void {
    backboneMode.value = mode;
    backbonePath.value = path;
    settings.value.backboneWeights = mode === 'file' && path.trim() ? path.trim() : null;
  }
  /** Why the chosen backbone weights cannot be used, checked before a run starts; null when they can. */
  const backboneError = computed<string | null>(() => {
    if (backboneMode.value === 'none') return null;
    const path = settings.value.backboneWeights;
    if (!path)
      return 'type the path of a Keras .h5 file, e.g. /home/me/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5';
    if (!/^(\/|[A-Za-z]:[\\/]|\\\\)/.test(path)) return `${path}: give the absolute path`;
    if (!/\.(h5|hdf5)$/i.test(path)) return `${path}: not a .h5 file`;
    const model = models.value.find((m) => m.id === settings.value.model);
    if (model && !modelBackbone(model.id)) {
      const withBackbone = models.value.filter((m) => modelBackbone(m.id));
      return `${model.id} has no ImageNet backbone to load; choose ${withBackbone.map((m) => m.id).join(', ') || 'a model with a VGG16 or ResNet encoder'}`;
    }
    return null;
  });
  /** Whether a Python with PyTorch is here; null while it is being asked (it takes a few seconds). */
  const torchStatus = ref<TorchStatus | null>(null);
  /** Which engine trains the next run: Segscope's own, or PyTorch's workers. */
  const trainer = ref<'segscope' | 'torch'>('segscope');
  const torchChoice = ref<TorchChoice>({ nproc: 1, device: 'cpu', amp: false });
  async function loadTorchStatus(): Promise<void> {
    try {
      torchStatus.value = await api()['torch:status']({});
    } catch (err) {
      torchStatus.value = { found: false, error: err instanceof Error ? err.message : String(err) };
    }
    if (!torchStatus.value.found) trainer.value = 'segscope';
  }
  /** The PyTorch engine's part of a start or resume request, when it trains. */
  const torchRequest = () =>
    trainer.value === 'torch' ? { torch: { ...torchChoice.value } } : ({} as Record<string, never>);

  const busy = computed(
    () =>
      live.value.state === 'starting' || live.value.state === 'running' || live.value.state === 'cancelling',
  );

  async function init(): Promise<void> {
    // Not awaited: importing torch takes seconds, and the form does not wait for it.
    if (!torchStatus.value) void loadTorchStatus();
    try {
      modelsLoading.value = !models.value.length;
      models.value = await api()['models:list']({});
    } catch (err) {
      app.report(err);
    } finally {
      modelsLoading.value = false;
    }
    try {
      engine.value = await api()['engine:status']({});
      if (engine.value.state !== 'ready')
        engine.value = await api()['engine:start']({ backend: settings.value.backend });
    } catch (err) {
      app.report(err);
    }
    setUpForm();
    await refreshRuns();
  }

  // The last settings are kept per dataset in this browser's localStorage: a preference of the person at
  // this screen, which needs no change to the dataset folder (the runs already record what was trained).
  const storageKey = (root: string) => `segscope.trainSettings:${root}`;

  function remembered(root: string): TrainSettings | null {
    try {
      const text = globalThis.localStorage?.getItem(storageKey(root));
      if (!text) return null;
      const saved = JSON.parse(text) as Partial<TrainSettings>;
      return {
        ...DEFAULT_TRAIN_SETTINGS,
        ...saved,
        augment: { ...DEFAULT_TRAIN_SETTINGS.augment, ...saved.augment },
      };
    } catch {
      return null; // storage off or a value from another version: propose defaults instead
    }
  }

  /** Fills the form for the open dataset: its remembered settings, else the backend's proposal. */
  function setUpForm(): void {
    const root = dataset.summary?.root ?? null;
    const backend = engine.value.backend?.name;
    if (!root || !backend || settingsRoot.value === root) return;
    const saved = remembered(root);
    if (saved) {
      applySettings(saved);
      settingsNote.value = 'The settings you last used on this dataset.';
    } else {
      resetToDefaults();
    }
    settingsRoot.value = root;
  }

  /** The splits to train and validate on: the proposal's where the dataset has them, else its first. */
  function fitSplits(s: TrainSettings): TrainSettings {
    const names = dataset.summary?.splits.map((sp) => sp.name) ?? [];
    if (!names.length) return s;
    const split = names.includes(s.split) ? s.split : (names.find((n) => n !== 'val') ?? names[0]!);
    const valSplit = s.valSplit === null || names.includes(s.valSplit) ? s.valSplit : null;
    return { ...s, split, valSplit };
  }

  function applySettings(next: TrainSettings): void {
    settings.value = fitSplits(structuredClone(next));
    backboneMode.value = next.backboneWeights ? 'file' : 'none';
    backbonePath.value = next.backboneWeights ?? '';
  }

  /** The settings proposed for the engine's backend, and why. */
  function resetToDefaults(): void {
    const proposal = proposedDefaults(engine.value.backend?.name ?? 'cpu');
    applySettings(proposal.settings);
    settingsNote.value = proposal.why;
  }

  /** Picks a model and proposes its sensible input size on this backend. */
  function chooseModel(id: string): void {
    settings.value.model = id;
    const size = proposedInputSize(id, engine.value.backend?.name ?? 'cpu');
    if (size) settings.value.inputSize = size;
  }

  /** Selects a past run and shows its settings in the form. */
  function selectRun(id: string): void {
    selectedRunId.value = id;
    const run = runs.value.find((r) => r.id === id);
    if (!run || busy.value) return;
    applySettings({ ...DEFAULT_TRAIN_SETTINGS, ...run.settings });
    settingsNote.value = `The settings of run ${id}.`;
  }

  // An engine that comes up later (started again after a crash) still gets the form its proposal.
  watch(
    () => engine.value.backend?.name,
    () => setUpForm(),
  );

  const splitSizes = computed(
    () => new Map((dataset.summary?.splits ?? []).map((sp) => [sp.name, sp.count])),
  );
  /** What is wrong with each field, in words, by field. */
  const fieldErrors = computed(() => trainFieldErrors(settings.value, splitSizes.value));
  /**
   * Why the run cannot fit the engine's memory, where that can be told before it starts (PyTorch's
   * workers are not bound by the wasm heap).
   */
  const heapError = computed(() =>
    trainer.value === 'torch' ? null : heapProblem(settings.value, engine.value.backend?.name ?? null),
  );
  /** What is wrong with the PyTorch engine's settings, when it trains; null when nothing is. */
  const torchError = computed<string | null>(() => {
    if (trainer.value !== 'torch') return null;
    const status = torchStatus.value;
    if (!status?.found) return status?.error ?? 'still looking for a Python with PyTorch';
    const { nproc, device } = torchChoice.value;
    if (!Number.isInteger(nproc) || nproc < 1 || nproc > 64) return 'Processes: a whole number from 1 to 64';
    if (device === 'cuda' && !status.info.cudaAvailable) return `torch ${status.info.torch} sees no CUDA GPU`;
    return null;
  });
  const formValid = computed(
    () =>
      !Object.keys(fieldErrors.value).length && !heapError.value && !backboneError.value && !torchError.value,
  );
  watch(
    settings,
    (s) => {
      startError.value = null;
      if (settingsRoot.value && settingsRoot.value === dataset.summary?.root) {
        try {
          globalThis.localStorage?.setItem(storageKey(settingsRoot.value), JSON.stringify(s));
        } catch {
          // storage full or off: the form still works, it just will not be remembered
        }
      }
    },
    { deep: true },
  );

  async function refreshRuns(): Promise<void> {
    try {
      runs.value = await api()['runs:list']({});
    } catch (err) {
      app.report(err);
    }
  }

  // While a run is active its folder changes between epochs too (the first checkpoint, state): poll it.
  let poll: ReturnType<typeof setInterval> | null = null;
  function watchRuns(on: boolean): void {
    if (poll) clearInterval(poll);
    poll = on ? setInterval(() => void refreshRuns(), 3000) : null;
  }

  async function start(): Promise<void> {
    if (!formValid.value) {
      startError.value =
        Object.values(fieldErrors.value)[0] ??
        heapError.value ??
        (torchError.value
          ? `PyTorch engine: ${torchError.value}`
          : `Backbone weights: ${backboneError.value}`);
      return;
    }
    // A banner about an earlier run's failure has done its job once a new run starts.
    app.error = null;
    stepPoints.value = [];
    epochPoints.value = [];
    live.value = { state: 'starting', runId: null };
    try {
      const { runId } = await api()['training:start']({ settings: settings.value, ...torchRequest() });
      selectedRunId.value = runId;
      live.value = { state: 'starting', runId };
      watchRuns(true);
      await refreshRuns();
    } catch (err) {
      live.value = { state: 'idle' };
      startError.value = err instanceof Error ? err.message : String(err);
    }
  }

  /** Starts a new run with the settings of run `runId` (one that failed before it learned anything). */
  async function restart(runId: string): Promise<void> {
    selectRun(runId);
    await start();
  }

  async function deleteRun(runId: string): Promise<void> {
    try {
      await api()['runs:delete']({ runId });
      if (selectedRunId.value === runId) selectedRunId.value = null;
    } catch (err) {
      app.report(err);
    }
    await refreshRuns();
  }

  /** Where each run's ONNX export was written, by run id, once the Export button has finished. */
  const exported = ref<Record<string, string>>({});
  async function exportRun(runId: string): Promise<void> {
    try {
      const { path } = await api()['runs:export']({ runId });
      exported.value = { ...exported.value, [runId]: path };
    } catch (err) {
      app.report(err);
    }
  }

  async function resume(runId: string): Promise<void> {
    const run = runs.value.find((r) => r.id === runId);
    stepPoints.value = [];
    epochPoints.value = run ? [...run.epochs] : [];
    live.value = { state: 'starting', runId };
    selectedRunId.value = runId;
    try {
      watchRuns(true);
      await api()['training:resume']({ runId, ...torchRequest() });
    } catch (err) {
      watchRuns(false);
      live.value = { state: 'idle' };
      app.report(err);
    }
  }

  async function cancel(): Promise<void> {
    if (live.value.state !== 'running' && live.value.state !== 'starting') return;
    const runId = 'runId' in live.value && live.value.runId ? live.value.runId : '';
    live.value = { state: 'cancelling', runId };
    try {
      await api()['training:cancel']({});
    } catch (err) {
      app.report(err);
    }
  }

  /** A download of Keras weights, from the panel. */
  const download = ref<
    | { state: 'idle' }
    | { state: 'running'; received: number; total: number | null }
    | { state: 'failed'; message: string }
  >({ state: 'idle' });

  async function downloadWeights(kind: KerasWeights): Promise<void> {
    download.value = { state: 'running', received: 0, total: null };
    try {
      const { path } = await api()['weights:download']({ kind });
      download.value = { state: 'idle' };
      setBackbone('file', path);
    } catch (err) {
      download.value = { state: 'failed', message: err instanceof Error ? err.message : String(err) };
    }
  }
  api().on('weights:progress', (p) => {
    if (download.value.state === 'running')
      download.value = { state: 'running', received: p.received, total: p.total };
  });

  async function restartEngine(): Promise<void> {
    try {
      engine.value = await api()['engine:restart']({});
    } catch (err) {
      app.report(err);
    }
  }

  api().on('engine:status', (status) => (engine.value = status));
  api().on('training:progress', (p) => {
    if (p.kind === 'step') {
      if (live.value.state === 'cancelling') return;
      live.value = { state: 'running', ...p };
      const global = (p.epoch - 1) * p.steps + p.step;
      stepPoints.value = [...stepPoints.value, { step: global, loss: p.loss }];
    } else if (p.kind === 'epoch') {
      epochPoints.value = [...epochPoints.value.filter((e) => e.epoch !== p.record.epoch), p.record];
      void refreshRuns();
    }
  });
  api().on('training:finished', (f) => {
    live.value = { state: 'ended', runId: f.runId, status: f.status, error: f.error };
    watchRuns(false);
    if (f.error) app.report(`training ${f.runId} failed: ${f.error}`);
    void refreshRuns();
  });

  return {
    engine,
    models,
    modelsLoading,
    settings,
    settingsNote,
    startError,
    fieldErrors,
    heapError,
    formValid,
    torchStatus,
    trainer,
    torchChoice,
    torchError,
    setUpForm,
    resetToDefaults,
    chooseModel,
    selectRun,
    restart,
    deleteRun,
    runs,
    live,
    stepPoints,
    epochPoints,
    selectedRunId,
    selectedRun,
    busy,
    backboneMode,
    backbonePath,
    backboneError,
    setBackbone,
    init,
    refreshRuns,
    start,
    resume,
    exported,
    exportRun,
    cancel,
    restartEngine,
    download,
    downloadWeights,
  };
});
