#!/usr/bin/env node
// gpu-probe.js OUT.json — which addon lib/native.ts would load here (GATEWISE_ADDON, else
// node-gyp-build's lookup, GATEWISE_PREBUILD honoured) and what it sees: CUDA built or not,
// devices, and why CUDA is unavailable when it is. gpu-check.sh decides on it whether the
// benches run; gpu-report.js takes every skip's reason from it. Plain JS: no TS tooling.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const { root } = require('./paths');
const out = process.argv[2];
const probe = { node: process.version, platform: `${process.platform}-${process.arch}` };
try {
  const override = process.env.GATEWISE_ADDON;
  probe.addonPath = override ? path.resolve(override) : require(require.resolve('node-gyp-build', { paths: [root] })).resolve(root);
  probe.backendInfo = require(probe.addonPath).backendInfo();
} catch (e) {
  probe.error = e.message;
}
const text = JSON.stringify(probe, null, 2);
if (out) fs.writeFileSync(out, text + '\n');
console.log(text);
process.exitCode = probe.error ? 1 : 0;
