import { describe, expect, it } from 'vitest';
import { backend, hasCuda, memoryStats, setBackend, setNumThreads, NoCudaError } from '../lib';

describe('backend', () => {
  it('reports the backend in use and what the machine offers', () => {
    const b = backend();
    expect(['cpu', 'cuda']).toContain(b.kind);
    expect(typeof b.cudaBuilt).toBe('boolean');
    expect(['avx512', 'avx2', 'scalar']).toContain(b.cpuIsa);
    expect(b.numThreads).toBeGreaterThanOrEqual(1);
    if (b.cudaDeviceCount > 0) {
      expect(b.computeCapability).toMatch(/^\d+\.\d+$/);
      expect(b.totalMemory).toBeGreaterThan(0);
    } else {
      expect(b.kind).toBe('cpu');
      expect(b.cudaUnavailableReason).toBeTruthy();
    }
  });

  it('refuses CUDA with a typed error when there is no GPU', () => {
    if (hasCuda()) return;
    expect(() => setBackend('cuda')).toThrow(NoCudaError);
    expect(backend().kind).toBe('cpu');
  });

  it('validates arguments naming them', () => {
    expect(() => setBackend('tpu' as never)).toThrow("Expected one of 'cpu', 'cuda' for device but received 'tpu' of type string");
    expect(() => setNumThreads(0)).toThrow('Expected an integer from 1 to 256 for n but received 0 of type number');
  });

  it('counts allocations in the allocator', () => {
    const s = memoryStats('cpu');
    expect(s.allocCount).toBeGreaterThanOrEqual(0);
    expect(s.peakAllocated).toBeGreaterThanOrEqual(s.allocated);
  });
});
