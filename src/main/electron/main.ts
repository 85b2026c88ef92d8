// The desktop app's main process: one secure window, the contract over IPC, the page and the images
// over protocols of their own.
import { app } from 'electron';
import { fileURLToPath } from 'node:url';
import { useLabelDecodeWorker } from '../services/labelDecoder';
import { WorkbenchSession } from '../services/session';
import { createDesktopApp } from './app';
import { APP_SCHEME } from './appProtocol';
import { utilitySpawner } from './engineProcess';
import { registerSchemes } from './mediaProtocol';

registerSchemes(APP_SCHEME);
const session = new WorkbenchSession();
session.useEngine(utilitySpawner(fileURLToPath(new URL('./engine.js', import.meta.url))), {
  pythonDir: fileURLToPath(new URL('../../python', import.meta.url)),
});
// Label PNGs decode off the main process's event loop, so a huge label never freezes IPC.
useLabelDecodeWorker(fileURLToPath(new URL('./labelDecoder.js', import.meta.url)));
const desktop = createDesktopApp(session);

function fail(err: unknown): void {
  console.error(`Segscope could not start: ${err instanceof Error ? err.message : String(err)}`);
  app.exit(1);
}

app.on('window-all-closed', () => app.quit());
app.on('web-contents-created', (_event, contents) => {
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
});
// macOS sends `activate` when the dock icon is clicked, possibly while the first start still runs.
app.on('activate', () => void desktop.start().catch(fail));
desktop.start().catch(fail);
