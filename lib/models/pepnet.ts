import { ShapeError } from '../errors';
import { EmbeddingTable } from '../embedding/table';
import { SparseOptimizer } from '../embedding/sparse-optimizer';
import { GatePlacement } from '../ops/gated-fc';
import { concat } from '../ops/layout';
import { Module } from '../nn/module';
import { Adam } from '../optim/adam';
import { OptimizerSet } from '../optim/optimizer';
import { Rng } from '../random';
import { checkTensor, Tensor } from '../tensor';
import { checkInt, checkOptions, checkPositive, invalid } from '../validate';
import { EPNet } from '../personalize/epnet';
import { PPNet } from '../personalize/ppnet';
import { multiTaskBce, MultiTaskBceOptions } from './multi-task-loss';

/** Options of {@link PEPNet}. */
export interface PEPNetOptions {
  /** The shared table every id field looks up in (ids of different fields must not collide). */
  table: EmbeddingTable;
  /** General feature fields F per sample. */
  fields: number;
  /** Domain fields per sample (EPNet's condition, e.g. the scenario id). */
  domainFields: number;
  /** Prior fields per sample (PPNet's condition, e.g. user, item and author ids). */
  priorFields: number;
  /** Dense features appended to the towers' input (default 0). */
  denseFeatures?: number;
  /** Number of tasks (default 1). */
  tasks?: number;
  /** Hidden widths of every task tower (default [128, 64]). */
  hidden?: number[];
  /** PPNet's gate placement (default 'lazy'). */
  placement?: GatePlacement;
  /** γ of every gate (default 2). */
  gamma?: number;
  /** Hidden width of PPNet's gates (default 64) and EPNet's gate (default: its output width). */
  gateHidden?: number;
  /** EPNet gates each element of E ('element', default) or each field ('field'). */
  epnetGranularity?: 'element' | 'field';
  /** Generator for the initial weights (default: the global one). */
  rng?: Rng;
}

/** One batch: int64 id tensors (B, fields) and optional dense features. */
export interface PEPNetBatch {
  /** (B, fields) int64: the general features' ids. */
  ids: Tensor;
  /** (B, domainFields) int64: the domain features' ids (EPNet's condition). */
  domainIds: Tensor;
  /** (B, priorFields) int64: the prior features' ids (PPNet's condition). */
  priorIds: Tensor;
  /** (B, denseFeatures) float32. */
  dense?: Tensor | null;
}

/**
 * PEPNet (Kuaishou, KDD 2023): EPNet + PPNet + per-task towers over one shared embedding
 * table.
 *   E     = table(ids)                       the general features' embeddings (B, F, D)
 *   O_ep  = EPNet(E, E(domain ids))           rescaled per domain
 *   x     = [flatten(O_ep) ; dense]           the towers' input
 *   logit = PPNet(x, E(prior ids))           one gated tower per task
 * Train with `loss()` (per-task BCE) and `optimizers()` (the table's own sparse optimizer,
 * AdaGrad by default, plus Adam on the dense weights), as the paper does.
 */
export class PEPNet extends Module {
  /** The shared embedding table of every id field. */
  table: EmbeddingTable;
  /** The embedding personalization. */
  epnet: EPNet;
  /** The parameter personalization and the task towers. */
  ppnet: PPNet;
  /** General feature fields F per sample. */
  readonly fields: number;
  /** Domain fields per sample. */
  readonly domainFields: number;
  /** Prior fields per sample. */
  readonly priorFields: number;
  /** Dense features appended to the towers' input. */
  readonly denseFeatures: number;
  /** Number of tasks. */
  readonly tasks: number;

  constructor(options: PEPNetOptions) {
    super();
    const o = checkOptions(options, 'options');
    if (!(o.table instanceof EmbeddingTable)) throw invalid('an EmbeddingTable', 'options.table', o.table);
    this.table = o.table;
    const dim = this.table.dim;
    this.fields = checkInt(o.fields, 'options.fields', 1);
    this.domainFields = checkInt(o.domainFields, 'options.domainFields', 1);
    this.priorFields = checkInt(o.priorFields, 'options.priorFields', 1);
    this.denseFeatures = checkInt(o.denseFeatures ?? 0, 'options.denseFeatures', 0);
    this.tasks = checkInt(o.tasks ?? 1, 'options.tasks', 1);
    const gamma = checkPositive(o.gamma ?? 2, 'options.gamma');
    this.epnet = new EPNet({ fields: this.fields, dim, domainFeatures: this.domainFields * dim, gamma, granularity: o.epnetGranularity, rng: o.rng });
    this.ppnet = new PPNet(this.fields * dim + this.denseFeatures, {
      priorFeatures: this.priorFields * dim,
      tasks: this.tasks,
      hidden: o.hidden ?? [128, 64],
      placement: o.placement,
      gamma,
      gateHidden: o.gateHidden,
      rng: o.rng,
    });
  }

  /** Looks up a (B, n) id tensor: (B, n·dim) when flat, else (B, n, dim). */
  private embed(ids: Tensor, n: number, name: string, flat: boolean): Tensor {
    checkTensor(ids, name, 'int64');
    if (ids.ndim !== 2 || ids.shape[1] !== n) throw new ShapeError(`Expected shape [batch, ${n}] for ${name} but received [${ids.shape}]`);
    const rows = this.table.lookup(ids);
    return flat ? rows.reshape(ids.shape[0], n * this.table.dim) : rows.reshape(ids.shape[0], n, this.table.dim);
  }

  /** batch → logits (B, tasks). */
  forward(batch: PEPNetBatch): Tensor {
    if (batch === null || typeof batch !== 'object') throw invalid('a batch object { ids, domainIds, priorIds, dense? }', 'batch', batch);
    const e = this.embed(batch.ids, this.fields, 'batch.ids', false);
    const b = e.shape[0];
    const domain = this.embed(batch.domainIds, this.domainFields, 'batch.domainIds', true);
    const prior = this.embed(batch.priorIds, this.priorFields, 'batch.priorIds', true);
    let x = this.epnet.forward(e, domain).reshape(b, this.fields * this.table.dim);
    if (this.denseFeatures > 0) {
      const dense = checkTensor(batch.dense, 'batch.dense', 'float32');
      if (dense.ndim !== 2 || dense.shape[0] !== b || dense.shape[1] !== this.denseFeatures) {
        throw new ShapeError(`Expected shape [${b}, ${this.denseFeatures}] for batch.dense but received [${dense.shape}]`);
      }
      x = concat([x, dense], 1);
    }
    return this.ppnet.forward(x, prior);
  }

  /** Per-task BCE (see multiTaskBce): logits and labels (B, tasks). */
  loss(logits: Tensor, labels: Tensor, options: MultiTaskBceOptions = {}): Tensor {
    return multiTaskBce(logits, labels, options);
  }

  /**
   * The table's sparse optimizer (its kind and lr were chosen with the table; PEPNet uses
   * AdaGrad 0.05) plus Adam on every dense weight.
   */
  optimizers(options: { denseLr?: number } = {}): OptimizerSet {
    const lr = checkPositive(checkOptions(options, 'options').denseLr ?? 1e-3, 'options.denseLr');
    return new OptimizerSet([new SparseOptimizer(this.table), new Adam(this.parameters(), { lr })]);
  }
}
