/**
 * EmbeddingTable + SparseOptimizer on the current backend, on a power-law (Zipf) id stream:
 *   find              eval-mode lookup on a pre-filled table, every id present
 *   insert            train-mode lookup of fresh ids (every id misses; at load factor 1.0 each
 *                     insert evicts a row), the table's step advancing after each batch
 *   bag-sum           eval-mode pooled lookup, 8–16 ids per bag, sum
 *   backward+adagrad  train-mode lookup, backward with a gradient tensor, opt.step() (AdaGrad)
 * at dims 8, 32, 64, 128 and load factors 0.5 and 1.0. Cases are named "<op> d<dim> lf<λ>"
 * (e.g. `npm run bench -- "find d32"`, `npm run bench -- d128`).
 *
 * Rates: keys/s (keys in the batch, duplicates included) and GB/s against the measured
 * STREAM triad bandwidth. Bytes counted per batch of n keys of which u are distinct, d = dim,
 * 4-byte floats; an index probe is 12 B (slot_key 8 + slot_row 4, one probe per distinct key,
 * as the table deduplicates before probing):
 *   find              n·(8 key + 4d row read + 4d out written) + u·12 probe
 *   insert            n·(8 key + 4d row read + 4d out written)
 *                     + u·(12 probe + 12 slot written + 4d row + 4d AdaGrad state initialized)
 *   bag-sum           n·(8 key + 4d row read) + bags·(8 offset + 4d out written) + u·12 probe
 *   backward+adagrad  find's bytes + n·4d gradient read + u·16d (row and AdaGrad state, each
 *                     read and written once)
 * Not counted: the sort that deduplicates keys, per-row metadata (row key, last step, counts),
 * victim selection and tombstones when the table is full, the per-row gradient sum in between.
 * Rows are counted per key as the gather reads them, though repeated hot ids hit in cache.
 *
 * Beside each case: NVIDIA HierarchicalKV's published figure for the comparable operation
 * (HKV below; a pooled lookup compares with find, a backward+update with assign).
 */
import { defaultDevice, EmbeddingTable, init, Rng, SparseOptimizer, Tensor, tensor, tidy } from './lib-internal';
import { memoryBandwidth } from './ceilings';
import { defaultOptions, report, Result, time } from './harness';

const DIMS = [8, 32, 64, 128];
const LOAD_FACTORS = [0.5, 1.0];
const ZIPF_EXPONENT = 1.05;
const BAG_MIN = 8;
const BAG_MAX = 16;

/**
 * NVIDIA HierarchicalKV's published throughput in billion key-value pairs per second, from the
 * "Benchmark & Performance" tables of its README (NVIDIA-Merlin/HierarchicalKV, the version with
 * the `contains` column): 1 × NVIDIA A100 80GB PCIe, uint64 keys, float32 × dim values,
 * 1,048,576 keys per operation, LRU eviction, pure-HBM mode, capacity 128 M keys (dim 8, 32)
 * or 64 M keys (dim 64). The README publishes no dim-128 row. The HKV paper (Rong et al.,
 * arXiv 2603.17168, abstract) reports up to 3.9 B-KV/s find on one NVIDIA H100 NVL, stable
 * within 5% across load factors 0.50–1.00 (the abstract names no dim).
 */
type HkvOp = 'find' | 'find_or_insert' | 'assign' | 'insert_or_assign';
const HKV_A100: Record<number, Record<number, Record<HkvOp, number>>> = {
  8: {
    0.5: { insert_or_assign: 1.093, find: 2.47, find_or_insert: 1.478, assign: 1.77 },
    1.0: { insert_or_assign: 0.655, find: 2.481, find_or_insert: 0.612, assign: 1.815 },
  },
  32: {
    0.5: { insert_or_assign: 0.961, find: 2.272, find_or_insert: 1.278, assign: 1.706 },
    1.0: { insert_or_assign: 0.646, find: 2.321, find_or_insert: 0.572, assign: 1.783 },
  },
  64: {
    0.5: { insert_or_assign: 0.834, find: 1.982, find_or_insert: 1.113, assign: 1.499 },
    1.0: { insert_or_assign: 0.621, find: 2.021, find_or_insert: 0.608, assign: 1.541 },
  },
};
const HKV_H100_NVL_FIND_MAX = 3.9;

function hkvNote(op: HkvOp, dim: number, lf: number): string {
  const v = HKV_A100[dim]?.[lf]?.[op];
  return v === undefined ? `HKV ${op}: no published d${dim} figure` : `HKV A100 ${op} ${v.toFixed(2)} Gkeys/s`;
}

/** A batch of ids on the table's device, with how many of them are distinct. */
interface Batch {
  ids: Tensor;
  unique: number;
}

/**
 * The id generator: a seeded power-law stream over a finite universe of `universe` ids. Rank r
 * (0 the hottest) is drawn with P(r) ∝ (r + 1)^−s by inverting the CDF of the continuous density
 * x^−s on [1, universe + 1); rank r becomes an int64 id by a bijective scramble spread over the
 * whole int64 range, negatives included. A salt picks a disjoint set of ids for the same ranks
 * (salt 0: the ids resident in the table; 1, 2, …: fresh ids that miss).
 */
class IdStream {
  private readonly rng: Rng;
  private resident?: BigInt64Array;

  constructor(readonly universe: number, seed: number, readonly exponent = ZIPF_EXPONENT) {
    this.rng = new Rng(seed);
  }

  /** Every id of the universe (salt 0), in rank order. */
  all(): BigInt64Array {
    if (!this.resident) {
      const ranks = new Uint32Array(this.universe);
      for (let r = 0; r < ranks.length; ++r) ranks[r] = r;
      this.resident = IdStream.scramble(ranks, 0);
    }
    return this.resident;
  }

  /** n power-law ids under `salt`, as an int64 tensor on the current device. */
  batch(n: number, salt: number): Batch {
    const a = (this.universe + 1) ** (1 - this.exponent) - 1;
    const ranks = new Uint32Array(n);
    const seen = new Uint8Array(this.universe);
    let unique = 0;
    for (let i = 0; i < n; ++i) {
      const x = (1 + this.rng.uniform() * a) ** (1 / (1 - this.exponent));
      const r = Math.min(this.universe - 1, Math.floor(x) - 1);
      ranks[i] = r;
      if (!seen[r]) {
        seen[r] = 1;
        ++unique;
      }
    }
    return { ids: tensor(IdStream.scramble(ranks, salt), { dtype: 'int64' }), unique };
  }

  /** Low word: a bijection of the rank; high word: a bijection of rank ^ f(salt), f injective. */
  static scramble(ranks: Uint32Array, salt: number): BigInt64Array {
    const out = new BigInt64Array(ranks.length);
    const words = new Uint32Array(out.buffer); // little-endian: [lo, hi] per id
    const s = Math.imul(salt, 0x9e3779b9);
    for (let i = 0; i < ranks.length; ++i) {
      words[2 * i] = mix32(ranks[i]);
      words[2 * i + 1] = mix32(((ranks[i] ^ s) + 0x632be5ab) >>> 0);
    }
    return out;
  }
}

/** A bijective 32-bit integer hash (xor-shift / odd-multiply rounds). */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** A table holding every id of the stream's universe (load factor universe / capacity). */
function filledTable(dim: number, capacity: number, batch: number, stream: IdStream): EmbeddingTable {
  const table = new EmbeddingTable({ dim, capacity, policy: 'lru', seed: 1, optimizer: { kind: 'adagrad', lr: 0.05 } });
  const all = stream.all();
  table.train();
  for (let i = 0; i < all.length; i += batch) {
    tidy(() => void table.lookup(all.slice(i, i + batch)));
    table.advance(); // rows seen at the current step are never evicted
  }
  if (table.size !== all.length) throw new Error(`embedding bench: filled ${table.size} rows of ${all.length}`);
  return table;
}

/** Bag starts (PyTorch convention) covering n positions, bags of BAG_MIN..BAG_MAX ids. */
function bagOffsets(n: number, rng: Rng): Int32Array {
  const starts: number[] = [];
  for (let p = 0; p < n; p += BAG_MIN + rng.int(BAG_MAX - BAG_MIN + 1)) starts.push(p);
  return Int32Array.from(starts);
}

type Op = 'find' | 'bag-sum' | 'backward+adagrad' | 'insert';
/** In this order: insert last, as it changes what the table holds. */
const OPS: Op[] = ['find', 'bag-sum', 'backward+adagrad', 'insert'];
const HKV_OP: Record<Op, HkvOp> = { find: 'find', 'bag-sum': 'find', 'backward+adagrad': 'assign', insert: 'find_or_insert' };

export function run(filter: (name: string) => boolean): Result[] {
  const results: Result[] = [];
  const onCuda = defaultDevice() === 'cuda';
  const capacity = onCuda ? 1 << 24 : 1 << 20;
  const n = onCuda ? 1 << 20 : 1 << 16; // keys per batch
  const pool = 4; // batches cycled through by the repeatable ops
  const freshPool = 8; // insert: one fresh batch per timed repetition (+1 warm-up)
  const bw = memoryBandwidth();
  const caseName = (op: Op, dim: number, lf: number) => `${op} d${dim} lf${lf.toFixed(1)}`;
  if (!DIMS.some((d) => LOAD_FACTORS.some((lf) => OPS.some((op) => filter(caseName(op, d, lf)))))) return results;
  console.log(`embedding: capacity ${capacity}, ${n} keys per batch, Zipf s=${ZIPF_EXPONENT}; HKV reference: A100 80GB PCIe (README), H100 NVL find up to ${HKV_H100_NVL_FIND_MAX} Gkeys/s (paper)`);
  const offsets = bagOffsets(n, new Rng(5));

  for (const lf of LOAD_FACTORS) {
    const stream = new IdStream(Math.round(lf * capacity), 7);
    const hot = Array.from({ length: pool }, () => stream.batch(n, 0));
    const fresh = Array.from({ length: freshPool }, (_, i) => stream.batch(n, i + 1));
    const mean = (bs: Batch[]) => bs.reduce((s, b) => s + b.unique, 0) / bs.length;
    for (const dim of DIMS) {
      const ops = OPS.filter((op) => filter(caseName(op, dim, lf)));
      if (ops.length === 0) continue;
      const table = filledTable(dim, capacity, n, stream);
      const opt = new SparseOptimizer([table]);
      const grad = init.uniform([n, dim], -1, 1, { rng: new Rng(dim), requiresGrad: false });
      for (const op of ops) {
        let k = 0;
        const next = () => hot[k++ % pool].ids;
        let u = mean(hot);
        let bytes: number;
        let ms: number;
        const lfStart = table.loadFactor;
        switch (op) {
          case 'find':
            table.eval();
            ms = time(() => tidy(() => void table.lookup(next())));
            bytes = n * (8 + 8 * dim) + u * 12;
            break;
          case 'bag-sum':
            table.eval();
            ms = time(() => tidy(() => void table.lookupBag(next(), offsets, { mode: 'sum' })));
            bytes = n * (8 + 4 * dim) + offsets.length * (8 + 4 * dim) + u * 12;
            break;
          case 'backward+adagrad':
            table.train();
            ms = time(() =>
              tidy(() => {
                table.lookup(next()).backward(grad);
                opt.step();
                opt.zeroGrad();
              }),
            );
            bytes = n * (8 + 12 * dim) + u * (12 + 16 * dim);
            break;
          case 'insert':
            table.train();
            u = mean(fresh);
            ms = time(
              () => {
                tidy(() => void table.lookup(fresh[k++].ids));
                table.advance();
              },
              { minTimeMs: defaultOptions.minTimeMs, maxReps: freshPool - 1 },
            );
            bytes = n * (8 + 8 * dim) + u * (24 + 8 * dim);
            break;
        }
        const config: Record<string, unknown> = { n, uniq: (u / n).toFixed(2) };
        if (op === 'insert') config.lf = `${lfStart.toFixed(2)}→${table.loadFactor.toFixed(2)}`;
        if (op === 'bag-sum') config.bags = offsets.length;
        results.push(
          report({
            bench: 'embedding',
            case: caseName(op, dim, lf),
            config,
            medianMs: ms,
            rate: bytes / (ms * 1e6),
            unit: 'GB/s',
            ceiling: bw,
            ceilingSource: 'measured STREAM triad',
            keysPerSec: n / (ms / 1e3),
            note: hkvNote(HKV_OP[op], dim, lf),
          }),
        );
      }
      grad.dispose();
      table.dispose();
    }
    for (const b of [...hot, ...fresh]) b.ids.dispose();
  }
  return results;
}
