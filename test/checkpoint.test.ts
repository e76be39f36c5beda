/**
 * Checkpoints: a full round trip (model, table, dense + sparse optimizer state) that resumes
 * training bit-identically, corrupt files rejected with clear errors, saves killed mid-write
 * never destroying the last good checkpoint, and safetensors export.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Adam,
  CHECKPOINT_FORMAT_VERSION,
  crc32,
  EmbeddingTable,
  exportSafetensors,
  FormatError,
  Linear,
  loadCheckpoint,
  MLP,
  noGrad,
  PEPNet,
  readCheckpointInfo,
  readSafetensors,
  readSafetensorsMetadata,
  Rng,
  saveCheckpoint,
  ShapeError,
  SGD,
  SparseOptimizer,
  tensor,
  tidy,
} from '../lib';
import { BIG_SIZE, BigModel } from './fixtures/big-model';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatewise-ckpt-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const ids = (rows: number[][]) => tensor(BigInt64Array.from(rows.flat().map(BigInt)), { shape: [rows.length, rows[0].length] });

function pepnet() {
  // A fixed clock keeps the rows' last-seen times equal between runs.
  const table = new EmbeddingTable({ dim: 4, capacity: 256, seed: 1, optimizer: { kind: 'adam', lr: 0.02 }, clock: () => 1000 });
  const model = new PEPNet({ table, fields: 3, domainFields: 1, priorFields: 2, denseFeatures: 2, tasks: 2, hidden: [8, 4], rng: new Rng(3) });
  return { model, table, opt: model.optimizers({ denseLr: 1e-2 }) };
}

function batchFor(seed: number, n = 16) {
  const rng = new Rng(seed);
  const rows = Array.from({ length: n }, () => [rng.int(30), 30 + rng.int(10), 40 + rng.int(10)]);
  return {
    batch: {
      ids: ids(rows),
      domainIds: ids(rows.map(() => [100 + rng.int(3)])),
      priorIds: ids(rows.map((r) => [r[1], r[2]])),
      dense: tensor(Float32Array.from({ length: n * 2 }, () => rng.uniform() * 2 - 1), { shape: [n, 2] }),
    },
    labels: tensor(Float32Array.from({ length: n * 2 }, () => rng.int(2)), { shape: [n, 2] }),
  };
}

type Net = ReturnType<typeof pepnet>;

function trainStep(net: Net, seed: number): void {
  tidy(() => {
    const { batch, labels } = batchFor(seed);
    net.model.train();
    net.opt.zeroGrad();
    net.model.loss(net.model.forward(batch), labels).backward();
    net.opt.step();
  });
}

function predict(net: Net): Float32Array {
  net.model.eval();
  const out = noGrad(() => net.model.forward(batchFor(99).batch).toArraySync() as Float32Array);
  net.model.train();
  return out;
}

/** Dense parameters and the rows of ids 0..49, as one array. */
function snapshot(net: Net): Float32Array {
  const dense = net.model.parameters().flatMap((p) => Array.from(p.toArraySync() as Float32Array));
  net.table.eval();
  const rows = noGrad(() => net.table.lookup(Array.from({ length: 50 }, (_, i) => i)).values());
  net.table.train();
  return Float32Array.from([...dense, ...rows]);
}

describe('checkpoint round trip', () => {
  it('restores model, table and optimizers so predictions and further training are bit-identical', () => {
    const a = pepnet();
    for (let s = 0; s < 5; ++s) trainStep(a, s);
    const file = path.join(dir, 'pepnet.gwck');
    saveCheckpoint(file, { model: a.model, optimizers: { opt: a.opt }, step: 5, config: { hidden: [8, 4] }, metadata: { run: 'test' } });

    const b = pepnet();
    expect(predict(b)).not.toEqual(predict(a)); // a fresh model differs
    const loaded = loadCheckpoint(file, { model: b.model, optimizers: { opt: b.opt } });
    expect(loaded).toEqual({ step: 5, config: { hidden: [8, 4] }, metadata: { run: 'test' } });
    expect(b.table.size).toBe(a.table.size);
    expect(b.table.step).toBe(a.table.step);
    expect(Buffer.from(predict(b).buffer).equals(Buffer.from(predict(a).buffer))).toBe(true);
    expect((b.opt.optimizers[0] as SparseOptimizer).stepCount).toBe(5);
    expect((b.opt.optimizers[1] as Adam).stepCount).toBe(5);

    // A model loaded without its optimizer state diverges on the next step: the state matters.
    const c = pepnet();
    loadCheckpoint(file, { model: c.model });
    trainStep(a, 5);
    trainStep(b, 5);
    trainStep(c, 5);
    const sa = snapshot(a);
    expect(Buffer.from(snapshot(b).buffer).equals(Buffer.from(sa.buffer))).toBe(true);
    expect(Buffer.from(snapshot(c).buffer).equals(Buffer.from(sa.buffer))).toBe(false);
    for (const n of [a, b, c]) n.table.dispose();
  });

  it('replaces a trained table and optimizer state on load and lists the contents without a model', () => {
    const a = pepnet();
    for (let s = 0; s < 3; ++s) trainStep(a, s);
    const file = path.join(dir, 'early.gwck');
    saveCheckpoint(file, { model: a.model, optimizers: { opt: a.opt }, step: 3 });
    const info = readCheckpointInfo(file, { verify: true });
    expect(info.version).toBe(CHECKPOINT_FORMAT_VERSION);
    expect(info.step).toBe(3);
    expect(info.tables).toEqual(['table']);
    expect(info.optimizers).toEqual(['opt']);
    expect(info.tensors.map((t) => t.name)).toEqual(Object.keys(a.model.stateDict()));
    expect(info.tensors.every((t) => t.dtype === 'float32')).toBe(true);

    // Loading into a table that is past the checkpoint's step is refused, with nothing changed.
    const later = pepnet();
    for (let s = 0; s < 4; ++s) trainStep(later, 10 + s);
    const before = snapshot(later);
    expect(() => loadCheckpoint(file, { model: later.model, optimizers: { opt: later.opt } })).toThrow(/Expected table table at step 3 or earlier .* it is at step 4/);
    expect(snapshot(later)).toEqual(before);

    // At the same step, a table holding other ids is cleared first: afterwards it matches exactly.
    const other = pepnet();
    for (let s = 0; s < 3; ++s) trainStep(other, 20 + s);
    loadCheckpoint(file, { model: other.model, optimizers: { opt: other.opt } });
    expect(other.table.keys()).toEqual(a.table.keys());
    expect(snapshot(other)).toEqual(snapshot(a));
    for (const n of [a, later, other]) n.table.dispose();
  });

  it('restores SGD momentum and Adam state through the Optimizer API alone', () => {
    const make = () => new Linear(3, 2, { rng: new Rng(1) });
    const m1 = make();
    const o1 = new SGD(m1.parameters(), { lr: 0.1, momentum: 0.9 });
    const x = tensor([[1, 2, 3], [-1, 0, 2]]);
    const stepOn = (m: Linear, o: SGD) => {
      o.zeroGrad();
      m.forward(x).square().sum().backward();
      o.step();
    };
    stepOn(m1, o1);
    const state = o1.stateDict();
    expect(state.kind).toBe('SGD');
    expect(state.groups[0].params[0].state.momentum.shape).toEqual([2, 3]);
    stepOn(m1, o1); // the snapshot is a copy: this does not change it
    expect(o1.stateDict().groups[0].params[0].state.momentum.data).not.toEqual(state.groups[0].params[0].state.momentum.data);
    const m2 = make();
    const o2 = new SGD(m2.parameters(), { lr: 0.5, momentum: 0.9 });
    m2.loadStateDict(m1.stateDict());
    o2.loadStateDict(o1.stateDict());
    expect(o2.paramGroups[0].lr).toBe(0.1); // hyper-parameters restored too
    stepOn(m1, o1);
    stepOn(m2, o2);
    expect(m2.weight.toArraySync()).toEqual(m1.weight.toArraySync());
    // Mismatches name the entry and change nothing.
    const bad = o1.stateDict();
    bad.groups[0].params[1].state.momentum.shape = [3];
    expect(() => o2.loadStateDict(bad)).toThrow('Expected shape [2] for state.groups[0].params[1].state.momentum but received [3]');
    expect(() => new Adam(m2.parameters()).loadStateDict(o1.stateDict())).toThrow("Expected the state of a Adam optimizer for state.kind but received \"SGD\"");
    expect(() => new SGD([m2.weight], { lr: 0.1 }).loadStateDict(o1.stateDict())).toThrow('Expected 1 parameter(s) for state.groups[0].params but received 2');
  });
});

describe('corrupt checkpoints', () => {
  const model = () => new MLP(3, { hidden: [4], outFeatures: 2, rng: new Rng(5) });
  const good = path.join(dir, 'good.gwck');
  const variant = (name: string, edit: (b: Buffer) => Buffer) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, edit(Buffer.from(fs.readFileSync(good))));
    return f;
  };
  /** The byte offset of an entry's data in the file. */
  const entryOffset = (bytes: Buffer, entry: string) => {
    const hlen = bytes.readUInt32LE(8);
    const info = readCheckpointInfo(good).entries.find((e) => e.name === entry)!;
    return ((16 + hlen + 7) & ~7) + info.offset;
  };
  const expectUnchanged = (m: ReturnType<typeof model>, f: string, error: unknown, message: RegExp | string) => {
    const before = m.parameters().map((p) => p.toArraySync());
    let thrown: unknown;
    try {
      loadCheckpoint(f, { model: m });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(error as never);
    expect((thrown as Error).message).toMatch(message);
    expect(m.parameters().map((p) => p.toArraySync())).toEqual(before);
  };

  it('saves a loadable reference file', () => {
    saveCheckpoint(good, { model: model(), step: 1 });
    expect(loadCheckpoint(good, { model: model() }).step).toBe(1);
  });

  it('names the entry whose bytes were flipped', () => {
    const bytes = fs.readFileSync(good);
    const f = variant('flipped.gwck', (b) => {
      b[entryOffset(bytes, 'model.layers.0.weight') + 5] ^= 0x10;
      return b;
    });
    expectUnchanged(model(), f, FormatError, /CRC-32 mismatch in entry 'model\.layers\.0\.weight'/);
    expect(() => readCheckpointInfo(f, { verify: true })).toThrow(FormatError);
    expect(readCheckpointInfo(f).step).toBe(1); // the header alone is intact
  });

  it('rejects a damaged header, truncation, trailing bytes, wrong magic, a future version and garbage', () => {
    const m = model();
    const rng = new Rng(1);
    expectUnchanged(m, variant('header.gwck', (b) => ((b[20] ^= 0x01), b)), FormatError, /CRC-32 mismatch in the header/);
    expectUnchanged(m, variant('truncated.gwck', (b) => b.subarray(0, b.length - 10)), FormatError, /truncated/);
    expectUnchanged(m, variant('short.gwck', (b) => b.subarray(0, 10)), FormatError, /fewer than the 16-byte prefix/);
    expectUnchanged(m, variant('long.gwck', (b) => Buffer.concat([b, Buffer.from([0])])), FormatError, /trailing data/);
    expectUnchanged(m, variant('magic.gwck', (b) => (b.write('GWCX', 0, 'latin1'), b)), FormatError, /Expected magic 'GWCK' but received "GWCX"/);
    expectUnchanged(m, variant('future.gwck', (b) => (b.writeUInt32LE(CHECKPOINT_FORMAT_VERSION + 1, 4), b)), FormatError, `format version ${CHECKPOINT_FORMAT_VERSION + 1}, newer than this build of gatewise reads (version ${CHECKPOINT_FORMAT_VERSION})`);
    expectUnchanged(m, variant('garbage.gwck', () => Buffer.from(Float32Array.from({ length: 250 }, () => rng.normal()).buffer)), FormatError, /not a valid gatewise checkpoint/);
    expectUnchanged(m, variant('empty.gwck', () => Buffer.alloc(0)), FormatError, /fewer than the 16-byte prefix/);
  });

  it('names the parameter whose shape differs, and missing or unexpected names', () => {
    expectUnchanged(new MLP(3, { hidden: [5], outFeatures: 2, rng: new Rng(5) }), good, ShapeError, 'Expected shape [5,3] for layers.0.weight but received [4,3]');
    expect(() => loadCheckpoint(good, { model: new MLP(3, { hidden: [4, 4], outFeatures: 2 }) })).toThrow(/does not match the model: missing \[.*layers\.2\.weight/);
  });

  it('rejects optimizers and tables the checkpoint does not hold', () => {
    const m = model();
    expect(() => loadCheckpoint(good, { model: m, optimizers: { adam: new Adam(m.parameters()) } })).toThrow("Expected an optimizer 'adam'");
    const t = new EmbeddingTable({ dim: 2, capacity: 8 });
    expect(() => loadCheckpoint(good, { model: m, tables: { t } })).toThrow("Expected a table 't'");
    t.dispose();
  });

  it('computes zlib CRC-32', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.from('6789'), crc32(Buffer.from('12345')))).toBe(0xcbf43926);
  });
});

describe('atomic save', () => {
  it('keeps the previous checkpoint when asked', () => {
    const f = path.join(dir, 'prev.gwck');
    const m = new Linear(2, 2, { rng: new Rng(1) });
    saveCheckpoint(f, { model: m, step: 1 });
    saveCheckpoint(f, { model: m, step: 2, keepPrevious: true });
    expect(readCheckpointInfo(f).step).toBe(2);
    expect(readCheckpointInfo(`${f}.prev`).step).toBe(1);
    const sub = fs.mkdtempSync(path.join(dir, 'd-'));
    expect(saveCheckpoint(sub, { model: m, step: 3 })).toBe(path.join(sub, 'checkpoint.gwck'));
    expect(readCheckpointInfo(sub).step).toBe(3);
    expect(fs.readdirSync(sub)).toEqual(['checkpoint.gwck']); // no temp files left
  });

  it('leaves the old or the new complete checkpoint when a save is killed mid-write', async () => {
    const target = path.join(dir, 'big.gwck');
    const model = new BigModel();
    model.fill(0);
    saveCheckpoint(target, { model, step: 0 });
    const writer = path.resolve(__dirname, 'fixtures/checkpoint-writer.ts');
    const tmpFiles = () => fs.readdirSync(dir).filter((f) => f.startsWith('big.gwck.tmp-'));
    let last = 0;
    let killedMidWrite = 0;
    for (let round = 0; round < 6; ++round) {
      const child = spawn(process.execPath, ['-e', `require('tsx/cjs/api').register(); require(${JSON.stringify(writer)});`], {
        env: { ...process.env, CKPT_TARGET: target, CKPT_FROM: String(last + 1) },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
      // Wait for a first complete save, then kill: on even rounds as soon as a temp file shows
      // up (mid-write for sure), on odd rounds after a random delay.
      while (!out.includes('saved') && child.exitCode === null) await new Promise((r) => setTimeout(r, 2));
      const before = tmpFiles().length;
      if (round % 2 === 0) {
        const until = Date.now() + 10_000;
        while (tmpFiles().length === before && Date.now() < until) await new Promise((r) => setImmediate(r));
        await new Promise((r) => setTimeout(r, Math.random() * 3));
      } else {
        await new Promise((r) => setTimeout(r, Math.random() * 150));
      }
      child.kill('SIGKILL');
      await closed;
      expect(child.signalCode).toBe('SIGKILL');
      if (tmpFiles().length > before) killedMidWrite += 1;
      const saved = [...out.matchAll(/saved (\d+)/g)].map((m) => Number(m[1]));
      const reported = saved.length ? saved[saved.length - 1] : last;
      // The target loads and is complete: every value is its step, which is the last reported
      // save or the one whose rename happened just before the kill.
      model.fill(-1);
      const { step, metadata } = loadCheckpoint(target, { model });
      expect([reported, reported + 1]).toContain(step);
      expect(metadata).toEqual({ gen: step });
      const w = model.w.toArraySync() as Float32Array;
      expect(w.length).toBe(BIG_SIZE);
      expect(w.every((v) => v === step)).toBe(true);
      last = step;
    }
    expect(killedMidWrite).toBeGreaterThan(0);
    expect(tmpFiles().length).toBeGreaterThan(0); // the debris a killed save leaves; load ignored it
    model.w.dispose();
  }, 120_000);
});

describe('safetensors', () => {
  it('writes the standard layout and round trips the values', () => {
    const m = new MLP(3, { hidden: [5], outFeatures: 2, rng: new Rng(7) });
    const f = path.join(dir, 'mlp.safetensors');
    exportSafetensors(m, f, { metadata: { format: 'pt', step: 12 } });
    const bytes = fs.readFileSync(f);
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const text = bytes.subarray(8, 8 + n).toString('utf8');
    expect(text.trimEnd().length).toBeLessThanOrEqual(n);
    expect(text.slice(text.trimEnd().length)).toMatch(/^ *$/);
    const header = JSON.parse(text) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    expect(header.__metadata__).toEqual({ format: 'pt', step: '12' });
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    const state = m.stateDict();
    expect(names).toEqual(Object.keys(state).sort());
    let end = 0;
    for (const name of names) {
      const e = header[name];
      expect(e.dtype).toBe('F32');
      expect(e.shape).toEqual(state[name].shape);
      expect(e.data_offsets[0]).toBe(end);
      end = e.data_offsets[1];
      expect(end - e.data_offsets[0]).toBe(4 * state[name].size);
    }
    expect(8 + n + end).toBe(bytes.length);
    const read = readSafetensors(f);
    for (const name of names) {
      expect(read[name].shape).toEqual(state[name].shape);
      expect(read[name].data).toEqual(state[name].toArraySync());
    }
    expect(readSafetensorsMetadata(f)).toEqual({ format: 'pt', step: '12' });
    // A model holding a table exports only its dense weights.
    const net = pepnet();
    const g = path.join(dir, 'pepnet.safetensors');
    exportSafetensors(net.model, g);
    expect(Object.keys(readSafetensors(g)).sort()).toEqual(Object.keys(net.model.stateDict()).sort());
    expect(readSafetensorsMetadata(g)).toEqual({});
    net.table.dispose();
  });

  it('rejects a truncated safetensors file', () => {
    const f = path.join(dir, 'lin.safetensors');
    exportSafetensors(new Linear(4, 4), f);
    fs.writeFileSync(f, fs.readFileSync(f).subarray(0, -4));
    expect(() => readSafetensors(f)).toThrow(/not a valid safetensors file: entry '\w+' has data_offsets/);
  });
});
