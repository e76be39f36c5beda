/**
 * Sequence pooling and PEPNet over pooled fields, from a config (model.sequencePooling):
 * attention and POSO attention over the click log's history, with the candidate item as the
 * query, learn the click task as well as mean pooling and re-score identically from their
 * checkpoint; the pooled output fills the sequence's slot of x and nothing else moves (mean
 * pooling keeps x and the weights as they were); pepnet gates the pooled tag bag and history
 * as EPNet fields; a bad setting names its key.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TaskMetric } from '../lib';
import { lookupSequences, MultiHeadAttention, noGrad, PosoMultiHeadAttention, tensor } from '../lib';
import { collate } from '../lib/data/batches';
import { hashId } from '../lib/data/hash';
import { rowFromObject } from '../lib/data/readers';
import { PEPNet } from '../lib/models/pepnet';
import { slice } from '../lib/ops/layout';
import { parseTrainConfig, TrainConfig } from '../lib/train/config';
import type { ModelKind } from '../lib/train/config';
import { buildJob, evaluateJobCheckpoint, runTrainJob } from '../lib/train/job';
import { clickConfig, writeClickLog } from './fixtures/tabular-data';

let dir: string;
let meanAuc: number;
const quiet = { progress: { mode: 'none' as const }, log: () => {} };
const resolve = (c: TrainConfig) => parseTrainConfig(c, dir);
const allRows = (metrics: TaskMetric[], task: string): TaskMetric => metrics.find((m) => m.task === task && m.domain === 'all')!;
const train = { epochs: 3, batchSize: 128, shuffleBuffer: 1000 };

/** clickConfig with model fields added. */
function withModel(kind: ModelKind, model: Record<string, unknown>, extra: Partial<TrainConfig> = {}): TrainConfig {
  const base = clickConfig(kind, extra);
  return { ...base, model: { ...base.model, ...model } };
}

/** The click log with a second history column `hist2` (a copy of `hist`), read as a second sequence field. */
function twoHistories(kind: ModelKind, model: Record<string, unknown>): TrainConfig {
  const c = withModel(kind, model);
  const fields = c.schema.fields.flatMap((f) => (f.name === 'hist' ? [f, { ...f, name: 'hist2' }] : [f]));
  return { ...c, schema: { fields }, data: { ...c.data, train: 'clicks2.csv' } };
}

/** A model built from the config, without data (its table disposed by the caller). */
const build = (c: TrainConfig) => buildJob(resolve(c)).model;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-pooling-'));
  writeClickLog(dir, 6000);
  const lines = fs.readFileSync(path.join(dir, 'clicks.csv'), 'utf8').trim().split('\n');
  fs.writeFileSync(path.join(dir, 'clicks2.csv'), `${lines.map((l, i) => (i === 0 ? `${l},hist2` : `${l},${l.split(',')[3]}`)).join('\n')}\n`);
  const r = await runTrainJob(resolve(clickConfig('mmoe', { train, output: { dir: 'out-mean', report: false } })), quiet);
  meanAuc = allRows(r.test, 'click').auc!;
  expect(meanAuc).toBeGreaterThan(0.8);
}, 30_000);

describe('model.sequencePooling', () => {
  const runs: [string, ModelKind, Record<string, unknown>][] = [
    ['attention', 'mmoe', { sequencePooling: { mode: 'attention', target: 'item' } }],
    ['poso-attention', 'mmoe', { sequencePooling: { mode: 'poso-attention', target: 'item' }, conditionFields: ['user'] }],
    ['poso-attention (the conditioned kind\'s own code)', 'poso-mlp', { sequencePooling: { mode: 'poso-attention', target: ['item'], heads: 1, valueFolds: 2 } }],
  ];
  it.each(runs)('%s on %s learns the click task as well as mean pooling; the checkpoint re-scores identically', async (name, kind, model) => {
    const out = { dir: `out-${kind}-${name.split(' ')[0]}`, report: false };
    const r = await runTrainJob(resolve(withModel(kind, model, { train, output: out })), quiet);
    const click = allRows(r.test, 'click').auc!;
    expect(click).toBeGreaterThan(meanAuc - 0.03);
    expect(allRows(r.test, 'dwell').mse).toBeLessThan(1.0);
    expect(r.test.filter((m) => m.task === 'click').map((m) => m.domain).sort()).toEqual(['all', 'detail', 'feed', 'search']);
    expect(await evaluateJobCheckpoint(resolve(withModel(kind, model, { output: out })), r.checkpoint)).toEqual(r.test);
  }, 30_000);

  it("the pooled output fills the sequence's slot of x; mean pooling leaves x and the weights as they were", () => {
    const mean = build(twoHistories('mmoe', {}));
    const explicit = build(twoHistories('mmoe', { sequencePooling: 'mean' }));
    const sp = { mode: 'mean', target: 'item', fields: { hist2: { mode: 'attention', dim: 16, heads: 4 } } };
    const att = build(twoHistories('mmoe', { sequencePooling: sp }));
    const c = resolve(twoHistories('mmoe', { sequencePooling: sp }));
    expect(c.model.sequencePooling).toEqual({
      hist: { mode: 'mean', target: [], dim: 8, heads: 1, valueFolds: 4, gatePerHead: false, keyGate: true },
      hist2: { mode: 'attention', target: ['item'], dim: 16, heads: 4, valueFolds: 4, gatePerHead: false, keyGate: true, scale: undefined, gateHidden: undefined, valueGateFloor: undefined },
    });
    // The same weights, names and values, for the default and an explicit 'mean'; attention adds its own after them.
    const weights = (m: typeof mean) => m.namedParameters().map(([n, t]) => [n, Array.from(t.toArraySync() as Float32Array)]);
    expect(weights(explicit)).toEqual(weights(mean));
    const attNames = att.namedParameters().map(([n]) => n);
    expect(attNames.filter((n) => n.startsWith('sequenceAttention.'))).toEqual(['query', 'key', 'value', 'out'].flatMap((p) => [`sequenceAttention.0.${p}.weight`, `sequenceAttention.0.${p}.bias`]));
    expect(att.sequenceAttention[0]).toBeInstanceOf(MultiHeadAttention);
    const rows = [
      { user: 'u3', item: 'i7', tags: 't1|t2', hist: 'i1|i2', hist2: 'i1|i2|i9', price: 120, scene: 'search' },
      { user: 'u4', item: 'i8', tags: 't3', hist: '', hist2: '', price: 7, scene: 'feed' }, // an empty history: a zero attention input
    ];
    noGrad(() => {
      // Each model's schema learns the scene's vocabulary as rows arrive: the same rows, the same ids.
      const batchOf = (m: typeof mean) => collate(rows.map((r) => rowFromObject(m.schema, r)), m.schema);
      const [bm, batch] = [batchOf(mean), batchOf(att)];
      const [xm, xa] = [mean.embed(bm), att.embed(batch)];
      // x = [user, item ; tags ; hist ; hist2 ; scene ; price]: 8 · 6 + 1 wide for mean, hist2's slot 16 wide with attention.
      expect(xm.shape).toEqual([2, 49]);
      expect(xa.shape).toEqual([2, 57]);
      // The table is seeded alike: every slot but hist2's holds the same values.
      const cut = (x: typeof xm, from: number, n: number) => Array.from(slice(x, 1, from, n).toArraySync() as Float32Array);
      expect(cut(xa, 0, 32)).toEqual(cut(xm, 0, 32));
      expect(cut(xa, 48, 9)).toEqual(cut(xm, 40, 9));
      // hist2's slot: the attention over its embeddings with the item's as the query.
      const seq = lookupSequences(att.table, batch.sequences.hist2.padded, batch.sequences.hist2.lengths, { layout: 'padded' });
      const query = att.table.lookup(batch.ids.item);
      const want = (att.sequenceAttention[0] as MultiHeadAttention).forward(query, seq.embeddings, { lengths: seq.lengths });
      expect(cut(xa, 32, 16)).toEqual(Array.from(want.toArraySync() as Float32Array));
      const outBias = Array.from((att.sequenceAttention[0] as MultiHeadAttention).out!.bias!.toArraySync() as Float32Array);
      expect(cut(xa, 32, 16).slice(16)).toEqual(outBias); // the empty history: the attention's zero output through out_proj, its bias alone
      bm.dispose();
      batch.dispose();
    });
    for (const m of [mean, explicit, att]) m.table.dispose();
  });
});

describe('pepnet over pooled bags and sequences', () => {
  it('gates the tag bag and the history (mean or POSO attention) as EPNet fields; trains and re-scores identically', async () => {
    // clickConfig's pepnet: the item single-hot, the user a prior, the tags and the history pooled: 3 EPNet fields.
    const fields = (m: ReturnType<typeof build>) => (m.body as PEPNet).fields;
    const mean = build(clickConfig('pepnet'));
    expect(fields(mean)).toBe(3);
    mean.table.dispose();
    const model = { sequencePooling: { mode: 'poso-attention', target: 'item' } };
    const pep = build(withModel('pepnet', model));
    expect(fields(pep)).toBe(3);
    expect(pep.sequenceAttention[0]).toBeInstanceOf(PosoMultiHeadAttention);
    expect((pep.sequenceAttention[0] as PosoMultiHeadAttention).pcFeatures).toBe(8); // the scene's embedding
    pep.table.dispose();
    const out = { dir: 'out-pepnet-poso', report: false };
    const r = await runTrainJob(resolve(withModel('pepnet', model, { train, output: out })), quiet);
    expect(allRows(r.test, 'click').auc).toBeGreaterThan(meanAuc - 0.05);
    expect(await evaluateJobCheckpoint(resolve(withModel('pepnet', model, { output: out })), r.checkpoint)).toEqual(r.test);
  }, 30_000);

  it('with single-hot fields only it computes what PEPNet.forward does', () => {
    const base = clickConfig('pepnet');
    const config = { ...base, schema: { fields: base.schema.fields.filter((f) => f.kind !== 'multi' && f.kind !== 'sequence') } };
    const m = build(config);
    const schema = m.schema;
    expect((m.body as PEPNet).fields).toBe(1);
    m.eval();
    noGrad(() => {
      const rows = [
        { user: 'u3', item: 'i7', price: 120, scene: 'search' },
        { user: 'u5', item: 'i2', price: 3, scene: 'detail' },
      ].map((r) => rowFromObject(schema, r));
      const batch = collate(rows, schema);
      const domainIds = tensor(BigInt64Array.from(batch.raw.domain!, (d) => hashId('scene', schema.domainNames[d])), { shape: [2, 1] });
      const want = (m.body as PEPNet).forward({ ids: batch.ids.item.reshape(2, 1), domainIds, priorIds: batch.ids.user.reshape(2, 1), dense: batch.dense });
      expect(Array.from(m.forward(batch).toArraySync() as Float32Array)).toEqual(Array.from(want.toArraySync() as Float32Array));
      batch.dispose();
    });
    m.table.dispose();
  });
});

describe('bad sequencePooling settings name their key', () => {
  const bad = (sequencePooling: unknown, kind: ModelKind = 'mmoe', model: Record<string, unknown> = {}) => () => resolve(withModel(kind, { sequencePooling, ...model }));
  it('modes, keys, fields and targets', () => {
    expect(bad('max')).toThrow(/one of 'mean', 'attention', 'poso-attention' for config\.model\.sequencePooling but received 'max'/);
    expect(bad({ mode: 'attn', target: 'item' })).toThrow(/config\.model\.sequencePooling\.mode but received 'attn'/);
    expect(bad({ mode: 'attention', target: 'item', head: 2 })).toThrow(/Unknown option config\.model\.sequencePooling\.head \(expected one of mode, target, dim, heads, valueFolds, gatePerHead, keyGate, scale, gateHidden, valueGateFloor, fields\)/);
    expect(bad({ mode: 'attention' })).toThrow(/query of 'hist''s attention.*config\.model\.sequencePooling\.target but received undefined/);
    expect(bad({ mode: 'attention', target: 'tags' })).toThrow(/single-hot \(sparse\) field.*config\.model\.sequencePooling\.target but received 'tags'/);
    expect(bad({ mode: 'attention', target: ['item', 'price'] })).toThrow(/config\.model\.sequencePooling\.target\[1\] but received 'price'/);
    expect(bad({ mode: 'attention', target: ['item', 'item'] })).toThrow(/distinct.*config\.model\.sequencePooling\.target\[1\]/);
    expect(bad({ mode: 'attention', target: [] })).toThrow(/config\.model\.sequencePooling\.target but received \[\]/);
    expect(bad({ mode: 'attention', target: 'item', dim: 0 })).toThrow(/config\.model\.sequencePooling\.dim/);
    expect(bad({ mode: 'attention', target: 'item', heads: 3 })).toThrow(/divisor of the attention's dim 8.*config\.model\.sequencePooling\.heads but received 3/);
    expect(bad({ mode: 'poso-attention', target: 'item', valueFolds: 0 })).toThrow(/config\.model\.sequencePooling\.valueFolds/);
    expect(bad({ mode: 'poso-attention', target: 'item', scale: -1 })).toThrow(/config\.model\.sequencePooling\.scale/);
    expect(bad({ mode: 'poso-attention', target: 'item', keyGate: 'yes' })).toThrow(/config\.model\.sequencePooling\.keyGate/);
    // A key no field uses: attention's with mean, POSO's with plain attention.
    expect(bad({ target: 'item' })).toThrow(/no 'target'.*config\.model\.sequencePooling\.target but received 'item'/);
    expect(bad({ mode: 'attention', target: 'item', valueFolds: 2 })).toThrow(/no 'valueFolds'.*'poso-attention' pooling's.*config\.model\.sequencePooling\.valueFolds/);
    expect(bad({ fields: { hist: { mode: 'mean', heads: 2 } } })).toThrow(/no 'heads' for a field pooled by 'mean'.*config\.model\.sequencePooling\.fields\.hist\.heads/);
    // Per-field settings: sequence fields only; what a field leaves out comes from the top level.
    expect(bad({ fields: { tags: 'attention' } })).toThrow(/name of a sequence field.*config\.model\.sequencePooling\.fields\.tags/);
    expect(bad({ fields: { hist: 'sum' } })).toThrow(/config\.model\.sequencePooling\.fields\.hist but received 'sum'/);
    expect(bad({ fields: 'hist' })).toThrow(/config\.model\.sequencePooling\.fields but received 'hist'/);
    expect(bad({ fields: { hist: 'attention' } })).toThrow(/config\.model\.sequencePooling\.target but received undefined/);
    expect(resolve(withModel('mmoe', { sequencePooling: { target: 'user', fields: { hist: { mode: 'poso-attention', valueFolds: 2 } } } })).model.sequencePooling.hist).toMatchObject({ mode: 'poso-attention', target: ['user'], valueFolds: 2, heads: 2 });
    expect(resolve(withModel('mmoe', { sequencePooling: { mode: 'attention', target: 'item', dim: 6 } })).model.sequencePooling.hist.heads).toBe(2);
    expect(resolve(withModel('mmoe', { sequencePooling: { mode: 'attention', target: 'item', dim: 5 } })).model.sequencePooling.hist.heads).toBe(1);
  });

  it('the schema, the shallow tower, pepnet and the personalization code', () => {
    const c = withModel('mmoe', { sequencePooling: 'mean' });
    const noSequence = { ...c, schema: { fields: c.schema.fields.filter((f) => f.kind !== 'sequence') } };
    expect(() => resolve(noSequence)).toThrow(/the schema has no sequence field.*config\.model\.sequencePooling/);
    expect(bad({ mode: 'attention', target: 'user' }, 'mmoe', { shallowTower: { fields: ['user'] } })).toThrow(/outside config\.model\.shallowTower\.fields.*config\.model\.sequencePooling\.target but received 'user'/);
    // pepnet gates each pooled sequence as one field: the attention keeps the embedding's width.
    expect(bad({ mode: 'attention', target: 'item', dim: 16 }, 'pepnet')).toThrow(/embedding dim 8.*config\.model\.sequencePooling\.dim but received 16/);
    expect(resolve(withModel('pepnet', { sequencePooling: { mode: 'attention', target: 'user' } })).model.sequencePooling.hist.target).toEqual(['user']); // a prior field may be the candidate
    // POSO attention's code is config.model.conditionFields, on any kind; the domain by default.
    expect(resolve(withModel('mmoe', { sequencePooling: { mode: 'poso-attention', target: 'item' } })).model.conditionFields).toEqual(['scene']);
    expect(resolve(withModel('star', { sequencePooling: { mode: 'poso-attention', target: 'item' }, conditionFields: ['user', 'scene'] })).model.conditionFields).toEqual(['user', 'scene']);
    expect(bad({ mode: 'attention', target: 'item' }, 'mmoe', { conditionFields: ['user'] })).toThrow(/'poso-attention' sequence pooling.*config\.model\.conditionFields/);
    expect(bad({ mode: 'poso-attention', target: 'item' }, 'mmoe', { conditionFields: ['tags'] })).toThrow(/config\.model\.conditionFields\[0\] but received 'tags'/);
    const noDomain = withModel('mmoe', { sequencePooling: { mode: 'poso-attention', target: 'item' } });
    noDomain.schema = { fields: noDomain.schema.fields.filter((f) => f.kind !== 'domain') };
    expect(() => resolve(noDomain)).toThrow(/'poso-attention' sequence pooling \(there is no domain field to default to\).*config\.model\.conditionFields/);
    noDomain.model.conditionFields = ['user'];
    expect(resolve(noDomain).model.conditionFields).toEqual(['user']);
  });
});
