#!/usr/bin/env node
// The CUDA kernels' parity tests on the emulated CUDA device (native/emu/; no GPU needed):
//   1. the native test program built with GW_CUDA=EMU: every case, CUDA-vs-CPU and the
//      emulator's own (test_emulator.cpp) included, with the threads of every block in a
//      seeded random order (GATEWISE_EMU_SCHEDULE=random:<seed>), so a missing barrier or a
//      race shows (`npm run test:sanitize` runs the same program in the forward order, under
//      ASan + UBSan; `npm run test:native -- -DGW_CUDA=EMU` runs it forward without them);
//   2. the addon built with GW_CUDA=EMU (build-emu/), loaded through GATEWISE_ADDON, under
//      the TypeScript parity suites (CPU stays the default backend; the suites put their
//      own tensors on 'cuda').
// `npm run test:emu -- native` or `-- ts` runs one half.
'use strict';
const path = require('node:path');

const { root, jobs } = require('./paths');
const { runStep, cmakeJsBin, vitestBin } = require('./step');

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

// One build serves both halves: the addon and the native test program share the emulated
// kernels library (build-emu/: Release/gatewise.node and gw_native_tests).
const BUILD = path.join(root, 'build-emu');
const NATIVE_TESTS = path.join(BUILD, 'gw_native_tests');

function build() {
  const cmakeJs = cmakeJsBin();
  // configure, then build: `cmake-js compile` alone keeps an existing folder's old options.
  const opts = ['--out', 'build-emu', '--CDGW_CUDA=EMU', '--CDGW_NATIVE_TESTS=ON'];
  return (
    runStep('configure on the emulated device (build-emu/)', process.execPath, [cmakeJs, 'configure', ...opts]) &&
    runStep('build on the emulated device: addon and native test program', process.execPath, [
      cmakeJs, 'build', ...opts, '--parallel', jobs,
    ])
  );
}

function native() {
  return runStep(`native tests, emulated device (random:${SEED} schedule)`, NATIVE_TESTS, [], {
    GATEWISE_EMU_SCHEDULE: `random:${SEED}`,
  });
}

function ts() {
  const vitest = vitestBin();
  return runStep('TypeScript parity suites, emulated device', process.execPath, [vitest, 'run', '--testTimeout=180000', ...PARITY_FILES], {
    GATEWISE_ADDON: path.join(BUILD, 'Release', 'gatewise.node'),
    GATEWISE_BACKEND: 'cpu',
  });
}

const which = process.argv[2];
const ok = build() && (which === 'ts' || native()) && (which === 'native' || ts());
process.exitCode = ok ? 0 : 1;
