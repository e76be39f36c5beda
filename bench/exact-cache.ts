/**
 * Exact (global) LRU and LFU caches in plain TypeScript: the embedding table's semantics with
 * ONE bucket (the exact policy), which the bench's hit-rate cases compare the bucketed table
 * against. Membership only: no rows, no expiry, no admission (admitAfter 1).
 *
 * One lookup(ids) is one training lookup at step s (s advances by 1 after each call):
 *   1. the batch's distinct ids, ascending (signed int64), with their counts;
 *   2. an id present at the start of the batch hits (all its occurrences count as hits) and is
 *      touched: last = s (lru), freq += count and last = s (lfu);
 *   3. the new ids, in ascending id order: while size < capacity each just takes the next free
 *      row (rows are numbered 0 … capacity − 1, the table's slots); then each takes the row of
 *      the lowest row NOT seen at step s, by (last, row) for lru and by (freq, last, row) for
 *      lfu; when every row was seen at step s the id is dropped (and so is every later new id
 *      of the batch);
 *   4. a new row starts with last = s, freq = count.
 *
 * Cost: O(log capacity) per distinct id (lfu; lru is O(1)) plus sorting the batch. The rows
 * seen at step s are exactly the batch's hits and its inserted ids, so each batch
 *   - takes its hits out of the eviction order (the order then holds only rows not seen at s),
 *   - inserts its new ids, each evicting the order's minimum, or dropped once it is empty,
 *   - puts the batch's hits and inserted ids back into the order with their new keys.
 * lru's order is a doubly linked list: every row put back has last = s, larger than any
 * row's in the list, and they are put back in ascending row order, so appending keeps the
 * list sorted by (last, row) by induction. lfu's is an indexed binary min-heap on
 * (freq, last, row). Ids are found through an open-addressing hash index over the slots
 * (linear probing, backward-shift deletion, no tombstones), keyed by the id's two 32-bit words.
 */

export interface CacheSim {
  /** One training lookup of a batch (then the step advances): how many of the ids (occurrences) hit. */
  lookup(ids: BigInt64Array | readonly bigint[]): number;
  /** Rows held. */
  readonly size: number;
  readonly capacity: number;
}

/** Exact LRU: evicts the row with the lowest (last, row) among the rows not seen in the current step. */
export function exactLru(capacity: number): CacheSim {
  return new ExactCache(capacity, 'lru');
}

/** Exact LFU: evicts the row with the lowest (freq, last, row) among the rows not seen in the current step. */
export function exactLfu(capacity: number): CacheSim {
  return new ExactCache(capacity, 'lfu');
}

/** The eviction order over the slots not seen in the current step. */
interface Order {
  /** Whether it holds no slot. */
  empty(): boolean;
  push(slot: number): void;
  remove(slot: number): void;
  /** Removes and returns the lowest slot (the order must not be empty). */
  popMin(): number;
}

class ExactCache implements CacheSim {
  readonly capacity: number;
  private n = 0;
  private step = 0;
  // Per slot: the id's low word (unsigned), high word (signed), last step seen, frequency.
  private readonly lo: Uint32Array;
  private readonly hi: Int32Array;
  private readonly last: Float64Array;
  private readonly freq: Float64Array;
  private readonly order: Order;
  // The hash index: slot + 1, 0 = empty; a power of two ≥ 2·capacity entries.
  private readonly index: Int32Array;
  private readonly mask: number;
  // Scratch of one batch's distinct ids: low, high word, count, slot (−1: new, −2: dropped).
  private dLo = new Uint32Array(0);
  private dHi = new Int32Array(0);
  private dCount = new Float64Array(0);
  private dSlot = new Int32Array(0);

  constructor(capacity: number, policy: 'lru' | 'lfu') {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 2 ** 30) throw new RangeError(`exact cache: capacity must be an integer in [1, 2^30], got ${capacity}`);
    this.capacity = capacity;
    this.lo = new Uint32Array(capacity);
    this.hi = new Int32Array(capacity);
    this.last = new Float64Array(capacity);
    this.freq = new Float64Array(capacity);
    let size = 2;
    while (size < 2 * capacity) size *= 2;
    this.index = new Int32Array(size);
    this.mask = size - 1;
    this.order = policy === 'lru' ? new ListOrder(capacity) : new HeapOrder(capacity, this.freq, this.last);
  }

  get size(): number {
    return this.n;
  }

  lookup(ids: BigInt64Array | readonly bigint[]): number {
    const sorted = ids instanceof BigInt64Array ? ids.slice() : BigInt64Array.from(ids);
    sorted.sort(); // numeric: signed int64 order
    const words = new Uint32Array(sorted.buffer, sorted.byteOffset, 2 * sorted.length); // little-endian [lo, hi]
    if (this.dLo.length < sorted.length) {
      this.dLo = new Uint32Array(sorted.length);
      this.dHi = new Int32Array(sorted.length);
      this.dCount = new Float64Array(sorted.length);
      this.dSlot = new Int32Array(sorted.length);
    }
    const { dLo, dHi, dCount, dSlot, order, last, freq } = this;
    // 1. Distinct ids, ascending, with counts.
    let u = 0;
    for (let i = 0; i < sorted.length; ++i) {
      const l = words[2 * i];
      const h = words[2 * i + 1] | 0;
      if (u > 0 && dLo[u - 1] === l && dHi[u - 1] === h) {
        ++dCount[u - 1];
      } else {
        dLo[u] = l;
        dHi[u] = h;
        dCount[u] = 1;
        ++u;
      }
    }
    const s = this.step;
    // 2. Hits: counted, touched, taken out of the eviction order.
    let hits = 0;
    let fresh = 0;
    for (let j = 0; j < u; ++j) {
      const slot = this.find(dLo[j], dHi[j]);
      dSlot[j] = slot;
      if (slot < 0) {
        ++fresh;
        continue;
      }
      hits += dCount[j];
      order.remove(slot);
      last[slot] = s;
      freq[slot] += dCount[j];
    }
    // 3. New ids, ascending: a free row, else the order's minimum (a row not seen at s), else dropped.
    if (fresh > 0) {
      for (let j = 0; j < u; ++j) {
        if (dSlot[j] !== -1) continue;
        let slot: number;
        if (this.n < this.capacity) {
          slot = this.n++;
        } else if (!order.empty()) {
          slot = order.popMin();
          this.unindex(slot);
        } else {
          dSlot[j] = -2;
          continue;
        }
        this.lo[slot] = dLo[j];
        this.hi[slot] = dHi[j];
        last[slot] = s;
        freq[slot] = dCount[j];
        this.insertIndex(slot);
        dSlot[j] = slot;
      }
    }
    // 4. The rows seen at s go back into the order, in ascending slot order.
    const seen: number[] = [];
    for (let j = 0; j < u; ++j) if (dSlot[j] >= 0) seen.push(dSlot[j]);
    seen.sort((a, b) => a - b);
    for (const slot of seen) order.push(slot);
    this.step = s + 1;
    return hits;
  }

  private hash(lo: number, hi: number): number {
    let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 15;
    h = Math.imul(h ^ hi, 0xc2b2ae35);
    h ^= h >>> 16;
    return h & this.mask;
  }

  /** The slot holding the id, or −1. */
  private find(lo: number, hi: number): number {
    const { index, mask } = this;
    for (let i = this.hash(lo, hi); ; i = (i + 1) & mask) {
      const e = index[i];
      if (e === 0) return -1;
      if (this.lo[e - 1] === lo && this.hi[e - 1] === hi) return e - 1;
    }
  }

  private insertIndex(slot: number): void {
    const { index, mask } = this;
    let i = this.hash(this.lo[slot], this.hi[slot]);
    while (index[i] !== 0) i = (i + 1) & mask;
    index[i] = slot + 1;
  }

  /** Removes the slot's entry from the index (backward-shift deletion). */
  private unindex(slot: number): void {
    const { index, mask } = this;
    let i = this.hash(this.lo[slot], this.hi[slot]);
    while (index[i] !== slot + 1) i = (i + 1) & mask;
    for (let j = (i + 1) & mask; index[j] !== 0; j = (j + 1) & mask) {
      const e = index[j] - 1;
      const home = this.hash(this.lo[e], this.hi[e]);
      // Move e into the hole at i unless its home lies cyclically in (i, j].
      if (((j - home) & mask) >= ((j - i) & mask)) {
        index[i] = index[j];
        i = j;
      }
    }
    index[i] = 0;
  }
}

/** lru: a doubly linked list of slots, oldest first. */
class ListOrder implements Order {
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private head = -1;
  private tail = -1;

  constructor(capacity: number) {
    this.prev = new Int32Array(capacity);
    this.next = new Int32Array(capacity);
  }

  empty(): boolean {
    return this.head < 0;
  }

  push(slot: number): void {
    this.prev[slot] = this.tail;
    this.next[slot] = -1;
    if (this.tail >= 0) this.next[this.tail] = slot;
    else this.head = slot;
    this.tail = slot;
  }

  remove(slot: number): void {
    const p = this.prev[slot];
    const n = this.next[slot];
    if (p >= 0) this.next[p] = n;
    else this.head = n;
    if (n >= 0) this.prev[n] = p;
    else this.tail = p;
  }

  popMin(): number {
    const slot = this.head;
    this.remove(slot);
    return slot;
  }
}

/** lfu: an indexed binary min-heap of rows on (freq, last, row). */
class HeapOrder implements Order {
  private readonly heap: Int32Array;
  private readonly pos: Int32Array;
  private n = 0;

  constructor(
    capacity: number,
    private readonly freq: Float64Array,
    private readonly last: Float64Array,
  ) {
    this.heap = new Int32Array(capacity);
    this.pos = new Int32Array(capacity);
  }

  private less(a: number, b: number): boolean {
    const { freq, last } = this;
    if (freq[a] !== freq[b]) return freq[a] < freq[b];
    if (last[a] !== last[b]) return last[a] < last[b];
    return a < b;
  }

  empty(): boolean {
    return this.n === 0;
  }

  push(slot: number): void {
    this.heap[this.n] = slot;
    this.pos[slot] = this.n;
    this.up(this.n++);
  }

  remove(slot: number): void {
    const i = this.pos[slot];
    const moved = this.heap[--this.n];
    if (i === this.n) return;
    this.heap[i] = moved;
    this.pos[moved] = i;
    if (i > 0 && this.less(moved, this.heap[(i - 1) >> 1])) this.up(i);
    else this.down(i);
  }

  popMin(): number {
    const slot = this.heap[0];
    this.remove(slot);
    return slot;
  }

  private up(i: number): void {
    const { heap, pos } = this;
    const x = heap[i];
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(x, heap[p])) break;
      heap[i] = heap[p];
      pos[heap[i]] = i;
      i = p;
    }
    heap[i] = x;
    pos[x] = i;
  }

  private down(i: number): void {
    const { heap, pos, n } = this;
    const x = heap[i];
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.less(heap[c + 1], heap[c])) ++c;
      if (!this.less(heap[c], x)) break;
      heap[i] = heap[c];
      pos[heap[i]] = i;
      i = c;
    }
    heap[i] = x;
    pos[x] = i;
  }
}
