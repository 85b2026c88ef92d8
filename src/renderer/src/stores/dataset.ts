// The open dataset and its image list, fetched a page at a time. Renderer.
import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { DatasetSummary, ImageItem } from '../../../shared/api';
import { api } from '../api';
import { useAppStore } from './app';

const PAGE = 500;

export const useDatasetStore = defineStore('dataset', () => {
  const summary = ref<DatasetSummary | null>(null);
  // Lists can hold thousands of entries; they are replaced, never mutated, so shallowRef is enough.
  const items = shallowRef<ImageItem[]>([]);
  const total = ref(0);
  const selectedId = ref<string | null>(null);
  const loading = ref(false);
  const selected = computed(() => items.value.find((i) => i.id === selectedId.value) ?? null);

  async function refresh(): Promise<void> {
    const app = useAppStore();
    try {
      summary.value = await api()['dataset:current']({});
      items.value = [];
      total.value = 0;
      if (summary.value) await loadMore();
    } catch (err) {
      app.report(err);
    }
  }

  async function loadMore(): Promise<void> {
    if (loading.value || !summary.value) return;
    loading.value = true;
    try {
      const page = await api()['dataset:list']({ offset: items.value.length, limit: PAGE });
      items.value = [...items.value, ...page.items];
      total.value = page.total;
      if (!selectedId.value && items.value[0]) selectedId.value = items.value[0].id;
    } finally {
      loading.value = false;
    }
  }

  async function open(path: string): Promise<void> {
    const app = useAppStore();
    try {
      app.error = null;
      await api()['dataset:open']({ path });
    } catch (err) {
      app.report(err);
    }
  }

  async function pick(): Promise<void> {
    const app = useAppStore();
    try {
      await api()['dataset:pick']({});
    } catch (err) {
      app.report(err);
    }
  }

  function select(id: string): void {
    selectedId.value = id;
  }

  // Any window or tab that opens a dataset updates every other one.
  api().on('dataset:opened', () => {
    selectedId.value = null;
    void refresh();
  });

  return { summary, items, total, selectedId, selected, loading, refresh, loadMore, open, pick, select };
});
