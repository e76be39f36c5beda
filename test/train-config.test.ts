/**
 * Job configs: every mistake is refused up front with the key named; schema additions the
 * configs use (categorical labels, log1p dense fields, task objectives, trimmed domains);
 * one row from an object and rows in hand as a batch (serving's path into the model).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ArgumentError, collate, defineSchema, FormatError, readCsv, rowFromObject } from '../lib';
import { loadTrainConfig, parseTrainConfig, TrainConfig } from '../lib/train/config';
import { clickConfig } from './fixtures/tabular-data';

const bad = (patch: (c: TrainConfig) => void): (() => unknown) => {
  const c: TrainConfig = JSON.parse(JSON.stringify(clickConfig('mlp')));
  patch(c);
  return () => parseTrainConfig(c, '/data');
};

describe('train config', () => {
  it('fills defaults and resolves paths against the config folder', () => {
    const c = parseTrainConfig({ schema: clickConfig('mlp').schema, data: { train: 'x/clicks.csv.gz' }, model: { kind: 'mmoe' } }, '/data', 'job1');
    expect(c.name).toBe('job1');
    expect(c.data.train).toBe('/data/x/clicks.csv.gz');
    expect(c.data.format).toBe('csv');
    expect(c.data.split).toEqual({ valid: 0.1, test: 0.1, seed: 1 });
    expect(c.optimizer).toEqual({ sparse: { kind: 'adagrad', lr: 0.05, weightDecay: 0 }, dense: { kind: 'adam', lr: 0.001, weightDecay: 0 } });
    expect(c.train).toMatchObject({ epochs: 4, batchSize: 512, shuffleBuffer: 10000, checkpointEvery: 0 });
    expect(c.output.dir).toBe(path.resolve('runs', 'job1'));
    expect(c.schema.objectives).toEqual(['binary', 'regression']);
  });

  it('names the bad key', () => {
    expect(bad((c) => ((c.model as { kind: string }).kind = 'mmeo'))).toThrow(/config\.model\.kind.*'mmeo'/);
    expect(bad((c) => ((c.model as unknown as Record<string, unknown>).experts = 4))).toThrow(/config\.model.*experts/);
    expect(bad((c) => (c.train = { epochs: 0 }))).toThrow(/config\.train\.epochs/);
    expect(bad((c) => (c.train = { batchSize: 1.5 }))).toThrow(/config\.train\.batchSize/);
    expect(bad((c) => (c.optimizer = { dense: { kind: 'lion' as 'adam' } }))).toThrow(/config\.optimizer\.dense\.kind/);
    expect(bad((c) => (c.optimizer = { sparse: { lr: -1 } }))).toThrow(/config\.optimizer\.sparse\.lr/);
    expect(bad((c) => (c.data.split = { valid: 0.7 }))).toThrow(/config\.data\.split\.valid/);
    expect(bad((c) => (c.data.train = 'clicks.parquet'))).toThrow(/config\.data\.train/);
    expect(bad((c) => (c.data.userField = 'price'))).toThrow(/config\.data\.userField/);
    expect(bad((c) => (c.model.table = { capacity: 10, dim: 4 }))).toThrow(/config\.model\.table\.dim/);
    expect(bad((c) => (c.schema.fields[0] = { name: 'user', kind: 'sparse', hsh: true } as never))).toThrow(/config\.schema\.fields\[0\].*hsh/);
    expect(bad((c) => (c.name = 'a b'))).toThrow(/config\.name/);
    expect(bad((c) => (c.output = { safetensors: 'yes' as never }))).toThrow(/config\.output\.safetensors/);
    expect(bad((c) => ((c as unknown as Record<string, unknown>).optimiser = {}))).toThrow(ArgumentError);
  });

  it('pepnet needs prior fields and a domain; bags and sequences are EPNet fields after pooling', () => {
    const pep = () => JSON.parse(JSON.stringify(clickConfig('pepnet'))) as TrainConfig;
    const noPriors = pep();
    delete noPriors.model.priorFields;
    expect(() => parseTrainConfig(noPriors)).toThrow(/config\.model\.priorFields/);
    const wrongPrior = pep();
    wrongPrior.model.priorFields = ['price'];
    expect(() => parseTrainConfig(wrongPrior)).toThrow(/config\.model\.priorFields\[0\]/);
    const noDomain = pep();
    noDomain.schema.fields = noDomain.schema.fields.filter((f) => f.kind !== 'domain');
    expect(() => parseTrainConfig(noDomain)).toThrow(/domain field/);
    const pooled = pep();
    expect(pooled.schema.fields.filter((f) => f.kind === 'multi' || f.kind === 'sequence').map((f) => f.name)).toEqual(['tags', 'hist']);
    expect(parseTrainConfig(pooled).model.kind).toBe('pepnet');
  });

  it('loads a file; invalid JSON and a missing file are clear errors', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-config-'));
    const file = path.join(dir, 'mine.json');
    fs.writeFileSync(file, JSON.stringify(clickConfig('mmoe', { name: undefined })));
    const c = loadTrainConfig(file);
    expect(c.name).toBe('mine');
    expect(c.data.train).toBe(path.join(dir, 'clicks.csv'));
    expect(c.output.dir).toBe(path.join(dir, 'out'));
    fs.writeFileSync(file, '{ "schema": ');
    expect(() => loadTrainConfig(file)).toThrow(FormatError);
    expect(() => loadTrainConfig(path.join(dir, 'none.json'))).toThrow(/Cannot read the config file/);
  });

  it('the bundled census configs parse', () => {
    for (const f of ['census-mmoe.json', 'census-pepnet.json']) {
      const c = loadTrainConfig(path.resolve(__dirname, '../configs', f));
      expect(c.schema.tasks).toEqual(['income', 'neverMarried']);
      expect(fs.existsSync(c.data.train)).toBe(true);
    }
  });
});

describe('schema additions for configs', () => {
  const schema = () =>
    defineSchema({
      fields: [
        { name: 'amount', kind: 'dense', transform: 'log1p' },
        { name: 'region', kind: 'domain' },
        { name: 'income', kind: 'label', positive: ['50000+.'] },
        { name: 'spend', kind: 'label', objective: 'regression' },
      ],
    });

  it('categorical labels, log1p dense values and trimmed domain values', async () => {
    const rows = [];
    for await (const r of readCsv(['amount,region,income,spend\n', '99, East, 50000+.,2.5\n', '-3,East , - 50000.,\n'], schema())) rows.push(r);
    expect(rows[0].dense[0]).toBeCloseTo(Math.log(100), 6);
    expect(rows[1].dense[0]).toBeCloseTo(-Math.log(4), 6);
    expect(rows.map((r) => r.labels)).toEqual([[1, 2.5], [0, null]]);
    expect(rows.map((r) => r.domain)).toEqual([0, 0]);
    expect(() => defineSchema({ fields: [{ name: 'y', kind: 'label', positive: [] }] })).toThrow(/schema\.fields\[0\]\.positive/);
    expect(() => defineSchema({ fields: [{ name: 'y', kind: 'label', objective: 'rank' as never }] })).toThrow(/schema\.fields\[0\]\.objective/);
    expect(() => defineSchema({ fields: [{ name: 'x', kind: 'dense', transform: 'log' as never }, { name: 'y', kind: 'label' }] })).toThrow(/schema\.fields\[0\]\.transform/);
  });

  it('rowFromObject reads a request body and names the bad field; collate batches rows in hand', () => {
    const s = schema();
    const r = rowFromObject(s, { amount: 0, region: 'West' });
    expect(r.labels).toEqual([null, null]);
    expect(r.domain).toBe(s.domainNames.indexOf('West'));
    expect(() => rowFromObject(s, { amount: 'lots', region: 'West' }, 'request 2')).toThrow("request 2, field 'amount': expected a number but found 'lots'");
    expect(() => rowFromObject(s, [] as never)).toThrow(ArgumentError);
    const b = collate([r, rowFromObject(s, { amount: 9, region: 'East', income: '50000+.' })], s);
    try {
      expect(b.size).toBe(2);
      expect(Array.from(b.raw.labelMask)).toEqual([0, 0, 1, 0]);
      expect(b.dense.shape).toEqual([2, 1]);
    } finally {
      b.dispose();
    }
    expect(() => collate([], s)).toThrow(/rows/);
  });
});
