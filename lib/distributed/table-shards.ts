/**
 * Which rank owns an id, and table exports cut and joined by id: a sharded table's export is
 * its shards' exports joined (one file in the ordinary format, as one process would write it),
 * and importing a file into shard r keeps the ids r owns. So checkpoints load back into any
 * world size, one process included.
 *
 * An export (README, "Embedding tables") is a 64-byte header, then n rows as arrays one after
 * another — id i64, last-seen step i64, last-changed step i64, last-seen time f64, update count
 * i32, lookup count f32, score f32, weights f32·dim, optimizer state f32·state — ascending by id,
 * then a CRC-32 of the rows.
 */
import { crc32 } from '../checkpoint/crc32';
import { FormatError } from '../errors';

const HEADER = 64;

/** fmix32 of MurmurHash3: every input bit reaches every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The rank owning the id whose low and high 32-bit words are lo and hi: hash(id) mod worldSize. */
export function ownerOfWords(lo: number, hi: number, worldSize: number): number {
  return fmix32(fmix32(lo) ^ Math.imul(hi | 0, 0x9e3779b9)) % worldSize;
}

/** The rank owning `id`. */
export function ownerOf(id: bigint, worldSize: number): number {
  const u = BigInt.asUintN(64, id);
  return ownerOfWords(Number(u & 0xffffffffn) | 0, Number(u >> 32n) | 0, worldSize);
}

/** Each id's owner (ids read as pairs of 32-bit words, little-endian). */
export function ownersOf(ids: BigInt64Array, worldSize: number): Int32Array {
  const words = new Int32Array(ids.buffer, ids.byteOffset, ids.length * 2);
  const out = new Int32Array(ids.length);
  for (let i = 0; i < ids.length; ++i) out[i] = ownerOfWords(words[2 * i], words[2 * i + 1], worldSize);
  return out;
}

/**
 * The distinct ids of `ids` in first-seen order, and each id's index among them (an
 * open-addressing set over the ids' 32-bit words: no BigInt arithmetic per id).
 */
export function distinctIds(ids: BigInt64Array): { distinct: BigInt64Array; index: Int32Array } {
  const n = ids.length;
  const words = new Int32Array(ids.buffer, ids.byteOffset, n * 2);
  let cap = 16;
  while (cap < 2 * n) cap *= 2;
  const mask = cap - 1;
  const slots = new Int32Array(cap).fill(-1);
  const first = new Int32Array(n);
  const index = new Int32Array(n);
  let m = 0;
  for (let i = 0; i < n; ++i) {
    const lo = words[2 * i];
    const hi = words[2 * i + 1];
    let h = fmix32(lo ^ Math.imul(hi, 0x9e3779b9)) & mask;
    for (;;) {
      const u = slots[h];
      if (u < 0) {
        slots[h] = m;
        first[m] = i;
        index[i] = m++;
        break;
      }
      const j = first[u];
      if (words[2 * j] === lo && words[2 * j + 1] === hi) {
        index[i] = u;
        break;
      }
      h = (h + 1) & mask;
    }
  }
  const distinct = new BigInt64Array(m);
  for (let u = 0; u < m; ++u) distinct[u] = ids[first[u]];
  return { distinct, index };
}

interface Parsed {
  bytes: Uint8Array;
  view: DataView;
  n: number;
  dim: number;
  state: number;
}

function parse(bytes: Uint8Array, what: string): Parsed {
  if (!(bytes instanceof Uint8Array) || bytes.length < HEADER + 4) throw new FormatError(`${what} is not a table export (too short)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== 'GWEMBTAB') throw new FormatError(`${what} is not a table export (magic '${magic}')`);
  if (crc32(bytes.subarray(0, 60)) !== view.getUint32(60, true)) throw new FormatError(`${what} is corrupt: its header checksum does not match`);
  const dim = view.getUint32(16, true);
  const state = view.getUint32(20, true);
  const n = Number(view.getBigUint64(32, true));
  if (bytes.length !== HEADER + n * rowBytes(dim, state) + 4) throw new FormatError(`${what} is truncated: ${n} rows of dim ${dim} need ${HEADER + n * rowBytes(dim, state) + 4} bytes, it has ${bytes.length}`);
  return { bytes, view, n, dim, state };
}

function rowBytes(dim: number, state: number): number {
  return 8 + 8 + 8 + 8 + 4 + 4 + 4 + 4 * dim + 4 * state;
}

/** The arrays of a row, in file order: [bytes per row in this array]. */
function columns(dim: number, state: number): number[] {
  return [8, 8, 8, 8, 4, 4, 4, 4 * dim, 4 * state];
}

/**
 * One export holding the rows of `parts` (exports of the same dim and optimizer) whose id
 * passes `keep`, ascending by id; the header is the first part's, with the largest step.
 */
export function joinExports(parts: Uint8Array[], keep: (id: bigint) => boolean = () => true): Uint8Array {
  if (parts.length === 0) throw new FormatError('no table exports to join');
  const ps = parts.map((b, i) => parse(b, `table export ${i}`));
  const { dim, state } = ps[0];
  for (const p of ps) if (p.dim !== dim || p.state !== state) throw new FormatError(`table exports of different dims or optimizers (dim ${p.dim} vs ${dim}, state ${p.state} vs ${state})`);
  // (part, row) of every kept row, sorted by id.
  const picks: { id: bigint; part: number; row: number }[] = [];
  ps.forEach((p, part) => {
    for (let row = 0; row < p.n; ++row) {
      const id = p.view.getBigInt64(HEADER + 8 * row, true);
      if (keep(id)) picks.push({ id, part, row });
    }
  });
  picks.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const n = picks.length;
  const out = new Uint8Array(HEADER + n * rowBytes(dim, state) + 4);
  const view = new DataView(out.buffer);
  out.set(ps[0].bytes.subarray(0, HEADER), 0);
  view.setBigUint64(32, BigInt(n), true);
  view.setBigInt64(40, ps.reduce((m, p) => (p.view.getBigInt64(40, true) > m ? p.view.getBigInt64(40, true) : m), ps[0].view.getBigInt64(40, true)), true);
  view.setUint32(60, crc32(out.subarray(0, 60)), true);
  let dst = HEADER;
  const srcStart = ps.map(() => HEADER);
  for (const width of columns(dim, state)) {
    for (const { part, row } of picks) {
      const from = srcStart[part] + row * width;
      out.set(ps[part].bytes.subarray(from, from + width), dst);
      dst += width;
    }
    ps.forEach((p, i) => (srcStart[i] += p.n * width));
  }
  view.setUint32(dst, crc32(out.subarray(HEADER, dst)), true);
  return out;
}
