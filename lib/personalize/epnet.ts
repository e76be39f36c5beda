import { concat } from '../ops/layout';
import { mul } from '../ops/elementwise';
import { Module } from '../nn/module';
import { Rng } from '../random';
import { Tensor } from '../tensor';
import { checkInt, checkOneOf, checkOptions, checkPositive } from '../validate';
import { checkFieldEmbeddings, checkRows } from './field-input';
import { GateNU } from './gate-nu';

/** Options of {@link EPNet}. */
export interface EPNetOptions {
  /** Feature fields F of the shared embedding. */
  fields: number;
  /** Embedding width D of each field. */
  dim: number;
  /** Width of the domain-side input (e.g. the domain fields' embeddings, concatenated). */
  domainFeatures: number;
  /** Hidden width of the gate (default: its output width). */
  hidden?: number;
  /** γ (default 2). */
  gamma?: number;
  /** One gate value per element of E (default 'element') or per field ('field'). */
  granularity?: 'element' | 'field';
  /** Generator for the initial weights (default: the global one). */
  rng?: Rng;
}

/**
 * EPNet, PEPNet's embedding personalization: the shared embedding E is rescaled per domain
 *   O_ep = GateNU([E(domain features) ; sg(E)]) ⊙ E
 * sg = stop-gradient: the gate reads E but does not train it. The gate is per element of E
 * (default) or per field (one value broadcast over a field's dim).
 */
export class EPNet extends Module {
  /** The gate: GateNU([domain input ; sg(E)]) → one value per element (fields·dim) or per field (fields). */
  gate: GateNU;
  /** Feature fields F of the shared embedding. */
  readonly fields: number;
  /** Embedding width D of each field. */
  readonly dim: number;
  /** Width of the domain-side input. */
  readonly domainFeatures: number;
  /** One gate value per element of E ('element') or per field ('field'). */
  readonly granularity: 'element' | 'field';

  constructor(options: EPNetOptions) {
    super();
    const o = checkOptions(options, 'options');
    this.fields = checkInt(o.fields, 'options.fields', 1);
    this.dim = checkInt(o.dim, 'options.dim', 1);
    this.domainFeatures = checkInt(o.domainFeatures, 'options.domainFeatures', 1);
    this.granularity = checkOneOf(o.granularity ?? 'element', 'options.granularity', ['element', 'field'] as const);
    const width = this.fields * this.dim;
    const outFeatures = this.granularity === 'element' ? width : this.fields;
    this.gate = new GateNU({ inFeatures: this.domainFeatures + width, outFeatures, hidden: o.hidden, gamma: checkPositive(o.gamma ?? 2, 'options.gamma'), rng: o.rng });
  }

  /** The gates from emb (B, F, D) and domain (B, domainFeatures): (B, F·D) or (B, F). */
  gates(emb: Tensor, domain: Tensor): Tensor {
    const [batch] = checkFieldEmbeddings(emb, this.fields);
    checkRows(domain, this.domainFeatures, 'domain', batch);
    return this.gate.forward(concat([domain, emb.detach().reshape(batch, this.fields * this.dim)], 1));
  }

  /** emb (B, F, D), domain (B, domainFeatures) → O_ep (B, F, D). */
  forward(emb: Tensor, domain: Tensor): Tensor {
    const g = this.gates(emb, domain);
    const batch = emb.shape[0];
    return mul(emb, g.reshape(batch, this.fields, this.granularity === 'element' ? this.dim : 1));
  }
}
