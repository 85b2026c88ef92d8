// The desktop transport: ipcMain serves the handlers, webContents.send carries the events.
// Electron main process.
import { ipcMain, type WebContents } from 'electron';
import { METHODS, type Handlers } from '../../shared/api';
import { dispatch } from '../services/dispatch';
import type { WorkbenchSession } from '../services/session';

/** Serves every contract method to `contents` only; calls from any other frame are refused. */
export function serveIpc(handlers: Handlers, session: WorkbenchSession, contents: WebContents): () => void {
  for (const method of METHODS) {
    ipcMain.handle(method, (event, payload: unknown) => {
      if (event.sender !== contents || event.senderFrame !== contents.mainFrame) {
        return { ok: false, error: { code: 'bad-request', message: 'call from an unknown frame' } };
      }
      return dispatch(handlers, method, payload);
    });
  }
  const removeSink = session.addEventSink((name, payload) => {
    if (!contents.isDestroyed()) contents.send(name, payload);
  });
  return () => {
    removeSink();
    for (const method of METHODS) ipcMain.removeHandler(method);
  };
}
