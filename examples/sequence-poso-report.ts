/**
 * Prints the README's behaviour-sequence table: runSequence for each pooling × head over
 * several seeds, mean ± standard deviation of the test AUC overall, for the majority and for
 * the minority (whose relevant history items differ).
 *   npx tsx examples/sequence-poso-report.ts [--seeds 3] [--samples 40000] [--epochs 4]
 */
import { backend } from '../lib';
import { runSequence, SequenceRunOptions, SequenceRunResult } from './sequence-poso';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const seeds = arg('seeds', 3);
const samples = arg('samples', 40_000);
const epochs = arg('epochs', 4);
const data = { items: 200, categories: 10 };
const b = backend();
console.log(`synthetic sequences: ${samples} training samples (10% minority, ${data.items} items, ${data.categories} categories), ${epochs} epochs, ${seeds} seeds; ${b.kind} (${b.deviceName})`);
const variants: [SequenceRunOptions['pooling'], SequenceRunOptions['head']][] = [
  ['mean', 'mlp'],
  ['attention', 'mlp'],
  ['attention', 'poso-mlp'],
  ['poso-attention', 'mlp'],
  ['poso-attention', 'poso-mlp'],
];
const t0 = Date.now();
const stat = (rs: SequenceRunResult[], key: 'auc' | 'aucMajority' | 'aucMinority' | 'oracleMinority') => {
  const v = rs.map((r) => r[key]);
  const m = v.reduce((s, x) => s + x, 0) / v.length;
  const sd = Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / Math.max(1, v.length - 1));
  return `${m.toFixed(4)} ± ${sd.toFixed(4)}`;
};
console.log('\n| pooling | head | overall AUC | majority AUC | minority AUC |\n|---|---|---|---|---|');
let oracle = '';
for (const [pooling, head] of variants) {
  const rs = Array.from({ length: seeds }, (_, i) => runSequence({ pooling, head, seed: i + 1, samples, epochs, data }));
  console.log(`| ${pooling} | ${head} | ${stat(rs, 'auc')} | ${stat(rs, 'aucMajority')} | ${stat(rs, 'aucMinority')} |`);
  oracle = stat(rs, 'oracleMinority');
}
console.log(`\nminority oracle (true probability) AUC: ${oracle}; ${((Date.now() - t0) / 1000).toFixed(1)} s`);
