#!/usr/bin/env node
// Builds the addon with cmake-js (CUDA kernels when nvcc is found) and places it where
// node-gyp-build looks first: prebuilds/<platform>-<arch>/gatewise.napi.node. `npm pack`
// runs this (prepack), so the tarball installs with no compiler on the user's machine.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { root, jobs } = require('./paths');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
function main() {
  const r = spawnSync(process.execPath, [cmakeJs, 'compile', '--parallel', jobs], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) return r.status ?? 1;

  const built = path.join(root, 'build', 'Release', 'gatewise.node');
  const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  fs.mkdirSync(dir, { recursive: true });
  const dest = path.join(dir, 'gatewise.napi.node');
  fs.copyFileSync(built, dest);
  spawnSync('strip', ['--strip-unneeded', dest], { stdio: 'inherit' });
  process.stderr.write(`gatewise: prebuilt ${path.relative(root, dest)} (${fs.statSync(dest).size} bytes)\n`);
  return 0;
}

process.exitCode = main();
