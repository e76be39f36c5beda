/**
 * One-hot rows from integer ids (a sample's domain, scenario or group), built on the host
 * after checking every id, then placed on the device: the masks that route samples of a
 * mixed batch to their domain's parameters.
 */
import { DTypeError, ShapeError } from '../errors';
import { Device } from '../backend';
import { checkTensor, Tensor, tensor } from '../tensor';
import { invalid } from '../validate';

/**
 * ids (B) int32/int64 in [0, count) → (B, count) float32 one-hot on `device`; errors name
 * `name` and call an id `a <kind> id`.
 */
export function oneHot(ids: Tensor, count: number, device: Device, name: string, kind = 'domain'): Tensor {
  checkTensor(ids, name);
  if (ids.dtype !== 'int32' && ids.dtype !== 'int64') throw new DTypeError(`Expected an int32 or int64 tensor for ${name} but received ${ids.dtype}`);
  if (ids.ndim !== 1) throw new ShapeError(`Expected shape [batch] for ${name} but received [${ids.shape}]`);
  const values = ids.toArraySync();
  const batch = ids.shape[0];
  const out = new Float32Array(batch * count);
  for (let b = 0; b < batch; ++b) {
    const d = Number(values[b]);
    if (!(Number.isInteger(d) && d >= 0 && d < count)) throw invalid(`a ${kind} id from 0 to ${count - 1}`, `${name}[${b}]`, d);
    out[b * count + d] = 1;
  }
  return tensor(out, { shape: [batch, count], device });
}
