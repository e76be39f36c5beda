/**
 * Dense weights as safetensors (https://github.com/huggingface/safetensors), so PyTorch users can
 * read them with `safetensors.torch.load_file`: an 8-byte little-endian header length, a JSON
 * header `{"<name>": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
 * "__metadata__": {"<key>": "<string>"}}` padded with spaces to a multiple of 8 bytes, then the
 * tensors' little-endian bytes, contiguous, in name order. Embedding tables are not included:
 * their rows go through `EmbeddingTable.export()` (or a checkpoint).
 */
import * as fs from 'node:fs';
import { FormatError } from '../errors';
import { Module } from '../nn/module';
import { DType } from '../tensor';
import { checkKnownKeys, checkOptions, invalid } from '../validate';
import { writeFileAtomic } from './atomic-write';

const TO_ST: Record<DType, string> = { float32: 'F32', int32: 'I32', int64: 'I64', uint8: 'U8' };
const FROM_ST: Record<string, DType> = { F32: 'float32', I32: 'int32', I64: 'int64', U8: 'uint8' };
const BYTES: Record<string, number> = { F32: 4, I32: 4, I64: 8, U8: 1 };

/** Options of {@link exportSafetensors}. */
export interface ExportSafetensorsOptions {
  /** String key/value pairs stored as `__metadata__` (default none; non-string values are JSON-encoded). */
  metadata?: Record<string, unknown>;
}

/** One tensor read from a safetensors file. */
export interface SafetensorsTensor {
  /** The safetensors dtype: 'F32', 'I32', 'I64' or 'U8'. */
  dtype: string;
  /** The tensor's shape. */
  shape: number[];
  /** The values, row-major, in the typed array of the dtype. */
  data: Float32Array | Int32Array | BigInt64Array | Uint8Array;
}

/**
 * Writes `model`'s parameters and buffers (by their dotted `stateDict()` names) to `file` as
 * safetensors, atomically.
 */
export function exportSafetensors(model: Module, file: string, options: ExportSafetensorsOptions = {}): void {
  if (!(model instanceof Module)) throw invalid('a Module', 'model', model);
  if (typeof file !== 'string' || file.length === 0) throw invalid('a file path', 'file', file);
  const o = checkOptions(options, 'options');
  checkKnownKeys(o, 'options', ['metadata']);
  const header: Record<string, unknown> = {};
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const state = model.stateDict();
  for (const name of Object.keys(state).sort()) {
    const t = state[name];
    const a = t.toArraySync();
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    header[name] = { dtype: TO_ST[t.dtype], shape: t.shape.slice(), data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  if (o.metadata !== undefined) {
    if (o.metadata === null || typeof o.metadata !== 'object' || Array.isArray(o.metadata)) throw invalid('an object of strings', 'options.metadata', o.metadata);
    header.__metadata__ = Object.fromEntries(Object.entries(o.metadata).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  }
  let json = JSON.stringify(header);
  const size = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - (size % 8)) % 8);
  const head = Buffer.from(json, 'utf8');
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(head.length), true);
  writeFileAtomic(file, [len, head, ...chunks]);
}

/** Reads a safetensors file (F32, I32, I64, U8 tensors), checking its layout. */
export function readSafetensors(file: string): Record<string, SafetensorsTensor> {
  const bytes = fs.readFileSync(file);
  const fail = (what: string) => new FormatError(`${file} is not a valid safetensors file: ${what}`);
  if (bytes.length < 8) throw fail('shorter than the 8-byte header length');
  const n = Number(bytes.readBigUInt64LE(0));
  if (8 + n > bytes.length) throw fail(`the header needs ${n} bytes but the file has ${bytes.length - 8} after the length (truncated)`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  } catch (e) {
    throw fail(`the header is not JSON (${(e as Error).message})`);
  }
  const dataStart = 8 + n;
  const out: Record<string, SafetensorsTensor> = {};
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (!e || !(e.dtype in BYTES) || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets)) throw fail(`malformed entry '${name}'`);
    const [b, end] = e.data_offsets;
    const need = e.shape.reduce((x, y) => x * y, 1) * BYTES[e.dtype];
    if (!Number.isSafeInteger(b) || !Number.isSafeInteger(end) || end - b !== need || b < 0 || dataStart + end > bytes.length) {
      throw fail(`entry '${name}' has data_offsets [${b}, ${end}] for ${need} bytes in ${bytes.length - dataStart} bytes of data`);
    }
    const copy = Uint8Array.prototype.slice.call(bytes, dataStart + b, dataStart + end);
    const Typed = { float32: Float32Array, int32: Int32Array, int64: BigInt64Array, uint8: Uint8Array }[FROM_ST[e.dtype]];
    out[name] = { dtype: e.dtype, shape: e.shape, data: new Typed(copy.buffer, 0, need / BYTES[e.dtype]) };
  }
  return out;
}

/** The `__metadata__` of a safetensors file (empty when none). */
export function readSafetensorsMetadata(file: string): Record<string, string> {
  const bytes = fs.readFileSync(file);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as { __metadata__?: Record<string, string> };
  return header.__metadata__ ?? {};
}
