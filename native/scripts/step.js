// Shared by the test scripts (test-emu.js, test-sanitize.js): one titled, timed step of a
// suite, and the tools they run through node.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const { root } = require('./paths');

/** Runs cmd in the package root with env added; prints a header and the verdict; true when it passed. */
function runStep(title, cmd, args, env = {}) {
  process.stdout.write(`\n=== ${title}\n`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  process.stdout.write(`=== ${title}: ${r.status === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  return r.status === 0;
}

const cmakeJsBin = () => require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
const vitestBin = () => path.join(path.dirname(require.resolve('vitest/package.json', { paths: [root] })), 'vitest.mjs');

module.exports = { runStep, cmakeJsBin, vitestBin };
