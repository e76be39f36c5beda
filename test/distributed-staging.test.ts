/**
 * Host staging of tensors for collectives (native/binding/ops_host_stage.cpp via
 * lib/distributed/staging.ts): a CPU tensor's array is its own storage, kept alive by the
 * array; writing back from another array copies. (CUDA tensors stage through pinned memory:
 * checked where a GPU is present.) No Gloo needed.
 */
import { describe, expect, it } from 'vitest';
import { stageIn } from '../lib/distributed/staging';
import { DisposedError, ShapeError } from '../lib/errors';
import { native } from '../lib/native';
import { hasCuda } from '../lib/backend';
import { tensor, zeros } from '../lib/tensor';

describe('host staging', () => {
  it('a CPU tensor’s array is its storage', () => {
    const t = tensor([1, 2, 3, 4], { shape: [2, 2] });
    const s = stageIn(t, 'data');
    expect(s.array).toBeInstanceOf(Float32Array);
    (s.array as Float32Array)[3] = 40;
    s.writeBack();
    expect(t.values()).toEqual([1, 2, 3, 40]);
    // The array keeps the storage alive after the tensor is disposed.
    t.dispose();
    expect(Array.from(s.array as Float32Array)).toEqual([1, 2, 3, 40]);
  });

  it('int64 and empty tensors; another array is copied in', () => {
    const ids = tensor(BigInt64Array.from([5n, -7n]), { dtype: 'int64' });
    expect(Array.from(stageIn(ids, 'ids').array as BigInt64Array)).toEqual([5n, -7n]);
    native.hostUnstage(ids._live(), BigInt64Array.from([1n, 2n]));
    expect(Array.from(ids.toArraySync() as BigInt64Array)).toEqual([1n, 2n]);
    expect(() => native.hostUnstage(ids._live(), new BigInt64Array(3))).toThrow(ShapeError);
    expect(stageIn(zeros([0]), 'empty').array.length).toBe(0);
    ids.dispose();
    expect(() => stageIn(ids, 'ids')).toThrow(DisposedError);
  });

  it.skipIf(!hasCuda())('a CUDA tensor goes through pinned memory and back', () => {
    const t = tensor([1, 2, 3], { device: 'cuda' });
    const s = stageIn(t, 'data');
    expect(Array.from(s.array as Float32Array)).toEqual([1, 2, 3]);
    (s.array as Float32Array)[0] = 9;
    s.writeBack();
    expect(t.values()).toEqual([9, 2, 3]);
    t.dispose();
  });
});
