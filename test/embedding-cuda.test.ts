/**
 * EmbeddingTable on CUDA against the CPU twin: the same id stream (training lookups, bags
 * with weights, backward, optimizer steps, admission, expiry, explicit eviction) fed to a
 * CPU table and a CUDA table; after every step they must hold the same ids, look them up
 * alike, and export the same metadata and (within float tolerance) the same rows.
 *
 * Skipped, saying why, where no CUDA device can be used. GATEWISE_PARITY_DEVICE=cpu runs it
 * CPU against CPU, to check this file itself on a machine without a GPU.
 */
import { describe, expect, it } from 'vitest';
import { backend, hasCuda, EmbeddingTable, Rng, SparseOptimizer, tensor } from '../lib';
import type { Device, EmbeddingTableOptions } from '../lib';
import { logMaxError } from './parity-log';

const DEV: Device = process.env.GATEWISE_PARITY_DEVICE === 'cpu' ? 'cpu' : 'cuda';
const enabled = DEV === 'cpu' || hasCuda();
if (!enabled) console.log('EmbeddingTable CUDA parity tests skipped: ' + backend().cudaUnavailableReason);

/** The arrays of an export (layout in the README). */
function decode(data: Uint8Array) {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const dim = dv.getUint32(16, true);
  const sw = dv.getUint32(20, true);
  const n = Number(dv.getBigUint64(32, true));
  let at = 64;
  const take = <T>(count: number, size: number, read: (o: number) => T): T[] => {
    const out = Array.from({ length: count }, (_, i) => read(at + i * size));
    at += count * size;
    return out;
  };
  const keys = take(n, 8, (o) => dv.getBigInt64(o, true));
  const lastStep = take(n, 8, (o) => Number(dv.getBigInt64(o, true)));
  const changedStep = take(n, 8, (o) => Number(dv.getBigInt64(o, true)));
  take(n, 8, (o) => dv.getFloat64(o, true)); // last_time: wall clock, differs between runs
  const updates = take(n, 4, (o) => dv.getInt32(o, true));
  const freq = take(n, 4, (o) => dv.getFloat32(o, true));
  const score = take(n, 4, (o) => dv.getFloat32(o, true));
  const weight = take(n * dim, 4, (o) => dv.getFloat32(o, true));
  const state = take(n * sw, 4, (o) => dv.getFloat32(o, true));
  return { keys, meta: { lastStep, changedStep, updates, freq }, score, weight, state };
}

function expectClose(got: number[], want: number[], what: string): void {
  expect(got.length, what).toBe(want.length);
  logMaxError(what, got, want, { atol: 1e-5, rtol: 1e-4 });
  const bad = got.findIndex((g, i) => !(Math.abs(g - want[i]) <= 1e-5 + 1e-4 * Math.abs(want[i])));
  if (bad >= 0) throw new Error(`${what}: element ${bad} differs: ${DEV} ${got[bad]}, cpu ${want[bad]}`);
}

const configs: [string, Omit<EmbeddingTableOptions, 'device'>][] = [
  ['lru + adagrad', { dim: 8, capacity: 96, policy: 'lru' }],
  ['lfu + adam', { dim: 36, capacity: 96, policy: 'lfu', optimizer: { kind: 'adam' } }],
  ['score + sgd + admission', { dim: 5, capacity: 96, policy: 'score', scoreHalfLife: 1, admitAfter: 2, sketchWidth: 1 << 12, optimizer: { kind: 'sgd', lr: 0.1 } }],
  ['lru + ttl + defaultRow', { dim: 16, capacity: 96, policy: 'lru', ttlSteps: 3, defaultRow: Array.from({ length: 16 }, (_, i) => i / 16) }],
];

describe.skipIf(!enabled)(`EmbeddingTable: ${DEV} against cpu`, () => {
  it('refuses a tensor from the other device, naming it, rather than reading it', () => {
    // Found on the emulated device: a cpu table handed a cuda gradient ran its CPU kernel on
    // device pointers, which on a GPU crashes the process. Only meaningful across devices.
    if (DEV === 'cpu') return;
    const t = new EmbeddingTable({ dim: 3, capacity: 16, device: 'cpu', seed: 1 });
    const out = t.lookup([1, 2, 1]);
    expect(() => out.backward(tensor(new Float32Array(9), { shape: [3, 3], device: 'cuda' }))).toThrow(/gradient on cpu \(the table's device\) but it is on cuda/);
    const onDevice = new EmbeddingTable({ dim: 3, capacity: 16, device: 'cuda', seed: 1 });
    expect(() => onDevice.lookup([1, 2]).backward(tensor(new Float32Array(6), { shape: [2, 3], device: 'cpu' }))).toThrow(/gradient on cuda \(the table's device\) but it is on cpu/);
    expect(Array.from(t.lookup([1]).values()).length).toBe(3);  // the table still works
  });

  for (const [name, cfg] of configs) {
    it(`${name}: same ids, lookups and rows after every step`, () => {
      const rng = new Rng(name.length);
      const make = (device: Device) => new EmbeddingTable({ ...cfg, device, seed: 77 });
      const tables = { cpu: make('cpu'), dev: make(DEV) };
      const opts = { cpu: new SparseOptimizer(tables.cpu), dev: new SparseOptimizer(tables.dev) };
      const scramble = (i: number) => BigInt.asIntN(64, BigInt(i) * 0x9e3779b97f4a7c15n);
      for (let step = 0; step < 12; ++step) {
        const n = 120;
        const ids = BigInt64Array.from({ length: n }, () => scramble(Math.floor(300 * rng.uniform() ** 2)));
        const offsets = [0, 10, 10, 40, 90];
        const weights = Float32Array.from({ length: n }, () => rng.normal());
        const g1 = Float32Array.from({ length: n * cfg.dim }, () => rng.normal());
        const g2 = Float32Array.from({ length: offsets.length * cfg.dim }, () => rng.normal());
        const outs: Record<string, number[][]> = {};
        for (const side of ['cpu', 'dev'] as const) {
          const t = tables[side];
          const device = side === 'cpu' ? 'cpu' : DEV;
          const a = t.lookup(ids);
          const b = t.lookupBag(ids, offsets, { mode: step % 2 ? 'mean' : 'sum', weights });
          a.mul(tensor(g1, { shape: [n, cfg.dim], device })).sum().add(b.mul(tensor(g2, { shape: [offsets.length, cfg.dim], device })).sum()).backward();
          opts[side].step();
          if (step === 6) t.evict({ minUpdates: 2 });
          outs[side] = [a.values(), b.values()];
        }
        expectClose(outs.dev[0], outs.cpu[0], `step ${step} lookup`);
        expectClose(outs.dev[1], outs.cpu[1], `step ${step} bag`);
        const [c, d] = [decode(tables.cpu.export()), decode(tables.dev.export())];
        expect(d.keys, `step ${step} keys`).toEqual(c.keys);
        expect(d.meta, `step ${step} metadata`).toEqual(c.meta);
        expectClose(d.score, c.score, `step ${step} score`);
        expectClose(d.weight, c.weight, `step ${step} weight`);
        expectClose(d.state, c.state, `step ${step} optimizer state`);
        expect(tables.dev.stats()).toEqual(tables.cpu.stats());
      }
      tables.cpu.dispose();
      tables.dev.dispose();
    });
  }

  it('async lookups on the device agree with sync ones', async () => {
    const t = new EmbeddingTable({ dim: 32, capacity: 4096, device: DEV, seed: 3 });
    const rng = new Rng(4);
    const batches = Array.from({ length: 8 }, () => BigInt64Array.from({ length: 700 }, () => BigInt(Math.floor(rng.uniform() * 3000)) - 1500n));
    const outs = await Promise.all(batches.map((b) => t.lookupAsync(b)));
    t.eval();
    batches.forEach((b, i) => expect(outs[i].values()).toEqual(t.lookup(b).values()));
    t.dispose();
  });
});
