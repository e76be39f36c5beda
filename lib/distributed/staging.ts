/**
 * Tensors in and out of the host arrays the Gloo backend moves. With the main addon's staging
 * functions (native/binding/ops_host_stage.cpp), a CPU tensor's array is its own storage — an
 * in-place collective writes the tensor directly — and a CUDA tensor is copied into pinned
 * host memory in stream order (the kernels queued before the collective have run), then
 * written back with a host-to-device copy, as PyTorch's Gloo backend stages CUDA tensors.
 * An older addon without them: the values are copied out and back.
 */
import { DisposedError } from '../errors';
import { native } from '../native';
import { Tensor, tensor } from '../tensor';
import type { HostArray } from './gloo';

export interface Staged {
  array: HostArray;
  /** Puts the array's values back into the tensor (in-place collectives). */
  writeBack(): void;
}

export function stageIn(t: Tensor, name: string): Staged {
  if (t.disposed) throw new DisposedError(`${name} was disposed`);
  if (typeof native.hostStage === 'function') {
    const array = native.hostStage(t._live(name)) as HostArray;
    return { array, writeBack: () => native.hostUnstage(t._live(name), array) };
  }
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
