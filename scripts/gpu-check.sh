#!/usr/bin/env bash
# The one-call GPU check for the lent machine (shared/DEVICE.md, docs/gpu.md):
#   build (CUDA arch 90a, 16 jobs, in build-gpu; GMP is neither carried nor looked for: it is
#   optional, cmake/FindGMP.cmake, and the machine's image has none), print the GPU, run the GPU
#   tests (no skipping allowed: PATH_GPU_REQUIRE_DEVICE=1), run `pathcheck run --impl cuda` on the
#   built-in quick suite in bf16, fp16 and fp32 (the kernels judged by the conformance judge),
#   compute-sanitizer memcheck/racecheck/synccheck/initcheck on a small case of the oracle and of
#   every kernel dtype, time the fp64 GPU oracle at T = 16K and 64K (with a spot check against an
#   independent CPU sweep), write every log under $OUT (default ./gpu-out; packed into
#   $OUT/logs.tar.gz at the end), print a summary last (also $OUT/summary.txt).
#
# Targets: path_gpu_common, path_gpu_oracle, path_gpu_kernels (gpu/common, gpu/oracle,
# gpu/kernels/forward), the "cuda" implementation path_adapter_cuda (adapters/cuda), and the
# programs test_gpu_forward, test_gpu_kernel_host, path_gpu_bench and pathcheck built on them.
#
# Usage: scripts/gpu-check.sh [--prebuilt DIR] [--jobs N] [--skip-sanitizers] [--skip-timing]
#                             [--unpacked-logs]
#   --prebuilt DIR   use test_gpu_forward, test_gpu_kernel_host, path_gpu_bench and pathcheck from
#                    DIR instead of building (also the automatic fallback when the build fails and
#                    build-gpu-prebuilt/ exists: make it here with scripts/gpu-check.sh --prebuild-only)
#   --prebuild-only  build here (any machine with nvcc, no GPU needed) and copy the four binaries
#                    to build-gpu-prebuilt/, then stop
# Environment: OUT (log folder), PATH_GPU_TIME_BUDGET (seconds, default 540: later phases are
# skipped, and say so, once the run gets near the device tool's 600 s limit per command).
# Exit status 0 only when every phase that ran passed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-$ROOT/gpu-out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# Every phase's log goes to $OUT/logs; at the end that folder is packed into $OUT/logs.tar.gz (the
# device tool returns at most 8 files from $OUT: environment.txt, summary.txt and the archive),
# unless --unpacked-logs keeps the folder as it is.
LOG=$OUT/logs
rm -rf "$LOG" "$OUT/logs.tar.gz"
mkdir -p "$LOG"
PACK_LOGS=1
JOBS=""
PREBUILT=""
PREBUILD_ONLY=0
SKIP_SAN=0
SKIP_TIMING=0
BUDGET=${PATH_GPU_TIME_BUDGET:-540}
while [ $# -gt 0 ]; do
  case "$1" in
    --prebuilt) PREBUILT=$2; shift 2 ;;
    --prebuild-only) PREBUILD_ONLY=1; shift ;;
    --jobs) JOBS=$2; shift 2 ;;
    --skip-sanitizers) SKIP_SAN=1; shift ;;
    --skip-timing) SKIP_TIMING=1; shift ;;
    --unpacked-logs) PACK_LOGS=0; shift ;;
    *) echo "gpu-check: unknown argument $1" >&2; exit 2 ;;
  esac
done

START=$(date +%s)
elapsed() { echo $(( $(date +%s) - START )); }
declare -a ROWS=()
STATUS=0
row() {  # row NAME RESULT DETAIL
  ROWS+=("$(printf '%-28s %-8s %s' "$1" "$2" "$3")")
  case "$2" in FAIL|ERROR) STATUS=1 ;; esac
}
time_left() { echo $(( BUDGET - $(elapsed) )); }
say() { echo "[gpu-check $(elapsed)s] $*"; }

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown) $(git status --porcelain 2>/dev/null | wc -l) changed paths"
  echo "host: $(uname -a)"
  command -v nvcc >/dev/null && nvcc --version | tail -2
  cmake --version | head -1
} > "$OUT/environment.txt" 2>&1

# ---------------------------------------------------------------- build
BIN_TEST="" BIN_HOST="" BIN_BENCH="" BIN_PATHCHECK=""
TARGETS=(test_gpu_forward test_gpu_kernel_host path_gpu_bench pathcheck)
build() {
  local prefix=()
  # .deps (shared/DEVICE.md's recipe for carried packages) is optional; nothing here needs it.
  [ -d "$ROOT/.deps/usr" ] && prefix=(-DCMAKE_PREFIX_PATH="$ROOT/.deps/usr")
  say "configure (build-gpu, CUDA arch 90a, without GMP)"
  # CMAKE_DISABLE_FIND_PACKAGE_GMP: the build must not depend on GMP (issue 11: the lent machine
  # has no GMP development files); disabling it also keeps a GMP that happens to be there from
  # hiding a regression. Exact rationals then use Boost's cpp_rational.
  if ! cmake -S . -B build-gpu -DCMAKE_CUDA_ARCHITECTURES=90a -DCMAKE_DISABLE_FIND_PACKAGE_GMP=ON \
      -DPATH_BUILD_BENCHMARKS=OFF -DPATH_BUILD_PROOFS=OFF "${prefix[@]}" > "$LOG/configure.log" 2>&1; then
    tail -20 "$LOG/configure.log"
    return 1
  fi
  say "build ${TARGETS[*]} (-j$JOBS)"
  if ! cmake --build build-gpu --target "${TARGETS[@]}" -j"$JOBS" > "$LOG/build.log" 2>&1; then
    grep -E "error|Error" "$LOG/build.log" | head -20
    return 1
  fi
  BIN_TEST=build-gpu/tests/test_gpu_forward
  BIN_HOST=build-gpu/tests/test_gpu_kernel_host
  BIN_BENCH=build-gpu/gpu/oracle/path_gpu_bench
  BIN_PATHCHECK=build-gpu/tools/pathcheck/pathcheck
}
use_prebuilt() {
  local dir=$1
  if [ -x "$dir/test_gpu_forward" ] && [ -x "$dir/path_gpu_bench" ]; then
    BIN_TEST=$dir/test_gpu_forward
    BIN_HOST=$dir/test_gpu_kernel_host
    BIN_BENCH=$dir/path_gpu_bench
    BIN_PATHCHECK=$dir/pathcheck
    return 0
  fi
  return 1
}

if [ "$PREBUILD_ONLY" = 1 ]; then
  JOBS=${JOBS:-2}  # a development machine: be gentle
  build || { echo "gpu-check: build failed (logs in $LOG)"; exit 1; }
  mkdir -p build-gpu-prebuilt
  cp "$BIN_TEST" "$BIN_HOST" "$BIN_BENCH" "$BIN_PATHCHECK" build-gpu-prebuilt/
  du -sh build-gpu-prebuilt
  echo "gpu-check: binaries in build-gpu-prebuilt/ (carry it: see docs/gpu.md)"
  exit 0
fi

JOBS=${JOBS:-16}  # the lent machine's cores
BUILD_T0=$(elapsed)
if [ -n "$PREBUILT" ]; then
  if use_prebuilt "$PREBUILT"; then row "build" "SKIP" "prebuilt binaries from $PREBUILT"
  else row "build" "ERROR" "no binaries in $PREBUILT"; fi
elif build; then
  row "build" "PASS" "build-gpu, arch 90a, $(( $(elapsed) - BUILD_T0 ))s"
elif use_prebuilt build-gpu-prebuilt; then
  row "build" "FAIL" "build failed (build.log/configure.log); fell back to build-gpu-prebuilt/"
else
  row "build" "FAIL" "see configure.log and build.log in the logs"
fi

# ---------------------------------------------------------------- device
GPU_NAME=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)
nvidia-smi > "$LOG/nvidia-smi.txt" 2>&1
say "GPU: $GPU_NAME"
row "gpu" "INFO" "$GPU_NAME"

if [ -z "$BIN_TEST" ]; then
  say "no binaries: nothing to run"
else
  export PATH_GPU_REQUIRE_DEVICE=1
  # ---------------------------------------------------------- tests
  gtest_counts() {  # summary of a gtest log
    local log=$1 passed failed skipped
    passed=$(grep -cE '^\[       OK \] .* \([0-9]+ ms\)$' "$log")
    failed=$(grep -cE '^\[  FAILED  \] .* \([0-9]+ ms\)$' "$log")
    skipped=$(grep -cE '^\[  SKIPPED \] .* \([0-9]+ ms\)$' "$log")
    echo "$passed passed, $failed failed, $skipped skipped"
  }
  say "test_gpu_forward"
  timeout 300 "$BIN_TEST" --gtest_output=xml:"$LOG/test_gpu_forward.xml" > "$LOG/test_gpu_forward.log" 2>&1
  rc=$?
  row "test_gpu_forward" "$([ $rc = 0 ] && echo PASS || echo FAIL)" "$(gtest_counts "$LOG/test_gpu_forward.log")$([ $rc = 124 ] && echo ', TIMED OUT')"
  grep -E '^\[  FAILED  \]|Failure$|CudaError|exception' "$LOG/test_gpu_forward.log" | head -20
  if [ -x "$BIN_HOST" ]; then
    say "test_gpu_kernel_host"
    timeout 120 "$BIN_HOST" --gtest_output=xml:"$LOG/test_gpu_kernel_host.xml" > "$LOG/test_gpu_kernel_host.log" 2>&1
    rc=$?
    row "test_gpu_kernel_host" "$([ $rc = 0 ] && echo PASS || echo FAIL)" "$(gtest_counts "$LOG/test_gpu_kernel_host.log") (kernel source on the CPU)"
  fi

  # ---------------------------------------------------------- pathcheck run --impl cuda
  # The kernels as any implementation is judged (docs/conformance.md): the built-in quick suite
  # (generated in memory, fresh seed printed in the log), one run per input dtype. The forward-only
  # kernel cannot run gradient cases (no CUDA backward kernel yet) nor decode cases (no CUDA decode
  # kernel yet): those are reported as skipped with that reason, which is expected for now, so
  # pathcheck exits 1 on every run. The verdict here therefore comes from its report JSON: FAIL on
  # any failed case, on any skip for another reason (a missing device, say), or when no case ran.
  for dt in bf16 fp16 fp32; do
    if [ ! -x "$BIN_PATHCHECK" ]; then row "pathcheck cuda $dt" "ERROR" "no pathcheck binary"; continue; fi
    if [ "$(time_left)" -lt 60 ]; then row "pathcheck cuda $dt" "SKIP" "time budget"; continue; fi
    say "pathcheck run --impl cuda --builtin quick --dtype $dt"
    json="$LOG/pathcheck-cuda-$dt.json"
    rm -f "$json"
    timeout 240 "$BIN_PATHCHECK" run --impl cuda --builtin quick --dtype "$dt" --report-json "$json" \
      > "$LOG/pathcheck-cuda-$dt.log" 2>&1
    rc=$?
    verdict=$(python3 - "$json" "$rc" "$LOG/pathcheck-cuda-$dt.log" <<'PY'
import json, sys
path, rc, log = sys.argv[1], sys.argv[2], sys.argv[3]
expected = ("the CUDA backward kernel does not exist yet", "the CUDA decode kernel does not exist yet")
try:
    report = json.load(open(path))
except Exception:  # no report: pathcheck stopped before judging (no device, usage error, crash, time-out)
    try:
        last = [l.strip() for l in open(log, errors="replace") if l.strip()][-1]
    except Exception:
        last = "no output"
    print(f"FAIL no report JSON (pathcheck exit {rc}): {last[:200]}")
    sys.exit()
cases = report.get("cases", [])
verdict = lambda c: str(c.get("verdict", "")).lower()  # the report writes PASS / FAIL / SKIP
failed = [c["case"] for c in cases if verdict(c) == "fail"]
skipped = [c for c in cases if verdict(c) == "skip"]
unexpected = [c["case"] + ": " + c.get("problem", "") for c in skipped
              if not any(e in c.get("problem", "") for e in expected)]
passed = sum(verdict(c) == "pass" for c in cases)
other = [c.get("case", "?") for c in cases if verdict(c) not in ("pass", "fail", "skip")]
no_bwd = sum(expected[0] in c.get("problem", "") for c in skipped)
no_dec = sum(expected[1] in c.get("problem", "") for c in skipped)
detail = (f"{passed} passed, {len(failed)} failed, {len(skipped)} skipped "
          f"({no_bwd} no CUDA backward, {no_dec} no CUDA decode; expected)")
if failed or other:
    print("FAIL " + detail + "; failed: " + " ".join((failed + other)[:5]))
elif unexpected:
    print("FAIL " + detail + "; unexpected skip: " + unexpected[0][:160])
elif passed == 0:
    print("FAIL " + detail + "; no case ran")
else:
    print("PASS " + detail)
PY
)
    [ -n "$verdict" ] || verdict="ERROR python3 could not judge $json"
    row "pathcheck cuda $dt" "${verdict%% *}" "${verdict#* }"
    case "$verdict" in PASS*) ;; *) tail -5 "$LOG/pathcheck-cuda-$dt.log" ;; esac
  done

  # ---------------------------------------------------------- sanitizers
  SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  if [ "$SKIP_SAN" = 1 ]; then
    row "compute-sanitizer" "SKIP" "--skip-sanitizers"
  elif [ ! -x "$SAN" ]; then
    row "compute-sanitizer" "ERROR" "not found"
  else
    for tool in memcheck racecheck synccheck initcheck; do
      if [ "$(time_left)" -lt 60 ]; then row "sanitizer $tool" "SKIP" "time budget"; continue; fi
      extra=()
      [ "$tool" = memcheck ] && extra=(--leak-check full)
      [ "$tool" = racecheck ] && extra=(--racecheck-report all)
      # GpuSmall.EveryPathOnce: the fp64 oracle and the kernel in bf16, fp16 and fp32 on one small
      # case through every code path (test_gpu_forward.cpp).
      say "compute-sanitizer --tool $tool (GpuSmall.*)"
      timeout 180 "$SAN" --tool "$tool" "${extra[@]}" --error-exitcode 99 \
        "$BIN_TEST" --gtest_filter='GpuSmall.*' > "$LOG/sanitizer-$tool.log" 2>&1
      rc=$?
      summary=$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|LEAK SUMMARY' "$LOG/sanitizer-$tool.log" | tr '\n' ' ')
      if [ $rc = 0 ]; then row "sanitizer $tool" "PASS" "${summary:-clean}"
      else row "sanitizer $tool" "FAIL" "rc=$rc ${summary}"; fi
    done
  fi

  # ---------------------------------------------------------- timing
  if [ "$SKIP_TIMING" = 1 ]; then
    row "oracle timing" "SKIP" "--skip-timing"
  else
    for T in 16384 65536; do
      reps=5; [ $T = 65536 ] && reps=3
      if [ "$(time_left)" -lt 45 ]; then row "oracle fp64 T=$T" "SKIP" "time budget"; continue; fi
      say "GPU oracle timing T=$T ($reps runs + warm-up)"
      timeout $(( $(time_left) > 30 ? $(time_left) : 30 )) "$BIN_BENCH" --T $T --B 1 --HQ 2 --H 1 --D 64 --Dv 64 \
        --gate paper --reps $reps > "$LOG/oracle-T$T.log" 2>&1
      rc=$?
      line=$(grep '^RESULT' "$LOG/oracle-T$T.log")
      if [ $rc = 0 ]; then
        row "oracle fp64 T=$T" "PASS" "$(echo "$line" | sed 's/^RESULT //') (B=1 HQ=2 D=Dv=64)"
      else
        row "oracle fp64 T=$T" "FAIL" "rc=$rc $(echo "$line" | sed 's/^RESULT //')$(tail -1 "$LOG/oracle-T$T.log")"
      fi
    done
  fi
fi

# ---------------------------------------------------------------- summary (last)
LOGS_AT=$LOG
if [ "$PACK_LOGS" = 1 ] && tar -czf "$OUT/logs.tar.gz" -C "$OUT" logs 2>/dev/null; then
  rm -rf "$LOG"
  LOGS_AT=$OUT/logs.tar.gz
fi
{
  echo
  echo "==== gpu-check summary ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(git rev-parse --short HEAD 2>/dev/null), $(elapsed)s) ===="
  printf '%-28s %-8s %s\n' "PHASE" "RESULT" "DETAIL"
  for r in "${ROWS[@]}"; do echo "$r"; done
  echo "logs: $LOGS_AT"
  [ $STATUS = 0 ] && echo "OVERALL: PASS" || echo "OVERALL: FAIL"
} | tee "$OUT/summary.txt"
exit $STATUS
