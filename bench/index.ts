/**
 * Runs the benchmarks on the current backend (GATEWISE_BACKEND=cpu|cuda to choose).
 *   npm run bench                 every benchmark
 *   npm run bench -- gemm         only those whose bench or case name contains "gemm"
 *   npm run bench -- embedding    the embedding table; "find d32", d128, lf1.0 … pick its cases
 *   npm run bench -- gated-fc     the fused gated FC against the unfused sequence
 *   npm run bench -- poso-mha     fused POSO attention against the naive formula; L1000, h8 … pick its cases
 *   npm run bench -- apg          APG's decomposed layer against materializing W(z) per sample; N512, K16 … pick its cases
 *   npm run bench -- mmoe         batched experts + fused gates/combination against a per-expert loop; E8, B16384 … pick its cases
 *   npm run bench -- serve        `gatewise serve` under autocannon load, with and without malformed requests (bench/serve.ts);
 *                                 it runs only when named (it starts a server and takes about a minute); c1, c16, c64 pick its runs
 *   npm run bench -- distributed  distributed training steps of the census MMoE job on 1 and 2 ranks (bench/distributed.ts): step time
 *                                 split into compute and communication, bytes sent per step; runs only when named
 *   npm run bench -- --json out.json   also write the results as JSON
 *   npm run bench -- --bench embedding lf0.5   only these benches (comma-separated), their cases
 *                                 filtered by the other words; the others' setup is skipped too
 * GATEWISE_BENCH_MIN_MS=100 shortens every case's minimum measured time (a quick pass);
 * GATEWISE_BENCH_JSONL=file appends each result as a JSON line the moment it is measured.
 */
import * as fs from 'node:fs';
import { backend } from './lib-internal';
import { cpuFmaPeak, memoryBandwidth } from './ceilings';
import type { Result } from './harness';
import * as apg from './apg';
import * as elementwise from './elementwise';
import * as embedding from './embedding';
import * as gatedFc from './gated-fc';
import * as gemm from './gemm';
import * as mmoe from './mmoe';
import * as optim from './optim';
import * as posoMha from './poso-mha';
import * as serve from './serve';
import * as distributed from './distributed';

const benches: Record<string, { run(filter: (name: string) => boolean): Result[] }> = { gemm, 'gated-fc': gatedFc, 'poso-mha': posoMha, mmoe, apg, elementwise, optim, embedding };

const args = process.argv.slice(2);
let jsonPath: string | undefined;
let only: string[] | undefined;
const words: string[] = [];
for (let i = 0; i < args.length; ++i) {
  if (args[i] === '--json') jsonPath = args[i + 1] && !args[i + 1].startsWith('-') ? args[++i] : 'bench-results.json';
  else if (args[i] === '--bench') only = (args[++i] ?? '').split(',');
  else words.push(args[i]);
}
// The serving and distributed benches run only when named, alone unless --bench names others too.
if (!only && words.includes('serve')) only = ['serve'];
if (!only && words.includes('distributed')) only = ['distributed'];
const unknown = (only ?? []).filter((name) => !(name in benches) && name !== 'serve' && name !== 'distributed');
if (unknown.length) throw new Error(`--bench: no bench named ${unknown.join(', ')}; benches: ${Object.keys(benches).join(', ')}, serve`);

const b = backend();
console.log(`gatewise bench — ${b.kind}: ${b.deviceName}; CPU ${b.cpuIsa}, ${b.numThreads} threads; node ${process.version}`);
if (b.kind === 'cpu') console.log(`ceilings: FMA peak ${cpuFmaPeak().toFixed(1)} GFLOP/s (measured), STREAM triad ${memoryBandwidth().toFixed(1)} GB/s (measured)`);
else console.log(`ceilings: STREAM triad ${memoryBandwidth().toFixed(1)} GB/s (measured)`);

const results: Result[] = [];
for (const [name, bench] of Object.entries(benches)) {
  if (only && !only.includes(name)) continue;
  const benchSelected = words.length === 0 || words.some((w) => name.includes(w));
  const filter = (caseName: string) => benchSelected || words.some((w) => caseName.includes(w));
  results.push(...bench.run(filter));
}
async function finish(): Promise<void> {
  const served = only?.includes('serve') ? await serve.run(words) : undefined;
  const dist = only?.includes('distributed') ? await distributed.run() : undefined;
  if (jsonPath) {
    fs.writeFileSync(jsonPath, JSON.stringify({ date: new Date().toISOString(), backend: b, results, ...(served ? { serve: served } : {}), ...(dist ? { distributed: dist } : {}) }, null, 2));
    console.log(`wrote ${results.length + (served?.length ?? 0) + (dist?.length ?? 0)} results to ${jsonPath}`);
  }
}
finish().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
