/** Helpers shared by the op wrappers: argument checks and broadcasting rules. */
import { DeviceError, ShapeError } from '../errors';
import { checkTensor, Tensor } from '../tensor';
import { invalid } from '../validate';

/** A live float32 tensor, named in errors. */
export function f32(value: unknown, name: string): Tensor {
  return checkTensor(value, name, 'float32');
}

/** All tensors on one device; names the first that is not. */
export function sameDevice(tensors: [Tensor | null | undefined, string][]): void {
  const first = tensors.find(([t]) => t)!;
  for (const [t, name] of tensors) {
    if (t && t.device !== first[0]!.device) {
      throw new DeviceError(`${name} is on ${t.device} but ${first[1]} is on ${first[0]!.device}`);
    }
  }
}

/** NumPy broadcasting of two shapes. */
export function broadcastShapes(a: readonly number[], b: readonly number[], nameA = 'a', nameB = 'b'): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; ++i) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`shapes [${a}] of ${nameA} and [${b}] of ${nameB} cannot be broadcast together`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Resolves a possibly negative axis against a rank. */
export function normAxis(axis: unknown, ndim: number, name = 'axis'): number {
  if (typeof axis !== 'number' || !Number.isInteger(axis) || axis < -ndim || axis >= Math.max(ndim, 1)) {
    throw invalid(`an integer axis in [${-ndim}, ${ndim - 1}]`, name, axis);
  }
  return axis < 0 ? axis + ndim : axis;
}
