// The desktop app's main process: one secure window, the contract over IPC, images over a protocol.
import { app, BrowserWindow, dialog } from 'electron';
import { parseArgs } from 'node:util';
import { createHandlers } from '../services/handlers';
import { WorkbenchSession } from '../services/session';
import { serveIpc } from './ipc';
import { handleMediaProtocol, mediaUrl, registerMediaScheme } from './mediaProtocol';
import { createMainWindow } from './window';
import { utilitySpawner } from './engineProcess';
import { fileURLToPath } from 'node:url';

registerMediaScheme();
const session = new WorkbenchSession();
session.useEngine(utilitySpawner(fileURLToPath(new URL('./engine.js', import.meta.url))));

function datasetArg(): string | undefined {
  const { values } = parseArgs({
    args: process.argv.slice(1),
    options: { dataset: { type: 'string' } },
    strict: false,
  });
  return typeof values.dataset === 'string' ? values.dataset : undefined;
}

async function start(): Promise<void> {
  await app.whenReady();
  handleMediaProtocol(session);
  const dataset = datasetArg();
  if (dataset)
    await session
      .open(dataset)
      .catch((err: Error) => dialog.showErrorBox('Cannot open dataset', err.message));
  const win = createMainWindow();
  const handlers = createHandlers(session, {
    transport: 'electron',
    electronVersion: process.versions.electron ?? null,
    mediaUrl,
    pickFolder: async () => {
      const result = await dialog.showOpenDialog(win, {
        title: 'Open a VOC dataset folder',
        properties: ['openDirectory'],
      });
      return result.canceled ? null : (result.filePaths[0] ?? null);
    },
  });
  const stop = serveIpc(handlers, session, win.webContents);
  win.on('closed', stop);
}

app.on('window-all-closed', () => app.quit());
app.on('web-contents-created', (_event, contents) => {
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
});
app.on('activate', () => {
  if (BrowserWindow.getAllWindows().length === 0) void start();
});
void start();
