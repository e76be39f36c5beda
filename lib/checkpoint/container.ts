/**
 * The checkpoint container, version 1, little-endian:
 *
 * | offset | bytes | field |
 * | --- | --- | --- |
 * | 0 | 4 | magic `GWCK` |
 * | 4 | 4 | format version (u32) = 1 |
 * | 8 | 4 | header length h (u32) |
 * | 12 | 4 | CRC-32 of bytes 0–11 followed by the header |
 * | 16 | h | header: UTF-8 JSON ({@link ContainerHeader}) |
 * | 16 + h | 0–7 | zero padding to a multiple of 8 |
 * | payload start | payloadLength | the entries' bytes, each at its `offset` from the payload start, each with its own CRC-32 |
 *
 * The file ends exactly at the payload's end; anything shorter or longer is rejected.
 */
import { FormatError } from '../errors';
import { crc32 } from './crc32';

export const MAGIC = 'GWCK';
/** The container version this build writes and the newest it reads. */
export const FORMAT_VERSION = 1;
const PREFIX = 16;

/** What an entry holds: a model tensor, an embedding table, or optimizer state. */
export type EntryKind = 'tensor' | 'table' | 'optimizer';
/** Element type of an entry's payload. */
export type EntryDType = 'float32' | 'int32' | 'int64' | 'uint8';

/** One payload entry as listed in the header. */
export interface EntryInfo {
  /** `model.<dotted name>`, `table.<name>` or `optimizer.<name>.<path>`. */
  name: string;
  /** What the entry holds. */
  kind: EntryKind;
  /** Element type of the payload. */
  dtype: EntryDType;
  /** Shape of the tensor (for a table: rows × columns of its serialized form). */
  shape: number[];
  /** Byte offset from the payload start. */
  offset: number;
  /** Bytes. */
  length: number;
  /** CRC-32 of the entry's bytes. */
  crc32: number;
}

/** The JSON header. */
export interface ContainerHeader {
  step: number;
  config: unknown;
  metadata: Record<string, unknown>;
  /** When it was written (ISO 8601). */
  createdAt: string;
  entries: EntryInfo[];
  /** Optimizer states by name, each tensor replaced by `{ "$entry": name }`. */
  optimizers: Record<string, unknown>;
  payloadLength: number;
}

export const BYTES_PER: Record<EntryDType, number> = { float32: 4, int32: 4, int64: 8, uint8: 1 };

const align8 = (n: number) => (n + 7) & ~7;

/** A new entry to write. */
export interface NewEntry {
  name: string;
  kind: EntryKind;
  dtype: EntryDType;
  shape: number[];
  bytes: Uint8Array;
}

/** The chunks of a container holding `entries` (each aligned to 8 bytes). */
export function encodeContainer(head: Omit<ContainerHeader, 'entries' | 'payloadLength'>, entries: readonly NewEntry[]): Uint8Array[] {
  const infos: EntryInfo[] = [];
  const payload: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    infos.push({ name: e.name, kind: e.kind, dtype: e.dtype, shape: e.shape, offset, length: e.bytes.length, crc32: crc32(e.bytes) });
    payload.push(e.bytes);
    const pad = align8(e.bytes.length) - e.bytes.length;
    if (pad) payload.push(new Uint8Array(pad));
    offset += e.bytes.length + pad;
  }
  const header: ContainerHeader = { ...head, entries: infos, payloadLength: offset };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = new Uint8Array(PREFIX);
  const view = new DataView(prefix.buffer);
  prefix.set(Buffer.from(MAGIC, 'latin1'), 0);
  view.setUint32(4, FORMAT_VERSION, true);
  view.setUint32(8, json.length, true);
  view.setUint32(12, crc32(json, crc32(prefix.subarray(0, 12))), true);
  const pad = align8(PREFIX + json.length) - (PREFIX + json.length);
  return [prefix, json, new Uint8Array(pad), ...payload];
}

/** A container read from bytes: its header checked, its entries checked when read. */
export class Container {
  readonly version: number;
  readonly header: ContainerHeader;
  private readonly payloadStart: number;
  private readonly byName = new Map<string, EntryInfo>();

  /** Checks magic, version, header CRC, header fields and the total length; `source` names the file in errors. */
  constructor(
    private readonly bytes: Uint8Array,
    private readonly source: string,
  ) {
    const fail = (what: string) => new FormatError(`${source} is not a valid gatewise checkpoint: ${what}`);
    if (bytes.length < PREFIX) throw fail(`it has ${bytes.length} bytes, fewer than the ${PREFIX}-byte prefix (truncated?)`);
    const magic = Buffer.from(bytes.subarray(0, 4)).toString('latin1');
    if (magic !== MAGIC) throw fail(`Expected magic '${MAGIC}' but received ${JSON.stringify(magic)}`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.version = view.getUint32(4, true);
    if (this.version > FORMAT_VERSION) {
      throw new FormatError(`${source} has checkpoint format version ${this.version}, newer than this build of gatewise reads (version ${FORMAT_VERSION}): upgrade gatewise to load it`);
    }
    if (this.version < 1) throw fail(`unknown format version ${this.version}`);
    const hlen = view.getUint32(8, true);
    if (PREFIX + hlen > bytes.length) throw fail(`the header needs ${hlen} bytes but the file ends after ${bytes.length - PREFIX} (truncated)`);
    const json = bytes.subarray(PREFIX, PREFIX + hlen);
    const stored = view.getUint32(12, true);
    const computed = crc32(json, crc32(bytes.subarray(0, 12)));
    if (stored !== computed) throw fail(`CRC-32 mismatch in the header (stored ${hex(stored)}, computed ${hex(computed)}): the file is corrupt`);
    let header: ContainerHeader;
    try {
      header = JSON.parse(Buffer.from(json).toString('utf8')) as ContainerHeader;
    } catch (e) {
      throw fail(`the header is not JSON (${(e as Error).message})`);
    }
    if (!header || typeof header !== 'object' || !Array.isArray(header.entries) || !Number.isSafeInteger(header.payloadLength) || !Number.isSafeInteger(header.step)) {
      throw fail('the header lacks entries, payloadLength or step');
    }
    this.header = header;
    this.payloadStart = align8(PREFIX + hlen);
    const expected = this.payloadStart + header.payloadLength;
    if (bytes.length < expected) throw fail(`Expected ${expected} bytes but the file has ${bytes.length} (truncated)`);
    if (bytes.length > expected) throw fail(`Expected ${expected} bytes but the file has ${bytes.length} (trailing data)`);
    for (const e of header.entries) {
      const ok =
        e && typeof e.name === 'string' && ['tensor', 'table', 'optimizer'].includes(e.kind) && e.dtype in BYTES_PER && Array.isArray(e.shape) &&
        e.shape.every((d) => Number.isSafeInteger(d) && d >= 0) && Number.isSafeInteger(e.offset) && Number.isSafeInteger(e.length) &&
        e.offset >= 0 && e.length >= 0 && e.offset + e.length <= header.payloadLength && typeof e.crc32 === 'number';
      if (!ok) throw fail(`malformed header entry ${JSON.stringify(e?.name ?? e)}`);
      if (this.byName.has(e.name)) throw fail(`duplicate entry '${e.name}'`);
      if (e.kind !== 'table' && e.length !== e.shape.reduce((a, b) => a * b, 1) * BYTES_PER[e.dtype]) {
        throw fail(`entry '${e.name}' has ${e.length} bytes but shape [${e.shape}] of ${e.dtype} needs ${e.shape.reduce((a, b) => a * b, 1) * BYTES_PER[e.dtype]}`);
      }
      this.byName.set(e.name, e);
    }
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  info(name: string): EntryInfo {
    const e = this.byName.get(name);
    if (!e) throw new FormatError(`${this.source} has no entry '${name}'`);
    return e;
  }

  /** An entry's bytes (a copy, 8-byte aligned), after checking its CRC. */
  read(name: string): Uint8Array {
    const e = this.info(name);
    const start = this.payloadStart + e.offset;
    const data = Uint8Array.prototype.slice.call(this.bytes, start, start + e.length); // a copy even for a Buffer
    const computed = crc32(data);
    if (computed !== e.crc32) {
      throw new FormatError(`${this.source} is corrupt: CRC-32 mismatch in entry '${name}' (stored ${hex(e.crc32)}, computed ${hex(computed)})`);
    }
    return data;
  }

  /** Checks every entry's CRC. */
  verifyAll(): void {
    for (const name of this.byName.keys()) this.read(name);
  }
}

function hex(n: number): string {
  return '0x' + n.toString(16).padStart(8, '0');
}
