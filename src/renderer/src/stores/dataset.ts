// The open dataset and its image list. The list is virtual: pages are fetched as they scroll into
// view and kept in a cache, so 17k images never cross the transport at once. Renderer.
import { defineStore } from 'pinia';
import { computed, ref, shallowRef, triggerRef, watch } from 'vue';
import type {
  DatasetSummary,
  ImageFilter,
  ImageItem,
  OpenResult,
  ReviewStatus,
  WorkspaceFileName,
  WorkspaceProblem,
} from '../../../shared/api';
import { api } from '../api';
import { useAppStore } from './app';

export const PAGE_SIZE = 200;

export const useDatasetStore = defineStore('dataset', () => {
  const app = useAppStore();
  const summary = ref<DatasetSummary | null>(null);
  const filter = ref<ImageFilter>({});
  const total = ref(0);
  // Page index to its items; replaced pages trigger by hand, so the cache is never deeply reactive.
  const pages = shallowRef(new Map<number, ImageItem[]>());
  const pending = new Set<number>();
  /** Bumped whenever the list is reset, so answers to stale requests are dropped. */
  let generation = 0;
  const selectedId = ref<string | null>(null);
  const selectedIndex = ref(-1);
  /** Set when the folder opened holds several datasets (a VOCdevkit with several years). */
  const choice = ref<{ folder: string; years: string[] } | null>(null);

  /**
   * The selected image's row as last seen in the list. A filter can hide the image the editor still
   * shows (marking it reviewed under "to do only"); its row, and its review status, must stay right.
   */
  const lastSelected = shallowRef<ImageItem | null>(null);
  // While a reload is under way the old index can point at another image's row: only a row whose id
  // is the selected id counts.
  const listedSelected = (): ImageItem | undefined => {
    const item = selectedIndex.value < 0 ? undefined : itemAt(selectedIndex.value);
    return item && item.id === selectedId.value ? item : undefined;
  };
  const selected = computed<ImageItem | null>(() => {
    const listed = listedSelected();
    if (listed) return listed;
    return lastSelected.value && lastSelected.value.id === selectedId.value ? lastSelected.value : null;
  });
  watch(listedSelected, (item) => {
    if (item) lastSelected.value = item;
  });

  function itemAt(index: number): ImageItem | undefined {
    return pages.value.get(Math.floor(index / PAGE_SIZE))?.[index % PAGE_SIZE];
  }

  async function fetchPage(page: number): Promise<void> {
    if (pages.value.has(page) || pending.has(page) || !summary.value) return;
    pending.add(page);
    const gen = generation;
    try {
      const result = await api()['dataset:list']({
        offset: page * PAGE_SIZE,
        limit: PAGE_SIZE,
        filter: filter.value,
      });
      if (gen !== generation) return;
      total.value = result.total;
      pages.value.set(page, result.items);
      triggerRef(pages);
    } catch (err) {
      app.report(err);
    } finally {
      pending.delete(page);
    }
  }

  /** Makes sure the rows from `first` to `last` are loaded. */
  async function ensureRange(first: number, last: number): Promise<void> {
    const from = Math.max(0, Math.floor(first / PAGE_SIZE));
    const to = Math.floor(Math.max(first, last) / PAGE_SIZE);
    await Promise.all(Array.from({ length: to - from + 1 }, (_, i) => fetchPage(from + i)));
  }

  async function reload(): Promise<void> {
    generation++;
    pages.value = new Map();
    pending.clear();
    total.value = 0;
    if (!summary.value) return;
    await fetchPage(0);
    if (selectedId.value) {
      selectedIndex.value = findLoaded(selectedId.value);
    }
  }

  function findLoaded(id: string): number {
    for (const [page, items] of pages.value) {
      const i = items.findIndex((item) => item.id === id);
      if (i >= 0) return page * PAGE_SIZE + i;
    }
    return -1;
  }

  // The image and filters the user was on, per dataset, so that a reload reopens them. localStorage,
  // like the recent datasets: where this person was is this person's.
  const viewKey = (root: string) => `segscope.view:${root}`;
  function saveView(): void {
    if (!summary.value) return;
    try {
      globalThis.localStorage?.setItem(
        viewKey(summary.value.root),
        JSON.stringify({ id: selectedId.value, filter: filter.value }),
      );
    } catch {
      // storage off: a reload starts at the first image
    }
  }
  function savedView(root: string): { id: string | null; filter: ImageFilter } {
    try {
      const v = JSON.parse(globalThis.localStorage?.getItem(viewKey(root)) ?? 'null') as {
        id?: unknown;
        filter?: unknown;
      } | null;
      return {
        id: typeof v?.id === 'string' ? v.id : null,
        filter: v?.filter && typeof v.filter === 'object' ? (v.filter as ImageFilter) : {},
      };
    } catch {
      return { id: null, filter: {} };
    }
  }
  /** How many pages a reload reads looking for the image the user was on before starting at the first. */
  const RESTORE_PAGES = 20;

  async function refresh(): Promise<void> {
    try {
      summary.value = await api()['dataset:current']({});
      if (summary.value) remember(summary.value);
      selectedId.value = null;
      selectedIndex.value = -1;
      const view = summary.value ? savedView(summary.value.root) : { id: null, filter: {} };
      filter.value = view.filter;
      await reload();
      let index = -1;
      if (view.id) {
        for (let page = 0; index < 0 && page < RESTORE_PAGES && page * PAGE_SIZE < total.value; page++) {
          await fetchPage(page);
          index = findLoaded(view.id);
        }
      }
      if (total.value > 0) await selectIndex(Math.max(0, index));
    } catch (err) {
      app.report(err);
    }
  }

  async function setFilter(next: ImageFilter): Promise<void> {
    filter.value = next;
    saveView();
    await reload();
  }

  // Recent datasets live in this browser's localStorage: the start screen is this person's, and a
  // server serving several people should not learn what each one opened.
  const RECENT_KEY = 'segscope.recentDatasets';
  const RECENT_MAX = 8;
  function readRecent(): { root: string; name: string }[] {
    try {
      const list = JSON.parse(globalThis.localStorage?.getItem(RECENT_KEY) ?? '[]') as unknown;
      return Array.isArray(list) ? (list as { root: string; name: string }[]).filter((r) => r?.root) : [];
    } catch {
      return [];
    }
  }
  const recent = ref(readRecent());
  function remember(ds: DatasetSummary): void {
    recent.value = [
      { root: ds.root, name: ds.name },
      ...recent.value.filter((r) => r.root !== ds.root),
    ].slice(0, RECENT_MAX);
    try {
      globalThis.localStorage?.setItem(RECENT_KEY, JSON.stringify(recent.value));
    } catch {
      // storage off: the list just is not kept
    }
  }
  function forget(root: string): void {
    recent.value = recent.value.filter((r) => r.root !== root);
    globalThis.localStorage?.setItem(RECENT_KEY, JSON.stringify(recent.value));
  }

  /** The start screen asked for from the header while a dataset is open. */
  const startScreen = ref(false);

  function opened(result: OpenResult | null): void {
    if (result?.kind === 'opened') startScreen.value = false;
    choice.value = result?.kind === 'choose-year' ? { folder: result.folder, years: result.years } : null;
    if (result?.kind === 'opened') remember(result.dataset);
  }

  async function open(path: string, year?: string): Promise<void> {
    app.error = null;
    if (!path.trim()) {
      app.report('Type the path of a dataset folder first, or choose one with the folder browser.');
      return;
    }
    try {
      opened(await api()['dataset:open'](year ? { path, year } : { path }));
    } catch (err) {
      app.report(err);
    }
  }

  async function pick(): Promise<void> {
    app.error = null;
    try {
      opened(await api()['dataset:pick']({}));
    } catch (err) {
      app.report(err);
    }
  }

  /** Guards that run before the selection changes (the editor saves there); false cancels. */
  const beforeSelect: Array<() => Promise<boolean>> = [];

  async function selectIndex(index: number): Promise<void> {
    if (index < 0 || index >= total.value) return;
    for (const guard of beforeSelect) if (!(await guard())) return;
    await ensureRange(index, index);
    const item = itemAt(index);
    if (!item) return;
    selectedIndex.value = index;
    selectedId.value = item.id;
    saveView();
  }

  const next = (): Promise<void> => selectIndex(selectedIndex.value + 1);
  const previous = (): Promise<void> => selectIndex(selectedIndex.value - 1);

  async function setReview(id: string, status: ReviewStatus): Promise<void> {
    try {
      await api()['dataset:setReview']({ ids: [id], status });
      if (lastSelected.value?.id === id) lastSelected.value = { ...lastSelected.value, review: status };
    } catch (err) {
      app.report(err);
    }
  }

  /** Renames or recolours a class; the change lives in the workspace, never in the label files. */
  async function editClass(index: number, name: string, color: [number, number, number]): Promise<void> {
    try {
      summary.value = await api()['classes:update']({ index, color, ...(name ? { name } : {}) });
    } catch (err) {
      app.report(err);
    }
  }

  /**
   * Damaged workspace files the user chose to keep read-only, by path: their banner is hidden for this
   * dataset until the file changes its problem. Nothing on disk changes either way.
   */
  const keptReadOnly = ref(new Set<string>());
  const workspaceProblems = computed(() =>
    (summary.value?.workspaceProblems ?? []).filter((p) => !keptReadOnly.value.has(p.message)),
  );
  function keepReadOnly(problem: WorkspaceProblem): void {
    keptReadOnly.value = new Set([...keptReadOnly.value, problem.message]);
  }
  /** Backs the damaged file up in the workspace and replaces it with an empty one (main does both). */
  async function resetWorkspaceFile(file: WorkspaceFileName): Promise<void> {
    try {
      summary.value = await api()['workspace:reset']({ file });
      await reload();
    } catch (err) {
      app.report(err);
    }
  }

  /** Updates one row in place after its label or review status changed. */
  function patchItem(id: string, change: Partial<ImageItem>): void {
    if (lastSelected.value?.id === id) lastSelected.value = { ...lastSelected.value, ...change };
    for (const items of pages.value.values()) {
      const i = items.findIndex((item) => item.id === id);
      if (i >= 0) {
        items[i] = { ...items[i]!, ...change };
        triggerRef(pages);
      }
    }
  }

  // Any window or tab that opens a dataset updates every other one.
  api().on('dataset:opened', () => void refresh());
  api().on('dataset:updated', (s) => {
    summary.value = s;
    // Review status may have changed for rows on screen; filtered views must be recomputed.
    void reload();
  });
  /** Saves per image in this page's life: appended to mask thumbnail URLs so a saved label shows anew. */
  const maskVersions = ref(new Map<string, number>());
  api().on('labels:saved', ({ id }) => {
    maskVersions.value.set(id, (maskVersions.value.get(id) ?? 0) + 1);
    patchItem(id, { hasLabel: true });
  });
  function maskSrc(item: ImageItem): string {
    const v = maskVersions.value.get(item.id);
    return v ? `${item.maskUrl}${item.maskUrl.includes('?') ? '&' : '?'}v=${v}` : item.maskUrl;
  }

  return {
    summary,
    workspaceProblems,
    keepReadOnly,
    resetWorkspaceFile,
    filter,
    total,
    pages,
    selectedId,
    selectedIndex,
    selected,
    choice,
    beforeSelect,
    itemAt,
    ensureRange,
    refresh,
    setFilter,
    open,
    pick,
    recent,
    forget,
    startScreen,
    maskSrc,
    selectIndex,
    next,
    previous,
    setReview,
    editClass,
  };
});
