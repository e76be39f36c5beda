/** Shared checks for modules that take per-field embeddings (B, F, D). */
import { ShapeError } from '../errors';
import { f32 } from '../ops/common';
import { Tensor } from '../tensor';

/** Checks that `emb` is a float32 (B, fields, D) tensor; returns [B, D]. */
export function checkFieldEmbeddings(emb: Tensor, fields: number, name = 'emb'): [number, number] {
  f32(emb, name);
  if (emb.ndim !== 3 || emb.shape[1] !== fields) throw new ShapeError(`Expected shape [batch, ${fields}, dim] for ${name} but received [${emb.shape}]`);
  return [emb.shape[0], emb.shape[2]];
}

/** Checks that `x` is a float32 (B, width) tensor. */
export function checkRows(x: Tensor, width: number, name: string, batch?: number): void {
  f32(x, name);
  if (x.ndim !== 2 || x.shape[1] !== width || (batch !== undefined && x.shape[0] !== batch)) {
    throw new ShapeError(`Expected shape [${batch ?? 'batch'}, ${width}] for ${name} but received [${x.shape}]`);
  }
}
