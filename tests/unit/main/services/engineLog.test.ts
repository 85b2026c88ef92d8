// The engine's stderr, sorted: the GPU binding's start-up messages (as Dawn prints them here) go to the
// log file with their continuation lines, and every other line reaches the terminal unchanged.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { engineLogPath, routeEngineStderr } from '../../../../src/main/services/engineLog';
import { tempDir } from '../../../helpers/data';

const DAWN = `error: XDG_RUNTIME_DIR is invalid or not set in the environment.
error: XDG_RUNTIME_DIR is invalid or not set in the environment.
Warning: Vulkan shaderUniform*ArrayDynamicIndexing required.
 - While initializing adapter (backend=BackendType::Vulkan)
    at InitializeImpl (/home/runner/work/node-webgpu/node-webgpu/third_party/dawn/src/dawn/native/vulkan/PhysicalDeviceVk.cpp:257)

Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 90 to 16 to fit dynamic offset allocation limit.
`;

describe('routeEngineStderr', () => {
  it("logs the binding's messages and passes every other line through", async () => {
    const log = join(tempDir(), 'logs', 'engine.log');
    const stderr = new PassThrough();
    const out: string[] = [];
    routeEngineStderr(stderr, { write: (t: string) => out.push(t) }, log);
    stderr.end(`${DAWN}segscope engine: out of memory\n    at train (engine.js:1)\n`);
    await new Promise((r) => setTimeout(r, 50));
    expect(out.join('')).toBe('segscope engine: out of memory\n    at train (engine.js:1)\n');
    const logged = readFileSync(log, 'utf8');
    expect(logged.match(/XDG_RUNTIME_DIR/g)).toHaveLength(2);
    expect(logged).toContain('PhysicalDeviceVk.cpp:257');
    expect(logged).toContain('maxDynamicUniformBuffersPerPipelineLayout');
  });

  it('puts the log in $SEGSCOPE_LOG_DIR, else under XDG_STATE_HOME on Linux', () => {
    expect(engineLogPath({ SEGSCOPE_LOG_DIR: '/x' })).toBe('/x/engine.log');
    if (process.platform === 'linux')
      expect(engineLogPath({ XDG_STATE_HOME: '/s' })).toBe('/s/segscope/engine.log');
  });
});
