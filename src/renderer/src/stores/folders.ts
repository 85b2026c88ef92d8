// The folder browsers of the browser UI: one for datasets (the start screen) and one for run folders
// (Inspect's "Open run folder…"), each with its own location, kept in this browser's localStorage so
// that it opens where the user last was for that purpose. Renderer.
import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { FolderListing } from '../../../shared/api';
import { api } from '../api';
import { useAppStore } from './app';

/** What a folder browser is choosing. */
export type BrowsePurpose = 'dataset' | 'run';

/** The folder that holds `path` (either separator), for starting a browser next to a dataset. */
export function folderAbove(path: string): string {
  return path.replace(/[\\/][^\\/]*[\\/]?$/, '') || '/';
}

const locationKey = (purpose: BrowsePurpose) => `segscope.browse:${purpose}`;

function savedLocation(purpose: BrowsePurpose): string | null {
  try {
    const v = globalThis.localStorage?.getItem(locationKey(purpose));
    return v ? v : null;
  } catch {
    return null;
  }
}

export const useFoldersStore = defineStore('folders', () => {
  const app = useAppStore();
  /** The folder each browser shows, null until it is opened. */
  const listings = ref<Record<BrowsePurpose, FolderListing | null>>({ dataset: null, run: null });

  /** Shows `path` (the home folder when absent) in the `purpose` browser; false when it cannot be listed. */
  async function browse(purpose: BrowsePurpose, path?: string, quiet = false): Promise<boolean> {
    try {
      const listing = await api()['folders:list'](path ? { path } : {});
      listings.value = { ...listings.value, [purpose]: listing };
      try {
        globalThis.localStorage?.setItem(locationKey(purpose), listing.path);
      } catch {
        // storage off: the browser opens at `fallback` next time
      }
      return true;
    } catch (err) {
      if (!quiet) app.report(err);
      return false;
    }
  }

  /**
   * Opens the `purpose` browser where it was last, else at `fallback`, else at home. A remembered folder
   * that is gone is passed over without a message.
   */
  async function start(purpose: BrowsePurpose, fallback?: string): Promise<void> {
    const current = listings.value[purpose]?.path;
    for (const path of [current, savedLocation(purpose), fallback])
      if (path && (await browse(purpose, path, true))) return;
    await browse(purpose);
  }

  return { listings, browse, start };
});
