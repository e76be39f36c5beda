#!/usr/bin/env node
// gatewise install step (package.json "install").
// 1. A prebuilt binary for this platform (prebuilds/<platform>-<arch>/) that loads: done —
//    no compiler, nvcc or GPU needed.
// 2. Otherwise build from source with cmake-js + CMake (CUDA kernels when nvcc is found).
// 3. Otherwise (no cmake / cmake-js) build the CPU-only addon with node-gyp and binding.gyp,
//    which needs only the C++ compiler that npm's node-gyp needs anyway.
// GATEWISE_BUILD_FROM_SOURCE=1 skips step 1.
// The distributed addon (gatewise_gloo.node, Gloo process groups) is never prebuilt: it links
// the system's libgloo. Step 2 builds it wherever CMake finds libgloo; after step 1, it is
// built alone (cmake-js, target gatewise_gloo) when Gloo's headers are installed
// (`apt-get install libgloo-dev`), and its absence never fails the install.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { root, jobs } = require('./paths');

function log(msg) {
  process.stderr.write(`gatewise: ${msg}\n`);
}

function prebuiltLoads() {
  try {
    require('node-gyp-build')(root);
    return true;
  } catch (_) {
    return false;
  }
}

function run(cmd, args) {
  log(`${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  return r.status === 0;
}

function has(cmd) {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
}

function cmakeJsBin() {
  try {
    return require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  } catch (_) {
    return null;
  }
}

/** Whether Gloo's headers are installed where CMake looks by default. */
function hasGloo() {
  return ['/usr/include', '/usr/local/include'].some((d) => fs.existsSync(path.join(d, 'gloo', 'alltoallv.h')));
}

/** With the prebuilt main addon: build the distributed addon alone when Gloo is installed. */
function buildGlooAddon() {
  if (fs.existsSync(path.join(root, 'build', 'Release', 'gatewise_gloo.node')) || !hasGloo()) return;
  const cmakeJs = cmakeJsBin();
  if (!cmakeJs || !has('cmake')) {
    log('Gloo is installed but cmake is not: install cmake, then `npm rebuild gatewise`, for distributed training');
    return;
  }
  // 'build', not 'compile': a failed build must not clean the folder (it may hold the main addon).
  if (!run(process.execPath, [cmakeJs, 'build', '--parallel', jobs, '--target', 'gatewise_gloo'])) {
    log('the distributed addon (gatewise_gloo.node) did not build; everything else works without it');
  }
}

function main() {
  if (!process.env.GATEWISE_BUILD_FROM_SOURCE && prebuiltLoads()) {
    log('using the prebuilt binary');
    buildGlooAddon();
    return 0;
  }
  const cmakeJs = cmakeJsBin();
  if (cmakeJs && has('cmake')) {
    if (run(process.execPath, [cmakeJs, 'compile', '--parallel', jobs])) return 0;
    log('the CMake build failed; trying the CPU-only node-gyp build');
  }
  const nodeGyp = process.env.npm_config_node_gyp;
  const ok = nodeGyp ? run(process.execPath, [nodeGyp, 'rebuild']) : run('node-gyp', ['rebuild']);
  if (ok) return 0;
  log(
    [
      'could not load a prebuilt binary nor build from source.',
      'Possible solutions:',
      '- install on linux-x64, for which prebuilt binaries ship in the package;',
      '- install a C++17 compiler and cmake (and nvcc for CUDA kernels), then `npm rebuild gatewise`;',
      '- set GATEWISE_BUILD_FROM_SOURCE=1 to see the source build output.',
    ].join('\n'),
  );
  return 1;
}

process.exitCode = main();
