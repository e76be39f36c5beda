/**
 * The README's census table: every bundled `configs/census-<kind>.json` trained with several
 * seeds (the weights and the shuffles; the split stays seed 1's, so every run scores the same
 * 9,925 test rows), test AUC per task on all rows and per domain (sex), as mean ± sd over the
 * seeds, and the job's mean wall time.
 *
 *   npx tsx bench/census-table.ts                          # every kind, seeds 1,2,3 (~15 min on 2 cores)
 *   npx tsx bench/census-table.ts --kinds mmoe,mlp --seeds 1
 *   npx tsx bench/census-table.ts --kinds mmoe --numeric '{"transform":"none","normalize":"standard"}'
 *   npx tsx bench/census-table.ts --kinds mmoe --numeric sparse    # the numeric columns as ids
 *
 * `--numeric` replaces the seven numeric columns' declarations (a dense field's numeric keys as
 * JSON, or `sparse`: each distinct value its own id), for the numeric-treatment study.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { MODEL_KINDS, parseTrainConfig, TrainConfig } from '../lib/train/config';
import { runTrainJob } from '../lib/train/job';

const NUMERIC = ['age', 'wage_per_hour', 'capital_gains', 'capital_losses', 'stock_dividends', 'num_emp', 'weeks_worked'];
const COLUMNS = [
  ['income', 'all'],
  ['income', 'Female'],
  ['income', 'Male'],
  ['neverMarried', 'all'],
  ['neverMarried', 'Female'],
  ['neverMarried', 'Male'],
] as const;

const { values } = parseArgs({ options: { kinds: { type: 'string' }, seeds: { type: 'string' }, numeric: { type: 'string' }, json: { type: 'string' } } });
const kinds = values.kinds ? values.kinds.split(',') : [...MODEL_KINDS];
const seeds = (values.seeds ?? '1,2,3').split(',').map(Number);
const numeric = values.numeric === undefined ? null : values.numeric === 'sparse' ? 'sparse' : (JSON.parse(values.numeric) as Record<string, unknown>);
const configs = path.resolve(__dirname, '../configs');

/** The config of a kind with the seed, the fixed split, a scratch output folder and the numeric override. */
function configFor(kind: string, seed: number, out: string): TrainConfig {
  const c = JSON.parse(fs.readFileSync(path.join(configs, `census-${kind}.json`), 'utf8')) as TrainConfig;
  c.seed = seed;
  c.data.split = { ...c.data.split, seed: 1 };
  c.output = { dir: out, report: false };
  if (numeric !== null) {
    c.schema.fields = c.schema.fields.map((f) => (NUMERIC.includes(f.name) ? (numeric === 'sparse' ? { name: f.name, kind: 'sparse' } : { name: f.name, kind: 'dense', ...numeric }) : f)) as TrainConfig['schema']['fields'];
  }
  return c;
}

const stats = (xs: number[]) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, sd };
};

async function main(): Promise<void> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-census-table-'));
  const results: Record<string, { auc: number[][]; seconds: number[]; error?: string }> = {};
  try {
    for (const kind of kinds) {
      const r = (results[kind] = { auc: COLUMNS.map(() => [] as number[]), seconds: [] as number[] });
      for (const seed of seeds) {
        try {
          const job = await runTrainJob(parseTrainConfig(configFor(kind, seed, path.join(scratch, `${kind}-${seed}`)), configs, `census-${kind}`), { progress: { mode: 'none' }, log: () => {} });
          COLUMNS.forEach(([task, domain], i) => r.auc[i].push(job.test.find((m) => m.task === task && m.domain === domain)!.auc!));
          r.seconds.push(job.seconds);
          process.stderr.write(`${kind} seed ${seed}: income ${r.auc[0].at(-1)!.toFixed(4)}, never married ${r.auc[3].at(-1)!.toFixed(4)}, ${job.seconds.toFixed(1)} s\n`);
        } catch (e) {
          // A kind that fails is reported in its row; the others still run.
          (r as { error?: string }).error = (e as Error).message.split('\n')[0];
          process.stderr.write(`${kind} seed ${seed}: ${(e as Error).stack}\n`);
          break;
        }
      }
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const cell = (xs: number[]) => {
    const { mean, sd } = stats(xs);
    return seeds.length > 1 ? `${mean.toFixed(4)} ± ${sd.toFixed(4)}` : mean.toFixed(4);
  };
  const lines = [
    `| \`model.kind\` | income: all | women | men | never married: all | women | men | job |`,
    `| --- | --- | --- | --- | --- | --- | --- | --- |`,
    ...Object.entries(results).map(([kind, r]) => (r.error ? `| \`${kind}\` | failed: ${r.error} |||||||` : `| \`${kind}\` | ${r.auc.map(cell).join(' | ')} | ${stats(r.seconds).mean.toFixed(1)} s |`)),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (values.json) fs.writeFileSync(values.json, JSON.stringify({ seeds, numeric, results }, null, 2));
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
