import { describe, expect, it } from 'vitest';
import { DisposedError, empty, full, ones, ShapeError, tensor, tidy, keep, zeros, memoryStats, Tensor, setBackend } from '../lib';

// These are CPU checks (float64 references, host memory statistics, the CPU table's export);
// they pin the CPU backend so that a machine whose default is CUDA runs them unchanged.
setBackend('cpu');

describe('Tensor creation and transfer', () => {
  it('builds from nested arrays, flat arrays with a shape, and typed arrays', () => {
    const a = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(a.shape).toEqual([2, 3]);
    expect(a.dtype).toBe('float32');
    expect(a.values()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(a.toNested()).toEqual([[1, 2, 3], [4, 5, 6]]);
    const b = tensor([1, 2, 3, 4], { shape: [2, 2] });
    expect(b.shape).toEqual([2, 2]);
    const ids = tensor(new BigInt64Array([1n, 2n ** 40n, -3n]));
    expect(ids.dtype).toBe('int64');
    expect(Array.from(ids.toArraySync() as BigInt64Array)).toEqual([1n, 2n ** 40n, -3n]);
    expect(tensor([7, 8], { dtype: 'int32' }).toArraySync()).toBeInstanceOf(Int32Array);
    expect(tensor(new Uint8Array([1, 0, 1])).dtype).toBe('uint8');
    expect(tensor(3).shape).toEqual([]);
    expect(tensor(3).item()).toBe(3);
  });

  it('reads back asynchronously', async () => {
    const t = tensor([1.5, -2]);
    expect(Array.from((await t.toArray()) as Float32Array)).toEqual([1.5, -2]);
    t.dispose();
    await expect(t.toArray()).rejects.toThrow(DisposedError);
  });

  it('fills: zeros, ones, full, and integer fills', () => {
    expect(zeros([3]).values()).toEqual([0, 0, 0]);
    expect(ones([2]).values()).toEqual([1, 1]);
    expect(full([2], 2.5).values()).toEqual([2.5, 2.5]);
    expect(Array.from(full([2], 7, { dtype: 'int64' }).toArraySync() as BigInt64Array)).toEqual([7n, 7n]);
    expect(empty([0, 4]).size).toBe(0);
  });

  it('reshape and narrow are views sharing storage', () => {
    const base = tensor([[1, 2], [3, 4], [5, 6]]);
    const v = base.reshape(-1);
    expect(v.shape).toEqual([6]);
    expect(v._h.storageId).toBe(base._h.storageId);
    const rows = base.narrow(1, 2);
    expect(rows.toNested()).toEqual([[3, 4], [5, 6]]);
    rows.copyFrom(tensor([[0, 0], [9, 9]]));
    expect(base.toNested()).toEqual([[1, 2], [0, 0], [9, 9]]);
    expect(() => base.reshape(4, 2)).toThrow(ShapeError);
    expect(() => base.reshape(-1, -1)).toThrow('Expected non-negative integer dimensions (one may be -1) for shape');
  });

  it('clone copies; detach shares values but cuts the graph', () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const c = a.clone();
    expect(c._h.storageId).not.toBe(a._h.storageId);
    expect(c.requiresGrad).toBe(true);
    const d = a.detach();
    expect(d.requiresGrad).toBe(false);
    expect(d._h.storageId).toBe(a._h.storageId);
  });

  it('dispose frees at once and later use throws DisposedError', () => {
    const before = memoryStats('cpu').allocated;
    const t = zeros([1024, 1024]);
    expect(memoryStats('cpu').allocated).toBeGreaterThanOrEqual(before + 4 * 1024 * 1024);
    t.dispose();
    t.dispose();
    expect(memoryStats('cpu').allocated).toBeLessThan(before + 4 * 1024 * 1024);
    expect(t.disposed).toBe(true);
    expect(() => t.toArraySync()).toThrow(DisposedError);
    expect(() => t.add(1)).toThrow('Tensor x was disposed');
  });

  it('tidy disposes what the function created, except its result and kept tensors', () => {
    let inner: Tensor | undefined;
    let kept: Tensor | undefined;
    const out = tidy(() => {
      inner = ones([4]);
      kept = keep(ones([2]));
      return inner.mul(3);
    });
    expect(inner!.disposed).toBe(true);
    expect(kept!.disposed).toBe(false);
    expect(out.disposed).toBe(false);
    expect(out.values()).toEqual([3, 3, 3, 3]);
    // nested: the result moves to the enclosing scope
    let escaped: Tensor | undefined;
    tidy(() => {
      escaped = tidy(() => ones([1]));
      expect(escaped.disposed).toBe(false);
    });
    expect(escaped!.disposed).toBe(true);
  });

  it('toString prints small tensors', () => {
    expect(String(tensor([[1, 2]]))).toBe('Tensor([[1,2]], shape=[1,2], dtype=float32, device=cpu)');
  });
});
