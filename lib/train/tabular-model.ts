import { Batch } from '../data/batches';
import { hashId } from '../data/hash';
import { DataSchema } from '../data/schema';
import { ApgMLP } from '../dynamic/apg-mlp';
import { lookupSequences } from '../embedding/sequence';
import { EmbeddingTableOptions } from '../embedding/options';
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
import { MultiHeadAttention, PosoMultiHeadAttention } from '../personalize/poso-mha';
import { PosoMLP } from '../personalize/poso-mlp';
import { ScenarioLogit } from '../personalize/scenario-logit';
import { Rng } from '../random';
import { Tensor, tensor } from '../tensor';
import { ArgumentError } from '../errors';
import { checkOptions, checkWidths, invalid } from '../validate';
import { ModelKind, ResolvedConfig, SequencePooling } from './config';

/** Options of {@link TabularModel}: the schema, the resolved `config.model` and the rows' optimizer. */
export interface TabularModelOptions {
  /** The schema whose fields become the model's inputs. */
  schema: DataSchema;
  /** The model's settings, as `ResolvedConfig.model`. */
  model: ResolvedConfig['model'];
  /** The rows' optimizer. */
  sparseOptimizer: ResolvedConfig['optimizer']['sparse'];
  /** Seeds the table's rows and the body's weights. */
  seed: number;
  /** Makes the table from its options (default: a new EmbeddingTable; distributed jobs pass a sharded one's maker). */
  makeTable?: (options: EmbeddingTableOptions) => EmbeddingTable;
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

/**
 * TabularModel: the model a config describes — every id field of a schema embedded in one
 * shared EmbeddingTable (single-hot fields looked up, multi-hot bags mean-pooled, sequences
 * mean-pooled or attended over with the candidate as the query, the domain embedded by its
 * value), beside the dense fields, into a body. x is `embed(batch)`, (B, features) =
 * [single-hot fields ; bags ; sequences ; domain ; dense]:
 *   mlp            x → MLP → T outputs
 *   shared-bottom  x → SharedBottom
 *   mmoe           x → MMoE
 *   poso-mmoe      PosoMMoE(x, pc)          pc: the conditionFields' embeddings (default: the domain's)
 *   hmoe           HMoE(bottom(x), domain ids)   one tower per domain value, a gate mixes them
 *   pepnet         EPNet([general fields ; pooled bags ; pooled sequences] | domain) → PPNet(· ; dense | prior fields)
 *   poso-mlp       PosoMLP(x, pc) → T outputs
 *   star           Star(x, domain)          partitioned norm, W ⊙ W_p layers, aux tower on onehot(domain)
 *   m2m            M2M(x, s)                s: the domain's embedding
 *   apg-mlp        ApgMLP(x, z) → T outputs  z: the conditionFields' embeddings (default: the domain's)
 * The condition and scenario embeddings are slices of x (one table lookup per step; their
 * gradient reaches the table through both uses). A sequence's slot (model.sequencePooling):
 *   mean            the mean of its embeddings (the default; one lookupBag)
 *   attention       MultiHeadAttention(q = the target fields' embeddings, lookupSequences(seq))
 *   poso-attention  PosoMultiHeadAttention(q, seq, pc = the conditionFields' embeddings)
 * The query and pc are slices of the single-hot lookup too; the sequence is looked up apart.
 * Any kind may add, to its logits:
 *   shallowTower   ShallowTower(bias fields): the fields leave x, feature dropout while training,
 *                  every field "missing" at evaluation
 *   scenarioLogit  ScenarioLogit(the scenario fields' embeddings, default the domain's)
 * forward(batch) takes a Batch from `batches`/`collate` and returns (B, T) logits.
 */
export class TabularModel extends Module {
  /** The shared embedding table of every id field. */
  table: EmbeddingTable;
  /** The body the kind names (an MLP, MMoE, PEPNet…), over the pooled embeddings and dense values. */
  body: Module;
  /** The body's kind. */
  readonly kind: ModelKind;
  /** The schema the batches follow. */
  readonly schema: DataSchema;
  /** Logits per row, one per label field (task). */
  readonly tasks: number;
  /** The sparse fields fed to the body: all but the shallow tower's (and, for pepnet, the prior fields). */
  private readonly general: string[];
  /** domainKeys' cache: the vocabulary it was made for and the keys as 32-bit word pairs. */
  private domainKeyCache: { vocabulary: string; words: Int32Array } | null = null;
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
  /** model.sequencePooling: the attention of each sequence field pooled by attention, in schema order. */
  sequenceAttention: (MultiHeadAttention | PosoMultiHeadAttention)[];
  /** Each sequence field's pooling, in schema order: its attention's index in sequenceAttention (-1: mean), its query's and pc's fields. */
  private readonly sequencePools: { name: string; maxLength: number; attention: number; target: string[]; pc: string[] }[];
  /** The personalization code of 'poso-attention' pooling (the conditionFields). */
  private readonly pcFields: string[];

  constructor(options: TabularModelOptions) {
    super();
    const { schema, model, sparseOptimizer, seed, makeTable = (o: EmbeddingTableOptions) => new EmbeddingTable(o) } = options;
    this.schema = schema;
    this.kind = model.kind;
    this.tasks = schema.tasks.length;
    const rng = new Rng(seed);
    const dim = model.embeddingDim;
    this.table = inConfig(() => makeTable({ ...(model.table as { capacity: number }), dim, seed, optimizer: sparseOptimizer }));
    this.priors = model.priorFields.slice();
    const sparse = schema.ofKind('sparse').map((f) => f.name);
    this.biasFields = model.shallowTower?.fields.slice() ?? [];
    this.general = sparse.filter((f) => !(model.kind === 'pepnet' && this.priors.includes(f)) && !this.biasFields.includes(f));
    const pooled = schema.ofKind('multi').length + schema.ofKind('sequence').length;
    const poolings = schema.ofKind('sequence').map((f): SequencePooling => model.sequencePooling?.[f.name] ?? { mode: 'mean', target: [], dim, heads: 1, valueFolds: 4, gatePerHead: false, keyGate: true });
    // A sequence pooled by attention fills a slot of the attention's width, a mean-pooled one of the embedding's.
    const pooledWidth = schema.ofKind('multi').length * dim + poolings.reduce((s, p) => s + (p.mode === 'mean' ? dim : p.dim), 0);
    const fields = this.general.length + (schema.domain && model.kind !== 'pepnet' ? 1 : 0);
    const inFeatures = fields * dim + pooledWidth + schema.dense.length;
    const T = this.tasks;
    const o = model.options;
    this.domainAt = schema.domain && model.kind !== 'pepnet' ? this.general.length * dim + pooledWidth : -1;
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
          return new MMoE(inFeatures, { trackUtilization: false, ...o, tasks: T, rng });
        case 'poso-mmoe':
          return new PosoMMoE(inFeatures, { trackUtilization: false, ...o, tasks: T, pcFeatures: condWidth, rng });
        case 'hmoe':
          needsDomain('one tower per domain value');
          return new BottomHMoE(inFeatures, o, this.domains, T, rng);
        case 'pepnet':
          // The pooled bags and sequences are EPNet fields after the single-hot ones, one (B, dim) each.
          if (this.general.length + pooled === 0) throw invalid('sparse fields besides the prior fields, or bags or sequences (EPNet gates them)', 'config.model.priorFields', this.priors);
          if (poolings.some((p) => p.mode !== 'mean' && p.dim !== dim)) throw invalid(`an attention dim of ${dim} ('pepnet' gates each pooled sequence as one field of EPNet)`, 'config.model.sequencePooling.dim', poolings.map((p) => p.dim));
          return new PEPNet({ ...o, table: this.table, fields: this.general.length + pooled, domainFields: 1, priorFields: this.priors.length, denseFeatures: schema.dense.length, tasks: T, rng });
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
    // Attention pooling last of all: the body's and the additions' weights do not depend on it.
    this.pcFields = poolings.some((p) => p.mode === 'poso-attention') ? (conditionFields.length > 0 ? conditionFields : schema.domain ? [schema.domain.name] : []) : [];
    if (this.pcFields.length === 0 && poolings.some((p) => p.mode === 'poso-attention')) {
      throw invalid("the fields that condition 'poso-attention' sequence pooling (there is no domain field to default to)", 'config.model.conditionFields', model.conditionFields);
    }
    const known = new Set([...this.general, ...(model.kind === 'pepnet' ? this.priors : [])]);
    const pcKnown = new Set([...known, ...(schema.domain ? [schema.domain.name] : [])]);
    this.pcFields.forEach((f, i) => {
      if (!pcKnown.has(f)) throw invalid("the name of a sparse field or the domain field of the schema, outside config.model.shallowTower's fields", `config.model.conditionFields[${i}]`, f);
    });
    this.sequenceAttention = [];
    this.sequencePools = schema.ofKind('sequence').map((f, s) => {
      const p = poolings[s];
      const pool = { name: f.name, maxLength: f.maxLength, attention: -1, target: [] as string[], pc: [] as string[] };
      if (p.mode === 'mean') return pool;
      p.target.forEach((t, i) => {
        if (!known.has(t)) throw invalid("the name of a sparse field of the schema, outside config.model.shallowTower's fields", `config.model.sequencePooling.target[${i}]`, t);
      });
      const attention = { queryFeatures: p.target.length * dim, keyFeatures: dim, dim: p.dim, heads: p.heads, rng };
      this.sequenceAttention.push(
        inConfig(
          () =>
            p.mode === 'attention'
              ? new MultiHeadAttention(attention)
              : new PosoMultiHeadAttention({ ...attention, pcFeatures: this.pcFields.length * dim, valueFolds: p.valueFolds, gatePerHead: p.gatePerHead, keyGate: p.keyGate, scale: p.scale, gateHidden: p.gateHidden, valueGateFloor: p.valueGateFloor }),
          'config.model.sequencePooling.',
        ),
      );
      return { ...pool, attention: this.sequenceAttention.length - 1, target: p.target.slice(), pc: p.mode === 'poso-attention' ? this.pcFields : [] };
    });
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
      logits = this.pepnetForward(batch);
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

  /**
   * PEPNet over E = [the general fields' embeddings ; each bag and sequence pooled] (B, F, dim),
   * the domain's embedding and the prior fields': the lookups PEPNet.forward makes, in its
   * order (so a schema without bags or sequences trains exactly as before), then the pooling.
   */
  private pepnetForward(batch: Batch): Tensor {
    const pep = this.body as PEPNet;
    const B = batch.size;
    const dim = this.table.dim;
    const F = this.general.length;
    const general = F > 0 ? this.table.lookup(this.idMatrix(batch, this.general)).reshape(B, F * dim) : null;
    const domain = this.table.lookup(this.domainIds(batch).reshape(B, 1)).reshape(B, dim);
    const prior = this.table.lookup(this.idMatrix(batch, this.priors)).reshape(B, this.priors.length * dim);
    const at = new Map<string, [Tensor, number]>();
    this.general.forEach((f, j) => at.set(f, [general as Tensor, j * dim]));
    this.priors.forEach((f, j) => at.set(f, [prior, j * dim]));
    at.set(this.schema.domain!.name, [domain, 0]);
    const pooled = this.pooled(batch, at);
    const flat = pooled.length === 0 ? (general as Tensor) : concat(general ? [general, ...pooled] : pooled, 1);
    let x = pep.epnet.forward(flat.reshape(B, pep.fields, dim), domain).reshape(B, pep.fields * dim);
    if (pep.denseFeatures > 0) x = concat([x, batch.dense as Tensor], 1);
    return pep.ppnet.forward(x, prior);
  }

  /**
   * Each bag mean-pooled, then each sequence pooled as configured: (B, dim) or (B, attention
   * dim) each. `at` says where a single-hot field's or the domain's embedding is (a tensor and
   * the column it starts at), for the attention's query and personalization code.
   */
  private pooled(batch: Batch, at: Map<string, [Tensor, number]>): Tensor[] {
    const parts: Tensor[] = [];
    for (const f of this.schema.ofKind('multi')) {
      const bag = this.field(batch.bags, f.name);
      parts.push(this.table.lookupBag(bag.ids, bag.offsets, { mode: 'mean' }));
    }
    for (const p of this.sequencePools) {
      const s = this.field(batch.sequences, p.name);
      if (p.attention < 0) {
        const [ids, offsets] = sequenceBags(s.padded, s.lengths, p.maxLength);
        parts.push(this.table.lookupBag(ids, offsets, { mode: 'mean' }));
        continue;
      }
      const seq = lookupSequences(this.table, s.padded, s.lengths, { layout: 'padded' });
      const query = this.gather(p.target, at);
      const attention = this.sequenceAttention[p.attention];
      parts.push(
        attention instanceof PosoMultiHeadAttention
          ? attention.forward(query, seq.embeddings, this.gather(p.pc, at), { lengths: seq.lengths })
          : attention.forward(query, seq.embeddings, { lengths: seq.lengths }),
      );
    }
    return parts;
  }

  /** The named fields' embeddings, concatenated (B, fields · dim), as slices of the tensors `at` points into. */
  private gather(fields: string[], at: Map<string, [Tensor, number]>): Tensor {
    const dim = this.table.dim;
    const parts: Tensor[] = [];
    let run: [Tensor, number, number] | null = null; // a tensor, a start column and a width
    for (const f of fields) {
      const [t, col] = at.get(f)!;
      if (run && run[0] === t && run[1] + run[2] === col) run[2] += dim;
      else {
        if (run) parts.push(slice(run[0], 1, run[1], run[2]));
        run = [t, col, dim];
      }
    }
    if (run) parts.push(run[1] === 0 && run[2] === run[0].shape[1] ? run[0] : slice(run[0], 1, run[1], run[2]));
    return parts.length === 1 ? parts[0] : concat(parts, 1);
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
   * The body's input (B, features): the single-hot fields, each bag mean-pooled, each sequence
   * pooled as model.sequencePooling says (mean by default), the domain, then the dense fields.
   * The single-hot fields and the domain are embedded by one table lookup of a (B, fields) id
   * matrix: one dedup, one gather, one fused update per step (an attention-pooled sequence is
   * looked up apart, its query and personalization code being slices of that lookup).
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
    const F = this.general.length;
    // Where the attention's query and personalization code are: slices of the one lookup.
    const at = new Map<string, [Tensor, number]>();
    if (rows) {
      this.general.forEach((f, j) => at.set(f, [rows as Tensor, j * dim]));
      if (this.schema.domain) at.set(this.schema.domain.name, [rows, F * dim]);
      const pooled = this.schema.ofKind('multi').length + this.sequencePools.length;
      if (this.schema.domain && pooled > 0) {
        // The domain's embedding goes after the bags and sequences, where the body expects it.
        if (F > 0) parts.push(slice(rows, 1, 0, F * dim));
        domain = slice(rows, 1, F * dim, dim);
      } else {
        parts.push(rows);
      }
    }
    parts.push(...this.pooled(batch, at));
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
    // Copied as 32-bit word pairs: reading a BigInt64Array element makes a BigInt.
    const words = new Int32Array(out.buffer);
    columns.forEach((ids, j) => {
      const src = new Int32Array(ids.buffer, ids.byteOffset, 2 * B);
      for (let b = 0, o = 2 * j; b < B; ++b, o += 2 * F) {
        words[o] = src[2 * b];
        words[o + 1] = src[2 * b + 1];
      }
    });
    return tensor(out, { shape: [B, F], device: this.table.device });
  }

  /** (B) each row's domain value as an id, hashed under the domain field's name. */
  private domainKeys(batch: Batch): BigInt64Array {
    const domain = this.schema.domain!;
    const d = batch.raw.domain;
    if (!d) throw invalid('a batch with domain ids (read with this model\'s schema)', 'batch.raw.domain', d);
    // The domains' keys, hashed again only when the vocabulary changes (it grows as domains are
    // learned, or is restored from a checkpoint), then copied as 32-bit word pairs (no BigInt per row).
    const vocabulary = this.schema.domainNames.join('\u0000');
    if (this.domainKeyCache === null || this.domainKeyCache.vocabulary !== vocabulary) {
      this.domainKeyCache = { vocabulary, words: new Int32Array(BigInt64Array.from(this.schema.domainNames, (n) => hashId(domain.name, n)).buffer) };
    }
    const keys = this.domainKeyCache.words;
    const out = new BigInt64Array(d.length);
    const words = new Int32Array(out.buffer);
    for (let b = 0; b < d.length; ++b) {
      words[2 * b] = keys[2 * d[b]];
      words[2 * b + 1] = keys[2 * d[b] + 1];
    }
    return out;
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
