/**
 * The epoch cache: a recorded pass replays rows equal to the source's, in order, from memory
 * or from its spill file when the budget is spent; a pass given up midway records nothing;
 * disposing frees the budget and deletes the file. The job's use of it is in train-job.test.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineSchema } from '../lib/data/schema';
import { CHUNK_ROWS, RowCache } from '../lib/data/row-cache';
import type { Row } from '../lib/data/readers';
import { batchesSync, Rng, shuffleSync } from '../lib';
import type { Batch } from '../lib';

const schema = defineSchema({
  fields: [
    { name: 'user', kind: 'sparse' },
    { name: 'tags', kind: 'multi' },
    { name: 'hist', kind: 'sequence', maxLength: 5 },
    { name: 'price', kind: 'dense' },
    { name: 'age', kind: 'dense' },
    { name: 'scene', kind: 'domain' },
    { name: 'w', kind: 'weight' },
    { name: 'click', kind: 'label' },
    { name: 'dwell', kind: 'label', objective: 'regression' },
  ],
});

/** Rows with every kind of value: ids over the whole int64 range, empty lists, missing labels. */
function rowsOf(n: number, seed: number): Row[] {
  const rng = new Rng(seed);
  const id = () => BigInt.asIntN(64, BigInt(rng.int(2 ** 30)) * 0x9e3779b97f4a7c15n);
  const list = (max: number) => Array.from({ length: rng.int(max + 1) }, id);
  return Array.from({ length: n }, (_, i) => ({
    line: i + 2,
    ids: { user: id() },
    bags: { tags: list(4) },
    sequences: { hist: list(5) },
    dense: [rng.normal() * 1e3, rng.uniform()],
    labels: [rng.uniform() < 0.1 ? null : rng.int(2), rng.uniform() < 0.2 ? null : rng.normal()],
    domain: rng.int(3),
    weight: rng.uniform() * 2,
  }));
}

async function* source(rows: Row[]): AsyncGenerator<Row> {
  for (const r of rows) yield r;
}

async function collect(it: AsyncIterable<Row>): Promise<Row[]> {
  const out: Row[] = [];
  for await (const r of it) out.push(r);
  return out;
}

const stats = () => ({ rows: 7, skipped: 1, errors: ['x'] });

describe('RowCache', () => {
  it('replays a recorded pass exactly, from memory', async () => {
    const rows = rowsOf(CHUNK_ROWS + 123, 1);
    const budget = { bytes: 1 << 30 };
    const cache = new RowCache(schema, { budget, spillFile: path.join(os.tmpdir(), 'unused.rows') });
    expect(await collect(cache.record(source(rows), stats))).toEqual(rows);
    expect(cache.complete).toBe(true);
    expect(cache.rows).toBe(rows.length);
    expect(cache.stats).toEqual(stats());
    expect(cache.spilledBytes).toBe(0);
    expect(budget.bytes).toBe((1 << 30) - cache.memoryBytes);
    expect(await collect(cache)).toEqual(rows);
    expect(await collect(cache)).toEqual(rows); // any number of passes
    cache.dispose();
    expect(budget.bytes).toBe(1 << 30);
  });

  it('spills what the budget cannot hold to a file, and deletes it when disposed', async () => {
    const rows = rowsOf(2 * CHUNK_ROWS + 5, 2);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-cache-'));
    const file = path.join(dir, 'sub', 'train.rows');
    const budget = { bytes: 1 }; // nothing fits: every chunk goes to the file
    const cache = new RowCache(schema, { budget, spillFile: file });
    await collect(cache.record(source(rows), stats));
    expect(cache.memoryBytes).toBe(0);
    expect(fs.statSync(file).size).toBe(cache.spilledBytes);
    expect(await collect(cache)).toEqual(rows);
    cache.dispose();
    expect(fs.existsSync(file)).toBe(false);
  });

  it('builds batches straight from its columns: the same batches as batching its rows', async () => {
    const rows = rowsOf(CHUNK_ROWS + 700, 4); // two chunks: batches cross the boundary
    const cache = new RowCache(schema, { budget: { bytes: 1 << 30 }, spillFile: path.join(os.tmpdir(), 'unused.rows') });
    await collect(cache.record(source(rows), stats));
    expect(cache.inMemory).toBe(true);
    const raw = (b: Batch) => ({ ...b.raw, bags: Object.fromEntries(Object.entries(b.bags).map(([k, v]) => [k, [v.ids.toArraySync(), v.offsets.toArraySync()]])), seq: Object.fromEntries(Object.entries(b.sequences).map(([k, v]) => [k, [v.padded, v.lengths]])), dense: b.dense.toArraySync() });
    for (const [opts, order] of [
      [{ batchSize: 1000, device: 'cpu' as const }, null],
      [{ batchSize: 777, device: 'cpu' as const, groupField: 'user' }, { bufferSize: 5000, seed: 9 }],
      [{ batchSize: 4096, device: 'cpu' as const, dropLast: true }, { bufferSize: 100, seed: 2 }],
    ] as const) {
      const got = [...cache.batches(opts, order)];
      const want = [...batchesSync(order ? shuffleSync(cache.rowsSync(), order) : cache.rowsSync(), schema, opts)];
      expect(got.map((b) => b.size)).toEqual(want.map((b) => b.size));
      got.forEach((b, i) => expect(raw(b)).toEqual(raw(want[i])));
      for (const b of [...got, ...want]) b.dispose();
    }
    cache.dispose();
  });

  it('records nothing from a pass given up midway, and refuses to be read then', async () => {
    const rows = rowsOf(100, 3);
    const cache = new RowCache(schema, { budget: { bytes: 1 << 20 }, spillFile: path.join(os.tmpdir(), 'unused.rows') });
    for await (const r of cache.record(source(rows), stats)) if (r.line > 50) break;
    expect(cache.complete).toBe(false);
    expect(cache.rows).toBe(0);
    await expect(collect(cache)).rejects.toThrow(/not recorded whole/);
    // A later whole pass records.
    expect(await collect(cache.record(source(rows), stats))).toEqual(rows);
    expect(await collect(cache)).toEqual(rows);
  });
});
