/**
 * Tensors in and out of the host arrays the Gloo backend moves: a tensor's values are copied
 * into a typed array before the collective and, for in-place collectives, copied back after
 * it. CUDA tensors are read back in stream order (the kernels queued before the collective
 * have run) and written back with a host-to-device copy.
 */
import { DisposedError } from '../errors';
import { Tensor, tensor } from '../tensor';
import type { HostArray } from './gloo';

export interface Staged {
  array: HostArray;
  /** Puts the array's values back into the tensor (in-place collectives). */
  writeBack(): void;
}

export function stageIn(t: Tensor, name: string): Staged {
  if (t.disposed) throw new DisposedError(`${name} was disposed`);
  const array = t.toArraySync() as HostArray;
  return {
    array,
    writeBack: () => {
      const tmp = tensor(array, { shape: t.shape, dtype: t.dtype, device: t.device });
      try {
        t.copyFrom(tmp);
      } finally {
        tmp.dispose();
      }
    },
  };
}
