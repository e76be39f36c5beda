#!/usr/bin/env node
// Builds and runs the native test program (no Node involved in the tests themselves):
// every CPU kernel against a float64 reference, every CUDA kernel against its CPU twin
// (those skip, printing why, when no GPU is present). Extra args are passed to cmake
// configure, e.g. `npm run test:native -- -DGW_CUDA=OFF`.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const dir = process.env.GATEWISE_NATIVE_BUILD_DIR || path.join(root, 'build-native');
const jobs = String(Math.max(1, require('node:os').availableParallelism?.() ?? 2));
function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
run('cmake', ['-S', root, '-B', dir, '-DGW_ADDON=OFF', '-DGW_NATIVE_TESTS=ON', ...process.argv.slice(2)]);
run('cmake', ['--build', dir, '-j', jobs]);
run('ctest', ['--test-dir', dir, '--output-on-failure']);
