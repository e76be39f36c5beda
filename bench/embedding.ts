/**
 * EmbeddingTable + SparseOptimizer on the current backend: cost per batch against capacity,
 * and the bucketed table's hit rate against the exact policy. Policy lru, AdaGrad,
 * dim 8 (DIMS), at capacities 2^16, 2^20, 2^24 and 2^26 (2^26 only where the table's estimated
 * bytes, capacity·(4·dim + 4·stateWidth + 45), stay under 40% of the machine's memory). Batches
 * of n = 65,536 ids on the CPU, 1,048,576 on CUDA (at most the capacity):
 *   find c2^K         eval-mode lookup of ids all present (a Zipf batch over the ids the table
 *                     was filled with; the few the table no longer holds replaced by present ids)
 *   bag c2^K          eval-mode pooled lookup (sum) of the same batches in bags of 8–16 ids
 *   train c2^K        train-mode lookup of the same batches + backward with a gradient tensor +
 *                     opt.step() (AdaGrad; the step advances); every id present
 *   insert c2^K       train-mode lookup of n distinct FRESH ids (none present) into the full
 *                     table, so every insert evicts; the step advancing after each batch
 * Cases are named "<op> c2^K d<dim>" (e.g. `npm run bench -- "insert c2^24"`, `-- c2^20`).
 *
 * Filling: the table is filled by train-mode lookups of 2·capacity distinct ids, coldest Zipf
 * rank first, in batches of min(n, capacity/8) with the step advancing after each; a bucketed
 * table evicts before it is 100% full (a bucket full while others have room), and twice the
 * capacity in ids leaves almost no bucket with a free row, so an insert evicts; the load
 * factor reached is printed in the config column (lf=), and the share of inserts that evicted
 * (evict=). Rows are counted as they are.
 *
 * Rates: keys/s (keys in the batch, duplicates included) and GB/s against the measured STREAM
 * triad bandwidth. Bytes counted per batch of n keys of which u are distinct, d = dim, 4-byte
 * floats, in the bucketed layout: an index probe (one per distinct key, as the table
 * deduplicates first) reads the bucket's 32-byte digest block and an 8-byte id from a row's
 * 32-byte metadata record (40 B); an evicting insert also reads the bucket's 32 digests and 32
 * eviction values (8 B each: 288 B) and writes a metadata record (32 B), the row and its
 * AdaGrad state (4d each):
 *   find              n·(8 key + 4d row read + 4d out written) + u·40 probe
 *   train             find's bytes + n·4d gradient read + u·16d (row and AdaGrad state, each
 *                     read and written once)
 *   insert            n·(8 key + 4d row read + 4d out written) + u·(40 probe + 288 bucket scan
 *                     + 32 record + 4d row + 4d state written)
 * Not counted: the sort that deduplicates keys, the metadata touched by a hit (last step,
 * frequency, score), the per-row gradient sum. Rows are counted per key as the gather reads
 * them, though repeated hot ids hit in cache.
 *
 * Hit rate ("hitrate lru c2^16", "hitrate lfu c2^16", and at 2^20): one seeded Zipf(1.05)
 * stream over a universe of 10·capacity ids, in batches of 4,096 ids (on every device, so
 * that the rates compare), HITRATE_IDS_PER_ROW·capacity ids in all (at most HITRATE_MAX_IDS),
 * fed to (a) the table (train-mode lookups, the step advancing after each batch; default
 * bucketSize) and (b) the exact global policy of bench/exact-cache.ts (one bucket). Each hit
 * rate is measured after a warm-up of the first third of the stream: the table's as the rise
 * of stats().hits over the ids fed. The config column shows both rates and their difference
 * in percentage points; the target is |diff| ≤ 1 pp. Time is the table's mean per batch (its lookups only).
 *
 * Memory: for each table filled, a line with stats().bytesPerRow and stats().memoryBytes.
 *
 * GATEWISE_BENCH_BUCKET_SIZE=S passes bucketSize S to every table.
 *
 * Beside each case: NVIDIA HierarchicalKV's published figure for the comparable operation at
 * load factor 1.0 (HKV below; an evicting insert compares with find_or_insert, a
 * backward+update with assign).
 */
import * as os from 'node:os';
import { defaultDevice, EmbeddingTable, init, noGrad, Rng, SparseOptimizer, synchronize, Tensor, tensor, tidy } from './lib-internal';
import { memoryBandwidth } from './ceilings';
import { exactLfu, exactLru, CacheSim } from './exact-cache';
import { defaultOptions, report, Result, time } from './harness';

/** Row widths measured (dim 8 by default: the table's costs are its index's, not the row's). */
const DIMS = [8];
/** log2 of the capacities. */
const CAPACITY_LOG2 = [16, 20, 24, 26];
/** A table is skipped when its estimated bytes exceed this share of os.totalmem(). */
const MEMORY_SHARE = 0.4;
const ZIPF_EXPONENT = 1.05;
/** The fill inserts this many distinct ids per row of capacity. */
const FILL_FACTOR = 2;
/** Hit rate: capacities (log2), ids per batch, universe and stream length per row of capacity, a cap on the stream. */
const HITRATE_CAPACITY_LOG2 = [16, 20];
const HITRATE_BATCH = 4096;
const HITRATE_UNIVERSE_PER_ROW = 10;
const HITRATE_IDS_PER_ROW = 30;
const HITRATE_MAX_IDS = 30 * (1 << 20);
/** Bytes of the bucketed layout (see the header). */
const PROBE_BYTES = 32 + 8;
const BUCKET_SCAN_BYTES = 32 + 32 * 8;
const RECORD_BYTES = 32;
const BUCKET_SIZE = process.env.GATEWISE_BENCH_BUCKET_SIZE ? Number(process.env.GATEWISE_BENCH_BUCKET_SIZE) : undefined;

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

/**
 * The id generator: a seeded power-law stream over a finite universe of `universe` ids. Rank r
 * (0 the hottest) is drawn with P(r) ∝ (r + 1)^−s by inverting the CDF of the continuous density
 * x^−s on [1, universe + 1); rank r becomes an int64 id by a bijective scramble spread over the
 * whole int64 range, negatives included. A salt picks a disjoint set of ids for the same ranks
 * (salt 0: the ids the table is filled with; 1, 2, …: fresh ids that miss).
 */
class IdStream {
  private readonly rng: Rng;
  /** The batch that last drew each rank (+1), for counting distinct ranks without clearing. */
  private stamp?: Uint32Array;
  private batches = 0;

  constructor(readonly universe: number, seed: number, readonly exponent = ZIPF_EXPONENT) {
    this.rng = new Rng(seed);
  }

  /** The ids of ranks [start, start + count) under `salt`. */
  range(start: number, count: number, salt: number): BigInt64Array {
    const ranks = new Uint32Array(count);
    for (let i = 0; i < count; ++i) ranks[i] = start + i;
    return IdStream.scramble(ranks, salt);
  }

  /** n power-law ids under `salt`, with how many of them are distinct. */
  draw(n: number, salt: number): { ids: BigInt64Array; unique: number } {
    const a = (this.universe + 1) ** (1 - this.exponent) - 1;
    const ranks = new Uint32Array(n);
    const stamp = (this.stamp ??= new Uint32Array(this.universe));
    const mark = ++this.batches;
    let unique = 0;
    for (let i = 0; i < n; ++i) {
      const x = (1 + this.rng.uniform() * a) ** (1 / (1 - this.exponent));
      const r = Math.min(this.universe - 1, Math.floor(x) - 1);
      ranks[i] = r;
      if (stamp[r] !== mark) {
        stamp[r] = mark;
        ++unique;
      }
    }
    return { ids: IdStream.scramble(ranks, salt), unique };
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

type TableOptions = ConstructorParameters<typeof EmbeddingTable>[0];
type Stats = ReturnType<EmbeddingTable['stats']>;
const statsOf = (table: EmbeddingTable): Stats => table.stats();

/** A table with GATEWISE_BENCH_BUCKET_SIZE's bucketSize when set. */
function makeTable(options: TableOptions): EmbeddingTable {
  return new EmbeddingTable(BUCKET_SIZE === undefined ? options : { ...options, bucketSize: BUCKET_SIZE });
}

/** The table's estimated bytes, capacity·(4·dim + 4·stateWidth + 45), AdaGrad: stateWidth = dim. */
function estimatedBytes(capacity: number, dim: number): number {
  return capacity * (4 * dim + 4 * dim + 45);
}

/**
 * A table filled with ceil(FILL_FACTOR·capacity) distinct ids of the stream (salt 0), coldest
 * rank first, so that the hot ranks are the rows inserted last (and still held).
 */
function filledTable(dim: number, capacity: number, n: number, stream: IdStream): EmbeddingTable {
  const table = makeTable({ dim, capacity, policy: 'lru', seed: 1, optimizer: { kind: 'adagrad', lr: 0.05 } });
  const batch = Math.max(1, Math.min(n, Math.floor(capacity / 8)));
  table.train();
  for (let end = stream.universe; end > 0; end -= batch) {
    const start = Math.max(0, end - batch);
    const ids = stream.range(start, end - start, 0);
    tidy(() => void noGrad(() => table.lookup(ids)));
    table.advance(); // rows seen at the current step are never evicted
  }
  return table;
}

/** Ids held by the table: each id it does not hold replaced by the previous held one of the batch. */
function presentIds(table: EmbeddingTable, ids: BigInt64Array): { ids: Tensor; unique: number } {
  const held = table.contains(ids);
  const first = held.indexOf(true);
  if (first < 0) throw new Error('embedding bench: the filled table holds none of the batch');
  let prev = ids[first];
  const out = ids.slice();
  for (let i = 0; i < out.length; ++i) {
    if (held[i]) prev = out[i];
    else out[i] = prev;
  }
  return { ids: tensor(out, { dtype: 'int64' }), unique: new Set(out).size };
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

type Op = 'find' | 'bag' | 'train' | 'insert';
/** In this order: insert last, as it changes what the table holds. */
const OPS: Op[] = ['find', 'bag', 'train', 'insert'];
const HKV_OP: Record<Op, HkvOp> = { find: 'find', bag: 'find', train: 'assign', insert: 'find_or_insert' };
/** Bags of the pooled case: 8 to 16 ids each. */
const BAG_MIN = 8;
const BAG_MAX = 16;

/** Bag starts (PyTorch convention) covering n positions, bags of BAG_MIN..BAG_MAX ids. */
function bagOffsets(n: number, rng: Rng): Int32Array {
  const starts: number[] = [];
  for (let p = 0; p < n; p += BAG_MIN + rng.int(BAG_MAX - BAG_MIN + 1)) starts.push(p);
  return Int32Array.from(starts);
}
const hitName = (policy: 'lru' | 'lfu', k: number) => `hitrate ${policy} c2^${k}`;

export function run(filter: (name: string) => boolean): Result[] {
  const results: Result[] = [];
  const onCuda = defaultDevice() === 'cuda';
  const batch = onCuda ? 1 << 20 : 1 << 16; // keys per batch (at most the capacity)
  const pool = 4; // batches cycled through by find and train
  const freshPool = 16; // insert: one fresh batch per timed repetition (+1 warm-up)
  const caseName = (op: Op, k: number, dim: number) => `${op} c2^${k} d${dim}`;
  const perfSelected = CAPACITY_LOG2.some((k) => DIMS.some((d) => OPS.some((op) => filter(caseName(op, k, d)))));
  const hitSelected = HITRATE_CAPACITY_LOG2.some((k) => filter(hitName('lru', k)) || filter(hitName('lfu', k)));
  if (!perfSelected && !hitSelected) return results;
  const bw = memoryBandwidth();
  console.log(
    `embedding: policy lru, AdaGrad, ${batch} keys per batch (at most the capacity), Zipf s=${ZIPF_EXPONENT}` +
      (BUCKET_SIZE !== undefined ? `, bucketSize ${BUCKET_SIZE}` : '') +
      `; HKV reference: A100 80GB PCIe (README), H100 NVL find up to ${HKV_H100_NVL_FIND_MAX} Gkeys/s (paper)`,
  );

  for (const k of CAPACITY_LOG2) {
    const capacity = 2 ** k;
    for (const dim of DIMS) {
      const ops = OPS.filter((op) => filter(caseName(op, k, dim)));
      if (ops.length === 0) continue;
      const est = estimatedBytes(capacity, dim);
      if (est > MEMORY_SHARE * os.totalmem()) {
        console.log(`embedding    c2^${k} d${dim} skipped: the table needs about ${(est / 1e9).toFixed(1)} GB, over ${MEMORY_SHARE * 100}% of this machine's ${(os.totalmem() / 1e9).toFixed(1)} GB`);
        continue;
      }
      const n = Math.min(batch, capacity);
      const stream = new IdStream(Math.ceil(FILL_FACTOR * capacity), 7);
      const table = filledTable(dim, capacity, n, stream);
      const lf = table.loadFactor;
      const st = statsOf(table);
      const b = st.bytesPerRow;
      console.log(
        `embedding    memory c2^${k} d${dim}: bytes per row embedding ${b.embedding} + optimizer ${b.optimizer} + metadata ${b.metadata} + index ${b.index} = ${b.total}, ` +
          `table ${mib(st.memoryBytes)} (bucketSize ${st.bucketSize}, ${st.buckets} buckets)`,
      );
      const opt = new SparseOptimizer([table]);
      const grad = init.uniform([n, dim], -1, 1, { rng: new Rng(dim), requiresGrad: false });
      const hot = Array.from({ length: pool }, () => presentIds(table, stream.draw(n, 0).ids));
      const meanUnique = hot.reduce((s, b) => s + b.unique, 0) / pool;
      for (const op of ops) {
        let i = 0;
        const next = () => hot[i++ % pool].ids;
        let u = meanUnique;
        let bytes: number;
        let ms: number;
        const config: Record<string, unknown> = { n, uniq: (u / n).toFixed(2), lf: lf.toFixed(3) };
        switch (op) {
          case 'find':
            table.eval();
            ms = time(() => tidy(() => void noGrad(() => table.lookup(next()))));
            bytes = n * (8 + 8 * dim) + u * PROBE_BYTES;
            break;
          case 'bag': {
            table.eval();
            const offsets = bagOffsets(n, new Rng(5));
            ms = time(() => tidy(() => void noGrad(() => table.lookupBag(next(), offsets, { mode: 'sum' }))));
            bytes = n * (8 + 4 * dim) + offsets.length * (8 + 4 * dim) + u * PROBE_BYTES;
            config.bags = offsets.length;
            break;
          }
          case 'train':
            table.train();
            ms = time(() =>
              tidy(() => {
                table.lookup(next()).backward(grad);
                opt.step();
                opt.zeroGrad();
              }),
            );
            bytes = n * (8 + 12 * dim) + u * (PROBE_BYTES + 16 * dim);
            break;
          case 'insert': {
            table.train();
            const fresh = Array.from({ length: freshPool }, (_, j) => tensor(stream.range(0, n, j + 1), { dtype: 'int64' }));
            const before = statsOf(table);
            const lfStart = table.loadFactor;
            u = n;
            ms = time(
              () => {
                tidy(() => void noGrad(() => table.lookup(fresh[i++])));
                table.advance();
              },
              { minTimeMs: defaultOptions.minTimeMs, maxReps: freshPool - 1 },
            );
            const after = statsOf(table);
            const fed = i * n;
            config.uniq = '1.00';
            config.lf = `${lfStart.toFixed(3)}→${table.loadFactor.toFixed(3)}`;
            config.evict = ((after.evictions - before.evictions) / fed).toFixed(2);
            config.drop = pct((after.dropped - before.dropped) / fed);
            bytes = n * (8 + 8 * dim) + u * (PROBE_BYTES + BUCKET_SCAN_BYTES + RECORD_BYTES + 8 * dim);
            for (const t of fresh) t.dispose();
            break;
          }
        }
        results.push(reportCase(caseName(op, k, dim), config, ms, bytes / (ms * 1e6), n, bw, hkvNote(HKV_OP[op], dim, 1.0)));
      }
      for (const b of hot) b.ids.dispose();
      grad.dispose();
      table.dispose();
    }
  }

  for (const k of HITRATE_CAPACITY_LOG2) {
    for (const policy of ['lru', 'lfu'] as const) {
      if (filter(hitName(policy, k))) results.push(hitRate(policy, k, bw));
    }
  }
  return results;
}

/** The hit-rate case: the table (default bucketSize) and the exact policy on one Zipf stream. */
function hitRate(policy: 'lru' | 'lfu', k: number, bw: number): Result {
  const capacity = 2 ** k;
  const dim = DIMS[0];
  const n = HITRATE_BATCH;
  const batches = Math.max(3, Math.round(Math.min(HITRATE_IDS_PER_ROW * capacity, HITRATE_MAX_IDS) / n));
  const warm = Math.floor(batches / 3);
  const stream = new IdStream(HITRATE_UNIVERSE_PER_ROW * capacity, 11);
  const table = makeTable({ dim, capacity, policy, seed: 1, optimizer: { kind: 'adagrad', lr: 0.05 } });
  const exact: CacheSim = policy === 'lru' ? exactLru(capacity) : exactLfu(capacity);
  table.train();
  let exactHits = 0;
  let unique = 0;
  let tableMs = 0;
  let start: Stats = statsOf(table);
  for (let b = 0; b < batches; ++b) {
    if (b === warm) {
      start = statsOf(table);
      exactHits = 0;
      unique = 0;
      tableMs = 0;
    }
    const { ids, unique: u } = stream.draw(n, 0);
    const t0 = process.hrtime.bigint();
    tidy(() => void noGrad(() => table.lookup(ids)));
    table.advance();
    synchronize();
    tableMs += Number(process.hrtime.bigint() - t0) / 1e6;
    unique += u;
    exactHits += exact.lookup(ids);
  }
  const end = statsOf(table);
  const measured = batches - warm;
  const fed = measured * n;
  const exactRate = exactHits / fed;
  const tableRate = (end.hits - start.hits) / fed;
  const inserts = end.inserts - start.inserts;
  const ms = tableMs / measured;
  const config: Record<string, unknown> = {
    n,
    ids: `${((batches * n) / 1e6).toFixed(1)}M`,
    S: end.bucketSize,
    table: pct(tableRate),
    exact: pct(exactRate),
    diff: `${(100 * (tableRate - exactRate)).toFixed(2)}pp`,
  };
  const bytes = fed * (8 + 8 * dim) + unique * PROBE_BYTES + inserts * (BUCKET_SCAN_BYTES + RECORD_BYTES + 8 * dim);
  table.dispose();
  const note = `Zipf ${ZIPF_EXPONENT} over ${HITRATE_UNIVERSE_PER_ROW}× capacity ids, rates after the first third; target |diff| ≤ 1 pp`;
  return reportCase(hitName(policy, k), config, ms, bytes / (tableMs * 1e6), n, bw, note);
}

/** One line of this bench: ms per batch of n keys, GB/s against the STREAM triad bw. */
function reportCase(name: string, config: Record<string, unknown>, ms: number, gbPerSec: number, n: number, bw: number, note: string): Result {
  return report({
    bench: 'embedding',
    case: name,
    config,
    medianMs: ms,
    rate: gbPerSec,
    unit: 'GB/s',
    ceiling: bw,
    ceilingSource: 'measured STREAM triad',
    keysPerSec: n / (ms / 1e3),
    note,
  });
}
