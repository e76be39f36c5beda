// Source lists for binding.gyp (gyp has no globbing). Mirrors the globs in CMakeLists.txt,
// minus CUDA: core, op host code (CPU twins and orchestration), per-ISA CPU files, binding.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const { root } = require('./paths');

function walk(dir) {
  const out = [];
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...walk(rel));
    else out.push(rel);
  }
  return out.sort();
}

function lists() {
  const core = walk('native/core').filter((f) => f.endsWith('.cpp') && !f.endsWith('cuda_runtime.cpp'));
  const ops = walk('native/ops');
  const binding = walk('native/binding').filter((f) => f.endsWith('.cpp'));
  return {
    common: [...core, ...ops.filter((f) => f.endsWith('.cpp') && !/_avx(2|512)\.cpp$/.test(f)), ...binding],
    avx2: ops.filter((f) => f.endsWith('_avx2.cpp')),
    avx512: ops.filter((f) => f.endsWith('_avx512.cpp')),
  };
}

module.exports = {
  gyp: () => lists().common,
  avx2: () => lists().avx2,
  avx512: () => lists().avx512,
};
