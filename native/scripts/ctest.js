#!/usr/bin/env node
// Builds and runs the native test program (no Node involved in the tests themselves):
// every CPU kernel against a float64 reference, every CUDA kernel against its CPU twin
// (those skip, printing why, when no GPU is present). Extra args are passed to cmake
// configure, e.g. `npm run test:native -- -DGW_CUDA=OFF`, or `-DGW_CUDA=EMU` to run the CUDA
// cases on the emulated device, `-DGW_SANITIZE=ON` for ASan + UBSan. Each combination builds
// in a folder of its own (build-native, build-native-emu, build-native-emu-asan, ...).
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const { root, jobs } = require('./paths');

/** The build folder for these cmake arguments. */
function buildDir(args) {
  const flag = (name) => args.map((a) => a.match(new RegExp(`^-D${name}=(.*)$`))).find(Boolean)?.[1];
  if (process.env.GATEWISE_NATIVE_BUILD_DIR) return process.env.GATEWISE_NATIVE_BUILD_DIR;
  let name = 'build-native';
  const cuda = flag('GW_CUDA');
  if (cuda && cuda !== 'AUTO') name += `-${cuda.toLowerCase()}`;
  if (/^(ON|1|TRUE)$/i.test(flag('GW_SANITIZE') ?? '')) name += '-asan';
  return path.join(root, name);
}

function main(args) {
  const dir = buildDir(args);
  const steps = [
    ['cmake', ['-S', root, '-B', dir, '-DGW_ADDON=OFF', '-DGW_NATIVE_TESTS=ON', ...args]],
    ['cmake', ['--build', dir, '-j', jobs]],
    // The program itself rather than ctest, so the log lists every case that ran or skipped.
    [path.join(dir, 'gw_native_tests'), []],
  ];
  for (const [cmd, a] of steps) {
    const r = spawnSync(cmd, a, { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) return r.status ?? 1;
  }
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
module.exports = { buildDir };
