#!/usr/bin/env node
// `npm run gpu:pack`: fills gpu-pack/ (ignored) with everything native/scripts/gpu-check.sh
// needs on a lent GPU machine. That machine has python3 with PyTorch, the NVIDIA driver and
// CUDA, but no Node.js and no npm, and receives only the working tree plus at most 8 carried
// ignored paths, 64 MiB in all: so node itself, the node_modules the parity tests and benches
// run on, and the binaries (built here with nvcc, for sm_90 only) travel as xz archives:
//   node.tar.xz          bin/node (this process's own binary)
//   node_modules.tar.xz  node_modules/: vitest, tsx, node-gyp-build and what they load
//   native.tar.xz        addon/build/Release/gatewise.node, bin/gw_native_tests, bin/fma_peak
//   manifest.json        what was packed, from which sources (gpu-check.sh warns when stale)
// Archives whose inputs did not change are kept (compressing node takes about a minute).
// Ends by printing the sizes and the device tool's `run` call to make.
'use strict';
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const { root, jobs } = require('./paths');
const packDir = path.join(root, 'gpu-pack');
const buildDir = path.join(root, 'build-gpu-pack');
const stageRoot = path.join(buildDir, 'stage');
const BUDGET = 64 * 2 ** 20; // what may travel: the working tree plus carried paths
const CUDA_ARCH = '90-real'; // the lent machines are H100/H200 (sm_90); one arch halves build time and size

// The node_modules the GPU run loads: vitest (TS parity tests), tsx (benches), node-gyp-build
// (the addon loader), and what they depend on.
const ENTRY_PACKAGES = ['vitest', 'tsx', 'node-gyp-build'];
// Never loaded by a test or bench run: type declarations, TypeScript, and vite's CSS minifier
// (lightningcss, a 9.6 MB native binary that only CSS imports reach).
const SKIP_PACKAGES = [/^@types\//, /^typescript$/, /^lightningcss/];
// Files nothing executes: declarations, source maps, docs.
const SKIP_FILES = /(\.d\.[mc]?ts|\.map|\.md|\.markdown)$|^(CHANGELOG|HISTORY|README)/i;

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`})`);
  return r;
}

function output(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '';
}

function sha256(data) {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/** The addon and the native parity program in one cmake-js tree (the kernels compile once). */
function buildNative() {
  const env = { ...process.env };
  // cmake-js would download node's headers (nothing is downloaded here): use the installed ones.
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  if (!env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include', 'node', 'node.h'))) env.npm_config_nodedir = prefix;
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  run(process.execPath, [cmakeJs, 'compile', '-O', buildDir, '--parallel', jobs,
    '--CDGW_CUDA=ON', `--CDCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCH}`, '--CDGW_NATIVE_TESTS=ON',
    // the GPU machine's libstdc++ need not match this one's
    '--CDCMAKE_EXE_LINKER_FLAGS=-static-libstdc++ -static-libgcc'], { env });
  run('nvcc', ['-O3', '-arch=sm_90', '-o', path.join(buildDir, 'fma_peak'), path.join(root, 'bench', 'fma_peak.cu')]);
}

/** Copies a file into the stage, stripped of symbols when asked. */
function stageFile(stage, from, to, strip) {
  const dest = path.join(stage, to);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.copyFileSync(from, dest);
  fs.chmodSync(dest, 0o755);
  if (strip) run('strip', ['--strip-unneeded', dest]);
}

/** The installed packages ENTRY_PACKAGES need, as folders under node_modules (nested ones too). */
function packageClosure() {
  const found = new Map(); // folder → name
  const visit = (name, fromDir) => {
    if (SKIP_PACKAGES.some((re) => re.test(name))) return;
    // node's lookup: the requiring package's own node_modules, then each one above it
    for (let dir = fromDir; ; dir = path.dirname(dir)) {
      const candidate = path.join(dir, 'node_modules', name);
      if (fs.existsSync(path.join(candidate, 'package.json'))) {
        if (found.has(candidate)) return;
        found.set(candidate, name);
        const pj = JSON.parse(fs.readFileSync(path.join(candidate, 'package.json'), 'utf8'));
        // optional and peer dependencies count where they are installed (the platform binaries)
        for (const dep of Object.keys({ ...pj.dependencies, ...pj.optionalDependencies, ...pj.peerDependencies })) visit(dep, candidate);
        return;
      }
      if (dir === root || dir === path.dirname(dir)) return; // not installed: optional elsewhere
    }
  };
  for (const name of ENTRY_PACKAGES) visit(name, root);
  return [...found.keys()].sort();
}

function stageNodeModules(stage) {
  for (const dir of packageClosure()) {
    fs.cpSync(dir, path.join(stage, path.relative(root, dir)), {
      recursive: true,
      // nested node_modules are staged as packages of their own, only when needed
      filter: (src) => src === dir || !(path.basename(src) === 'node_modules' || SKIP_FILES.test(path.basename(src))),
    });
  }
}

/** A cache key for an archive: its inputs' identity. */
function keyOf(parts) {
  return sha256(JSON.stringify(parts)).slice(0, 16);
}

/** Builds gpu-pack/<name>.tar.xz from a staged folder, unless the manifest has one for this key. */
function archive(name, key, fill, previous) {
  const file = path.join(packDir, `${name}.tar.xz`);
  const old = previous.archives?.[name];
  if (old && old.key === key && fs.existsSync(file) && fs.statSync(file).size === old.bytes) {
    console.log(`gpu-pack: ${name}.tar.xz unchanged, kept`);
    return { ...old, kept: true };
  }
  const stage = path.join(stageRoot, name);
  fs.rmSync(stage, { recursive: true, force: true });
  fs.mkdirSync(stage, { recursive: true });
  fill(stage);
  const raw = Number(output('du', ['-sb', stage]).split(/\s/)[0]);
  console.log(`gpu-pack: compressing ${name} (${(raw / 2 ** 20).toFixed(1)} MiB)…`);
  const t0 = Date.now();
  run('tar', ['-C', stage, '--sort=name', '--owner=0', '--group=0', '--numeric-owner', '-cJf', file, '.'], { env: { ...process.env, XZ_OPT: '-9 -T1' } });
  const bytes = fs.statSync(file).size;
  console.log(`gpu-pack: ${name}.tar.xz ${(bytes / 2 ** 20).toFixed(1)} MiB in ${((Date.now() - t0) / 1e3).toFixed(0)} s`);
  return { key, bytes, rawBytes: raw, sha256: sha256(fs.readFileSync(file)) };
}

/** Bytes of what travels besides the carried pack: tracked and untracked-not-ignored files. */
function treeBytes() {
  const files = output('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard']).split('\0').filter(Boolean);
  return files.reduce((sum, f) => {
    try {
      return sum + fs.statSync(path.join(root, f)).size;
    } catch {
      return sum; // deleted in the tree
    }
  }, 0);
}

function main() {
  fs.mkdirSync(packDir, { recursive: true });
  const manifestFile = path.join(packDir, 'manifest.json');
  let previous = {};
  try {
    previous = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  } catch {
    /* first pack */
  }
  if (!process.argv.includes('--no-build')) buildNative();
  const addon = path.join(buildDir, 'Release', 'gatewise.node');
  const tests = path.join(buildDir, 'gw_native_tests');
  const fma = path.join(buildDir, 'fma_peak');
  const lock = fs.readFileSync(path.join(root, 'package-lock.json'));
  const nodeStat = fs.statSync(process.execPath);

  const archives = {
    node: archive('node', keyOf([process.version, nodeStat.size, nodeStat.mtimeMs]), (s) => stageFile(s, process.execPath, 'bin/node', false), previous),
    node_modules: archive('node_modules', keyOf([sha256(lock), ENTRY_PACKAGES, String(SKIP_PACKAGES), String(SKIP_FILES)]), stageNodeModules, previous),
    native: archive(
      'native',
      keyOf([addon, tests, fma].map((f) => sha256(fs.readFileSync(f)))),
      (s) => {
        stageFile(s, addon, 'addon/build/Release/gatewise.node', true);
        stageFile(s, tests, 'bin/gw_native_tests', true);
        stageFile(s, fma, 'bin/fma_peak', false);
      },
      previous,
    ),
  };
  for (const f of fs.readdirSync(packDir)) {
    if (f !== 'manifest.json' && !Object.keys(archives).some((n) => f === `${n}.tar.xz`)) fs.rmSync(path.join(packDir, f), { recursive: true });
  }
  const manifest = {
    created: new Date().toISOString(),
    commit: output('git', ['rev-parse', 'HEAD']),
    dirtyFiles: output('git', ['status', '--porcelain']).split('\n').filter(Boolean).length,
    node: process.version,
    cudaArchitectures: CUDA_ARCH,
    nvcc: output('nvcc', ['--version']).split('\n').pop(),
    // gpu-check.sh recomputes this on the GPU machine and warns when the binaries are stale
    sourcesHash: output('bash', [path.join(__dirname, 'gpu-check.sh'), '--sources-hash']),
    archives: Object.fromEntries(Object.entries(archives).map(([n, a]) => [n, { key: a.key, bytes: a.bytes, rawBytes: a.rawBytes, sha256: a.sha256 }])),
  };
  fs.writeFileSync(manifestFile, JSON.stringify(manifest, null, 2) + '\n');

  const packBytes = Object.values(archives).reduce((s, a) => s + a.bytes, 0) + fs.statSync(manifestFile).size;
  const tree = treeBytes();
  const mib = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  console.log('\ngpu-pack/ (carried):');
  for (const [n, a] of Object.entries(archives)) console.log(`  ${`${n}.tar.xz`.padEnd(22)} ${mib(a.bytes).padStart(9)}  (${mib(a.rawBytes)} unpacked)`);
  console.log(`  ${'total'.padEnd(22)} ${mib(packBytes).padStart(9)}`);
  console.log(`working tree that travels too: ${mib(tree)}; together ${mib(packBytes + tree)} of the ${mib(BUDGET)} limit`);
  if (packBytes + tree > BUDGET) {
    console.error('gpu-pack: OVER the 64 MiB limit: the run call would be refused');
    return 1;
  }
  console.log('\nOn a session lent a GPU, make this device-tool call (one command; it stops itself within');
  console.log('GW_CHECK_BUDGET_S = 420 s and writes $OUT/gpu-report.md, gpu-check.log, gpu-check-raw.tar.gz):');
  console.log(JSON.stringify({ command: 'bash native/scripts/gpu-check.sh "$OUT"', carry: ['gpu-pack'], timeout_s: 480 }, null, 2));
  return 0;
}

process.exitCode = main();
