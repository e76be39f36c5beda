#!/usr/bin/env node
// The CUDA kernels' parity tests on the emulated CUDA device (native/emu/; no GPU needed):
//   1. the native test program built with GW_CUDA=EMU: every case, CUDA-vs-CPU included;
//   2. its CUDA cases again with the threads of every block in a seeded random order
//      (GATEWISE_EMU_SCHEDULE=random:<seed>), so a missing barrier or a race shows;
//   3. the addon built with GW_CUDA=EMU (build-emu/), loaded through GATEWISE_ADDON, under
//      the TypeScript parity suites (CPU stays the default backend; the suites put their
//      own tensors on 'cuda').
// `npm run test:emu -- native` or `-- ts` runs one half.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const { root, jobs } = require('./paths');
const { buildDir } = require('./ctest');

const PARITY_FILES = [
  'test/cuda.test.ts',
  'test/embedding-cuda.test.ts',
  'test/apg.test.ts',
  'test/gated-fc.test.ts',
  'test/moe.test.ts',
  'test/poso-attention.test.ts',
  'test/serving.test.ts',
  'test/emulator.test.ts',
];
const SEED = process.env.GATEWISE_EMU_SEED || '7';

function run(title, cmd, args, env = {}) {
  process.stdout.write(`\n=== ${title}\n`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  process.stdout.write(`=== ${title}: ${r.status === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  return r.status === 0;
}

function native() {
  const ctest = path.join(__dirname, 'ctest.js');
  return (
    run('native tests, emulated device (forward schedule)', process.execPath, [ctest, '-DGW_CUDA=EMU']) &&
    run(`native CUDA cases, emulated device (random:${SEED} schedule)`, path.join(buildDir(['-DGW_CUDA=EMU']), 'gw_native_tests'), ['cuda'], {
      GATEWISE_EMU_SCHEDULE: `random:${SEED}`,
    })
  );
}

function ts() {
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  const vitest = require.resolve('vitest/vitest.mjs', { paths: [root] });
  return (
    run('addon on the emulated device (build-emu/)', process.execPath, [
      cmakeJs, 'compile', '--out', 'build-emu', '--CDGW_CUDA=EMU', '--parallel', jobs,
    ]) &&
    run('TypeScript parity suites, emulated device', process.execPath, [vitest, 'run', '--testTimeout=180000', ...PARITY_FILES], {
      GATEWISE_ADDON: path.join(root, 'build-emu', 'Release', 'gatewise.node'),
      GATEWISE_BACKEND: 'cpu',
    })
  );
}

const which = process.argv[2];
const ok = (which === 'ts' || native()) && (which === 'native' || ts());
process.exitCode = ok ? 0 : 1;
