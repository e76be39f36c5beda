/**
 * A plain-JS model of EmbeddingTable's bookkeeping (which ids hold rows), written from the
 * README's rules, for checking the native table's eviction, expiry and admission decisions:
 *   per training lookup at step s: distinct ids ascending; present and not expired → hit;
 *   present but expired → re-initialized; absent → new once seen admitAfter times (counts
 *   exact here); hits are touched; when the new ids outnumber the free rows, the rows not
 *   seen at step s with the lowest (expired first, policy value, id) are evicted; new ids
 *   take rows in ascending order while rows last; then new ids are touched.
 * Policy values: lru last step; lfu (lookups, last step); score (decayed score, last step)
 * with score ← score · 2^(−age / halfLife) + count. Use halfLife = 1 so every score is exact.
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
}

export class ReferenceTable {
  readonly rows = new Map<bigint, RefRow>();
  private readonly seen = new Map<bigint, number>();
  step = 0;
  evictions = 0;
  constructor(readonly o: RefOptions) {}

  private decayed(r: RefRow, step: number): number {
    return r.score * 2 ** (-(step - r.last) / (this.o.halfLife ?? 1000));
  }
  private expired(r: RefRow, step: number): boolean {
    return (this.o.ttlSteps ?? 0) > 0 && step - r.last > this.o.ttlSteps!;
  }
  private touch(r: RefRow, count: number): void {
    r.score = Math.fround(Math.fround(this.decayed(r, this.step)) + count);
    r.freq += count;
    r.last = Math.max(r.last, this.step);
  }
  /** [class, value, tie] — compared lexicographically, then by id. */
  private order(r: RefRow): number[] {
    const cls = this.expired(r, this.step) ? 0 : 1;
    if (this.o.policy === 'lru') return [cls, r.last, 0];
    if (this.o.policy === 'lfu') return [cls, Math.floor(r.freq), r.last];
    return [cls, Math.fround(this.decayed(r, this.step)), r.last];
  }

  lookup(ids: readonly bigint[]): void {
    const counts = new Map<bigint, number>();
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    const uniq = [...counts.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const fresh: bigint[] = [];
    const reinit: bigint[] = [];
    for (const id of uniq) {
      const r = this.rows.get(id);
      if (r && this.expired(r, this.step)) reinit.push(id);
      else if (!r) {
        const c = (this.seen.get(id) ?? 0) + counts.get(id)!;
        this.seen.set(id, c);
        if (c >= (this.o.admitAfter ?? 1)) fresh.push(id);
      }
    }
    for (const id of uniq) {
      const r = this.rows.get(id);
      if (r) this.touch(r, counts.get(id)!);
    }
    const free = this.o.capacity - this.rows.size;
    if (fresh.length > free) {
      const cands = [...this.rows.entries()].filter(([, r]) => r.last < this.step);
      cands.sort(([ia, a], [ib, b]) => {
        const oa = this.order(a);
        const ob = this.order(b);
        for (let k = 0; k < 3; ++k) if (oa[k] !== ob[k]) return oa[k] - ob[k];
        return ia < ib ? -1 : ia > ib ? 1 : 0;
      });
      for (const [id] of cands.slice(0, fresh.length - free)) {
        this.rows.delete(id);
        this.evictions += 1;
      }
    }
    const room = this.o.capacity - this.rows.size;
    for (const id of [...fresh.slice(0, room), ...reinit]) {
      const r = { last: this.step, freq: 0, score: 0 };
      this.rows.set(id, r);
      this.touch(r, counts.get(id)!);
    }
  }

  keys(): bigint[] {
    return [...this.rows.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
}
