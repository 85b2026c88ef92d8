// What a GPU fault tells the user (no GPU needed): what happened, what to change, and that `last` is
// intact; and the adapter line the panel, `segscope train` and `segscope doctor` print.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GpuFault, gpuFailureMessage, hasVulkanLoader } from '../../../../src/main/engine/gpu';
import { describeAdapter } from '../../../../src/shared/training';

const at = { batch: 8, inputSize: 512, epoch: 3, step: 17, lastEpoch: 2 };

describe('gpuFailureMessage', () => {
  it('out of memory: names the batch and size and suggests half the batch', () => {
    const m = gpuFailureMessage(new GpuFault('out-of-memory', 'Allocation failed'), at);
    expect(m).toMatch(/^out of GPU memory at batch 8, 512²: try batch 4 \(Allocation failed\)/);
    expect(m).toContain("checkpoint 'last' (epoch 2) is intact, so the run can be resumed");
  });

  it('out of memory at batch 1: suggests a smaller input size instead', () => {
    const m = gpuFailureMessage(new GpuFault('out-of-memory', 'x'), { ...at, batch: 1 });
    expect(m).toMatch(/^out of GPU memory at batch 1, 512²: try input size 256 or a smaller model/);
  });

  it('a lost device says where, why it may happen, and that the run can resume', () => {
    const m = gpuFailureMessage(new GpuFault('lost', 'device was destroyed'), at);
    expect(m).toMatch(/^the GPU device was lost at batch 8, 512² \(device was destroyed\)/);
    expect(m).toContain('the run stopped at epoch 3, step 17');
  });

  it('a binding larger than the adapter allows asks for a smaller batch', () => {
    const detail =
      'Binding size (411041792) of [Buffer] is larger than the maximum storage buffer binding size (134217728).';
    expect(gpuFailureMessage(new GpuFault('validation', detail), at)).toMatch(
      /^a tensor at batch 8, 512² is larger than this GPU lets one buffer binding hold .*: try batch 4/,
    );
  });

  it('another validation error is reported as a bug, with the way around it', () => {
    const m = gpuFailureMessage(new GpuFault('validation', 'Invalid BindGroup'), at);
    expect(m).toMatch(/^a GPU validation error at batch 8, 512² \(Invalid BindGroup\).*try --backend wasm/);
  });
});

describe('adapters', () => {
  it('describes an adapter in one line, marking software ones', () => {
    expect(
      describeAdapter({
        vendor: 'nvidia',
        architecture: 'hopper',
        device: 'NVIDIA H200',
        description: 'NVIDIA 560.35',
        software: false,
        api: 'Vulkan',
      }),
    ).toBe('nvidia hopper, NVIDIA H200, NVIDIA 560.35 (Vulkan)');
    expect(
      describeAdapter({
        vendor: '',
        architecture: '',
        device: 'llvmpipe',
        description: '',
        software: true,
        api: 'OpenGL ES',
      }),
    ).toBe('llvmpipe (OpenGL ES, software)');
  });

  it('finds the Vulkan loader where the dynamic linker would', () => {
    // These machines have Debian's libvulkan1 (Chromium depends on it) or not; either way the answer
    // must match what is on disk.
    const onDisk = [
      '/usr/lib/x86_64-linux-gnu/libvulkan.so.1',
      '/usr/lib64/libvulkan.so.1',
      '/usr/lib/libvulkan.so.1',
    ].some(existsSync);
    if (onDisk) expect(hasVulkanLoader()).toBe(true);
  });
});
