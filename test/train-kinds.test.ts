/**
 * Every model family from a config: the kinds added to the four of train-job.test.ts
 * (poso-mlp, poso-mmoe, hmoe, star, m2m, apg-mlp) each parse, train on the generated click
 * log, learn the click task about as well as mmoe does, report per-domain metrics, and
 * re-score identically from their checkpoint; a config a kind cannot use fails by its key.
 * model.shallowTower and model.scenarioLogit add their logits to any kind's.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TaskMetric } from '../lib';
import { MODEL_KINDS, MODEL_OPTIONS, parseTrainConfig, TrainConfig } from '../lib/train/config';
import type { ModelKind } from '../lib/train/config';
import { buildJob, evaluateJobCheckpoint, runTrainJob } from '../lib/train/job';
import { jobPredictor } from '../lib/serve/job-predictor';
import { collate } from '../lib/data/batches';
import { rowFromObject } from '../lib/data/readers';
import { noGrad, Rng } from '../lib';
import { clickConfig, writeClickLog } from './fixtures/tabular-data';

let dir: string;
let mmoeAuc: number;
const quiet = { progress: { mode: 'none' as const }, log: () => {} };
const resolve = (c: TrainConfig) => parseTrainConfig(c, dir);
const allRows = (metrics: TaskMetric[], task: string): TaskMetric => metrics.find((m) => m.task === task && m.domain === 'all')!;
const NEW_KINDS = ['poso-mlp', 'poso-mmoe', 'hmoe', 'star', 'm2m', 'apg-mlp'] as const;
const train = { epochs: 3, batchSize: 128, shuffleBuffer: 1000 };

/** clickConfig with model fields replaced (options merged into the kind's defaults). */
function withModel(kind: ModelKind, model: Record<string, unknown>, extra: Partial<TrainConfig> = {}): TrainConfig {
  const base = clickConfig(kind, extra);
  const { options, ...rest } = model as { options?: Record<string, unknown> };
  return { ...base, model: { ...base.model, ...rest, options: { ...base.model.options, ...options } } };
}

/** clickConfig over a schema without the scene (domain) field. */
function noDomain(kind: ModelKind, model: Record<string, unknown> = {}): TrainConfig {
  const c = withModel(kind, model);
  return { ...c, schema: { fields: c.schema.fields.filter((f) => f.kind !== 'domain') } };
}

/** Each kind's test run: poso-mmoe conditions on the user and the scene, the others on their defaults. */
const MODELS: Record<(typeof NEW_KINDS)[number], Record<string, unknown>> = {
  'poso-mlp': {},
  'poso-mmoe': { conditionFields: ['user', 'scene'] },
  hmoe: {},
  star: {},
  m2m: {},
  'apg-mlp': {},
};

/** The click log with a position column: clicked rows sit higher (a selection bias the body never sees). */
function addPositions(from: string, to: string): void {
  const rng = new Rng(77);
  const lines = fs.readFileSync(path.join(dir, from), 'utf8').trim().split('\n');
  const out = lines.map((line, i) => (i === 0 ? `${line},pos` : `${line},p${line.split(',')[6] === '1' ? Math.floor(rng.uniform() * 2) : Math.floor(rng.uniform() * 5)}`));
  fs.writeFileSync(path.join(dir, to), `${out.join('\n')}\n`);
}

/** clickConfig over the log with positions, `pos` a sparse field. */
function withPositions(kind: ModelKind, model: Record<string, unknown>, extra: Partial<TrainConfig> = {}): TrainConfig {
  const c = withModel(kind, model, extra);
  return { ...c, schema: { fields: [...c.schema.fields, { name: 'pos', kind: 'sparse' }] }, data: { ...c.data, train: 'clicks-pos.csv' } };
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-kinds-'));
  writeClickLog(dir, 6000);
  addPositions('clicks.csv', 'clicks-pos.csv');
  const r = await runTrainJob(resolve(clickConfig('mmoe', { train, output: { dir: 'out-mmoe', report: false } })), quiet);
  mmoeAuc = allRows(r.test, 'click').auc!;
  expect(mmoeAuc).toBeGreaterThan(0.8);
}, 30_000);

describe('every model kind from a config', () => {
  it('lists the ten kinds, each with its options', () => {
    expect([...MODEL_KINDS].sort()).toEqual(['apg-mlp', 'hmoe', 'm2m', 'mlp', 'mmoe', 'pepnet', 'poso-mlp', 'poso-mmoe', 'shared-bottom', 'star']);
    for (const k of MODEL_KINDS) expect(MODEL_OPTIONS[k].length).toBeGreaterThan(0);
  });

  it.each(NEW_KINDS)('%s learns the click task about as well as mmoe; per-domain metrics; the checkpoint re-scores identically', async (kind) => {
    const config = withModel(kind, MODELS[kind], { train, output: { dir: `out-${kind}`, report: false } });
    const r = await runTrainJob(resolve(config), quiet);
    expect(r.fit.history).toHaveLength(3);
    const click = allRows(r.test, 'click').auc!;
    expect(click).toBeGreaterThan(0.78);
    expect(click).toBeGreaterThan(mmoeAuc - 0.07);
    expect(allRows(r.test, 'dwell').mse).toBeLessThan(1.0); // the labels' variance is ~2.3
    expect(r.test.filter((m) => m.task === 'click').map((m) => m.domain).sort()).toEqual(['all', 'detail', 'feed', 'search']);
    for (const m of r.test.filter((m) => m.task === 'click')) expect(m.auc).toBeGreaterThan(0.7);
    // A fresh build: weights, buffers (STAR's running statistics) and rows from the checkpoint.
    const again = await evaluateJobCheckpoint(resolve(withModel(kind, MODELS[kind], { output: { dir: `out-${kind}` } })), r.checkpoint);
    expect(again).toEqual(r.test);
  }, 30_000);

  it("builds each kind's body from its options and conditions it as configured", () => {
    const build = (c: TrainConfig) => {
      const parts = buildJob(resolve(c));
      parts.model.table.dispose();
      return parts.model;
    };
    const names = (c: TrainConfig) => build(c).namedParameters().map(([n]) => n);
    expect(names(clickConfig('poso-mlp')).filter((n) => n.startsWith('body.gates.')).length).toBeGreaterThan(0);
    expect(names(clickConfig('star')).some((n) => n.startsWith('body.norm.'))).toBe(true);
    expect(names(withModel('star', { options: { normalize: false } })).some((n) => n.startsWith('body.norm.'))).toBe(false);
    expect(build(clickConfig('star')).namedBuffers().some(([n]) => n.startsWith('body.norm.'))).toBe(true); // the running statistics
    expect(names(withModel('hmoe', { options: { bottom: [] } })).some((n) => n.startsWith('body.bottom.'))).toBe(false);
    expect(names(clickConfig('hmoe')).filter((n) => /^body\.hmoe\.towers\.\d+\./.test(n) && n.endsWith('weight')).map((n) => n.split('.')[3])).toContain('2'); // 3 scenes, 3 towers
    // POSO's personalization code: the scene (default), or the user and the scene (16 wide).
    const pc = (c: TrainConfig) => (build(c).body as unknown as { pcFeatures: number }).pcFeatures;
    expect(pc(clickConfig('poso-mmoe'))).toBe(8);
    expect(pc(withModel('poso-mmoe', { conditionFields: ['user', 'scene'] }))).toBe(16);
    expect(pc(noDomain('poso-mlp', { conditionFields: ['item'] }))).toBe(8); // no domain needed with condition fields
    // APG-MLP's z: the condition's embeddings and a constant; 'self' takes no condition.
    expect(resolve(clickConfig('apg-mlp')).model.conditionFields).toEqual(['scene']);
    expect(resolve(withModel('apg-mlp', { options: { condition: 'self' } })).model.conditionFields).toEqual([]);
    const apg = (c: TrainConfig) => (build(c).body as unknown as { apg: { layers: { condFeatures: number }[] } }).apg.layers.map((l) => l.condFeatures);
    expect(apg(withModel('apg-mlp', { conditionFields: ['user', 'item'] }))).toEqual([17]);
    expect(apg(noDomain('apg-mlp', { options: { condition: 'self' } }))).toEqual([33]); // its own input: user, item, tags, hist (4 × 8) and the price
  });

  it('a kind that needs the domain, on a schema without one, names config.model.kind or config.model.conditionFields', () => {
    for (const kind of ['hmoe', 'star', 'm2m'] as const) expect(() => resolve(noDomain(kind))).toThrow(new RegExp(`a schema with a domain field \\('${kind}'.*config\\.model\\.kind but received '${kind}'`));
    for (const kind of ['poso-mlp', 'poso-mmoe', 'apg-mlp'] as const) expect(() => resolve(noDomain(kind))).toThrow(/there is no domain field to default to.*config\.model\.conditionFields/);
    // hmoe and star keep weights per domain value: the domain field says how many.
    for (const kind of ['hmoe', 'star'] as const) {
      const c = clickConfig(kind);
      const fields = c.schema.fields.map((f) => (f.kind === 'domain' ? { name: f.name, kind: f.kind } : f));
      expect(() => resolve({ ...c, schema: { fields } })).toThrow(/'values' or 'maxDomains'.*config\.schema\.fields\[5\]\.maxDomains/);
      const fixed = c.schema.fields.map((f) => (f.kind === 'domain' ? { name: f.name, kind: f.kind, values: ['feed', 'search', 'detail'] } : f));
      expect(resolve({ ...c, schema: { fields: fixed } }).schema.maxDomains).toBe(3);
    }
  });

  it('bad conditionFields name the entry', () => {
    const bad = (conditionFields: unknown, kind: ModelKind = 'poso-mlp') => () => resolve(withModel(kind, { conditionFields }));
    expect(bad(['nope'])).toThrow(/sparse field or the domain field.*config\.model\.conditionFields\[0\] but received 'nope'/);
    expect(bad(['user', 'tags'])).toThrow(/config\.model\.conditionFields\[1\] but received 'tags'/); // multi-hot
    expect(bad(['price'], 'apg-mlp')).toThrow(/config\.model\.conditionFields\[0\] but received 'price'/); // dense
    expect(bad(['click'], 'poso-mmoe')).toThrow(/config\.model\.conditionFields\[0\] but received 'click'/); // a label
    expect(bad(['user', 'user'])).toThrow(/distinct field names for config\.model\.conditionFields\[1\]/);
    expect(bad([])).toThrow(/non-empty array.*config\.model\.conditionFields/);
    expect(bad('user')).toThrow(/an array of strings for config\.model\.conditionFields/);
    expect(bad(['user'], 'mmoe')).toThrow(/only 'poso-mlp', 'poso-mmoe', 'apg-mlp' take them.*config\.model\.conditionFields/);
    expect(() => resolve(withModel('apg-mlp', { conditionFields: ['user'], options: { condition: 'self' } }))).toThrow(/condition 'self'.*config\.model\.conditionFields/);
  });

  it('option names are checked per kind up front; bad values name config.model.options.x', () => {
    const parse = (kind: ModelKind, options: Record<string, unknown>) => () => resolve(withModel(kind, { options }));
    expect(parse('poso-mlp', { hiden: [32] })).toThrow(/Unknown option config\.model\.options\.hiden \(expected one of hidden, activation, scale, gateHidden, placement\)/);
    expect(parse('mmoe', { expert: 4 })).toThrow(/config\.model\.options\.expert\b/); // the existing kinds too
    // What the model sets itself is not an option: the task count, the condition's width, the domain count.
    expect(parse('star', { domains: 3 })).toThrow(/Unknown option config\.model\.options\.domains/);
    expect(parse('poso-mmoe', { pcFeatures: 8 })).toThrow(/config\.model\.options\.pcFeatures/);
    expect(parse('m2m', { tasks: 2 })).toThrow(/config\.model\.options\.tasks/);
    expect(parse('apg-mlp', { outFeatures: 2 })).toThrow(/config\.model\.options\.outFeatures/);
    expect(parse('hmoe', { scenarios: 3 })).toThrow(/config\.model\.options\.scenarios/);
    // Values are checked by the body's constructor when the job is built (before any data is read).
    const build = (kind: ModelKind, options: Record<string, unknown>) => () => buildJob(resolve(withModel(kind, { options })));
    expect(build('m2m', { towerLayers: -1 })).toThrow(/config\.model\.options\.towerLayers/);
    expect(build('hmoe', { bottom: [0] })).toThrow(/config\.model\.options\.bottom\[0\]/);
    expect(build('hmoe', { gateHidden: 3 })).toThrow(/config\.model\.options\.gateHidden/);
    expect(build('poso-mmoe', { scale: 0 })).toThrow(/config\.model\.options\.scale/);
    expect(build('poso-mlp', { placement: 'early' })).toThrow(/config\.model\.options\.placement/);
    expect(build('star', { dropout: 2 })).toThrow(/config\.model\.options\.dropout/);
    expect(build('apg-mlp', { condition: 'both' })).toThrow(/config\.model\.options\.condition/);
    expect(build('apg-mlp', { rank: 16, overParam: 8 })).toThrow(/config\.model\.options\.overParam/);
  });

  it('model.shallowTower: the bias fields leave the body, their logit is learned while training and constant at evaluation', async () => {
    const model = { shallowTower: { fields: ['pos'], dropout: 0.1 } };
    const r = await runTrainJob(resolve(withPositions('mmoe', model, { train, output: { dir: 'out-shallow', report: false } })), quiet);
    expect(allRows(r.test, 'click').auc).toBeGreaterThan(mmoeAuc - 0.03); // scored without the positions
    const c = resolve(withPositions('mmoe', model, { output: { dir: 'out-shallow' } }));
    expect(await evaluateJobCheckpoint(c, r.checkpoint)).toEqual(r.test);
    const served = jobPredictor(c, r.checkpoint);
    const { predictor, parts } = served;
    const row = { user: 'u3', item: 'i7', tags: 't1', hist: 'i1|i2', price: 120, scene: 'search', pos: 'p0' };
    expect(predictor.predict([{ ...row, pos: 'p4' }])).toEqual(predictor.predict([row])); // every position missing at serving
    // The tower learned the bias: with the positions observed, the top slots score higher.
    const m = parts.model;
    m.eval();
    const [top, low] = noGrad(() => {
      const batch = collate([rowFromObject(c.schema, row), rowFromObject(c.schema, { ...row, pos: 'p4' })], c.schema);
      const logits = m.shallow!.observed(m.table.lookup(batch.ids.pos).reshape(2, 1, 8)).toArraySync() as Float32Array; // (2, T): click, dwell
      batch.dispose();
      return [logits[0], logits[2]];
    });
    expect(top).toBeGreaterThan(low + 0.5);
    expect(m.namedParameters().some(([n]) => n.startsWith('shallow.'))).toBe(true);
    await served.dispose();
  }, 30_000);

  it('model.scenarioLogit on any kind (pepnet looks its fields up apart); with a shallow tower too', async () => {
    for (const [kind, model] of [
      ['star', { scenarioLogit: true }],
      ['pepnet', { scenarioLogit: { dropout: 0.2 }, shallowTower: { fields: ['pos'], hidden: [4] } }],
    ] as const) {
      const r = await runTrainJob(resolve(withPositions(kind, model, { train, output: { dir: `out-scene-${kind}`, report: false } })), quiet);
      expect(allRows(r.test, 'click').auc).toBeGreaterThan(0.78);
      expect(await evaluateJobCheckpoint(resolve(withPositions(kind, model, { output: { dir: `out-scene-${kind}` } })), r.checkpoint)).toEqual(r.test);
    }
    const parts = buildJob(resolve(withModel('poso-mlp', { scenarioLogit: { fields: ['scene', 'item'] } })));
    expect(parts.model.scenario!.fc.inFeatures).toBe(16);
    parts.model.table.dispose();
  }, 30_000);

  it('bad shallowTower and scenarioLogit settings name their key', () => {
    const bad = (model: Record<string, unknown>, kind: ModelKind = 'mmoe') => () => resolve(withPositions(kind, model));
    expect(bad({ shallowTower: { fields: ['scene'] } })).toThrow(/sparse field.*config\.model\.shallowTower\.fields\[0\] but received 'scene'/);
    expect(bad({ shallowTower: { fields: ['pos', 'tags'] } })).toThrow(/config\.model\.shallowTower\.fields\[1\]/);
    expect(bad({ shallowTower: { fields: [] } })).toThrow(/config\.model\.shallowTower\.fields/);
    expect(bad({ shallowTower: { fields: ['pos'], drop: 0.1 } })).toThrow(/Unknown option config\.model\.shallowTower\.drop/);
    expect(bad({ shallowTower: { fields: ['pos'], dropout: 1 } })).toThrow(/config\.model\.shallowTower\.dropout/);
    expect(bad({ shallowTower: { fields: ['pos'], hidden: [0] } })).toThrow(/config\.model\.shallowTower\.hidden\[0\]/);
    expect(bad({ shallowTower: { fields: ['pos'] }, conditionFields: ['pos'] }, 'poso-mlp')).toThrow(/outside config\.model\.shallowTower\.fields.*config\.model\.conditionFields\[0\]/);
    expect(bad({ shallowTower: { fields: ['pos'] }, scenarioLogit: { fields: ['pos'] } })).toThrow(/config\.model\.scenarioLogit\.fields\[0\]/);
    expect(bad({ shallowTower: { fields: ['user', 'pos'] }, priorFields: ['user'] }, 'pepnet')).toThrow(/config\.model\.priorFields\[0\]/);
    // pepnet with nothing left for EPNet to gate: no single-hot field outside the priors and the tower, no bag or sequence.
    const singleHot = (c: TrainConfig): TrainConfig => ({ ...c, schema: { fields: c.schema.fields.filter((f) => f.kind !== 'multi' && f.kind !== 'sequence') } });
    expect(() => resolve(singleHot(withPositions('pepnet', { shallowTower: { fields: ['item', 'pos'] } })))).toThrow(/EPNet gates them.*config\.model\.shallowTower\.fields/);
    expect(resolve(withPositions('pepnet', { shallowTower: { fields: ['item', 'pos'] } })).model.shallowTower!.fields).toEqual(['item', 'pos']); // EPNet gates the bag and the sequence
    expect(bad({ scenarioLogit: 'yes' })).toThrow(/config\.model\.scenarioLogit/);
    expect(bad({ scenarioLogit: { fields: ['price'] } })).toThrow(/config\.model\.scenarioLogit\.fields\[0\] but received 'price'/);
    expect(bad({ scenarioLogit: { dropout: -1 } })).toThrow(/config\.model\.scenarioLogit\.dropout/);
    expect(() => resolve(noDomain('mmoe', { scenarioLogit: true }))).toThrow(/no domain field to default to.*config\.model\.scenarioLogit\.fields/);
    expect(resolve(noDomain('mmoe', { scenarioLogit: { fields: ['user'] } })).model.scenarioLogit).toEqual({ fields: ['user'], dropout: 0.1 });
    expect(resolve(clickConfig('mmoe')).model).toMatchObject({ shallowTower: null, scenarioLogit: null });
  });
});
