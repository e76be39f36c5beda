/**
 * Prints the README's multi-task census-income tables: Shared-Bottom, MMoE, MMoE with gate
 * dropout and POSO-MMoE — test AUC per task (mean ± sd over seeds), parameters, and the
 * gates' utilization on the test rows.
 *   npx tsx examples/census-mmoe-report.ts [--seeds 3] [--epochs 8]
 */
import { backend } from '../lib';
import { CENSUS_TASKS, loadCensusIncomeSync } from './data/census-income';
import { CENSUS_MTL_MODELS, CensusMtlResult, runCensusMtl } from './census-mmoe';
import { cliArg, meanSd } from './census-train';

const seeds = Number(cliArg('seeds', '3'));
const epochs = Number(cliArg('epochs', '8'));
const data = loadCensusIncomeSync();
const b = backend();
console.log(`census-income: ${data.splits.train.length} train / ${data.splits.test.length} test rows, ${epochs} epochs, ${seeds} seeds; ${b.kind} (${b.deviceName})`);
const runs = new Map<string, CensusMtlResult[]>();
for (const model of CENSUS_MTL_MODELS) {
  const t0 = Date.now();
  runs.set(model, Array.from({ length: seeds }, (_, s) => runCensusMtl({ model, seed: s + 1, epochs, data })));
  console.log(`${model}: ${((Date.now() - t0) / 1000 / seeds).toFixed(1)} s per run`);
}
console.log(`\n| model | dense parameters | ${CENSUS_TASKS.join(' AUC | ')} AUC |\n|---|---|${CENSUS_TASKS.map(() => '---').join('|')}|`);
for (const [model, rs] of runs) {
  const cells = CENSUS_TASKS.map((_, t) => meanSd(rs.map((r) => r.aucs[t].auc)));
  console.log(`| ${model} | ${rs[0].parameters.toLocaleString('en-US')} | ${cells.join(' | ')} |`);
}
console.log('\n| model | task | mean largest gate | gates < 0.01 | least-used expert | mean gate per expert (seed 1, sorted) |\n|---|---|---|---|---|---|');
for (const [model, rs] of runs) {
  if (!rs[0].utilization) continue;
  CENSUS_TASKS.forEach((task, t) => {
    const us = rs.map((r) => (r.utilization as NonNullable<CensusMtlResult['utilization']>)[t]);
    const sorted = [...us[0].meanGate].sort((x, y) => y - x).map((g) => g.toFixed(2)).join(' ');
    console.log(`| ${model} | ${task} | ${meanSd(us.map((u) => u.meanMaxGate), 3)} | ${meanSd(us.map((u) => u.nearZeroGates), 3)} | ${meanSd(us.map((u) => Math.min(...u.meanGate)), 3)} | ${sorted} |`);
  });
}
