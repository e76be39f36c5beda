#!/usr/bin/env bash
# gpu-check.sh [OUTDIR] — the one command a session lent a GPU runs (device tool):
#   bash native/scripts/gpu-check.sh "$OUT"        carry: ["gpu-pack"], timeout_s: 480
# A lent machine has python3 with PyTorch and CUDA but no Node.js: this unpacks gpu-pack/
# (`npm run gpu:pack`: node, node_modules, the sm_90 addon, the native parity program, the
# FMA probe), then, within a time budget so the minutes go to measuring, runs
#   a. nvidia-smi, the GPU's FMA peak, the native parity program's CUDA cases;
#   b. the TS parity suites (the CUDA-vs-CPU blocks) under vitest, JSON reporter;
#   c. the kernel benches (GATEWISE_BACKEND=cuda, one process per bench) and
#      bench/torch_reference.py eager and --compile on the same shapes;
#   d. native/scripts/gpu-report.js → OUTDIR/gpu-report.md.
# OUTDIR ($1, else $OUT, else ./gpu-check-out) gets three files: gpu-report.md,
# gpu-check.log (every phase's output) and gpu-check-raw.tar.gz (the raw results).
#
# `npm run gpu:check` sets GW_CHECK_LOCAL=1: the same phases against this machine's node,
# node_modules and local build, nothing unpacked. Without a GPU they skip, saying why.
#
# Environment overrides (paths absolute or relative to the repo root):
#   GW_CHECK_BUDGET_S       whole run, unpack included, before the report (default 420)
#   GW_CHECK_NODE           node binary                 (pack: bin/node; local: node on PATH)
#   GW_CHECK_ADDON          gatewise.node the TS tests and benches load (as GATEWISE_ADDON, e.g.
#                           build-emu/Release/gatewise.node; pack: the sm_90 addon; local: the
#                           usual lookup)
#   GW_CHECK_NATIVE_TESTS   native parity program (pack: bin/gw_native_tests; local:
#                           build-native/ or build-gpu-pack/)
#   GW_CHECK_NATIVE_FILTER  its case-name filter (default "cuda": the CUDA-vs-CPU cases)
#   GW_CHECK_FMA_PEAK       FMA probe (bench/fma_peak.cu built)
#   GW_CHECK_PARITY_FILES   test/<name>.test.ts files whose parity blocks run (default below)
#   GW_CHECK_PARITY_DEVICE  cpu: run the TS parity blocks CPU against CPU (a self-check)
#   GW_CHECK_BENCHES        steps in run order: "bench[:case,words]" or "torch:eager|compile"
#                           (default below; "gemm:512 torch:eager" for a quick one, "" for none)
#   GW_CHECK_BENCH_ANY_DEVICE=1  run the benches even where the backend is not CUDA
#   GW_CHECK_BENCH_MIN_MS   minimum timed window per case (default 100; bench default 300)
#   GW_CHECK_PYTHON         python with PyTorch (default python3)
#   GW_CHECK_TORCH_SECTIONS torch_reference.py --only (default: the kernels we compare first)
#   GW_CHECK_TORCH_ARGS     extra torch_reference.py arguments (e.g. --cpu, for a local try)
#   GW_CHECK_UNPACK         where the pack is unpacked (default build-gpu-check/)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1

# The hash of every source the packed binaries were built from: gpu-pack.js stores it in the
# manifest, and the check recomputes it here, so stale binaries are reported, not trusted.
sources_hash() {
  find native/core native/ops native/binding native/tests CMakeLists.txt bench/fma_peak.cu -type f 2>/dev/null |
    LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16
}
if [ "${1:-}" = "--sources-hash" ]; then sources_hash; exit 0; fi

OUTDIR=${1:-${OUT:-$ROOT/gpu-check-out}}
mkdir -p "$OUTDIR" && OUTDIR=$(cd "$OUTDIR" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gw-check.XXXXXX") # raw results; tarred into OUTDIR at the end
LOG=$OUTDIR/gpu-check.log
: >"$LOG"
BUDGET=${GW_CHECK_BUDGET_S:-420}
RESERVE=15 # seconds kept for the report and the raw tarball
abspath() { case "$1" in /*) echo "$1" ;; *) echo "$ROOT/$1" ;; esac; }
say() { echo "$*" | tee -a "$LOG"; }
printf 'phase\tstatus\tseconds\n' >"$WORK/phases.tsv"
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$WORK/phases.tsv"; say "--- $1: $2 (${3} s; ${SECONDS} s elapsed)"; }

# phase NAME CAP CMD...: runs CMD with a timeout of min(CAP, what the budget has left), its
# output into WORK/NAME.log and the main log; records status and seconds for the report.
phase() {
  local name=$1 cap=$2
  shift 2
  local left=$((BUDGET - RESERVE - SECONDS))
  local t=$((cap < left ? cap : left))
  if [ "$t" -lt 5 ]; then
    record "$name" "skipped: time budget spent" 0
    return 0
  fi
  say "=== $name (limit ${t} s)"
  local t0=$SECONDS
  timeout -k 5 "$t" "$@" 2>&1 | tee "$WORK/$name.log" >>"$LOG"
  local rc=${PIPESTATUS[0]}
  local status="ok"
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then status="timed out after ${t} s"; elif [ "$rc" -ne 0 ]; then status="exit $rc"; fi
  record "$name" "$status" $((SECONDS - t0))
  return 0
}
skip() { record "$1" "skipped: $2" 0; }

finish() {
  trap - EXIT TERM INT
  say "=== report"
  local report=$OUTDIR/gpu-report.md
  if [ -x "${NODE:-}" ] || command -v "${NODE:-node}" >/dev/null 2>&1; then
    "${NODE:-node}" native/scripts/gpu-report.js "$WORK" "$report" 2>&1 | tee -a "$LOG"
  fi
  if [ ! -s "$report" ]; then # no node to run the generator: the phases and logs' tails at least
    { echo "# gatewise GPU check: report generator did not run"; echo; echo '```'; cat "$WORK/phases.tsv"
      for f in "$WORK"/*.log; do echo "== $f"; tail -n 20 "$f"; done; echo '```'; } >"$report"
  fi
  tar -C "$WORK" -czf "$OUTDIR/gpu-check-raw.tar.gz" . && rm -rf "$WORK"
  say "gpu-check: ${SECONDS} s in all; report $report"
}
trap finish EXIT
trap 'say "gpu-check: interrupted"; exit 130' TERM INT

say "gpu-check: $(date -u +%FT%TZ) on $(uname -n); budget ${BUDGET} s; raw results in $WORK"

# ---- unpack (not locally), and find what the phases run
UNPACK=$(abspath "${GW_CHECK_UNPACK:-build-gpu-check}")
if [ "${GW_CHECK_LOCAL:-0}" = 1 ]; then
  NODE=$(command -v "${GW_CHECK_NODE:-node}")
  FIRST_NATIVE=$(ls build-native/gw_native_tests build-gpu-pack/gw_native_tests 2>/dev/null | head -n 1)
  NATIVE_TESTS=${GW_CHECK_NATIVE_TESTS:-$FIRST_NATIVE}
  FMA_PEAK=${GW_CHECK_FMA_PEAK:-build-gpu-pack/fma_peak}
  ADDON=${GW_CHECK_ADDON:-}
  # no build/Release or prebuilds/ addon: the one gpu:pack built is a local build too
  if [ -z "$ADDON" ] && [ ! -e build/Release/gatewise.node ] && ! ls prebuilds/*/*.node >/dev/null 2>&1 &&
    [ -e build-gpu-pack/Release/gatewise.node ]; then ADDON=build-gpu-pack/Release/gatewise.node; fi
  skip unpack "local run (GW_CHECK_LOCAL=1)"
else
  unpack() {
    set -e
    [ -f gpu-pack/manifest.json ] || { echo "no gpu-pack/manifest.json: run npm run gpu:pack and carry gpu-pack"; exit 1; }
    mkdir -p "$UNPACK"
    for a in gpu-pack/*.tar.xz; do
      dest=$UNPACK
      # node_modules/ belongs at the repo root, where the tests' imports resolve it
      if [ "$(basename "$a")" = node_modules.tar.xz ]; then
        if [ -e node_modules ]; then echo "node_modules/ present: kept"; continue; fi
        dest=$ROOT
      fi
      if command -v xz >/dev/null; then tar -C "$dest" -xJf "$a"
      else python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter="tar")' "$a" "$dest"; fi
      echo "unpacked $a"
    done
    cp gpu-pack/manifest.json "$WORK/manifest.json"
  }
  export -f unpack
  export UNPACK ROOT WORK
  phase unpack 120 bash -c unpack
  NODE=$(abspath "${GW_CHECK_NODE:-$UNPACK/bin/node}")
  NATIVE_TESTS=${GW_CHECK_NATIVE_TESTS:-$UNPACK/bin/gw_native_tests}
  FMA_PEAK=${GW_CHECK_FMA_PEAK:-$UNPACK/bin/fma_peak}
  ADDON=${GW_CHECK_ADDON:-$UNPACK/addon/build/Release/gatewise.node}
fi
[ -f gpu-pack/manifest.json ] && [ ! -f "$WORK/manifest.json" ] && cp gpu-pack/manifest.json "$WORK/manifest.json"
echo "$(sources_hash)" >"$WORK/sources-hash.txt"
if [ -n "$ADDON" ]; then
  # lib/native.ts loads $GATEWISE_ADDON when set; trees from before that variable load through
  # node-gyp-build, which looks in $GATEWISE_PREBUILD/build/Release first
  export GATEWISE_ADDON=$(abspath "$ADDON")
  mkdir -p "$WORK/addon/build/Release"
  ln -sf "$GATEWISE_ADDON" "$WORK/addon/build/Release/gatewise.node"
  export GATEWISE_PREBUILD=$WORK/addon
fi
export NODE
# the host, for the report: the packed binaries need glibc 2.36 (the addon) and 2.28 (node)
{ echo "host=$(uname -n), kernel $(uname -r), $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"), $(ldd --version 2>&1 | head -n 1), $(nproc) CPUs"; echo "node=$NODE"; echo "addon=${ADDON:-default lookup}"; echo "native_tests=${NATIVE_TESTS:-none}"; echo "fma_peak=$FMA_PEAK"; } >"$WORK/paths.txt"
cat "$WORK/paths.txt" >>"$LOG"

# ---- a. the device, the probes, the native parity program
if command -v nvidia-smi >/dev/null; then
  phase nvidia-smi 20 bash -c 'nvidia-smi; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,power.limit --format=csv'
else
  skip nvidia-smi "nvidia-smi not found (no NVIDIA driver on this machine)"
fi
if [ -x "$NODE" ]; then
  phase probe 30 "$NODE" native/scripts/gpu-probe.js "$WORK/probe.json"
else
  skip probe "no node binary at $NODE"
fi
HAS_CUDA=$(grep -q '"cudaDeviceCount": *[1-9]' "$WORK/probe.json" 2>/dev/null && echo 1 || echo 0)
NO_CUDA="no CUDA device"
grep -q '"backendInfo"' "$WORK/probe.json" 2>/dev/null || NO_CUDA="the addon did not load (probe.log)"
FMA_PEAK=$(abspath "$FMA_PEAK")
if [ -x "$FMA_PEAK" ]; then
  export FMA_PEAK WORK
  phase fma-peak 30 bash -c '"$FMA_PEAK" >"$WORK/fma-peak.json"; rc=$?; cat "$WORK/fma-peak.json"; exit $rc'
else
  skip fma-peak "no FMA probe at $FMA_PEAK (npm run gpu:pack builds it)"
fi
if [ -n "$NATIVE_TESTS" ] && [ -x "$(abspath "$NATIVE_TESTS")" ]; then
  phase native 90 "$(abspath "$NATIVE_TESTS")" "${GW_CHECK_NATIVE_FILTER-cuda}"
else
  skip native "no native parity program (${NATIVE_TESTS:-none}: npm run test:native or npm run gpu:pack builds it)"
fi

# ---- b. the TS parity suites: only their CUDA-vs-CPU blocks ("cuda against …"; with
# GATEWISE_PARITY_DEVICE=cpu they are named "cpu against …"), one vitest run per file: a
# kernel that hangs blocks its process (no test timeout can interrupt native code), and then
# only that file's verdicts are lost, not all of them (JSON is written when a run ends).
PARITY_FILES=${GW_CHECK_PARITY_FILES-"cuda embedding-cuda gated-fc moe poso-attention apg serving"}
PARITY_PATTERN="(cuda|cpu) against"
echo "$PARITY_PATTERN" >"$WORK/parity-pattern.txt"
[ -n "${GW_CHECK_PARITY_DEVICE:-}" ] && export GATEWISE_PARITY_DEVICE=$GW_CHECK_PARITY_DEVICE
for f in $PARITY_FILES; do
  if [ ! -x "$NODE" ] || [ ! -f node_modules/vitest/vitest.mjs ]; then
    skip "parity-$f" "no node or no node_modules/vitest"
    continue
  fi
  # a test's first CUDA call pays for the context: vitest's 5 s default could fail healthy tests.
  # The suites put their own tensors on 'cuda' and assume the default backend is the CPU's.
  GATEWISE_BACKEND=cpu GATEWISE_PARITY_LOG=$WORK/parity.jsonl phase "parity-$f" 90 "$NODE" node_modules/vitest/vitest.mjs run "test/$f.test.ts" \
    -t "$PARITY_PATTERN" --testTimeout=60000 --reporter=verbose --reporter=json --outputFile.json="$WORK/parity-$f.json"
done

# ---- c. benches, one process each (a slow one cannot starve the others; each result is
# appended to its JSONL as it is measured), in an order that gets the cases PyTorch has
# counterparts for, then PyTorch eager, ahead of the rest; torch.compile last, with what is left.
PLAN=${GW_CHECK_BENCHES-"gemm elementwise gated-fc mmoe apg poso-mha torch:eager optim embedding:lf0.5 embedding:lf1.0 torch:compile"}
export GATEWISE_BACKEND=cuda GATEWISE_BENCH_MIN_MS=${GW_CHECK_BENCH_MIN_MS:-100}
PYTHON=${GW_CHECK_PYTHON:-python3}
TORCH_ERR=
TORCH=$("$PYTHON" -c 'import torch; print(torch.__version__)' 2>&1) || { TORCH_ERR=$(echo "$TORCH" | tail -n 1); TORCH=; }
for spec in $PLAN; do
  name=${spec%%:*}
  words=$([ "$spec" = "$name" ] || echo "${spec#*:}" | tr ',' ' ')
  if [ "$name" = torch ]; then # bench/torch_reference.py, eager or compile
    mode=$words
    if [ -z "$TORCH" ]; then skip "torch-$mode" "no PyTorch in $PYTHON ($TORCH_ERR)"; continue; fi
    # shellcheck disable=SC2046,SC2086
    PYTHONUNBUFFERED=1 phase "torch-$mode" $([ "$mode" = eager ] && echo 120 || echo 600) "$PYTHON" bench/torch_reference.py \
      $([ "$mode" = compile ] && echo --compile) --only "${GW_CHECK_TORCH_SECTIONS:-gemm,gated-fc,mmoe,poso-mha,apg,elementwise}" \
      --min-ms "$GATEWISE_BENCH_MIN_MS" --json "$WORK/torch-$mode.jsonl" ${GW_CHECK_TORCH_ARGS:-}
    continue
  fi
  tag=bench-$name${words:+-$(echo "$words" | tr ' ' '_')}
  if [ ! -x "$NODE" ] || [ ! -f node_modules/tsx/dist/cli.mjs ]; then
    skip "$tag" "no node or no node_modules/tsx"
  elif [ "$HAS_CUDA" != 1 ] && [ "${GW_CHECK_BENCH_ANY_DEVICE:-0}" != 1 ]; then
    skip "$tag" "$NO_CUDA (GW_CHECK_BENCH_ANY_DEVICE=1 runs the benches on the CPU backend)"
  else
    case $name in poso-mha) cap=120 ;; embedding) cap=90 ;; *) cap=60 ;; esac
    # shellcheck disable=SC2086
    GATEWISE_BENCH_JSONL=$WORK/$tag.jsonl phase "$tag" $cap "$NODE" node_modules/tsx/dist/cli.mjs bench/index.ts --bench "$name" $words
  fi
done
# d. the report: finish(), on exit
