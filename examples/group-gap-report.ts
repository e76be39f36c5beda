/**
 * Prints the README's per-group AUC tables: runGroupGap over several seeds, mean ± standard
 * deviation of each model's test AUC on the majority and the minority group.
 *   npx tsx examples/group-gap-report.ts [--seeds 5] [--samples 40000] [--epochs 2]
 *     [--models mlp,poso-mlp,pepnet]     (the dynamic-weight table: mlp,apg-mlp,m2m,star)
 */
import { backend } from '../lib';
import { GroupGapModel, GroupGapResult, GroupGapRow, GROUP_GAP_MODELS, runGroupGap } from './group-gap';
import { cliArg } from './census-train';


const seeds = Number(cliArg('seeds', '5'));
const samples = Number(cliArg('samples', '40000'));
const epochs = Number(cliArg('epochs', '2'));
const models = cliArg('models', 'mlp,poso-mlp,pepnet').split(',') as GroupGapModel[];
for (const m of models) if (!GROUP_GAP_MODELS.includes(m)) throw new Error(`--models: unknown model '${m}' (one of ${GROUP_GAP_MODELS.join(', ')})`);
const b = backend();
console.log(`synthetic groups: ${samples} training samples (5% minority), ${epochs} epochs, ${seeds} seeds; ${b.kind} (${b.deviceName})`);
const t0 = Date.now();
const runs: GroupGapResult[][] = [];
for (let seed = 1; seed <= seeds; ++seed) runs.push(runGroupGap({ seed, samples, epochs, models }));
const stat = (model: GroupGapRow, key: 'majority' | 'minority' | 'overall') => {
  const v = runs.map((r) => (r.find((x) => x.model === model) as GroupGapResult)[key]);
  const m = v.reduce((s, x) => s + x, 0) / v.length;
  const sd = Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / Math.max(1, v.length - 1));
  return `${m.toFixed(4)} ± ${sd.toFixed(4)}`;
};
console.log('\n| model | majority AUC | minority AUC | overall AUC |\n|---|---|---|---|');
const names: Record<GroupGapRow, string> = {
  oracle: 'oracle (true probability)',
  mlp: 'MLP + group indicator',
  'poso-mlp': 'POSO-MLP',
  pepnet: 'PEPNet',
  'apg-mlp': 'APG-MLP (group-conditioned cores)',
  m2m: 'M2M (meta attention + meta tower)',
  star: 'STAR (+ partitioned norm, aux tower)',
};
for (const model of [...models, 'oracle'] as GroupGapRow[]) {
  console.log(`| ${names[model]} | ${stat(model, 'majority')} | ${stat(model, 'minority')} | ${stat(model, 'overall')} |`);
}
console.log(`\n${((Date.now() - t0) / 1000).toFixed(1)} s`);
