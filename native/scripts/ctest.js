#!/usr/bin/env node
// Builds and runs the native test program (no Node involved in the tests themselves):
// every CPU kernel against a float64 reference, every CUDA kernel against its CPU twin
// (those skip, printing why, when no GPU is present). Extra args are passed to cmake
// configure, e.g. `npm run test:native -- -DGW_CUDA=OFF`.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const { root, jobs } = require('./paths');
const dir = process.env.GATEWISE_NATIVE_BUILD_DIR || path.join(root, 'build-native');
const steps = [
  ['cmake', ['-S', root, '-B', dir, '-DGW_ADDON=OFF', '-DGW_NATIVE_TESTS=ON', ...process.argv.slice(2)]],
  ['cmake', ['--build', dir, '-j', jobs]],
  ['ctest', ['--test-dir', dir, '--output-on-failure']],
];
for (const [cmd, args] of steps) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.exitCode = r.status ?? 1;
    break;
  }
}
