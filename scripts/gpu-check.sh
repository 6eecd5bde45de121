#!/usr/bin/env bash
# The GPU check for the lent machine (shared/DEVICE.md, docs/gpu.md). Phases, in order:
#   build       configure build-gpu (CUDA arch 90a, without GMP: it is optional, cmake/FindGMP.cmake,
#               and the machine's image has none) and build the programs below, or use prebuilt ones
#   tests       the GPU tests with PATH_GPU_REQUIRE_DEVICE=1 (a skip is a failure): test_gpu_forward
#               and test_gpu_backward_decode; test_gpu_kernel_host (kernel source on the CPU) runs in
#               the background meanwhile
#   sanitizers  compute-sanitizer memcheck (with leak check), racecheck, synccheck and initcheck on
#               the small every-path cases of every kernel (GpuSmall.*: the forward oracle and
#               kernels; GpuSmallBackwardDecode.*: the backward oracle and key cache, the backward
#               and decode kernels), the eight runs at once
#   pathcheck   `pathcheck run --impl cuda --builtin quick` and `--builtin standard` in bf16, fp16
#               and fp32 with --report-json, every case judged by the conformance judge; then the
#               error-ratio distribution (median, max) per dtype and output from those reports
#   long        the long-sequence checks (path_gpu_long): forward and backward at T = 16K, forward
#               and decode at 64K, each judged through the cuda adapter against the fp64 GPU oracle
#   timing      the fp64 GPU oracle's forward at T = 16K and 64K (path_gpu_bench, CUDA events)
#   fuzz        `pathcheck fuzz --impl cuda` for bf16, fp16 and fp32 at once, in the background for
#               the whole run (PATH_GPU_FUZZ_SECONDS each, default: the budget less 60 s), values,
#               gradients and decode; shrunk failures saved under the logs (fuzz-DTYPE/)
# Logs packed into $OUT/logs.tar.gz after every phase; every result row is printed as it comes (ROW ...)
# and appended to $OUT/summary.txt; the full table last (summary.txt is then replaced by it).
#
# Usage: scripts/gpu-check.sh [--phases LIST] [--prebuilt DIR] [--prebuild-only] [--jobs N]
#   --phases LIST    comma-separated subset of fuzz,tests,host,sanitizers,pathcheck,long,timing
#                    (default: all but host, the kernel sources on the CPU, which ctest runs anyway)
#   --prebuilt DIR   use the programs in DIR instead of building (also the automatic fallback when
#                    the build fails and build-gpu-prebuilt/ exists)
#   --prebuild-only  build here (nvcc needed, no GPU) and copy the programs to build-gpu-prebuilt/
# Environment: OUT (log folder, default ./gpu-out), PATH_GPU_TIME_BUDGET (seconds, default 560:
# later phases are skipped, and say so, as the run nears the device tool's 600 s per command).
# Exit status 0 only when every phase that ran passed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-$ROOT/gpu-out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# The logs live outside $OUT and are packed into $OUT/logs.tar.gz after every phase: the device tool
# returns only a few files from $OUT (environment.txt, summary.txt, ratios.txt, logs.tar.gz), and a
# run cut short by its time limit still returns what the finished phases wrote.
LOG=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check-logs.XXXXXX")/logs
rm -rf "$OUT/logs" "$OUT/logs.tar.gz" "$OUT/ratios.txt" "$OUT/summary.txt"
mkdir -p "$LOG"
JOBS=""
PREBUILT=""
PREBUILD_ONLY=0
PHASES="fuzz,tests,sanitizers,pathcheck,long,timing"
BUDGET=${PATH_GPU_TIME_BUDGET:-560}
while [ $# -gt 0 ]; do
  case "$1" in
    --phases) PHASES=$2; shift 2 ;;
    --prebuilt) PREBUILT=$2; shift 2 ;;
    --prebuild-only) PREBUILD_ONLY=1; shift ;;
    --jobs) JOBS=$2; shift 2 ;;
    *) echo "gpu-check: unknown argument $1" >&2; exit 2 ;;
  esac
done
want() { case ",$PHASES," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

START=$(date +%s)
elapsed() { echo $(( $(date +%s) - START )); }
time_left() { echo $(( BUDGET - $(elapsed) )); }
say() { echo "[gpu-check $(elapsed)s] $*"; }
declare -a ROWS=()
STATUS=0
row() {  # row NAME RESULT DETAIL: kept for the table, printed now, and appended to $OUT/summary.txt
  local line
  line=$(printf '%-30s %-6s %s' "$1" "$2" "$3")
  ROWS+=("$line")
  echo "ROW $line"
  echo "$line" >> "$OUT/summary.txt"
  case "$2" in FAIL|ERROR) STATUS=1 ;; esac
}
pack_logs() { tar -czf "$OUT/logs.tar.gz.part" -C "$(dirname "$LOG")" logs 2>/dev/null && mv "$OUT/logs.tar.gz.part" "$OUT/logs.tar.gz"; }

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown) $(git status --porcelain 2>/dev/null | wc -l) changed paths"
  echo "phases: $PHASES"
  echo "host: $(uname -a)"
  command -v nvcc >/dev/null && nvcc --version | tail -2
  cmake --version | head -1
} > "$OUT/environment.txt" 2>&1

# ---------------------------------------------------------------- build
PROGRAMS=(test_gpu_forward test_gpu_forward_tc test_gpu_backward_decode test_gpu_decode_fused test_gpu_kernel_host
          path_gpu_bench path_gpu_long path_gpu_forward_bench path_gpu_decode_bench pathcheck)
# The GPU test programs of the tests phase, and the small every-path cases the sanitizers run.
GPU_TESTS=(test_gpu_forward test_gpu_forward_tc test_gpu_backward_decode test_gpu_decode_fused)
SAN_TARGETS=(test_gpu_forward:GpuSmall.* test_gpu_backward_decode:GpuSmallBackwardDecode.*
             "test_gpu_forward_tc:Shapes/TcShapes.TensorCoreAndPlainPass/T65_*:TcPresplit.*"
             "test_gpu_decode_fused:Dtypes/GpuFusedDecode.PassesTheConformanceJudgeFusedAndPlain/bf16")
declare -A BIN=()
build() {
  local prefix=()
  [ -d "$ROOT/.deps/usr" ] && prefix=(-DCMAKE_PREFIX_PATH="$ROOT/.deps/usr")
  say "configure (build-gpu, CUDA arch 90a, without GMP)"
  # CMAKE_DISABLE_FIND_PACKAGE_GMP: the build must not depend on GMP (the lent machine has none).
  if ! cmake -S . -B build-gpu -DCMAKE_CUDA_ARCHITECTURES=90a -DCMAKE_DISABLE_FIND_PACKAGE_GMP=ON \
      -DPATH_BUILD_BENCHMARKS=OFF -DPATH_BUILD_PROOFS=OFF "${prefix[@]}" > "$LOG/configure.log" 2>&1; then
    tail -20 "$LOG/configure.log"
    return 1
  fi
  say "build ${PROGRAMS[*]} (-j$JOBS)"
  if ! cmake --build build-gpu --target "${PROGRAMS[@]}" -j"$JOBS" > "$LOG/build.log" 2>&1; then
    grep -E "error|Error" "$LOG/build.log" | head -20
    return 1
  fi
  BIN[test_gpu_forward]=build-gpu/tests/test_gpu_forward
  BIN[test_gpu_forward_tc]=build-gpu/tests/test_gpu_forward_tc
  BIN[path_gpu_forward_bench]=build-gpu/tests/path_gpu_forward_bench
  BIN[test_gpu_decode_fused]=build-gpu/tests/test_gpu_decode_fused
  BIN[path_gpu_decode_bench]=build-gpu/tests/path_gpu_decode_bench
  BIN[test_gpu_backward_decode]=build-gpu/tests/test_gpu_backward_decode
  BIN[test_gpu_kernel_host]=build-gpu/tests/test_gpu_kernel_host
  BIN[path_gpu_long]=build-gpu/tests/path_gpu_long
  BIN[path_gpu_bench]=build-gpu/gpu/oracle/path_gpu_bench
  BIN[pathcheck]=build-gpu/tools/pathcheck/pathcheck
}
use_prebuilt() {
  local dir=$1 p
  # A subset is fine (a carry has a size limit): the phases skip, and say so, what is absent.
  local any=0
  for p in "${PROGRAMS[@]}"; do [ -x "$dir/$p" ] && any=1; done
  [ $any = 1 ] || return 1
  # Built elsewhere: they must load here (C++ runtime, CUDA runtime) before they are trusted.
  local probe
  for p in "${PROGRAMS[@]}"; do [ -x "$dir/$p" ] && case "$p" in test_*) probe=$dir/$p ;; esac; done
  if [ -n "${probe:-}" ] && ! "$probe" --gtest_list_tests > "$LOG/prebuilt-check.log" 2>&1; then
    echo "gpu-check: the programs in $dir do not run here: $(tail -1 "$LOG/prebuilt-check.log")"
    return 1
  fi
  for p in "${PROGRAMS[@]}"; do [ -x "$dir/$p" ] && BIN[$p]=$dir/$p; done
  return 0
}

if [ "$PREBUILD_ONLY" = 1 ]; then
  JOBS=${JOBS:-2}  # a development machine: be gentle
  build || { echo "gpu-check: build failed (logs in $LOG)"; exit 1; }
  mkdir -p build-gpu-prebuilt
  for p in "${PROGRAMS[@]}"; do cp "${BIN[$p]}" build-gpu-prebuilt/; done
  git rev-parse HEAD > build-gpu-prebuilt/COMMIT 2>/dev/null
  git status --porcelain > build-gpu-prebuilt/CHANGED 2>/dev/null
  du -sh build-gpu-prebuilt
  echo "gpu-check: programs in build-gpu-prebuilt/ (carry it: docs/gpu.md)"
  exit 0
fi

JOBS=${JOBS:-16}  # the lent machine's cores
BUILD_T0=$(elapsed)
if [ -n "$PREBUILT" ]; then
  if use_prebuilt "$PREBUILT"; then
    row "build" "SKIP" "prebuilt programs from $PREBUILT (commit $(cut -c1-12 "$PREBUILT/COMMIT" 2>/dev/null), $(wc -l < "$PREBUILT/CHANGED" 2>/dev/null) changed paths then)"
  elif build; then
    row "build" "PASS" "prebuilt programs unusable here; built build-gpu, $(( $(elapsed) - BUILD_T0 ))s"
  else
    row "build" "ERROR" "prebuilt programs unusable and the build failed"
  fi
elif build; then
  row "build" "PASS" "build-gpu, arch 90a, $(( $(elapsed) - BUILD_T0 ))s"
elif use_prebuilt build-gpu-prebuilt; then
  row "build" "FAIL" "build failed (build.log/configure.log); fell back to build-gpu-prebuilt/"
else
  row "build" "FAIL" "see configure.log and build.log in the logs"
fi

GPU_NAME=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)
nvidia-smi > "$LOG/nvidia-smi.txt" 2>&1
say "GPU: $GPU_NAME"
row "gpu" "INFO" "$GPU_NAME"

gtest_counts() {
  local log=$1
  echo "$(grep -cE '^\[       OK \] .* \([0-9]+ ms\)$' "$log") passed, $(grep -cE '^\[  FAILED  \] .* \([0-9]+ ms\)$' "$log") failed, $(grep -cE '^\[  SKIPPED \] .* \([0-9]+ ms\)$' "$log") skipped"
}

if [ ${#BIN[@]} = 0 ]; then
  say "no programs: nothing to run"
else
  export PATH_GPU_REQUIRE_DEVICE=1
  HOST_PID=""
  # Long checks: "check T dtype HQ steps" (path_gpu_long; B = 1, H = 1, D = Dv = 64, paper gate).
  LONG_FOREGROUND=("forward 16384 bf16 2 0" "forward 16384 fp32 2 0")
  # The 64K checks and the backward ones spend minutes on their CPU baselines: they start first.
  LONG_BACKGROUND=("backward 16384 bf16 1 0" "backward 16384 fp32 1 0" "forward 65536 bf16 1 0" "decode 65536 bf16 1 8")
  declare -a LONG_PIDS=()
  run_long() {  # run_long check T dtype HQ steps
    local extra=()
    [ "$1" = decode ] && extra=(--steps "$5")
    timeout "${LONG_TIMEOUT:-300}" "${BIN[path_gpu_long]}" --check "$1" --T "$2" --dtype "$3" --HQ "$4" --H 1 --D 64 \
      --Dv 64 --gate paper "${extra[@]}" > "$LOG/long-$1-$2-$3.log" 2>&1
  }
  long_row() {  # long_row check T dtype HQ steps: the verdict from the log's RESULT line
    local log="$LOG/long-$1-$2-$3.log" line
    line=$(grep '^RESULT' "$log" | sed 's/^RESULT //')
    case "$line" in
      *verdict=PASS*) row "long $1 T=$2 $3" "PASS" "$line" ;;
      "") row "long $1 T=$2 $3" "FAIL" "no result: $(tail -1 "$log" 2>/dev/null)" ;;
      *) row "long $1 T=$2 $3" "FAIL" "$line" ;;
    esac
  }
  # Fuzzing runs beside everything else: it shares the GPU and the CPU (the oracle), so the other
  # phases are slower, but a 600 s call then holds ~3 x (budget - 60) s of fuzzing.
  declare -a FUZZ_PIDS=()
  FUZZ_DTYPES=(bf16 fp16 fp32)
  if want fuzz; then
    FUZZ_SECONDS=${PATH_GPU_FUZZ_SECONDS:-$(( BUDGET - 60 ))}
    for dt in "${FUZZ_DTYPES[@]}"; do
      say "pathcheck fuzz --impl cuda --dtype $dt --seconds $FUZZ_SECONDS (in the background)"
      nice -n 5 timeout $(( FUZZ_SECONDS + 40 )) "${BIN[pathcheck]}" fuzz --impl cuda --dtype "$dt" \
        --seconds "$FUZZ_SECONDS" --out "$LOG/fuzz-$dt" --report-json "$LOG/fuzz-$dt.json" \
        > "$LOG/fuzz-$dt.log" 2>&1 &
      FUZZ_PIDS+=($!)
    done
  fi
  if want long; then
    for spec in "${LONG_BACKGROUND[@]}"; do
      say "path_gpu_long $spec (in the background)"
      LONG_TIMEOUT=$(( BUDGET - 20 )) run_long $spec &
      LONG_PIDS+=($!)
    done
  fi
  # ---------------------------------------------------------- tests
  # The two GPU test programs run at once (they share the GPU; much of their time is building
  # conformance cases on the CPU with the mp100 oracle).
  if want tests; then
    # The kernel sources on the CPU need no GPU (ctest runs them wherever CUDA compiles): only with
    # --phases ...,host (beside the fuzzer and the suites it did not finish in 500 s on 2026-12-02).
    if want host; then
      nice -n 10 timeout 500 "${BIN[test_gpu_kernel_host]}" > "$LOG/test_gpu_kernel_host.log" 2>&1 &
      HOST_PID=$!
    fi
    declare -a TEST_PIDS=()
    PRESENT_TESTS=()
    for t in "${GPU_TESTS[@]}"; do
      if [ -n "${BIN[$t]:-}" ]; then PRESENT_TESTS+=("$t"); else row "$t" "SKIP" "program absent"; fi
    done
    for t in "${PRESENT_TESTS[@]}"; do
      say "$t (in parallel)"
      timeout 360 "${BIN[$t]}" --gtest_output=xml:"$LOG/$t.xml" > "$LOG/$t.log" 2>&1 &
      TEST_PIDS+=($!)
    done
    n=0
    for t in "${PRESENT_TESTS[@]}"; do
      wait "${TEST_PIDS[$n]}"
      rc=$?
      n=$((n + 1))
      row "$t" "$([ $rc = 0 ] && echo PASS || echo FAIL)" "$(gtest_counts "$LOG/$t.log")$([ $rc = 124 ] && echo ', TIMED OUT')"
      grep -E '^\[  FAILED  \]|CudaError' "$LOG/$t.log" | head -10
    done
    say "tests done"
    pack_logs
  fi

  # ---------------------------------------------------------- sanitizers
  # All eight runs (4 tools x 2 programs) at once: each is its own process on the one GPU, and most of
  # a sanitizer's time is host-side, so running them together saves most of the wall time.
  if want sanitizers; then
    SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
    if [ ! -x "$SAN" ]; then
      row "compute-sanitizer" "ERROR" "not found"
    elif [ "$(time_left)" -lt 60 ]; then
      row "compute-sanitizer" "SKIP" "time budget"
    else
      declare -a SAN_JOBS=() SAN_PIDS=()
      for tool in memcheck racecheck synccheck initcheck; do
        for t in "${SAN_TARGETS[@]}"; do
          prog=${t%%:*}; filter=${t#*:}
          [ -n "${BIN[$prog]:-}" ] || { [ "$tool" = memcheck ] && row "sanitizers ${prog#test_gpu_}" "SKIP" "program absent"; continue; }
          extra=()
          [ "$tool" = memcheck ] && extra=(--leak-check full)
          [ "$tool" = racecheck ] && extra=(--racecheck-report all)
          say "compute-sanitizer --tool $tool $prog --gtest_filter=$filter (in parallel)"
          timeout $(( $(time_left) - 30 )) "$SAN" --tool "$tool" "${extra[@]}" --error-exitcode 99 \
            "${BIN[$prog]}" --gtest_filter="$filter" > "$LOG/sanitizer-$tool-$prog.log" 2>&1 &
          SAN_PIDS+=($!)
          SAN_JOBS+=("$tool:$prog")
        done
      done
      for n in "${!SAN_PIDS[@]}"; do
        wait "${SAN_PIDS[$n]}"
        rc=$?
        tool=${SAN_JOBS[$n]%%:*}; prog=${SAN_JOBS[$n]#*:}
        name="$tool ${prog#test_gpu_}"
        summary=$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|LEAK SUMMARY' "$LOG/sanitizer-$tool-$prog.log" | tr '\n' ' ')
        tests=$(grep -cE '^\[       OK \]' "$LOG/sanitizer-$tool-$prog.log")
        if [ $rc = 0 ] && [ "$tests" -gt 0 ]; then row "$name" "PASS" "${summary:-clean} ($tests tests OK)"
        elif [ $rc = 0 ]; then row "$name" "FAIL" "no test passed under the sanitizer"
        else row "$name" "FAIL" "rc=$rc ${summary}$([ $rc = 124 ] && echo ' TIMED OUT')"; fi
      done
      say "sanitizers done"
      pack_logs
    fi
  fi

  # ---------------------------------------------------------- pathcheck run --impl cuda
  if want pathcheck; then
    # The three dtypes of a suite at once (each builds its cases with the mp100 oracle on every core).
    for suite in quick standard; do
      if [ "$(time_left)" -lt 60 ]; then
        for dt in bf16 fp16 fp32; do row "pathcheck $suite $dt" "SKIP" "time budget"; done
        continue
      fi
      declare -a PC_PIDS=()
      for dt in bf16 fp16 fp32; do
        say "pathcheck run --impl cuda --builtin $suite --dtype $dt (in parallel)"
        rm -f "$LOG/pathcheck-$suite-$dt.json"
        timeout $(( $(time_left) - 20 )) "${BIN[pathcheck]}" run --impl cuda --builtin "$suite" --dtype "$dt" \
          --report-json "$LOG/pathcheck-$suite-$dt.json" > "$LOG/pathcheck-$suite-$dt.log" 2>&1 &
        PC_PIDS+=($!)
      done
      n=0
      for dt in bf16 fp16 fp32; do
        wait "${PC_PIDS[$n]}"
        rc=$?
        n=$((n + 1))
        summary=$(grep -E '^run: ' "$LOG/pathcheck-$suite-$dt.log" | tail -1 | sed 's/^run: //; s/ (pass: ratio <= c)//')
        row "pathcheck $suite $dt" "$([ $rc = 0 ] && echo PASS || echo FAIL)" "${summary:-exit $rc, no summary line}"
        [ $rc = 0 ] || tail -5 "$LOG/pathcheck-$suite-$dt.log"
      done
    done
    # The error-ratio distribution per dtype and output (ratio = error / (baseline + floor / c);
    # pass <=> ratio <= c = 2), from the JSON reports.
    python3 - "$LOG" > "$LOG/ratios.txt" 2>&1 <<'PY'
import json, statistics, sys, glob, os
log = sys.argv[1]
for suite in ("quick", "standard"):
    for dt in ("bf16", "fp16", "fp32"):
        path = os.path.join(log, f"pathcheck-{suite}-{dt}.json")
        if not os.path.exists(path):
            continue
        report = json.load(open(path))
        per = {}
        verdicts = {}
        for c in report.get("cases", []):
            v = str(c.get("verdict", "")).lower()
            verdicts[v] = verdicts.get(v, 0) + 1
            for o in c.get("outputs", []):
                r = o.get("ratio")
                if isinstance(r, (int, float)):
                    per.setdefault(o.get("output", "?"), []).append(float(r))
        allr = [r for rs in per.values() for r in rs]
        head = f"{suite:8s} {dt:5s} cases {sum(verdicts.values())} ({', '.join(f'{k} {n}' for k, n in sorted(verdicts.items()))})"
        if allr:
            head += f"; all outputs: n={len(allr)} median {statistics.median(allr):.3f} max {max(allr):.3f}"
        print(head)
        for name in ("o", "lse", "dq", "dk", "dv", "dw", "dbeta", "dg", "k_cache"):
            if name in per:
                rs = per[name]
                print(f"    {name:8s} n={len(rs):3d} median {statistics.median(rs):.3f} max {max(rs):.3f}")
PY
    cat "$LOG/ratios.txt"
    cp "$LOG/ratios.txt" "$OUT/ratios.txt"
    row "ratio distribution" "INFO" "per dtype and output: ratios.txt (printed with this table)"
    pack_logs
  fi

  # ---------------------------------------------------------- long sequences
  if want long; then
    # The backward checks' baseline (conformance::baseline_outputs at T = 16K) is single-threaded CPU
    # work of a minute or more: they were started in the background at the beginning (below, before
    # the tests). Here: a quick check that the tool's row-by-row emulation (the forward and decode
    # baselines at these lengths) matches the library's on short sequences, then the forward and
    # decode checks one after another, then the background ones are collected.
    "${BIN[path_gpu_long]}" --baseline-check --check forward --T 300 > "$LOG/long-baseline-check.log" 2>&1
    "${BIN[path_gpu_long]}" --baseline-check --check decode --T 200 --steps 7 --HQ 2 >> "$LOG/long-baseline-check.log" 2>&1
    "${BIN[path_gpu_long]}" --baseline-check --check forward --T 200 --dtype fp32 --gate fla >> "$LOG/long-baseline-check.log" 2>&1
    cat "$LOG/long-baseline-check.log"
    for spec in "${LONG_FOREGROUND[@]}"; do
      set -- $spec
      name="long $1 T=$2 $3"
      if [ "$(time_left)" -lt 60 ]; then row "$name" "SKIP" "time budget"; continue; fi
      say "path_gpu_long $spec"
      LONG_TIMEOUT=$(( $(time_left) - 15 )) run_long $spec
      long_row $spec
      pack_logs
    done
    for pid in "${LONG_PIDS[@]}"; do wait "$pid"; done
    for spec in "${LONG_BACKGROUND[@]}"; do long_row $spec; done
  fi

  # ---------------------------------------------------------- oracle timing
  if want timing; then
    for T in 16384 65536; do
      reps=5; [ $T = 65536 ] && reps=3
      if [ "$(time_left)" -lt 30 ]; then row "oracle fp64 T=$T" "SKIP" "time budget"; continue; fi
      say "GPU oracle timing T=$T ($reps runs + warm-up)"
      timeout $(( $(time_left) > 30 ? $(time_left) : 30 )) "${BIN[path_gpu_bench]}" --T $T --B 1 --HQ 2 --H 1 --D 64 --Dv 64 \
        --gate paper --reps $reps > "$LOG/oracle-T$T.log" 2>&1
      rc=$?
      line=$(grep '^RESULT' "$LOG/oracle-T$T.log" | sed 's/^RESULT //')
      row "oracle fp64 T=$T" "$([ $rc = 0 ] && echo PASS || echo FAIL)" "${line:-rc=$rc} (B=1 HQ=2 D=Dv=64)"
    done
  fi

  if want fuzz; then
    for n in "${!FUZZ_PIDS[@]}"; do
      wait "${FUZZ_PIDS[$n]}"
      rc=$?
      dt=${FUZZ_DTYPES[$n]}
      line="$(grep -E ' cases in ' "$LOG/fuzz-$dt.log" | head -1 | sed 's/^ *//') $(grep -E '^FUZZ' "$LOG/fuzz-$dt.log" | tail -1)"
      [ "$line" = " " ] && line=""
      grep -A6 '^FAILURE' "$LOG/fuzz-$dt.log" | head -30
      row "fuzz cuda $dt" "$([ $rc = 0 ] && echo PASS || echo FAIL)" "${line:-exit $rc: $(tail -1 "$LOG/fuzz-$dt.log" 2>/dev/null)}"
    done
  fi

  if [ -n "$HOST_PID" ]; then
    wait "$HOST_PID"
    rc=$?
    row "test_gpu_kernel_host" "$([ $rc = 0 ] && echo PASS || echo FAIL)" "$(gtest_counts "$LOG/test_gpu_kernel_host.log") (kernel source on the CPU)$([ $rc = 124 ] && echo ', TIMED OUT')"
  fi
fi

# ---------------------------------------------------------------- summary (last)
pack_logs
{
  echo
  if [ -s "$OUT/ratios.txt" ]; then
    echo "error ratios (error / (baseline + floor / c); pass <=> ratio <= 2), per suite, dtype and output:"
    cat "$OUT/ratios.txt"
  fi
  echo "==== gpu-check summary ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(git rev-parse --short HEAD 2>/dev/null), $(elapsed)s, phases $PHASES) ===="
  printf '%-30s %-6s %s\n' "PHASE" "RESULT" "DETAIL"
  for r in "${ROWS[@]}"; do echo "$r"; done
  echo "logs: $OUT/logs.tar.gz"
  [ $STATUS = 0 ] && echo "OVERALL: PASS" || echo "OVERALL: FAIL"
} > "$OUT/summary.final"
mv "$OUT/summary.final" "$OUT/summary.txt"
cat "$OUT/summary.txt"
exit $STATUS
