/**
 * Prints the README's per-domain census-income table for the dynamic-weight models: a plain
 * MLP, APG-MLP, M2M and STAR — each task's test AUC overall and per domain value (mean ± sd
 * over seeds).
 *   npx tsx examples/census-dynamic-report.ts [--domain sex|year] [--seeds 3] [--epochs 4]
 */
import { backend } from '../lib';
import { CensusDomain, loadCensusIncomeSync } from './data/census-income';
import { CENSUS_DYNAMIC_MODELS, CensusDynamicResult, runCensusDynamic } from './census-dynamic';
import { cliArg, meanSd } from './census-train';

const domain = cliArg('domain', 'sex') as CensusDomain;
const seeds = Number(cliArg('seeds', '3'));
const epochs = Number(cliArg('epochs', '4'));
const data = loadCensusIncomeSync();
const b = backend();
console.log(`census-income, domain ${domain}: ${data.splits.train.length} train / ${data.splits.test.length} test rows, ${epochs} epochs, ${seeds} seeds; ${b.kind} (${b.deviceName})`);
const runs = new Map<string, CensusDynamicResult[]>();
for (const model of CENSUS_DYNAMIC_MODELS) {
  const t0 = Date.now();
  runs.set(model, Array.from({ length: seeds }, (_, s) => runCensusDynamic({ model, domain, seed: s + 1, epochs, data })));
  console.log(`${model}: ${((Date.now() - t0) / 1000 / seeds).toFixed(1)} s per run`);
}
const first = (runs.get('mlp') as CensusDynamicResult[])[0].aucs;
console.log(`\n| model | dense parameters | ${first.map((a) => `${a.task} ${a.domain}`).join(' | ')} |\n|---|---|${first.map(() => '---').join('|')}|`);
for (const [model, rs] of runs) {
  const cells = first.map((_, k) => meanSd(rs.map((r) => r.aucs[k].auc)));
  console.log(`| ${model} | ${rs[0].parameters.toLocaleString('en-US')} | ${cells.join(' | ')} |`);
}
console.log(`\ntest rows: ${first.map((a) => `${a.task} ${a.domain} ${a.n}`).join(', ')}`);
