// The label being edited: loading it with its image, the tool settings, the unsaved marker, and
// saving through the atomic labels:save, with the user's choice when the file changed on disk.
// Renderer.
import { defineStore } from 'pinia';
import { computed, markRaw, ref, shallowRef, watch } from 'vue';
import type { LabelData } from '../../../shared/api';
import { WorkbenchError } from '../../../shared/errors';
import type { Protect } from '../../../shared/labelMap';
import { decodeRuns, encodeRuns } from '../../../shared/labelRuns';
import { api } from '../api';
import type { MaskCanvas, Tool } from '../editor/maskCanvas';
import { isTool } from '../editor/tools';
import { useAppStore } from './app';
import { useDatasetStore } from './dataset';

export type SaveState =
  | { state: 'clean' }
  | { state: 'dirty' }
  | { state: 'saving' }
  | { state: 'conflict'; message: string }
  | { state: 'failed'; message: string };

export const useEditorStore = defineStore('editor', () => {
  const app = useAppStore();
  const dataset = useDatasetStore();

  // The map is large and edited in place by the canvas; Vue must never proxy it.
  const label = shallowRef<LabelData | null>(null);
  const canvas = shallowRef<MaskCanvas | null>(null);
  const loading = ref(false);
  const tool = ref<Tool>('brush');
  const classIndex = ref(15);
  const brushSize = ref(9);
  const protectOn = ref(false);
  /** What protect mode lets a tool paint over: background and void, or one chosen class. */
  const protectTarget = ref<'empty' | number>('empty');
  const opacity = ref(0.6);
  const maskVisible = ref(true);
  /** The canvas history revision at the last save or load; differs when there are unsaved edits. */
  const savedRevision = ref(0);
  const revision = ref(0);
  const save = ref<SaveState>({ state: 'clean' });
  const hover = ref<{ x: number; y: number; index: number } | null>(null);

  const dirty = computed(() => revision.value !== savedRevision.value);
  const protect = computed<Protect>(() => (protectOn.value ? protectTarget.value : 'all'));

  // The tool settings are kept per dataset in this browser's localStorage, like the image the user was
  // on, so that a reload comes back to the same tool and class instead of Brush and "person".
  const settingsKey = (root: string) => `segscope.editor:${root}`;
  /** The dataset whose settings are shown; null until they are restored, so nothing is saved over them. */
  let settingsRoot: string | null = null;
  function restoreSettings(root: string): void {
    settingsRoot = null;
    let v: Record<string, unknown> = {};
    try {
      const parsed = JSON.parse(globalThis.localStorage?.getItem(settingsKey(root)) ?? 'null') as unknown;
      if (parsed && typeof parsed === 'object') v = parsed as Record<string, unknown>;
    } catch {
      // unreadable: the defaults
    }
    const classes = dataset.summary?.classes ?? [];
    const isClass = (x: unknown) => typeof x === 'number' && classes.some((c) => c.index === x);
    const inRange = (x: unknown, lo: number, hi: number) =>
      typeof x === 'number' && Number.isFinite(x) && x >= lo && x <= hi;
    if (isTool(v.tool)) tool.value = v.tool;
    if (isClass(v.classIndex)) classIndex.value = v.classIndex as number;
    if (inRange(v.brushSize, 1, 256)) brushSize.value = Math.round(v.brushSize as number);
    if (typeof v.protectOn === 'boolean') protectOn.value = v.protectOn;
    if (v.protectTarget === 'empty' || isClass(v.protectTarget))
      protectTarget.value = v.protectTarget as 'empty' | number;
    if (inRange(v.opacity, 0, 1)) opacity.value = v.opacity as number;
    settingsRoot = root;
  }
  watch(
    () => dataset.summary?.root,
    (root) => {
      if (root) restoreSettings(root);
      else settingsRoot = null;
    },
    { immediate: true },
  );
  watch([tool, classIndex, brushSize, protectOn, protectTarget, opacity], () => {
    if (!settingsRoot) return;
    const s = {
      tool: tool.value,
      classIndex: classIndex.value,
      brushSize: brushSize.value,
      protectOn: protectOn.value,
      protectTarget: protectTarget.value,
      opacity: opacity.value,
    };
    try {
      globalThis.localStorage?.setItem(settingsKey(settingsRoot), JSON.stringify(s));
    } catch {
      // storage off: a reload starts with the defaults
    }
  });

  function attach(c: MaskCanvas | null): void {
    canvas.value = c ? markRaw(c) : null;
  }

  /** Called by the canvas after every edit, undo and redo. */
  function onCanvasChanged(): void {
    revision.value = canvas.value?.revision ?? 0;
    if (save.value.state === 'clean' || save.value.state === 'dirty') {
      save.value = { state: dirty.value ? 'dirty' : 'clean' };
    }
  }

  // Unsaved edits are kept in this tab's sessionStorage while the page is left (a reload, a closed
  // tab): the save sent then may not get out before the page is gone, and a stroke must not be lost.
  // The label comes back with them the next time it opens, and is saved.
  const stashKey = (id: string) => `segscope.unsaved:${dataset.summary?.root ?? ''}:${id}`;
  /** Keeps the label's unsaved edits, synchronously; called as the page is left. */
  function stashUnsaved(): void {
    const data = label.value;
    const map = canvas.value?.map;
    if (!data || !map || !dirty.value) return;
    try {
      globalThis.sessionStorage?.setItem(
        stashKey(data.id),
        JSON.stringify({
          baseVersion: data.version,
          width: map.width,
          height: map.height,
          runs: encodeRuns(map.indices),
        }),
      );
    } catch {
      // storage full or off: the save sent on leaving is all there is
    }
  }
  /** The edits kept for `data` when the page was last left, if any (and forgets them). */
  function takeStash(data: LabelData): { baseVersion: string | null; indices: Uint8Array } | null {
    const key = stashKey(data.id);
    try {
      const text = globalThis.sessionStorage?.getItem(key);
      if (!text) return null;
      globalThis.sessionStorage.removeItem(key);
      const v = JSON.parse(text) as {
        baseVersion: string | null;
        width: number;
        height: number;
        runs: string;
      };
      if (v.width !== data.width || v.height !== data.height) return null;
      return { baseVersion: v.baseVersion, indices: decodeRuns(v.runs, data.width * data.height) };
    } catch {
      return null; // unreadable: nothing to restore
    }
  }
  /** Puts kept edits back as one undoable step and saves them (or leaves them to the conflict choice). */
  async function restoreStash(data: LabelData): Promise<void> {
    const kept = takeStash(data);
    const c = canvas.value;
    if (!kept || !c?.map) return;
    const same = kept.indices.every((v, i) => v === c.map!.indices[i]);
    if (same) return; // the save sent on leaving arrived
    c.applyEdit((t) => {
      t.indices.set(kept.indices);
      return { x: 0, y: 0, width: t.width, height: t.height };
    });
    if (kept.baseVersion !== data.version) {
      // The file changed on disk since: saving against the version edited offers the usual choice.
      label.value = markRaw({ ...data, version: kept.baseVersion });
      app.report(`${data.id}: edits made before the page was left are back, unsaved; the file changed since`);
      return;
    }
    await saveNow();
  }

  async function load(id: string): Promise<void> {
    loading.value = true;
    performance.mark('segscope:label-requested');
    try {
      const data = await api()['labels:read']({ id });
      const item = dataset.selected;
      if (!item || item.id !== id) return; // the user moved on while this loaded
      const image = await loadImage(item.imageUrl);
      if (dataset.selectedId !== id) return;
      label.value = markRaw(data);
      canvas.value?.load(image, data, displayPalette(data.palette));
      revision.value = savedRevision.value = canvas.value?.revision ?? 0;
      save.value = { state: 'clean' };
      for (const warning of data.warnings) app.report(warning);
      await restoreStash(data);
      // Image and label on screen: the editor benchmark measures from the request to here.
      requestAnimationFrame(() => performance.measure('segscope:open', 'segscope:label-requested'));
    } catch (err) {
      label.value = null;
      app.report(err);
    } finally {
      loading.value = false;
    }
  }

  /** Saves the current label; with `force`, overwrites a file that changed on disk. */
  async function saveNow(force = false): Promise<boolean> {
    const data = label.value;
    if (!data || (!dirty.value && !force)) return true;
    const atRevision = revision.value;
    save.value = { state: 'saving' };
    try {
      const result = await api()['labels:save']({
        id: data.id,
        width: data.width,
        height: data.height,
        indices: data.indices,
        baseVersion: data.version,
        ...(force ? { force: true } : {}),
      });
      label.value = markRaw({ ...data, version: result.version, exists: true });
      savedRevision.value = atRevision;
      save.value = { state: dirty.value ? 'dirty' : 'clean' };
      return true;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      save.value =
        err instanceof WorkbenchError && err.code === 'conflict'
          ? { state: 'conflict', message }
          : { state: 'failed', message };
      return false;
    }
  }

  /** Drops unsaved edits and the conflict, reading the file as it is now on disk. */
  async function reloadFromDisk(): Promise<void> {
    if (label.value) await load(label.value.id);
  }

  /**
   * The colours the editor draws with: the dataset's class colours (which the user may have changed in
   * the workspace) over the file's palette. Saving still writes the file's own palette.
   */
  function displayPalette(filePalette: Uint8Array): Uint8Array {
    const palette = new Uint8Array(768);
    palette.set(filePalette.subarray(0, 768));
    for (const c of dataset.summary?.classes ?? []) palette.set(c.color, c.index * 3);
    return palette;
  }
  watch(
    () => dataset.summary?.classes,
    () => {
      if (label.value) canvas.value?.setPalette(displayPalette(label.value.palette));
    },
  );

  // Autosave before the selection moves; a failed save (a conflict, say) keeps the user here.
  dataset.beforeSelect.push(async () => (dirty.value ? saveNow() : true));

  /** Marks the selected image, whose review state the toggle shows, whether or not its label has loaded yet. */
  async function setReview(status: 'todo' | 'done'): Promise<void> {
    const id = dataset.selectedId;
    if (id) await dataset.setReview(id, status);
  }

  return {
    label,
    canvas,
    loading,
    tool,
    classIndex,
    brushSize,
    protectOn,
    protectTarget,
    protect,
    opacity,
    maskVisible,
    revision,
    savedRevision,
    dirty,
    save,
    hover,
    attach,
    onCanvasChanged,
    load,
    saveNow,
    stashUnsaved,
    reloadFromDisk,
    setReview,
  };
});

function loadImage(url: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const img = new Image();
    // CORS mode, so a canvas that draws it stays readable when media come from another origin.
    img.crossOrigin = 'anonymous';
    img.decoding = 'async';
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error(`${url}: the image could not be loaded`));
    img.src = url;
  });
}
