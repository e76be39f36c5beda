/**
 * TabularModel: the model a config describes — every id field of a schema embedded in one
 * shared EmbeddingTable (single-hot fields looked up, multi-hot bags and sequences
 * mean-pooled, the domain embedded by its value), beside the dense fields, into a body. x is
 * `embed(batch)`, (B, features) = [single-hot fields ; bags ; sequences ; domain ; dense]:
 *   mlp            x → MLP → T outputs
 *   shared-bottom  x → SharedBottom
 *   mmoe           x → MMoE
 *   poso-mmoe      PosoMMoE(x, pc)          pc: the conditionFields' embeddings (default: the domain's)
 *   hmoe           HMoE(bottom(x), domain ids)   one tower per domain value, a gate mixes them
 *   pepnet         EPNet(general fields | domain) → PPNet(· ; dense | prior fields)
 *   poso-mlp       PosoMLP(x, pc) → T outputs
 *   star           Star(x, domain)          partitioned norm, W ⊙ W_p layers, aux tower on onehot(domain)
 *   m2m            M2M(x, s)                s: the domain's embedding
 *   apg-mlp        ApgMLP(x, z) → T outputs  z: the conditionFields' embeddings (default: the domain's)
 * The condition and scenario embeddings are slices of x (one table lookup per step; their
 * gradient reaches the table through both uses). Any kind may add, to its logits:
 *   shallowTower   ShallowTower(bias fields): the fields leave x, feature dropout while training,
 *                  every field "missing" at evaluation
 *   scenarioLogit  ScenarioLogit(the scenario fields' embeddings, default the domain's)
 * forward(batch) takes a Batch from `batches`/`collate` and returns (B, T) logits.
 */
import { Batch } from '../data/batches';
import { hashId } from '../data/hash';
import { DataSchema } from '../data/schema';
import { ApgMLP } from '../dynamic/apg-mlp';
import { EmbeddingTable } from '../embedding/table';
import { M2M } from '../models/m2m';
import { PEPNet } from '../models/pepnet';
import { Star } from '../models/star';
import { HMoE, HMoEOptions } from '../multitask/hmoe';
import { MMoE } from '../multitask/mmoe';
import { PosoMMoE } from '../multitask/poso-mmoe';
import { ShallowTower } from '../multitask/shallow-tower';
import { SharedBottom } from '../multitask/shared-bottom';
import { Linear } from '../nn/linear';
import { MLP } from '../nn/mlp';
import { Module } from '../nn/module';
import { add } from '../ops/elementwise';
import { concat, slice } from '../ops/layout';
import { PosoMLP } from '../personalize/poso-mlp';
import { ScenarioLogit } from '../personalize/scenario-logit';
import { Rng } from '../random';
import { Tensor, tensor } from '../tensor';
import { ArgumentError } from '../errors';
import { checkOptions, checkWidths, invalid } from '../validate';
import { ModelKind, ResolvedConfig } from './config';

export interface TabularModelOptions {
  schema: DataSchema;
  model: ResolvedConfig['model'];
  /** The rows' optimizer. */
  sparseOptimizer: ResolvedConfig['optimizer']['sparse'];
  /** Seeds the table's rows and the body's weights. */
  seed: number;
}

/** The body's constructor errors name `options.x`; say where that is in the config (`config.model.options.x`, or under `prefix`). */
function inConfig<T>(make: () => T, prefix = 'config.model.options.'): T {
  try {
    return make();
  } catch (e) {
    if (e instanceof ArgumentError) throw new ArgumentError(e.message.replace(/(?<![\w.])options\./g, prefix));
    throw e;
  }
}

/** HMoE over a shared bottom: `bottom` (default [128]; [] = none) then HMoE's towers and gate. */
export class BottomHMoE extends Module {
  bottom: MLP | null;
  hmoe: HMoE;

  constructor(inFeatures: number, options: Omit<HMoEOptions, 'scenarios' | 'tasks'> & { bottom?: number[] }, scenarios: number, tasks: number, rng?: Rng) {
    super();
    const { bottom, ...rest } = checkOptions(options, 'options');
    const widths = checkWidths(bottom ?? [128], 'options.bottom', true);
    this.bottom = widths.length > 0 ? new MLP(inFeatures, { hidden: widths, activation: rest.activation, rng }) : null;
    this.hmoe = new HMoE(widths.length > 0 ? widths[widths.length - 1] : inFeatures, { ...rest, scenarios, tasks, rng });
  }

  /** x (B, in), scenario ids (B) → (B, T). */
  forward(x: Tensor, scenario: Tensor): Tensor {
    return this.hmoe.forward(this.bottom ? this.bottom.forward(x) : x, scenario);
  }
}

/**
 * ApgMLP's generated hidden layers, then a plain linear head with one output per task (a
 * generated output layer would squeeze every task through one rank-min(K, T) core).
 */
export class ApgTower extends Module {
  apg: ApgMLP;
  head: Linear;

  constructor(inFeatures: number, options: ConstructorParameters<typeof ApgMLP>[1], tasks: number, rng?: Rng) {
    super();
    this.apg = new ApgMLP(inFeatures, options);
    this.head = new Linear(this.apg.outFeatures, tasks, { rng });
  }

  /** x (B, in), z (B, condFeatures) for 'group' → (B, T). */
  forward(x: Tensor, z?: Tensor): Tensor {
    return this.head.forward(this.apg.forward(x, z));
  }
}

export class TabularModel extends Module {
  table: EmbeddingTable;
  body: Module;
  readonly kind: ModelKind;
  readonly schema: DataSchema;
  readonly tasks: number;
  /** The sparse fields fed to the body: all but the shallow tower's (and, for pepnet, the prior fields). */
  private readonly general: string[];
  private readonly priors: string[];
  /** Where each condition field's embedding starts in embed()'s output (poso-*, apg-mlp 'group'). */
  private readonly conditionAt: number[];
  /** Where the domain's embedding starts in embed()'s output (-1: no domain). */
  private readonly domainAt: number;
  /** The number of domain ids the per-domain bodies (hmoe, star) are sized for. */
  private readonly domains: number;
  /** The shallow tower's bias fields (not in the body's input). */
  private readonly biasFields: string[];
  /** The scenario logit's fields, and where their embeddings start in embed()'s output (pepnet: looked up apart). */
  private readonly sceneFields: string[];
  private readonly sceneAt: number[];
  /** model.shallowTower: a logit on the bias fields added to the body's. */
  shallow: ShallowTower | null;
  /** model.scenarioLogit: a logit on the scenario's embedding added to the body's, with dropout. */
  scenario: ScenarioLogit | null;

  constructor(options: TabularModelOptions) {
    super();
    const { schema, model, sparseOptimizer, seed } = options;
    this.schema = schema;
    this.kind = model.kind;
    this.tasks = schema.tasks.length;
    const rng = new Rng(seed);
    const dim = model.embeddingDim;
    this.table = inConfig(() => new EmbeddingTable({ ...(model.table as { capacity: number }), dim, seed, optimizer: sparseOptimizer }));
    this.priors = model.priorFields.slice();
    const sparse = schema.ofKind('sparse').map((f) => f.name);
    this.biasFields = model.shallowTower?.fields.slice() ?? [];
    this.general = sparse.filter((f) => !(model.kind === 'pepnet' && this.priors.includes(f)) && !this.biasFields.includes(f));
    const pooled = schema.ofKind('multi').length + schema.ofKind('sequence').length;
    const fields = this.general.length + pooled + (schema.domain && model.kind !== 'pepnet' ? 1 : 0);
    const inFeatures = fields * dim + schema.dense.length;
    const T = this.tasks;
    const o = model.options;
    this.domainAt = schema.domain && model.kind !== 'pepnet' ? (this.general.length + pooled) * dim : -1;
    this.domains = schema.domain ? schema.maxDomains : 0;
    const needsDomain = (why: string) => {
      if (this.domainAt < 0) throw invalid(`a schema with a domain field ('${model.kind}': ${why})`, 'config.model.kind', model.kind);
    };
    const conditioned = model.kind === 'poso-mlp' || model.kind === 'poso-mmoe' || (model.kind === 'apg-mlp' && (o.condition ?? 'group') === 'group');
    let conditionFields = model.conditionFields ?? [];
    if (conditioned && conditionFields.length === 0) {
      if (!schema.domain) throw invalid(`the fields that condition '${model.kind}' (there is no domain field to default to)`, 'config.model.conditionFields', model.conditionFields);
      conditionFields = [schema.domain.name];
    }
    const offsets = (fields: string[], at: string) =>
      fields.map((f, i) => {
        if (schema.domain && f === schema.domain.name) return this.domainAt;
        const j = this.general.indexOf(f);
        if (j < 0) throw invalid("the name of a sparse field or the domain field of the schema, outside config.model.shallowTower's fields", `${at}[${i}]`, f);
        return j * dim;
      });
    this.conditionAt = conditioned ? offsets(conditionFields, 'config.model.conditionFields') : [];
    this.sceneFields = model.scenarioLogit?.fields.slice() ?? [];
    this.sceneAt = model.kind === 'pepnet' ? [] : offsets(this.sceneFields, 'config.model.scenarioLogit.fields');
    const condWidth = this.conditionAt.length * dim;
    this.body = inConfig((): Module => {
      switch (model.kind) {
        case 'mlp':
          return new MLP(inFeatures, { hidden: [256, 128], ...o, outFeatures: T, rng } as ConstructorParameters<typeof MLP>[1]);
        case 'shared-bottom':
          return new SharedBottom(inFeatures, { ...o, tasks: T, rng });
        case 'mmoe':
          return new MMoE(inFeatures, { ...o, tasks: T, rng });
        case 'poso-mmoe':
          return new PosoMMoE(inFeatures, { ...o, tasks: T, pcFeatures: condWidth, rng });
        case 'hmoe':
          needsDomain('one tower per domain value');
          return new BottomHMoE(inFeatures, o, this.domains, T, rng);
        case 'pepnet':
          if (this.general.length === 0) throw invalid('sparse fields besides the prior fields (EPNet gates them)', 'config.model.priorFields', this.priors);
          return new PEPNet({ ...o, table: this.table, fields: this.general.length, domainFields: 1, priorFields: this.priors.length, denseFeatures: schema.dense.length, tasks: T, rng });
        case 'poso-mlp':
          return new PosoMLP(inFeatures, { hidden: [256, 128], ...o, pcFeatures: condWidth, outFeatures: T, rng } as ConstructorParameters<typeof PosoMLP>[1]);
        case 'star':
          needsDomain('weights per domain value');
          return new Star(inFeatures, { ...o, domains: this.domains, tasks: T, rng });
        case 'm2m':
          needsDomain("the domain's embedding generates the meta units");
          return new M2M(inFeatures, { ...o, scenarioFeatures: dim, tasks: T, rng });
        case 'apg-mlp':
          return new ApgTower(inFeatures, { hidden: [256, 128], condition: 'group', ...o, condFeatures: conditioned ? condWidth + 1 : undefined, rng } as ConstructorParameters<typeof ApgMLP>[1], T, rng);
      }
    });
    // The additions come after the body, so the body's initial weights do not depend on them.
    const st = model.shallowTower;
    this.shallow = null;
    this.scenario = null;
    if (st) this.shallow = inConfig(() => new ShallowTower({ fields: st.fields.length, dim, tasks: T, hidden: st.hidden, activation: st.activation, dropout: st.dropout, rng }), 'config.model.shallowTower.');
    const sl = model.scenarioLogit;
    if (sl) this.scenario = inConfig(() => new ScenarioLogit({ sceneFeatures: sl.fields.length * dim, tasks: T, dropout: sl.dropout, rng }), 'config.model.scenarioLogit.');
  }

  /** (B, T) logits (or values, for regression tasks): the body's, plus the scenario logit's and the shallow tower's when configured. */
  forward(batch: Batch): Tensor {
    if (batch === null || typeof batch !== 'object' || !batch.ids || !batch.raw) throw invalid('a Batch (from batches() or collate())', 'batch', batch);
    const B = batch.size;
    const dim = this.table.dim;
    let logits: Tensor;
    let scene: Tensor | null = null;
    let bias: Tensor | null = null;
    if (this.kind === 'pepnet') {
      logits = (this.body as PEPNet).forward({ ids: this.idMatrix(batch, this.general), domainIds: this.domainIds(batch).reshape(B, 1), priorIds: this.idMatrix(batch, this.priors), dense: batch.dense });
      // PEPNet looks its ids up itself: the additions' fields take one more lookup.
      const extra = [...this.sceneFields, ...this.biasFields];
      if (extra.length > 0) {
        const rows = this.table.lookup(this.idColumns(B, extra.map((f) => this.keysOf(batch, f)))).reshape(B, extra.length * dim);
        const S = this.sceneFields.length;
        if (S > 0) scene = extra.length === S ? rows : slice(rows, 1, 0, S * dim);
        if (this.biasFields.length > 0) bias = S === 0 ? rows : slice(rows, 1, S * dim, this.biasFields.length * dim);
      }
    } else {
      const looked = this.lookup(batch);
      logits = this.bodyForward(looked.x, batch);
      if (this.scenario) scene = this.slices(looked.x, this.sceneAt);
      bias = looked.bias;
    }
    if (this.scenario) logits = this.scenario.forward(logits, scene as Tensor);
    if (this.shallow) logits = add(logits, this.shallow.forward((bias as Tensor).reshape(B, this.biasFields.length, dim)));
    return logits;
  }

  /** Every kind's body but pepnet's, over x = embed(batch). */
  private bodyForward(x: Tensor, batch: Batch): Tensor {
    switch (this.kind) {
      case 'pepnet':
        throw new ArgumentError("'pepnet' embeds its own ids");
      case 'mlp':
      case 'shared-bottom':
      case 'mmoe':
        return (this.body as MLP).forward(x);
      case 'poso-mlp':
        return (this.body as PosoMLP).forward(x, this.slices(x, this.conditionAt));
      case 'poso-mmoe':
        return (this.body as PosoMMoE).forward(x, this.slices(x, this.conditionAt));
      case 'apg-mlp':
        return (this.body as ApgTower).forward(x, this.conditionAt.length > 0 ? this.apgCondition(x) : undefined);
      case 'hmoe':
        return (this.body as BottomHMoE).forward(x, tensor(Int32Array.from(this.domainIdsOf(batch)), { device: x.device }));
      case 'star':
        return (this.body as Star).forward(x, this.domainMask(batch, x));
      case 'm2m':
        return (this.body as M2M).forward(x, slice(x, 1, this.domainAt, this.table.dim));
    }
  }

  /** The embeddings starting at offsets `at` of embed()'s output x, concatenated: (B, at.length · dim). */
  private slices(x: Tensor, at: number[]): Tensor {
    const dim = this.table.dim;
    // Adjacent fields in the order given come out as one slice.
    const parts: Tensor[] = [];
    for (let i = 0; i < at.length; ) {
      let j = i + 1;
      while (j < at.length && at[j] === at[j - 1] + dim) ++j;
      parts.push(slice(x, 1, at[i], (j - i) * dim));
      i = j;
    }
    return parts.length === 1 ? parts[0] : concat(parts, 1);
  }

  /**
   * APG's z: [condition embeddings ; 1]. The constant column makes the generator's first
   * cores a random matrix shared by every sample (its bias starts at 0 and the embeddings
   * near 0, which would start every core S(z) near 0 and every layer near W = 0).
   */
  private apgCondition(x: Tensor): Tensor {
    const B = x.shape[0];
    return concat([this.slices(x, this.conditionAt), tensor(new Float32Array(B).fill(1), { shape: [B, 1], device: x.device })], 1);
  }

  /** (B) the rows' domain ids, from the batch's host copy. */
  private domainIdsOf(batch: Batch): Int32Array {
    const d = batch.raw.domain;
    if (!d) throw invalid("a batch with domain ids (read with this model's schema)", 'batch.raw.domain', d);
    return d;
  }

  /** (B, D) float32 one-hot of the rows' domains, built on the host (no device read-back). */
  private domainMask(batch: Batch, x: Tensor): Tensor {
    const d = this.domainIdsOf(batch);
    const D = this.domains;
    const mask = new Float32Array(d.length * D);
    d.forEach((id, b) => {
      if (id < 0 || id >= D) throw invalid(`a domain id in [0, ${D})`, `batch.raw.domain[${b}]`, id);
      mask[b * D + id] = 1;
    });
    return tensor(mask, { shape: [d.length, D], device: x.device });
  }

  /**
   * The body's input (B, features): the single-hot fields, each bag and sequence mean-pooled,
   * the domain, then the dense fields. The single-hot fields and the domain are embedded by one
   * table lookup of a (B, fields) id matrix: one dedup, one gather, one fused update per step.
   */
  embed(batch: Batch): Tensor {
    return this.lookup(batch).x;
  }

  /** embed()'s x, and the shallow tower's bias fields (B, fields · dim), looked up with the others (null without a shallow tower). */
  private lookup(batch: Batch): { x: Tensor; bias: Tensor | null } {
    const B = batch.size;
    const columns = [...this.general.map((f) => this.field(batch.raw.ids, f))];
    if (this.schema.domain) columns.push(this.domainKeys(batch));
    const main = columns.length;
    // The shallow tower's fields ride along in the same lookup, after the others.
    for (const f of this.biasFields) columns.push(this.field(batch.raw.ids, f));
    const dim = this.table.dim;
    const parts: Tensor[] = [];
    let domain: Tensor | null = null;
    let bias: Tensor | null = null;
    let rows: Tensor | null = null;
    if (columns.length > 0) {
      const all = this.table.lookup(this.idColumns(B, columns)).reshape(B, columns.length * dim);
      if (columns.length === main) rows = all;
      else {
        bias = slice(all, 1, main * dim, (columns.length - main) * dim);
        if (main > 0) rows = slice(all, 1, 0, main * dim);
      }
    }
    if (rows) {
      const pooled = this.schema.ofKind('multi').length + this.schema.ofKind('sequence').length;
      if (this.schema.domain && pooled > 0) {
        // The domain's embedding goes after the bags and sequences, where the body expects it.
        const F = this.general.length;
        if (F > 0) parts.push(slice(rows, 1, 0, F * dim));
        domain = slice(rows, 1, F * dim, dim);
      } else {
        parts.push(rows);
      }
    }
    for (const f of this.schema.ofKind('multi')) {
      const bag = this.field(batch.bags, f.name);
      parts.push(this.table.lookupBag(bag.ids, bag.offsets, { mode: 'mean' }));
    }
    for (const f of this.schema.ofKind('sequence')) {
      const s = this.field(batch.sequences, f.name);
      const [ids, offsets] = sequenceBags(s.padded, s.lengths, f.maxLength);
      parts.push(this.table.lookupBag(ids, offsets, { mode: 'mean' }));
    }
    if (domain) parts.push(domain);
    if (this.schema.dense.length > 0) parts.push(batch.dense);
    return { x: concat(parts, 1), bias };
  }

  /** (B) a field's ids: a single-hot field's, or the domain's keys. */
  private keysOf(batch: Batch, name: string): BigInt64Array {
    return this.schema.domain && name === this.schema.domain.name ? this.domainKeys(batch) : this.field(batch.raw.ids, name);
  }

  private field<T>(record: Record<string, T>, name: string): T {
    const v = record[name];
    if (v === undefined) throw invalid(`a batch with field '${name}' (read with this model's schema)`, 'batch', Object.keys(record));
    return v;
  }

  /** (B, fields.length) int64 ids of single-hot fields, from the batch's host copies. */
  private idMatrix(batch: Batch, fields: string[]): Tensor {
    return this.idColumns(batch.size, fields.map((f) => this.field(batch.raw.ids, f)));
  }

  /** (B, columns.length) int64 on the table's device: column j is columns[j]. */
  private idColumns(B: number, columns: BigInt64Array[]): Tensor {
    const F = columns.length;
    const out = new BigInt64Array(B * F);
    columns.forEach((ids, j) => {
      for (let b = 0; b < B; ++b) out[b * F + j] = ids[b];
    });
    return tensor(out, { shape: [B, F], device: this.table.device });
  }

  /** (B) each row's domain value as an id, hashed under the domain field's name. */
  private domainKeys(batch: Batch): BigInt64Array {
    const domain = this.schema.domain!;
    const d = batch.raw.domain;
    if (!d) throw invalid('a batch with domain ids (read with this model\'s schema)', 'batch.raw.domain', d);
    const keys = this.schema.domainNames.map((n) => hashId(domain.name, n));
    return BigInt64Array.from(d, (id) => keys[id]);
  }

  /** (B) int64: domainKeys on the table's device. */
  private domainIds(batch: Batch): Tensor {
    return tensor(this.domainKeys(batch), { device: this.table.device });
  }
}

/** A padded (B, L) sequence batch as bags: the first lengths[b] ids of each row and their offsets. */
function sequenceBags(padded: BigInt64Array, lengths: Int32Array, L: number): [BigInt64Array, BigInt64Array] {
  const total = lengths.reduce((s, n) => s + n, 0);
  const ids = new BigInt64Array(total);
  const offsets = new BigInt64Array(lengths.length);
  let at = 0;
  lengths.forEach((n, b) => {
    offsets[b] = BigInt(at);
    ids.set(padded.subarray(b * L, b * L + n), at);
    at += n;
  });
  return [ids, offsets];
}
