/**
 * EmbeddingTable export/import: the documented binary layout, a round trip that continues
 * training exactly, incremental exports, and corrupt input rejected whole with the table
 * left unchanged.
 */
import { describe, expect, it } from 'vitest';
import { EmbeddingTable, FormatError, Rng, ShapeError, SparseOptimizer, tensor, setBackend } from '../lib';

// These are CPU checks (float64 references, host memory statistics, the CPU table's export);
// they pin the CPU backend so that a machine whose default is CUDA runs them unchanged.
setBackend('cpu');

/** CRC-32 as zlib computes it (to forge otherwise valid files). */
function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return ~c >>> 0;
}

function trainedTable(kind: 'adagrad' | 'adam' = 'adagrad'): EmbeddingTable {
  const rng = new Rng(7);
  const t = new EmbeddingTable({ dim: 3, capacity: 32, policy: 'score', device: 'cpu', seed: 5, optimizer: { kind } });
  const opt = new SparseOptimizer(t);
  for (let s = 0; s < 6; ++s) {
    const ids = Array.from({ length: 8 }, () => Math.floor(rng.uniform() * 20) - 10);
    t.lookup(ids).backward(tensor(Float32Array.from({ length: 24 }, () => rng.normal()), { shape: [8, 3] }));
    opt.step();
  }
  return t;
}

function continueTraining(t: EmbeddingTable, seed: number): number[] {
  const rng = new Rng(seed);
  const opt = new SparseOptimizer(t);
  for (let s = 0; s < 3; ++s) {
    const ids = Array.from({ length: 8 }, () => Math.floor(rng.uniform() * 20) - 10);
    t.lookup(ids).backward(tensor(Float32Array.from({ length: 24 }, () => rng.normal()), { shape: [8, 3] }));
    opt.step();
  }
  t.eval();
  return t.lookup(Array.from({ length: 20 }, (_, i) => i - 10)).values();
}

describe('EmbeddingTable export and import', () => {
  it('writes the documented header', () => {
    const t = trainedTable();
    const data = t.export();
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    expect(new TextDecoder().decode(data.subarray(0, 8))).toBe('GWEMBTAB');
    expect(dv.getUint32(8, true)).toBe(1); // version
    expect(dv.getUint32(12, true)).toBe(64); // header size
    expect(dv.getUint32(16, true)).toBe(3); // dim
    expect(dv.getUint32(20, true)).toBe(3); // AdaGrad: one accumulator per float
    expect(dv.getUint32(24, true)).toBe(1); // adagrad
    const n = Number(dv.getBigUint64(32, true));
    expect(n).toBe(t.size);
    expect(Number(dv.getBigInt64(40, true))).toBe(6); // step
    expect(dv.getUint32(60, true)).toBe(crc32(data.subarray(0, 60)));
    expect(data.length).toBe(64 + n * (8 * 4 + 4 * 3 + 4 * 3 + 4 * 3) + 4);
    expect(dv.getUint32(data.length - 4, true)).toBe(crc32(data.subarray(64, data.length - 4)));
    t.dispose();
  });

  for (const kind of ['adagrad', 'adam'] as const) {
    it(`round-trips rows, metadata and ${kind} state: training continues identically`, () => {
      const a = trainedTable(kind);
      const b = new EmbeddingTable({ dim: 3, capacity: 32, policy: 'score', device: 'cpu', seed: 5, optimizer: { kind } });
      expect(b.import(a.export())).toBe(a.size);
      expect(b.step).toBe(a.step);
      expect(Array.from(b.keys())).toEqual(Array.from(a.keys()));
      expect(Array.from(b.export())).toEqual(Array.from(a.export()));
      expect(Array.from(continueTraining(b, 3))).toEqual(Array.from(continueTraining(a, 3)));
      a.dispose();
      b.dispose();
    });
  }

  it('exports only the rows changed since a step', () => {
    const t = new EmbeddingTable({ dim: 2, capacity: 16, device: 'cpu' });
    const opt = new SparseOptimizer(t);
    t.lookup([1, 2, 3]).sum().backward();
    opt.step(); // step 0 → 1: 1, 2, 3 inserted and updated at step 0
    t.lookup([2]).sum().backward();
    opt.step(); // 2 updated at step 1
    t.lookup([4]); // 4 inserted at step 2
    const inc = new EmbeddingTable({ dim: 2, capacity: 16, device: 'cpu' });
    expect(inc.import(t.export({ sinceStep: 1 }))).toBe(2);
    expect(Array.from(inc.keys())).toEqual([2n, 4n]);
    const header = new DataView(t.export({ sinceStep: 1 }).buffer.slice(0));
    expect(header.getUint32(28, true)).toBe(1); // flags: incremental
    t.dispose();
    inc.dispose();
  });

  it('rejects corrupt, truncated or foreign data whole and leaves the table unchanged', () => {
    const src = trainedTable();
    const good = src.export();
    const t = new EmbeddingTable({ dim: 3, capacity: 32, device: 'cpu', seed: 1 });
    t.lookup([100, 200]);
    const before = t.export();
    const mutate = (f: (d: Uint8Array) => Uint8Array) => f(Uint8Array.from(good));
    const bad: [string, Uint8Array, RegExp][] = [
      ['flipped payload byte', mutate((d) => ((d[100] ^= 1), d)), /payload checksum/],
      ['flipped header byte', mutate((d) => ((d[33] ^= 1), d)), /header checksum/],
      ['truncated', good.slice(0, good.length - 10), /truncated/],
      ['empty', new Uint8Array(0), /shorter than/],
      ['foreign', new TextEncoder().encode('x'.repeat(200)), /magic/],
      [
        'future version',
        mutate((d) => {
          const dv = new DataView(d.buffer);
          dv.setUint32(8, 2, true);
          dv.setUint32(60, crc32(d.subarray(0, 60)), true);
          return d;
        }),
        /version 2/,
      ],
      [
        'NaN weight with valid checksums',
        mutate((d) => {
          const dv = new DataView(d.buffer);
          const n = Number(dv.getBigUint64(32, true));
          dv.setFloat32(64 + n * 44, Number.NaN, true); // the first weight
          dv.setUint32(d.length - 4, crc32(d.subarray(64, d.length - 4)), true);
          return d;
        }),
        /not finite/,
      ],
    ];
    for (const [, data, message] of bad) {
      expect(() => t.import(data)).toThrow(FormatError);
      expect(() => t.import(data)).toThrow(message);
    }
    const otherDim = new EmbeddingTable({ dim: 4, capacity: 32, device: 'cpu' });
    expect(() => otherDim.import(good)).toThrow(ShapeError);
    expect(() => t.import('abc' as never)).toThrow(/Uint8Array \(an export\) for data/);
    expect(Array.from(t.export())).toEqual(Array.from(before));
    for (const x of [src, t, otherDim]) x.dispose();
  });

  it('evicts by policy to make room for imported rows', () => {
    const src = new EmbeddingTable({ dim: 2, capacity: 8, device: 'cpu' });
    src.lookup([1, 2, 3]);
    const dst = new EmbeddingTable({ dim: 2, capacity: 4, policy: 'lru', device: 'cpu' });
    dst.lookup([10]);
    dst.advance();
    dst.lookup([11, 12]);
    dst.advance();
    dst.import(src.export());
    // 10 (seen at step 0) goes first, then 11 (step 1, the lower id of the tie with 12).
    expect(Array.from(dst.keys())).toEqual([1n, 2n, 3n, 12n]);
    src.dispose();
    dst.dispose();
  });
});
