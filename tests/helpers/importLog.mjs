// Loaded with `node --import` by tests/e2e/cli.spec.ts: records the URL of every module the process
// resolves into the file $SEGSCOPE_IMPORT_LOG, so that a test can tell what a command loaded.
import { register } from 'node:module';

register('./importLogHooks.mjs', import.meta.url);
