/**
 * A plain-JS model of EmbeddingTable's bookkeeping (which ids hold rows, and the counters),
 * for checking the native table's eviction, expiry and admission decisions. It states the
 * table's promise; a table fed the same ids must end with the same keys and counters.
 *
 * Buckets. The `capacity` slots are split into buckets of S = min(bucketSize, capacity)
 * slots (bucketSize default 32): nb = ceil(capacity / S) buckets, bucket b holding slots
 * [b·S, min((b+1)·S, capacity)), so only the last bucket may be smaller. An id lives only in
 * the bucket of slot ((h >> 32) · capacity) >> 32, h = mix64(id as uint64) (MurmurHash3's
 * 64-bit finalizer, unsigned 64-bit arithmetic), so each bucket draws ids in proportion to its
 * slots. bucketSize ≥ capacity makes one bucket: the exact global policy. A slot is a row.
 *
 * A training lookup of a batch at step s, in order:
 *   1. the distinct ids of the batch, ascending (signed int64), with their counts;
 *   2. per distinct id: present and not expired → hit (hits += count); present but expired →
 *      re-initialized in its slot (reinits += 1); absent → its sightings += count (exact
 *      counts here, a count-min sketch in the table) and it is new once they reach
 *      admitAfter, else it reads the default row;
 *   3. hits are touched;
 *   4. new ids, ascending, each into its bucket (inserts += 1): the bucket's first free slot
 *      if it has one; else the slot of the bucket's lowest row by the victim order
 *      (evictions += 1) among
 *      rows not seen at step s — hits, re-initialized rows and ids inserted earlier in the
 *      same batch are never evicted; if every row of the bucket was seen at s the id is
 *      dropped (dropped += 1) and reads the default row;
 *   5. inserted and re-initialized rows start fresh (last = s, freq = 0, score = 0) and are
 *      touched.
 * touch(row, count) at step s: score ← fround(fround(score · 2^(−(s − last)/halfLife)) + count),
 * freq ← fround(freq + count), last ← s. Eval-mode lookups change nothing but the hits
 * counter (present, unexpired ids). ttlSteps: a row is expired at step s when s − last > ttlSteps.
 *
 * Victim order, lower goes first, compared lexicographically:
 *   (expired ? 0 : 1, value, last mod 2^24, slot), value by policy:
 *   lru   last;
 *   lfu   min(floor(freq), 2^40 − 1);
 *   score the top 40 of the 63 low bits of the double x = max(0, log2(score) − L·last),
 *         L = fround(−1/halfLife): bits(x) >> 23. log2(score) − L·last orders rows as their
 *         decayed scores do at any one step, so a row's value does not change with the step.
 * evict({ expired = true, toSize }): expired rows go first (expired += k), then the globally
 * lowest rows by the victim order as if at step s + 1 (so rows seen at s may go) until at
 * most toSize remain (evictions += k). Update counts (minUpdates) and ttlSeconds are not
 * modeled. With halfLife = 1 every decay is an exact power of two.
 */
export interface RefRow {
  last: number;
  freq: number;
  score: number;
}

export interface RefOptions {
  capacity: number;
  policy: 'lru' | 'lfu' | 'score';
  halfLife?: number;
  ttlSteps?: number;
  admitAfter?: number;
  /** Slots per bucket (default 32); ≥ capacity: one bucket, the exact global policy. */
  bucketSize?: number;
}

const M64 = (1n << 64n) - 1n;

/** MurmurHash3's 64-bit finalizer of an id taken as uint64. */
export function mix64(id: bigint): bigint {
  let k = BigInt.asUintN(64, id);
  k ^= k >> 33n;
  k = (k * 0xff51afd7ed558ccdn) & M64;
  k ^= k >> 33n;
  k = (k * 0xc4ceb9fe1a85ec53n) & M64;
  k ^= k >> 33n;
  return k;
}

/** The bucket of `id` in a table of `capacity` slots, buckets of `bucketSize`: the hash's high 32 bits pick a slot, its bucket is the id's (so a smaller last bucket gets its share). */
export function bucketOf(id: bigint, capacity: number, bucketSize = 32): number {
  const slot = Number(((mix64(id) >> 32n) * BigInt(capacity)) >> 32n);
  return Math.floor(slot / Math.min(bucketSize, capacity));
}

/** The table's buckets: slots per full bucket (S), their count, and each bucket's slots. */
export function bucketLayout(capacity: number, bucketSize = 32): { size: number; buckets: number; slots: (b: number) => number } {
  const size = Math.min(bucketSize, capacity);
  const buckets = Math.ceil(capacity / size);
  return { size, buckets, slots: (b) => Math.min((b + 1) * size, capacity) - b * size };
}

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);
/** The score policy's value: the top 40 of the 63 low bits of max(0, log2(score) − L·last). */
export function scoreValue(score: number, last: number, halfLife: number): number {
  const L = Math.fround(-1 / halfLife);
  f64[0] = Math.max(0, Math.log2(score) - L * last);
  return Number((u64[0] & 0x7fffffffffffffffn) >> 23n);
}

const cmpId = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);
const MOD24 = 2 ** 24;

export class ReferenceTable {
  readonly rows = new Map<bigint, RefRow>();
  private readonly seen = new Map<bigint, number>();
  /** Each slot's id (null: free), and each id's slot. */
  private readonly slots: (bigint | null)[];
  private readonly slotOf = new Map<bigint, number>();
  private readonly layout: ReturnType<typeof bucketLayout>;
  step = 0;
  lookups = 0;
  hits = 0;
  inserts = 0;
  reinits = 0;
  dropped = 0;
  evictions = 0;
  expired = 0;

  constructor(readonly o: RefOptions) {
    const bs = o.bucketSize ?? 32;
    if (!Number.isInteger(bs) || bs < 1) throw new Error(`bucketSize: expected a positive integer, got ${bs}`);
    this.layout = bucketLayout(o.capacity, bs);
    this.slots = new Array<bigint | null>(o.capacity).fill(null);
  }

  get size(): number {
    return this.rows.size;
  }
  get buckets(): number {
    return this.layout.buckets;
  }
  bucket(id: bigint): number {
    return bucketOf(id, this.o.capacity, this.layout.size);
  }
  advance(): void {
    this.step += 1;
  }

  private isExpired(r: RefRow, step: number): boolean {
    return (this.o.ttlSteps ?? 0) > 0 && step - r.last > this.o.ttlSteps!;
  }
  private touch(r: RefRow, count: number): void {
    const decayed = r.score * 2 ** (-(this.step - r.last) / (this.o.halfLife ?? 1000));
    r.score = Math.fround(Math.fround(decayed) + count);
    r.freq = Math.fround(r.freq + count);
    r.last = this.step;
  }
  private fresh(count: number): RefRow {
    const r = { last: this.step, freq: 0, score: 0 };
    this.touch(r, count);
    return r;
  }
  /** The victim order's key at `step`: [class, value, last mod 2^24]; ties then by id. */
  private orderKey(r: RefRow, step: number): [number, number, number] {
    const cls = this.isExpired(r, step) ? 0 : 1;
    const tie = ((r.last % MOD24) + MOD24) % MOD24;
    if (this.o.policy === 'lru') return [cls, r.last, tie];
    if (this.o.policy === 'lfu') return [cls, Math.min(Math.floor(r.freq), 2 ** 40 - 1), tie];
    return [cls, scoreValue(r.score, r.last, this.o.halfLife ?? 1000), tie];
  }
  /** `ids` ascending by the victim order at `step` (ties by slot). */
  private byVictimOrder(ids: Iterable<bigint>, step: number): bigint[] {
    const keyed = [...ids].map((id) => ({ id, k: this.orderKey(this.rows.get(id)!, step), slot: this.slotOf.get(id)! }));
    keyed.sort((a, b) => a.k[0] - b.k[0] || a.k[1] - b.k[1] || a.k[2] - b.k[2] || a.slot - b.slot);
    return keyed.map((e) => e.id);
  }
  private remove(id: bigint): void {
    this.rows.delete(id);
    this.slots[this.slotOf.get(id)!] = null;
    this.slotOf.delete(id);
  }
  private place(id: bigint, slot: number, count: number): void {
    this.rows.set(id, this.fresh(count));
    this.slots[slot] = id;
    this.slotOf.set(id, slot);
  }
  /** The ids in bucket b's slots. */
  private members(b: number): bigint[] {
    const lo = b * this.layout.size;
    return this.slots.slice(lo, lo + this.layout.slots(b)).filter((x): x is bigint => x !== null);
  }
  /** Bucket b's first free slot, or −1. */
  private freeSlot(b: number): number {
    const lo = b * this.layout.size;
    for (let i = lo; i < lo + this.layout.slots(b); ++i) if (this.slots[i] === null) return i;
    return -1;
  }

  /** A lookup at the current step: training (default) or eval (`{ train: false }`). */
  lookup(ids: readonly bigint[] | BigInt64Array, opts: { train?: boolean } = {}): void {
    const counts = new Map<bigint, number>();
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    this.lookups += ids.length;
    const uniq = [...counts.keys()].sort(cmpId);
    const s = this.step;
    if (opts.train === false) {
      for (const id of uniq) {
        const r = this.rows.get(id);
        if (r && !this.isExpired(r, s)) this.hits += counts.get(id)!;
      }
      return;
    }
    const admitted: bigint[] = [];
    for (const id of uniq) {
      const c = counts.get(id)!;
      const r = this.rows.get(id);
      if (r && !this.isExpired(r, s)) {
        this.hits += c;
        this.touch(r, c);
      } else if (r) {
        // Expired: starts over in its slot; seen at s from now on, so never a victim.
        this.rows.set(id, this.fresh(c));
        this.reinits += 1;
      } else {
        const n = (this.seen.get(id) ?? 0) + c;
        this.seen.set(id, n);
        if (n >= (this.o.admitAfter ?? 1)) admitted.push(id);
      }
    }
    // Per bucket, its rows not seen at s in victim order, built when first needed: rows
    // inserted in this batch are seen at s, so the list stays valid while it is consumed.
    const victims = new Map<number, { ids: bigint[]; next: number }>();
    for (const id of admitted) {
      const b = this.bucket(id);
      let slot = this.freeSlot(b);
      if (slot < 0) {
        let v = victims.get(b);
        if (!v) {
          const cands = this.members(b).filter((m) => this.rows.get(m)!.last < s);
          v = { ids: this.byVictimOrder(cands, s), next: 0 };
          victims.set(b, v);
        }
        if (v.next === v.ids.length) {
          this.dropped += 1;
          continue;
        }
        const gone = v.ids[v.next++];
        slot = this.slotOf.get(gone)!;
        this.remove(gone);
        this.evictions += 1;
      }
      this.place(id, slot, counts.get(id)!);
      this.inserts += 1;
    }
  }

  /** evict({ expired, toSize }) at the current step; returns the rows removed. */
  evict(opts: { expired?: boolean; toSize?: number } = {}): number {
    let removed = 0;
    if (opts.expired !== false && (this.o.ttlSteps ?? 0) > 0) {
      for (const [id, r] of [...this.rows]) {
        if (!this.isExpired(r, this.step)) continue;
        this.remove(id);
        this.expired += 1;
        removed += 1;
      }
    }
    if (opts.toSize !== undefined && this.rows.size > opts.toSize) {
      const order = this.byVictimOrder(this.rows.keys(), this.step + 1);
      for (const id of order.slice(0, this.rows.size - opts.toSize)) {
        this.remove(id);
        this.evictions += 1;
        removed += 1;
      }
    }
    return removed;
  }

  /** evict({ toSize }) as the table's default (expired rows first). */
  evictTo(toSize: number): number {
    return this.evict({ toSize });
  }

  keys(): bigint[] {
    return [...this.rows.keys()].sort(cmpId);
  }
}
