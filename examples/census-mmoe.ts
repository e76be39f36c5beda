/**
 * Multi-task models on census-income (the MMoE paper's benchmark): two tasks (income > 50K,
 * never married) from one shared embedding table plus the dense features, with
 *   'shared-bottom'      a shared MLP bottom and per-task towers (the paper's baseline)
 *   'mmoe'               8 experts, a softmax gate per task
 *   'mmoe-gate-dropout'  the same with YouTube's gate dropout (p = 0.1) while training
 *   'poso-mmoe'          MMoE with a personal gate per expert from sex, age and education
 * Returns each task's test AUC and, for the MoE models, the gates' utilization on the test
 * rows (eval mode, no dropout).
 */
import { MMoE, Module, PosoMMoE, SharedBottom, TaskUtilization, Tensor, tensor } from '../lib';
import { CENSUS_TASKS } from './data/census-income';
import { CensusAuc, censusAucs, CensusRunCommon, censusSetup, fitCensus } from './census-train';

export const CENSUS_MTL_MODELS = ['shared-bottom', 'mmoe', 'mmoe-gate-dropout', 'poso-mmoe'] as const;
export type CensusMtlModel = (typeof CENSUS_MTL_MODELS)[number];

export interface CensusMtlOptions extends CensusRunCommon {
  model: CensusMtlModel;
  /** Experts (default 8). */
  experts?: number;
  /** Gate dropout of 'mmoe-gate-dropout' (default 0.1). */
  gateDropout?: number;
  /** Adam's learning rate on the dense weights (default 1e-3). */
  denseLr?: number;
  /** Embedding width (default 8). */
  dim?: number;
  /** POSO-MMoE's personalization fields (default sex, age bucket, education). */
  pcFields?: string[];
}

export interface CensusMtlResult {
  aucs: CensusAuc[];
  /** Per task, on the test rows; null for Shared-Bottom. */
  utilization: TaskUtilization[] | null;
  /** Trainable dense parameters (the embedding table excluded). */
  parameters: number;
}

const EXPERT_HIDDEN = [64];
const BOTTOM = [256];
const TOWER = [32];

export function runCensusMtl(options: CensusMtlOptions): CensusMtlResult {
  const DIM = options.dim ?? 8;
  const { ds, rng, table, inFeatures, features } = censusSetup(options, DIM);
  const pcFields = options.pcFields ?? ['sex', 'age_bucket', 'education'];
  const tasks = CENSUS_TASKS.length;
  const experts = options.experts ?? 8;
  let module: Module;
  let moe: MMoE | null = null;
  if (options.model === 'shared-bottom') {
    module = new SharedBottom(inFeatures, { tasks, bottom: BOTTOM, tower: TOWER, rng });
  } else if (options.model === 'poso-mmoe') {
    moe = new PosoMMoE(inFeatures, { experts, expertHidden: EXPERT_HIDDEN, tasks, tower: TOWER, pcFeatures: pcFields.length * DIM, rng });
    module = moe;
  } else {
    const gateDropout = options.model === 'mmoe-gate-dropout' ? (options.gateDropout ?? 0.1) : 0;
    moe = new MMoE(inFeatures, { experts, expertHidden: EXPERT_HIDDEN, tasks, tower: TOWER, gateDropout, rng });
    module = moe;
  }
  const logits = (rows: Int32Array): [Tensor, Tensor] => {
    const [x, b] = features(rows);
    if (options.model === 'poso-mmoe') {
      const pcIds = tensor(ds.batch(rows, { fields: pcFields }).ids, { shape: [rows.length, pcFields.length] });
      return [(module as PosoMMoE).forward(x, table.lookup(pcIds).reshape(rows.length, pcFields.length * DIM)), b.labels];
    }
    return [(module as MMoE | SharedBottom).forward(x), b.labels];
  };
  const parameters = module.parameters().reduce((s, p) => s + p.size, 0);
  const scores = fitCensus({ ds, table, module, logits, rng, epochs: options.epochs ?? 4, batch: options.batch ?? 512, denseLr: options.denseLr, beforeEval: () => moe?.resetUtilization() });
  return { aucs: censusAucs(ds, scores), utilization: moe ? moe.utilization() : null, parameters };
}
