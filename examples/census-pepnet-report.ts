/**
 * Prints the README's census-income table: per-task towers and PEPNet, test AUC per task,
 * overall and per domain, mean ± standard deviation over seeds.
 *   npx tsx examples/census-pepnet-report.ts [--seeds 3] [--epochs 4] [--domain sex|year]
 */
import { backend } from '../lib';
import { loadCensusIncomeSync } from './data/census-income';
import { CensusAuc, CensusModel, runCensus } from './census-pepnet';
import { cliArg as arg, meanSd } from './census-train';

const seeds = Number(arg('seeds', '3'));
const epochs = Number(arg('epochs', '4'));
const domain = arg('domain', 'sex') as 'sex' | 'year';
const data = loadCensusIncomeSync();
const b = backend();
console.log(`census-income: ${data.splits.train.length} train / ${data.splits.test.length} test rows, ${epochs} epochs, ${seeds} seeds, domain ${domain}; ${b.kind} (${b.deviceName})`);
const runs = new Map<CensusModel, CensusAuc[][]>();
for (const model of ['towers', 'pepnet'] as CensusModel[]) {
  const t0 = Date.now();
  runs.set(model, Array.from({ length: seeds }, (_, s) => runCensus({ model, seed: s + 1, epochs, domain, data })));
  console.log(`${model}: ${((Date.now() - t0) / 1000 / seeds).toFixed(1)} s per run`);
}
const cols = (runs.get('pepnet') as CensusAuc[][])[0].map((r) => `${r.task} ${r.domain}`);
console.log(`\n| model | ${cols.join(' | ')} |\n|---|${cols.map(() => '---').join('|')}|`);
for (const [model, rs] of runs) {
  const cells = cols.map((_, k) => meanSd(rs.map((r) => r[k].auc)));
  console.log(`| ${model === 'pepnet' ? 'PEPNet' : 'per-task towers (no gates)'} | ${cells.join(' | ')} |`);
}
const counts = (runs.get('pepnet') as CensusAuc[][])[0].map((r) => `${r.task} ${r.domain}: ${r.n}`);
console.log(`\ntest rows: ${counts.join(', ')}`);
