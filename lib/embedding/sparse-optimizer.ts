import { noGrad } from '../autograd';
import { checkInt, invalid } from '../validate';
import { EmbeddingTable } from './table';

/** What `SparseOptimizer.stateDict()` returns. */
export interface SparseOptimizerState {
  /** Identifies a SparseOptimizer's state. */
  kind: 'SparseOptimizer';
  /** Steps taken (the tables' rows and optimizer state are saved with the tables). */
  stepCount: number;
}

/**
 * SparseOptimizer: steps one or more {@link EmbeddingTable}s. Each table's optimizer
 * (AdaGrad, SGD or Adam, chosen with the table since its state lives in the rows) updates
 * only the rows its lookups touched since the last step, with the gradients of repeated
 * ids summed first, in one fused native call per table. Use it beside a dense optimizer,
 * e.g. `new OptimizerSet([new SparseOptimizer(tables), new Adam(model.parameters())])`.
 */
export class SparseOptimizer {
  /** The tables it steps. */
  readonly tables: EmbeddingTable[];
  /** Steps taken. */
  stepCount = 0;

  constructor(tables: EmbeddingTable | EmbeddingTable[]) {
    const list = Array.isArray(tables) ? tables : [tables];
    if (list.length === 0) throw invalid('a non-empty array of EmbeddingTables', 'tables', tables);
    list.forEach((t, i) => {
      if (!(t instanceof EmbeddingTable)) throw invalid('an EmbeddingTable', `tables[${i}]`, t);
    });
    if (new Set(list).size !== list.length) throw invalid('distinct tables', 'tables', tables);
    this.tables = list.slice();
  }

  /** Applies every table's pending gradients and advances each table's step. */
  step(): void {
    this.stepCount += 1;
    noGrad(() => {
      for (const t of this.tables) t._applyGradients();
    });
  }

  /**
   * Its own state: the step count only (the tables' optimizer state lives in their rows and is
   * saved with `EmbeddingTable.export()`).
   */
  stateDict(): SparseOptimizerState {
    return { kind: 'SparseOptimizer', stepCount: this.stepCount };
  }

  /** Restores a {@link stateDict} snapshot. */
  loadStateDict(state: SparseOptimizerState): void {
    if (!state || typeof state !== 'object' || state.kind !== 'SparseOptimizer') throw invalid("a SparseOptimizer state { kind: 'SparseOptimizer', stepCount }", 'state', state);
    this.stepCount = checkInt(state.stepCount, 'state.stepCount', 0);
  }

  /** Drops gradients not yet applied. */
  zeroGrad(): void {
    for (const t of this.tables) t.clearGradients();
  }
}
