/**
 * The metrics a training service watches, per task and per domain, computed exactly from
 * host arrays of a whole evaluation pass: AUC, GAUC (per user), log loss for binary tasks,
 * MSE for regression tasks. Rows whose label is masked out (missing) are left out of that
 * task's metrics. With sample weights, AUC, log loss and MSE are weighted (a row of weight 2
 * counts as the row twice); GAUC stays the per-user AUCs weighted by each user's row count.
 */
import { ArgumentError } from '../errors';
import { checkOneOf, invalid } from '../validate';
import { auc } from './auc';
import { gauc } from './grouped-auc';
import { checkNumberArray, checkWeights, GroupArray } from './inputs';
import { logloss } from './logloss';
import { meanSquaredError } from './mse';

/** The task kinds {@link taskMetrics} knows, see {@link TaskKind}. */
export const TASK_KINDS = ['binary', 'regression'] as const;
/**
 * 'binary': outputs are logits and labels 0/1 (AUC, log loss, GAUC); 'regression': outputs are
 * predictions (MSE).
 */
export type TaskKind = (typeof TASK_KINDS)[number];

/**
 * What {@link taskMetrics} scores: outputs and labels of N rows × T tasks, with optional masks,
 * domains, users and weights.
 */
export interface TaskMetricsInput {
  /** Model outputs, row-major (N × T): logits for binary tasks, predictions for regression ones. */
  outputs: ArrayLike<number>;
  /** Labels, row-major (N × T). */
  labels: ArrayLike<number>;
  /** (N × T): 0 where a label is missing (default: none missing). */
  mask?: ArrayLike<number> | null;
  /** Task names, T of them. */
  tasks: readonly string[];
  /** Kind of each task (default all 'binary'). */
  kinds?: readonly TaskKind[];
  /** Each row's domain id and the ids' names: adds one row of metrics per domain value. */
  domains?: {
    /** (N) each row's domain id, an index into `names`. */
    ids: ArrayLike<number>;
    /** The domains' names, by id. */
    names: readonly string[];
  } | null;
  /** Each row's user (or any group) for GAUC on binary tasks. */
  users?: GroupArray | null;
  /** (N) each row's sample weight (finite, ≥ 0): AUC, log loss and MSE become weighted. */
  weights?: ArrayLike<number> | null;
}

/** One task's metrics on all rows or on one domain value's rows. */
export interface TaskMetric {
  /** The task's name. */
  task: string;
  /** 'all', or a domain value's name. */
  domain: string;
  /** Rows with a label. */
  n: number;
  /** Binary tasks: exact AUC (NaN with a single class), log loss of σ(logit), and GAUC when users are given. */
  auc?: number;
  /** Binary tasks: log loss of σ(logit) over the labelled rows (weighted when weights are given). */
  logloss?: number;
  /** Binary tasks with users: GAUC, the impression-weighted mean of per-user AUCs (see {@link gauc}). */
  gauc?: number;
  /** Regression tasks. */
  mse?: number;
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** Every task's metrics on all rows, then per domain value (see TaskMetricsInput). */
export function taskMetrics(input: TaskMetricsInput): TaskMetric[] {
  const T = input.tasks.length;
  if (T === 0) throw invalid('at least one task name', 'tasks', input.tasks);
  const out = checkNumberArray(input.outputs, 'outputs');
  const lab = checkNumberArray(input.labels, 'labels');
  if (out.length % T !== 0) throw new ArgumentError(`Expected outputs of length N × ${T} (row-major, one column per task) but received ${out.length}`);
  const N = out.length / T;
  if (lab.length !== out.length) throw new ArgumentError(`Expected ${out.length} labels (N × T, as outputs) for labels but received ${lab.length}`);
  const mask = input.mask ?? null;
  if (mask && mask.length !== out.length) throw new ArgumentError(`Expected ${out.length} entries (N × T) for mask but received ${mask.length}`);
  const kinds = input.kinds ?? input.tasks.map(() => 'binary' as TaskKind);
  if (kinds.length !== T) throw new ArgumentError(`Expected ${T} task kinds for kinds but received ${kinds.length}`);
  kinds.forEach((k, t) => checkOneOf(k, `kinds[${t}]`, TASK_KINDS));
  const dom = input.domains ?? null;
  if (dom && dom.ids.length !== N) throw new ArgumentError(`Expected ${N} domain ids (one per row) for domains.ids but received ${dom.ids.length}`);
  const users = input.users ?? null;
  if (users && users.length !== N) throw new ArgumentError(`Expected ${N} users (one per row) for users but received ${users.length}`);
  const weights = input.weights ? checkWeights(input.weights, N) : null;
  const groups: [string, (r: number) => boolean][] = [['all', () => true]];
  if (dom) groups.push(...dom.names.map((name, d): [string, (r: number) => boolean] => [name, (r) => dom.ids[r] === d]));
  const metrics: TaskMetric[] = [];
  input.tasks.forEach((task, t) => {
    for (const [domain, keep] of groups) {
      const rows: number[] = [];
      for (let r = 0; r < N; ++r) if (keep(r) && (!mask || mask[r * T + t] !== 0)) rows.push(r);
      const o = rows.map((r) => out[r * T + t]);
      const y = rows.map((r) => lab[r * T + t]);
      const w = weights ? rows.map((r) => weights[r]) : undefined;
      const m: TaskMetric = { task, domain, n: rows.length };
      if (kinds[t] === 'regression') m.mse = meanSquaredError(o, y, w);
      else {
        m.auc = auc(o, y, w);
        m.logloss = logloss(o.map(sigmoid), y, w);
        if (users) m.gauc = gauc(o, y, rows.map((r) => users[r]));
      }
      metrics.push(m);
    }
  });
  return metrics;
}

/** The metrics as a Markdown table, one line per task and domain value. */
export function formatTaskMetrics(metrics: readonly TaskMetric[], digits = 4): string {
  const cols = (['auc', 'gauc', 'logloss', 'mse'] as const).filter((c) => metrics.some((m) => m[c] !== undefined));
  const cell = (v: number | undefined) => (v === undefined ? '' : Number.isNaN(v) ? 'n/a' : v.toFixed(digits));
  return [
    `| task | domain | rows | ${cols.join(' | ')} |`,
    `|---|---|---|${cols.map(() => '---').join('|')}|`,
    ...metrics.map((m) => `| ${m.task} | ${m.domain} | ${m.n} | ${cols.map((c) => cell(m[c])).join(' | ')} |`),
  ].join('\n');
}
