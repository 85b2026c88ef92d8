// App-wide state: facts about the running app and the last error to show. Renderer.
import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { AppInfo } from '../../../shared/api';
import { api } from '../api';

export const useAppStore = defineStore('app', () => {
  const info = ref<AppInfo | null>(null);
  const error = ref<string | null>(null);

  async function load(): Promise<void> {
    try {
      info.value = await api()['app:info']({});
    } catch (err) {
      report(err);
    }
  }

  function report(err: unknown): void {
    error.value = err instanceof Error ? err.message : String(err);
  }

  return { info, error, load, report };
});
