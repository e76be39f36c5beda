/**
 * Distributed training steps (`npm run bench -- distributed`): the census MMoE job
 * (configs/census-mmoe.json, batch 512 per rank) on 1 and 2 ranks, child processes on
 * loopback, its table sharded and its dense weights data-parallel over Gloo. Each rank times
 * `steps` training steps on its own share of the rows and splits each into communication —
 * the time it was blocked waiting for collectives: the lookups' and the gradients' all-to-alls,
 * the all-reduce buckets not finished by the end of backward — and compute (the rest), and
 * counts the bytes it sent per step by collective. Rank 0's figures are printed.
 * It runs only when named (it starts processes and reads the census data in each).
 */
import { spawn } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { Batch, batches } from '../lib/data/batches';
import { rankRows } from '../lib/distributed/data';
import { buildDistributedJob } from '../lib/distributed/job';
import { ShardedEmbeddingTable } from '../lib/distributed/sharded-table';
import { initProcessGroup } from '../lib/distributed/process-group';
import { loadTrainConfig } from '../lib/train/config';
import { buildJob } from '../lib/train/job';

const CENSUS = path.resolve(__dirname, '../configs/census-mmoe.json');
const WARMUP = 5;
const STEPS = 40;

export interface DistributedResult {
  ranks: number;
  batchPerRank: number;
  stepMs: number;
  computeMs: number;
  commMs: number;
  /** Bytes rank 0 sent per step, in all and by collective. */
  bytesPerStep: number;
  allReduceBytes: number;
  allToAllBytes: number;
  otherBytes: number;
  /** Dense parameters (floats) all-reduced; the table's lookups per step and the distinct ids they sent to owners per step; the embedding dim. */
  denseParams: number;
  lookupsPerStep: number;
  idsPerStep: number;
  dim: number;
  samplesPerSecond: number;
  /** On 1 rank: the same steps of the ordinary job (unsharded table, no DDP), for the machinery's own cost. */
  unshardedStepMs?: number;
}

/** One rank: train STEPS steps on its share of the census rows, print its figures as JSON. */
async function rankMain(): Promise<void> {
  const group = await initProcessGroup();
  const config = loadTrainConfig(CENSUS);
  const { parts, ddp } = buildDistributedJob(config, group, { progress: { mode: 'none' } });
  await parts.fitNumeric();
  const B = config.train.batchSize;
  const local: Batch[] = [];
  for await (const b of batches(rankRows(parts.rows('train'), group, B), config.schema, { batchSize: B })) {
    local.push(b);
    if (local.length === WARMUP + STEPS) break;
  }
  const s = group.stats;
  const x = (parts.model.table as ShardedEmbeddingTable).exchangeStats;
  let x0 = { ...x };
  let wait0 = 0;
  let bytes0 = { ...s.bytesByOp };
  let t0 = 0;
  local.forEach((batch, i) => {
    if (i === WARMUP) {
      wait0 = s.waitSeconds;
      bytes0 = { ...s.bytesByOp };
      x0 = { ...x };
      t0 = performance.now();
    }
    parts.trainer.trainStep(batch);
  });
  const ms = (performance.now() - t0) / STEPS;
  const commMs = ((s.waitSeconds - wait0) * 1000) / STEPS;
  const per = (op: keyof typeof bytes0) => (s.bytesByOp[op] - bytes0[op]) / STEPS;
  const result: DistributedResult = {
    ranks: group.worldSize,
    batchPerRank: B,
    stepMs: ms,
    computeMs: ms - commMs,
    commMs,
    bytesPerStep: per('allReduce') + per('allToAllV') + per('allGather') + per('broadcast'),
    allReduceBytes: per('allReduce'),
    allToAllBytes: per('allToAllV'),
    otherBytes: per('allGather') + per('broadcast'),
    denseParams: ddp.params.reduce((n, p) => n + p.size, 0),
    lookupsPerStep: (x.lookups - x0.lookups) / STEPS,
    idsPerStep: (x.distinctIds - x0.distinctIds) / STEPS,
    dim: parts.model.table.dim,
    samplesPerSecond: (B * group.worldSize * 1000) / ms,
  };
  if (group.worldSize === 1) {
    const plain = buildJob(config, { progress: { mode: 'none' } });
    local.forEach((batch, i) => {
      if (i === WARMUP) t0 = performance.now();
      plain.trainer.trainStep(batch);
    });
    result.unshardedStepMs = (performance.now() - t0) / STEPS;
    plain.model.table.dispose();
  }
  for (const b of local) b.dispose();
  process.stdout.write(`${JSON.stringify(result)}\n`);
  await group.destroy();
}

async function runRanks(world: number, port: number): Promise<DistributedResult> {
  const tsx = path.resolve(__dirname, '../node_modules/.bin/tsx');
  const outs = await Promise.all(
    Array.from({ length: world }, (_, rank) => {
      const child = spawn(tsx, [__filename], {
        // The ranks share the cores, as the launcher shares them.
        env: { ...process.env, GATEWISE_NUM_THREADS: String(Math.max(1, Math.floor(os.availableParallelism() / world))), GATEWISE_BENCH_DIST_RANK: '1', RANK: String(rank), WORLD_SIZE: String(world), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      return new Promise<string>((resolve, reject) => child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`bench rank ${rank} of ${world} exited with ${code}`)))));
    }),
  );
  return JSON.parse(outs[0].trim().split('\n').pop()!) as DistributedResult;
}

/** 1 and 2 ranks; prints a line for each. */
export async function run(): Promise<DistributedResult[]> {
  console.log(`\ndistributed — census MMoE steps, batch 512 per rank, ${STEPS} steps after ${WARMUP}, ranks on loopback (rank 0's figures)`);
  console.log('ranks   step ms   compute ms   comm ms   bytes/step (all-reduce + all-to-all + other)   samples/s');
  const results: DistributedResult[] = [];
  for (const [i, world] of [1, 2].entries()) {
    const r = await runRanks(world, 29600 + i + Math.floor(Math.random() * 300));
    results.push(r);
    const kb = (x: number) => `${(x / 1024).toFixed(1)} KiB`;
    if (r.unshardedStepMs !== undefined) console.log(`    1   ${r.unshardedStepMs.toFixed(2).padStart(7)}   (the ordinary job: unsharded table, no DDP, same batches)`);
    console.log(
      `${String(world).padStart(5)}   ${r.stepMs.toFixed(2).padStart(7)}   ${r.computeMs.toFixed(2).padStart(10)}   ${r.commMs.toFixed(2).padStart(7)}   ${kb(r.bytesPerStep).padStart(11)} (${kb(r.allReduceBytes)} + ${kb(r.allToAllBytes)} + ${kb(r.otherBytes)})   ${r.samplesPerSecond.toFixed(0).padStart(9)}`,
    );
  }
  projection(results[0], results[1]);
  return results;
}

/** Per-message latency assumed for a datacenter TCP network in the projection (loopback's is far lower). */
const ALPHA_S = 50e-6;

/**
 * The cost model of one step per rank (docs: README, "Distributed training"), with the
 * parameters measured above: bytes = 2(W−1)/W·4P (ring all-reduce of P dense floats)
 * + (W−1)/W·U·(8 + 8d) (U distinct ids: their ids out, rows back, gradients out) + small
 * counts; time = compute + bytes / bandwidth + α·messages, with messages = 2(W−1) per
 * all-reduce (the gradient bucket, the lockstep flag) and W−1 per all-to-all (4 per lookup:
 * counts, ids, rows, gradients). No overlap is assumed (an upper bound on the time).
 */
function projection(one: DistributedResult, two: DistributedResult): void {
  const compute = one.computeMs / 1000;
  const P = two.denseParams;
  const U = two.idsPerStep;
  const L = two.lookupsPerStep;
  const d = two.dim;
  const B = two.batchPerRank;
  console.log(`projected (cost model; compute ${one.computeMs.toFixed(1)} ms/step measured on 1 rank, P = ${P} dense floats, U = ${U.toFixed(0)} distinct ids in ${L} lookup(s) per step, d = ${d}, α = ${ALPHA_S * 1e6} µs per message)`);
  console.log('machines   network    MB/step/rank   comm ms   step ms   samples/s (all machines)');
  for (const W of [8, 64]) {
    for (const gbps of [25, 100]) {
      const bytes = ((2 * (W - 1)) / W) * 4 * P + ((W - 1) / W) * U * (8 + 8 * d) + L * 8 * (W - 1);
      const messages = 2 * 2 * (W - 1) + L * 4 * (W - 1);
      const comm = (bytes * 8) / (gbps * 1e9) + ALPHA_S * messages;
      const step = compute + comm;
      console.log(`${String(W).padStart(8)}   ${String(gbps).padStart(3)} Gb/s   ${(bytes / 2 ** 20).toFixed(2).padStart(12)}   ${(comm * 1000).toFixed(2).padStart(7)}   ${(step * 1000).toFixed(2).padStart(7)}   ${((W * B) / step).toFixed(0).padStart(9)}`);
    }
  }
}

if (process.env.GATEWISE_BENCH_DIST_RANK === '1') {
  rankMain().then(
    () => process.exit(0),
    (e) => {
      process.stderr.write(`${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
