/**
 * PEPNet on census-income: two tasks (income > 50K, never married) with a domain (sex or
 * year) as EPNet's condition, beside the same per-task towers without any gate; returns
 * each model's test AUC per task, overall and per domain.
 */
import { concat, MLP, Module, PEPNet, Rng, Tensor, tensor } from '../lib';
import { CensusDomain, CENSUS_TASKS } from './data/census-income';
import { CensusAuc, censusAucs, CensusRunCommon, censusSetup, fitCensus } from './census-train';

export type { CensusAuc };

export type CensusModel = 'towers' | 'pepnet';

export interface CensusRunOptions extends CensusRunCommon {
  model: CensusModel;
  /** EPNet's domain (default 'sex'). */
  domain?: CensusDomain;
  /** PPNet's prior fields (default education, age bucket, major occupation). */
  priors?: string[];
}


const DIM = 8;
const HIDDEN = [128, 64];

class Towers extends Module {
  towers: MLP[];
  constructor(inFeatures: number, tasks: number, rng: Rng) {
    super();
    this.towers = Array.from({ length: tasks }, () => new MLP(inFeatures, { hidden: HIDDEN, outFeatures: 1, rng }));
  }
  forward(x: Tensor): Tensor {
    return concat(this.towers.map((t) => t.forward(x)), 1);
  }
}

export function runCensus(options: CensusRunOptions): CensusAuc[] {
  const { ds, rng, table, fields, inFeatures, features } = censusSetup(options, DIM);
  const epochs = options.epochs ?? 4;
  const batchSize = options.batch ?? 512;
  const domain = options.domain ?? 'sex';
  const priors = options.priors ?? ['education', 'age_bucket', 'major_occ_code'];
  const dense = ds.denseNames.length;
  const tasks = CENSUS_TASKS.length;
  let module: Module;
  let logits: (rows: Int32Array) => [Tensor, Tensor];
  if (options.model === 'pepnet') {
    const pep = new PEPNet({ table, fields, domainFields: 1, priorFields: priors.length, denseFeatures: dense, tasks, hidden: HIDDEN, rng });
    module = pep;
    logits = (rows) => {
      const b = ds.batch(rows);
      const idsOf = (names: string[]) => tensor(ds.batch(rows, { fields: names }).ids, { shape: [rows.length, names.length] });
      const out = pep.forward({ ids: tensor(b.ids, { shape: [rows.length, fields] }), domainIds: idsOf([domain]), priorIds: idsOf(priors), dense: b.dense });
      return [out, b.labels];
    };
  } else {
    const towers = new Towers(inFeatures, tasks, rng);
    module = towers;
    logits = (rows) => {
      const [x, b] = features(rows);
      return [towers.forward(x), b.labels];
    };
  }
  return censusAucs(ds, fitCensus({ ds, table, module, logits, rng, epochs, batch: batchSize }), domain);
}
