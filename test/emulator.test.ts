/**
 * The binding's CUDA paths on the emulated CUDA device (`npm run test:emu`, which loads the
 * GW_CUDA=EMU addon through GATEWISE_ADDON): the backend reports an emulated `cuda` device,
 * tensors move to and from it through the synchronous and the asynchronous (pinned, event)
 * read paths. The emulator's own rules (barriers, warp masks, launch limits, protected device
 * memory) are pinned down by native/tests/test_emulator.cpp. Skipped, saying why, with any
 * other addon.
 */
import { describe, expect, it } from 'vitest';
import { backend, hasCuda, matmul, tensor } from '../lib';
import { native } from '../lib/native';

const gpuName: string = hasCuda() ? native.backendInfo().deviceName : '';
const emulated = /emulated/i.test(gpuName);
if (!emulated) console.log('emulated-device tests skipped: the loaded addon is not the GW_CUDA=EMU build (npm run test:emu)');

describe.skipIf(!emulated)('the emulated CUDA device', () => {
  it('reports itself as an sm_90 cuda device that is emulated', () => {
    const info = backend();
    expect(gpuName).toMatch(/gatewise emulated CUDA device/);
    expect(info.cudaBuilt).toBe(true);
    expect(info.cudaDeviceCount).toBe(1);
    expect(info.computeCapability).toBe('9.0');
  });

  it('moves tensors both ways, synchronously and through the async read path', async () => {
    const a = tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3], device: 'cuda' });
    const b = tensor([1, 0, 0, 1, 1, 1], { shape: [3, 2], device: 'cuda' });
    const c = matmul(a, b);
    expect(c.device).toBe('cuda');
    expect(Array.from(c.toArraySync() as Float32Array)).toEqual([4, 5, 10, 11]);
    expect(Array.from((await c.toArray()) as Float32Array)).toEqual([4, 5, 10, 11]);
  });

  it('runs the STREAM triad kernel the benches take their bandwidth ceiling from', () => {
    // The one kernel no parity test launches: it only has to run, with CUDA's launch rules.
    const gbs = native.streamTriadGBs('cuda', 1 << 16, 2) as number;
    expect(Number.isFinite(gbs) && gbs > 0).toBe(true);
  });
});
