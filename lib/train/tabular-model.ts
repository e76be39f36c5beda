/**
 * TabularModel: the model a config describes — every id field of a schema embedded in one
 * shared EmbeddingTable (single-hot fields looked up, multi-hot bags and sequences
 * mean-pooled, the domain embedded by its value), beside the dense fields, into a body:
 *   mlp            [emb ; dense] → MLP → T outputs
 *   shared-bottom  [emb ; dense] → SharedBottom
 *   mmoe           [emb ; dense] → MMoE
 *   pepnet         EPNet(general fields | domain) → PPNet(· ; dense | prior fields)
 * forward(batch) takes a Batch from `batches`/`collate` and returns (B, T) logits.
 */
import { Batch } from '../data/batches';
import { hashId } from '../data/hash';
import { DataSchema } from '../data/schema';
import { EmbeddingTable } from '../embedding/table';
import { PEPNet } from '../models/pepnet';
import { MMoE } from '../multitask/mmoe';
import { SharedBottom } from '../multitask/shared-bottom';
import { MLP } from '../nn/mlp';
import { Module } from '../nn/module';
import { concat, slice } from '../ops/layout';
import { Rng } from '../random';
import { Tensor, tensor } from '../tensor';
import { ArgumentError } from '../errors';
import { invalid } from '../validate';
import { ModelKind, ResolvedConfig } from './config';

export interface TabularModelOptions {
  schema: DataSchema;
  model: ResolvedConfig['model'];
  /** The rows' optimizer. */
  sparseOptimizer: ResolvedConfig['optimizer']['sparse'];
  /** Seeds the table's rows and the body's weights. */
  seed: number;
}

/** The body's constructor errors name `options.x`; say where that is in the config. */
function inConfig<T>(make: () => T): T {
  try {
    return make();
  } catch (e) {
    if (e instanceof ArgumentError) throw new ArgumentError(e.message.replace(/\boptions\./g, 'config.model.options.'));
    throw e;
  }
}

export class TabularModel extends Module {
  table: EmbeddingTable;
  body: Module;
  readonly kind: ModelKind;
  readonly schema: DataSchema;
  readonly tasks: number;
  /** The sparse fields fed to the body (pepnet: all but the prior fields). */
  private readonly general: string[];
  private readonly priors: string[];

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
    this.general = model.kind === 'pepnet' ? sparse.filter((f) => !this.priors.includes(f)) : sparse;
    const pooled = schema.ofKind('multi').length + schema.ofKind('sequence').length;
    const fields = this.general.length + pooled + (schema.domain && model.kind !== 'pepnet' ? 1 : 0);
    const inFeatures = fields * dim + schema.dense.length;
    const T = this.tasks;
    const o = model.options;
    this.body = inConfig((): Module => {
      switch (model.kind) {
        case 'mlp':
          return new MLP(inFeatures, { hidden: [256, 128], ...o, outFeatures: T, rng } as ConstructorParameters<typeof MLP>[1]);
        case 'shared-bottom':
          return new SharedBottom(inFeatures, { ...o, tasks: T, rng });
        case 'mmoe':
          return new MMoE(inFeatures, { ...o, tasks: T, rng });
        case 'pepnet':
          if (this.general.length === 0) throw invalid('sparse fields besides the prior fields (EPNet gates them)', 'config.model.priorFields', this.priors);
          return new PEPNet({ ...o, table: this.table, fields: this.general.length, domainFields: 1, priorFields: this.priors.length, denseFeatures: schema.dense.length, tasks: T, rng });
      }
    });
  }

  /** (B, T) logits (or values, for regression tasks). */
  forward(batch: Batch): Tensor {
    if (batch === null || typeof batch !== 'object' || !batch.ids || !batch.raw) throw invalid('a Batch (from batches() or collate())', 'batch', batch);
    const B = batch.size;
    if (this.kind === 'pepnet') {
      return (this.body as PEPNet).forward({ ids: this.idMatrix(batch, this.general), domainIds: this.domainIds(batch).reshape(B, 1), priorIds: this.idMatrix(batch, this.priors), dense: batch.dense });
    }
    return (this.body as MLP).forward(this.embed(batch));
  }

  /**
   * The body's input (B, features): the single-hot fields, each bag and sequence mean-pooled,
   * the domain, then the dense fields. The single-hot fields and the domain are embedded by one
   * table lookup of a (B, fields) id matrix: one dedup, one gather, one fused update per step.
   */
  embed(batch: Batch): Tensor {
    const B = batch.size;
    const columns = [...this.general.map((f) => this.field(batch.raw.ids, f))];
    if (this.schema.domain) columns.push(this.domainKeys(batch));
    const dim = this.table.dim;
    const parts: Tensor[] = [];
    let domain: Tensor | null = null;
    if (columns.length > 0) {
      const rows = this.table.lookup(this.idColumns(B, columns)).reshape(B, columns.length * dim);
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
    return concat(parts, 1);
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
