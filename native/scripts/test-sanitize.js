#!/usr/bin/env node
// AddressSanitizer + UndefinedBehaviorSanitizer over the native code, on the emulated CUDA
// device so that the CUDA kernels are checked too (device memory beyond a tensor's end, and
// freed blocks, are poisoned: an out-of-bounds kernel access is reported like
// compute-sanitizer's memcheck would):
//   1. the native test program (CPU twins and emulated kernels), built with -DGW_SANITIZE=ON;
//   2. `-- addon` (that alone) or `-- all` (both): the addon (build-asan/) under the
//      native-heavy TS files, with libasan preloaded into node (leak detection off: node
//      itself is not built for it).
// Any report fails the run.
'use strict';
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const { root, jobs } = require('./paths');
const { runStep, cmakeJsBin, vitestBin } = require('./step');

const ADDON_FILES = ['test/binding-fuzz.test.ts', 'test/errors.test.ts', 'test/cuda.test.ts', 'test/embedding-cuda.test.ts', 'test/emulator.test.ts'];
// allocator_may_return_null: the error suite asks for an impossible allocation and expects
// ERR_GATEWISE_OOM, as a plain malloc returning null gives; ASan would abort instead.
const SAN_ENV = {
  ASAN_OPTIONS: 'abort_on_error=1:detect_leaks=0:allocator_may_return_null=1:check_initialization_order=1:strict_string_checks=1',
  UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
};

/** Every step runs with the sanitizers' options. */
const run = (title, cmd, args, env = {}) => runStep(title, cmd, args, { ...SAN_ENV, ...env });

function native() {
  return run('native tests, ASan + UBSan, emulated device', process.execPath, [
    path.join(__dirname, 'ctest.js'), '-DGW_CUDA=EMU', '-DGW_SANITIZE=ON',
  ]);
}

function addon() {
  const cmakeJs = cmakeJsBin();
  const vitest = vitestBin();
  const runtime = (lib) => execFileSync('g++', [`-print-file-name=${lib}`], { encoding: 'utf8' }).trim();
  return (
    run('configure the addon, ASan + UBSan, emulated device (build-asan/)', process.execPath, [
      cmakeJs, 'configure', '--out', 'build-asan', '--CDGW_CUDA=EMU', '--CDGW_SANITIZE=ON',
    ]) &&
    run('build it', process.execPath, [cmakeJs, 'build', '--out', 'build-asan', '--parallel', jobs]) &&
    run('native-heavy TS files under the sanitized addon', process.execPath, [vitest, 'run', '--testTimeout=300000', ...ADDON_FILES], {
      GATEWISE_ADDON: path.join(root, 'build-asan', 'Release', 'gatewise.node'),
      GATEWISE_BACKEND: 'cpu',
      LD_PRELOAD: `${runtime('libasan.so')}:${runtime('libubsan.so')}`,
    })
  );
}

const which = process.argv[2];  // nothing: the native program; 'addon': the addon alone; 'all': both
const ok = (which === 'addon' || native()) && (which !== 'addon' && which !== 'all' ? true : addon());
process.exitCode = ok ? 0 : 1;
