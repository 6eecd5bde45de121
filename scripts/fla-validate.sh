#!/usr/bin/env bash
# Validates flash-linear-attention's Triton PaTH (fla-core 0.6.0) on the lent GPU machine: the one
# command behind docs/validation/fla.md (issue #18). Stages, in order:
#   setup    install the carried wheels (.deps/wheels: fla-core, flash-linear-attention) into a
#            private folder on PYTHONPATH (pip --no-deps --target), check that FLA imports, record
#            the environment (GPU, driver, python, torch, triton, fla, pathcheck, commit)
#   suites   pathcheck gen --suite standard per dtype (fixed seed; kept in build-fla/ and reused),
#            then pathcheck run --impl-cmd 'python3 adapters/fla/run_fla.py ...' on bf16, fp16, fp32
#            (Triton's default fp32 dot precision) and fp32 with TRITON_F32_DEFAULT=ieee, judged on
#            o, the gradients and k_cache (FLA's API returns no lse: --outputs leaves it out, so it is
#            listed as not judged); then `pathcheck validate --outputs lse` of the same result files,
#            where the adapter stored FLA's internal forward log-sum-exp (a diagnostic table)
#   fuzz     pathcheck fuzz --impl-cmd ... per dtype for --fuzz-seconds (values and gradients,
#            --lse internal, since fuzz judges lse always; decode is not fuzzed: FLA's decode returns
#            no lse), shrunk failures saved as reproducers
#   curve    adapters/fla/error_vs_t.py: FLA's, the fp32-emulated baseline's and (with --gpu-long)
#            our CUDA kernels' error in o against an fp64 reference, T = 1 ... 16K, per dtype
# Every stage tolerates failures (a failing peer is the expected outcome, not an error of this
# script) and the reports are written regardless. Everything goes to $OUT: summary.txt, env.txt,
# log.txt and fla-validation.tar.gz (reports, sidecars with the peer's messages, the case files of
# every failing case, fuzz reproducers); scripts/fla-report.py turns the tarball into
# docs/validation/fla.md.
#
# Usage: scripts/fla-validate.sh --pathcheck PATH [options]
#   --pathcheck PATH      the pathcheck binary (required; e.g. build-gpu-prebuilt/pathcheck)
#   --gpu-long PATH       path_gpu_long (our CUDA kernels at long T, for the curve), optional
#   --stages LIST         comma-separated subset of setup,suites,fuzz,curve (default: all)
#   --dtypes LIST         subset of bf16,fp16,fp32 (default all three; fp32 runs twice in suites)
#   --budget S            total seconds (default 540: the device allows 600 a command); later work
#                         is shortened or skipped, and says so
#   --fuzz-seconds N      seconds of case generation per dtype (default 60; shrinking comes on top,
#                         at most about 120 s per failure, so the budget check reserves that)
#   --seed S              suite and fuzz seed (default 20261202)
#   --workers N           processes per suite run (run_fla.py --workers; default 3; the four runs go at once)
#   --suite NAME          quick or standard (default standard)
#   --jobs N              gen --jobs (default: nproc)
#   --python PY           the Python with torch and triton (default python3)
#   --wheels DIR          the carried wheels (default .deps/wheels)
#   --site DIR            where they are installed (default $TMPDIR/fla-site; installed there also
#                         without the setup stage when missing); a --site DIR given without the setup
#                         stage is used as it is (the tests point it at a fake FLA)
#   --curve-Ts LIST       the curve's T values (default 1,16,64,256,1024,4096,16384)
#   --adapter-args ARGS   more arguments for run_fla.py (the tests: --device cpu)
#   --triton-cache TGZ    a Triton cache an earlier run brought back ('DIR/triton-cache.tgz.part-*',
#                         quoted: the parts in order), unpacked before the suites: FLA's kernels are
#                         then neither compiled nor autotuned again (the 06:20 run of 2026-12-02 lost
#                         most of its budget to that)
# Environment: OUT (default ./fla-out). Exit status 0 when the script ran (whatever the verdicts), 2 on
# a bad command line, 1 when setup failed (FLA cannot be imported).
set -uo pipefail
ORIG_COMMAND="$0 $*"
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-$ROOT/fla-out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

TRITON_TGZ=""
PATHCHECK="" GPU_LONG="" STAGES="setup,suites,fuzz,curve" DTYPES="bf16,fp16,fp32" BUDGET=540
FUZZ_SECONDS=60 WORKERS=3 SEED=20261202 SUITE=standard JOBS=$(nproc 2>/dev/null || echo 4) PY=python3
WHEELS=$ROOT/.deps/wheels SITE=${TMPDIR:-/tmp}/fla-site SITE_GIVEN=0 ADAPTER_ARGS="" CURVE_TS=1,16,64,256,1024,4096,16384
while [ $# -gt 0 ]; do
  case "$1" in
    --pathcheck) PATHCHECK=$2; shift 2 ;;
    --gpu-long) GPU_LONG=$2; shift 2 ;;
    --stages) STAGES=$2; shift 2 ;;
    --dtypes) DTYPES=$2; shift 2 ;;
    --budget) BUDGET=$2; shift 2 ;;
    --fuzz-seconds) FUZZ_SECONDS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --suite) SUITE=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --python) PY=$2; shift 2 ;;
    --wheels) WHEELS=$2; shift 2 ;;
    --site) SITE=$2; SITE_GIVEN=1; shift 2 ;;
    --curve-Ts) CURVE_TS=$2; shift 2 ;;
    --adapter-args) ADAPTER_ARGS=$2; shift 2 ;;
    --triton-cache) TRITON_TGZ=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fla-validate: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
done
[ -n "$PATHCHECK" ] || { echo "fla-validate: --pathcheck PATH is required" >&2; exit 2; }
[ -x "$PATHCHECK" ] || { echo "fla-validate: --pathcheck $PATHCHECK: not an executable" >&2; exit 2; }
PATHCHECK=$(cd "$(dirname "$PATHCHECK")" && pwd)/$(basename "$PATHCHECK")
[ -z "$GPU_LONG" ] || GPU_LONG=$(cd "$(dirname "$GPU_LONG")" && pwd)/$(basename "$GPU_LONG")
want() { case ",$STAGES," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
IFS=, read -r -a DTYPE_LIST <<< "$DTYPES"

START=$(date +%s)
elapsed() { echo $(( $(date +%s) - START )); }
left() { echo $(( BUDGET - $(elapsed) )); }
# Work lives in $WORK (packed into $OUT at the end of every stage: the device tool returns at most 8
# files from $OUT); generated suites and Triton's kernel cache in build-fla/ (ignored, kept between
# calls on a warm machine).
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fla-validate.XXXXXX")/fla-validation
mkdir -p "$WORK"/{reports,results,cases,fuzz,logs,curve}
CACHE=$ROOT/build-fla
mkdir -p "$CACHE"
# Every stage (suites, fuzz servers, curve) shares one compiled-kernel cache; fp32-ieee has its own.
export TRITON_CACHE_DIR=$CACHE/triton-cache
if [ -n "$TRITON_TGZ" ]; then  # one tarball, or the parts a glob names (in order)
  # shellcheck disable=SC2086  # the glob is meant to expand
  if cat $TRITON_TGZ 2>/dev/null | tar xz -C "$CACHE" 2>/dev/null; then echo "fla-validate: Triton cache from $TRITON_TGZ"
  else echo "fla-validate: --triton-cache $TRITON_TGZ: cannot unpack (ignored; kernels compile anew)"; fi
fi
mkdir -p "$CACHE"
export TRITON_CACHE_DIR=$CACHE/triton-cache PYTHONUNBUFFERED=1
exec > >(tee -a "$OUT/log.txt") 2>&1
say() { echo "[fla-validate $(elapsed)s] $*"; }
rm -f "$OUT/summary.txt"
row() {  # row NAME RESULT DETAIL
  local line
  line=$(printf '%-24s %-8s %s' "$1" "$2" "$3")
  echo "ROW $line"
  echo "$line" >> "$OUT/summary.txt"
}
pack() {  # the device returns files of at most 16 MiB: past 15 MiB the case files stay behind
  cp "$OUT/summary.txt" "$WORK/" 2>/dev/null
  tar -czf "$OUT/fla-validation.tar.gz.part" -C "$(dirname "$WORK")" fla-validation 2>/dev/null || return
  if [ "$(stat -c %s "$OUT/fla-validation.tar.gz.part")" -gt $((15 << 20)) ]; then
    echo "[fla-validate] the tarball is over 15 MiB: packed without cases/ (regenerate them from the seed)"
    tar -czf "$OUT/fla-validation.tar.gz.part" -C "$(dirname "$WORK")" --exclude=fla-validation/cases fla-validation 2>/dev/null || return
  fi
  mv "$OUT/fla-validation.tar.gz.part" "$OUT/fla-validation.tar.gz"
}

# ---- setup -------------------------------------------------------------------------------------
SITE=$(mkdir -p "$SITE" && cd "$SITE" && pwd)
# The wheels are installed by the setup stage, and whenever the default folder lacks them (a later
# call with --stages fuzz,curve on a fresh machine).
if want setup || { [ "$SITE_GIVEN" = 0 ] && [ ! -d "$SITE/fla" ]; }; then
  case "$SITE/" in "$ROOT"/*) echo "fla-validate: --site $SITE is inside the repository: the setup stage installs there; drop setup from --stages" >&2; exit 2 ;; esac
  say "installing the carried wheels from $WHEELS into $SITE"
  # fla-core and flash-linear-attention only: einops and the rest come from the machine's image
  # (einops is carried as a fallback, installed only when the image lacks it).
  wheels=$(ls "$WHEELS"/fla_core-*.whl "$WHEELS"/flash_linear_attention-*.whl 2>/dev/null)
  "$PY" -c 'import einops' 2>/dev/null || wheels="$wheels $(ls "$WHEELS"/einops-*.whl 2>/dev/null)"
  # shellcheck disable=SC2086
  if [ -z "$wheels" ] || ! "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" $wheels; then
    row setup ERROR "pip install of the wheels in $WHEELS failed (carry .deps/wheels)"; pack; exit 1
  fi
elif [ ! -d "$SITE/fla" ]; then
  row setup ERROR "no fla package in $SITE (run the setup stage)"; pack; exit 1
fi
export PYTHONPATH=$SITE${PYTHONPATH:+:$PYTHONPATH}
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown) ($(git status --porcelain 2>/dev/null | wc -l) changed paths)"
  echo "host: $(uname -a)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | sed 's/^/gpu: /'
  echo "pathcheck: $("$PATHCHECK" --version 2>&1) ($PATHCHECK)"
  echo "python: $("$PY" -c 'import sys; print(sys.version.split()[0], sys.executable)' 2>&1)"
  "$PY" - <<'EOF' 2>&1
import importlib
for name in ("torch", "triton", "fla", "einops", "safetensors", "numpy", "ml_dtypes", "transformers"):
    try:
        m = importlib.import_module(name)
        print(f"{name}: {getattr(m, '__version__', '?')} ({getattr(m, '__file__', '?')})")
    except Exception as e:  # noqa: BLE001
        print(f"{name}: not importable: {type(e).__name__}: {e}")
try:
    import torch
    print("cuda:", torch.version.cuda, "device:", torch.cuda.get_device_name(0))
except Exception as e:  # noqa: BLE001
    print("cuda: unusable:", e)
EOF
  for w in "$WHEELS"/*.whl; do echo "wheel: $(basename "$w") sha256 $(sha256sum "$w" | cut -d' ' -f1)"; done
  echo "command: $ORIG_COMMAND"
  echo "stages: $STAGES; dtypes: $DTYPES; suite: $SUITE; seed: $SEED; budget: $BUDGET s; fuzz: $FUZZ_SECONDS s"
} > "$OUT/env.txt"
cp "$OUT/env.txt" "$WORK/env.txt"
cat "$OUT/env.txt"
if ! "$PY" -c 'from fla.ops.path_attn.parallel import parallel_path_attn; from fla.ops.attn.decoding import attn_decoding_one_step' \
     > "$WORK/logs/import.txt" 2>&1; then
  tail -5 "$WORK/logs/import.txt"
  row setup ERROR "FLA does not import (logs/import.txt)"; pack; exit 1
fi
row setup ok "$(grep '^fla:' "$OUT/env.txt" | cut -c1-60)"

ADAPTER="$PY $ROOT/adapters/fla/run_fla.py --lse internal $ADAPTER_ARGS --suite {suite} --results {results}"
JUDGED=o,dq,dk,dv,dw,dbeta,dg,k_cache

summarize() {  # summarize REPORT.json -> "N passed, M failed of K (worst ratio R)"
  "$PY" - "$1" <<'EOF' 2>/dev/null || echo "no report"
import json, sys
r = json.load(open(sys.argv[1]))
cases = r.get("cases", [])
p = sum(1 for c in cases if c.get("verdict") == "PASS")
f = sum(1 for c in cases if c.get("verdict") == "FAIL")
ratios = [o.get("ratio") for c in cases for o in c.get("outputs", []) if isinstance(o.get("ratio"), (int, float))]
print(f"{p} passed, {f} failed of {len(cases)}" + (f" (worst ratio {max(ratios):.3g})" if ratios else ""))
EOF
}

copy_failing_cases() {  # copy_failing_cases REPORT.json SUITE_DIR DEST: the case files of failed cases
  # The smallest case of each kind of failure (the same failing outputs, or no result) first, then
  # the others smallest first, while the folder stays under 3 MB: the device returns files of at
  # most 16 MiB, and every failing case can be regenerated byte for byte from the seed anyway
  # (fla-report.py prints that command for the cases not brought back).
  "$PY" - "$1" "$2" "$3" <<'EOF2' 2>/dev/null
import json, os, shutil, sys
r = json.load(open(sys.argv[1]))
os.makedirs(sys.argv[3], exist_ok=True)
cap = 3 << 20
groups = {}
for c in r.get("cases", []):
    if c.get("verdict") == "PASS":
        continue
    src = os.path.join(sys.argv[2], c["case"] + ".safetensors")
    if not os.path.exists(src):
        continue
    sig = tuple(sorted(o["output"] for o in c.get("outputs", []) if o.get("verdict") != "PASS")) or ("no result",)
    groups.setdefault(sig, []).append((os.path.getsize(src), src))
first = [min(g) for g in groups.values()]
rest = sorted(x for g in groups.values() for x in g if x not in first)
total = 0
for size, src in sorted(first) + rest:
    if total + size > cap:
        continue
    shutil.copy(src, sys.argv[3])
    total += size
EOF2
}

# ---- suites ------------------------------------------------------------------------------------
if want suites; then
  labels=()
  for d in "${DTYPE_LIST[@]}"; do
    suite=$CACHE/suite-$SUITE-$d-$SEED
    if [ -f "$suite/suite.json" ]; then
      say "suite $suite exists (reused)"
    else
      say "pathcheck gen --suite $SUITE --dtype $d --seed $SEED --jobs $JOBS"
      "$PATHCHECK" gen --suite "$SUITE" --dtype "$d" --seed "$SEED" --out "$suite" --jobs "$JOBS" --quiet \
        > "$WORK/logs/gen-$d.txt" 2>&1 || { row "gen $d" ERROR "$(tail -1 "$WORK/logs/gen-$d.txt")"; continue; }
    fi
    labels+=("$d")
    [ "$d" = fp32 ] && labels+=(fp32-ieee)
  done
  # The runs go at once (each run_fla.py with --workers processes): Triton compiles every kernel
  # variant on first use, on the CPU, so parallel processes shorten the wall time; the GPU is far
  # from busy. fp32-ieee gets its own Triton cache (the precision is a compile-time default).
  t=$(left)
  declare -A PIDS=()
  for label in "${labels[@]}"; do
    suite=$CACHE/suite-$SUITE-${label%-ieee}-$SEED
    res=$WORK/results/$label
    rm -rf "$res"
    envs=(TRITON_CACHE_DIR="$CACHE/triton-cache")
    [ "$label" = fp32-ieee ] && envs=(TRITON_F32_DEFAULT=ieee TRITON_CACHE_DIR="$CACHE/triton-cache-ieee")
    say "pathcheck run --impl-cmd run_fla.py on $SUITE $label (workers $WORKERS, timeout $((t - 20)) s)"
    env "${envs[@]}" "$PATHCHECK" run --impl-cmd "$ADAPTER --workers $WORKERS" --suite "$suite" --results "$res" \
      --outputs "$JUDGED" --timeout $((t - 20)) --report-json "$WORK/reports/suite-$label.json" \
      --junit "$WORK/reports/suite-$label.xml" --quiet > "$WORK/logs/suite-$label.txt" 2>&1 &
    PIDS[$label]=$!
  done
  for label in "${labels[@]}"; do
    wait "${PIDS[$label]}"
    rc=$?
    suite=$CACHE/suite-$SUITE-${label%-ieee}-$SEED
    res=$WORK/results/$label
    # FLA's internal lse (the adapter's --lse internal) judged on its own, as a diagnostic.
    "$PATHCHECK" validate --suite "$suite" --results "$res" --outputs lse --report-json "$WORK/reports/lse-$label.json" \
      --quiet > "$WORK/logs/lse-$label.txt" 2>&1
    copy_failing_cases "$WORK/reports/suite-$label.json" "$suite" "$WORK/cases/$label"
    # keep the sidecars (the peer's messages), not the result tensors
    mkdir -p "$WORK/results/$label-sidecars"
    cp "$res"/*.fla.json "$res"/fla-run.json "$WORK/results/$label-sidecars/" 2>/dev/null
    rm -rf "$res"
    row "suite $label" "rc=$rc" "$(summarize "$WORK/reports/suite-$label.json"); internal lse: $(summarize "$WORK/reports/lse-$label.json")"
  done
  pack
fi

# ---- fuzz and curve (at once: the GPU is far from busy) -----------------------------------------
declare -A FPIDS=()
SPIDS=()
t=$(left)
if want fuzz; then
  PROPS=oracle,append-tokens,varlen-vs-separate,gqa-vs-repeated,scale-v,beta0-vs-orthogonal-w
  # generation for at most --fuzz-seconds, and at most what is left less a reserve for shrinking
  # one failure (about 120 s); a hard stop 10 s before the budget ends
  secs=$(( FUZZ_SECONDS < t - 140 ? FUZZ_SECONDS : t - 140 ))
  for d in "${DTYPE_LIST[@]}"; do
    if [ "$secs" -lt 10 ]; then row "fuzz $d" SKIPPED "budget: $t s left"; continue; fi
    # One run_fla.py --serve per campaign keeps torch and FLA loaded: pathcheck fuzz starts the
    # program once per batch (16 cases) and once per shrink candidate; each start then only
    # connects (a client that finds no server runs the cases itself).
    sock=$WORK/fla-$d.sock
    RUN_FLA_ERROR_LOG=$WORK/logs/fuzz-$d-peer-errors.jsonl $PY "$ROOT/adapters/fla/run_fla.py" --serve "$sock" $ADAPTER_ARGS \
      > "$WORK/logs/fuzz-$d-server.txt" 2>&1 &
    SPIDS+=($!)
  done
  for _ in $(seq 1 120); do  # up to 60 s for the servers to import torch and FLA
    ready=1
    for d in "${DTYPE_LIST[@]}"; do [ -S "$WORK/fla-$d.sock" ] || ready=0; done
    [ "$ready" = 1 ] && break
    sleep 0.5
  done
  t=$(left)
  secs=$(( FUZZ_SECONDS < t - 140 ? FUZZ_SECONDS : t - 140 ))
  for d in "${DTYPE_LIST[@]}"; do
    if [ "$secs" -lt 10 ]; then row "fuzz $d" SKIPPED "budget: $t s left"; continue; fi
    say "pathcheck fuzz --impl-cmd run_fla.py --dtype $d --seconds $secs --seed $SEED (stopped at $((t - 10)) s)"
    FUZZ_ADAPTER="$PY $ROOT/adapters/fla/run_fla.py --server $WORK/fla-$d.sock --lse internal $ADAPTER_ARGS --suite {suite} --results {results}"
    RUN_FLA_ERROR_LOG=$WORK/logs/fuzz-$d-peer-errors.jsonl timeout -k 5 $((t - 10)) "$PATHCHECK" fuzz --impl-cmd "$FUZZ_ADAPTER" \
      --dtype "$d" --seconds "$secs" --seed "$SEED" --outputs o,lse,gradients --properties "$PROPS" --max-failures 1 \
      --timeout 120 --out "$WORK/fuzz/$d" --report-json "$WORK/reports/fuzz-$d.json" --junit "$WORK/reports/fuzz-$d.xml" \
      > "$WORK/logs/fuzz-$d.txt" 2>&1 &
    FPIDS[$d]=$!
  done
fi
CPID="" CIPID=""
if want curve; then
  if [ "$t" -lt 40 ]; then
    row curve SKIPPED "budget: $t s left"
  else
    say "error against T (adapters/fla/error_vs_t.py, stopped at $((t - 10)) s)"
    args=(--out "$WORK/curve" --dtypes "$DTYPES" --Ts "$CURVE_TS" --seconds $((t - 40)))
    case " $ADAPTER_ARGS " in *" --device cpu "*) args+=(--device cpu) ;; esac
    [ -n "$GPU_LONG" ] && args+=(--gpu-long "$GPU_LONG")
    [ -d "$CACHE/suite-$SUITE-bf16-$SEED" ] && args+=(--check-suite "$CACHE/suite-$SUITE-bf16-$SEED")
    timeout -k 5 $((t - 10)) "$PY" "$ROOT/adapters/fla/error_vs_t.py" "${args[@]}" > "$WORK/logs/curve.txt" 2>&1 &
    CPID=$!
    # FLA's fp32 once more with TRITON_F32_DEFAULT=ieee (its own Triton cache), FLA and the baseline only
    case ",$DTYPES," in *,fp32,*)
      iargs=(--out "$WORK/curve-ieee" --dtypes fp32 --Ts "$CURVE_TS" --seconds $((t - 40)))
      case " $ADAPTER_ARGS " in *" --device cpu "*) iargs+=(--device cpu) ;; esac
      TRITON_F32_DEFAULT=ieee TRITON_CACHE_DIR=$CACHE/triton-cache-ieee timeout -k 5 $((t - 10)) \
        "$PY" "$ROOT/adapters/fla/error_vs_t.py" "${iargs[@]}" > "$WORK/logs/curve-ieee.txt" 2>&1 &
      CIPID=$! ;;
    esac
  fi
fi
for d in "${!FPIDS[@]}"; do
  wait "${FPIDS[$d]}"
  rc=$?
  detail=$(grep -E '^FUZZ|cases \(' "$WORK/logs/fuzz-$d.txt" | tail -2 | tr '\n' ' ')
  [ "$rc" = 124 ] && detail="stopped at the budget (no report); $detail"
  row "fuzz $d" "rc=$rc" "$detail"
done
for pid in "${SPIDS[@]}"; do kill "$pid" 2>/dev/null; done  # the servers this script started
if [ -n "$CPID" ]; then
  wait "$CPID"
  rc=$?
  row curve "rc=$rc" "$(tail -1 "$WORK/logs/curve.txt" | cut -c1-120)"
fi
if [ -n "$CIPID" ]; then
  wait "$CIPID"
  rc=$?
  row curve-fp32-ieee "rc=$rc" "$(tail -1 "$WORK/logs/curve-ieee.txt" | cut -c1-120)"
fi
pack

# The Triton cache (compiled kernels and, FLA_CACHE_RESULTS being FLA's default, its autotuning
# results) back to the caller for the next run's --triton-cache: the device returns at most 8 files
# of 16 MiB, and this script writes 4 (summary, env, log, the tarball), so the packed cache goes in
# at most 3 parts of 15 MiB (triton-cache.tgz.part-aa, -ab, -ac), or not at all.
caches=$(cd "$CACHE" && ls -d triton-cache triton-cache-ieee 2>/dev/null)
rm -f "$OUT"/triton-cache.tgz.part-*
if [ -n "$caches" ] && tar czf "$WORK/triton-cache.tgz" -C "$CACHE" $caches 2>/dev/null; then
  size=$(stat -c %s "$WORK/triton-cache.tgz")
  if [ "$size" -gt $((45 << 20)) ]; then
    row triton-cache SKIPPED "$((size >> 20)) MiB packed: more than 3 returned files of 15 MiB"
  else
    split -b 15M "$WORK/triton-cache.tgz" "$OUT/triton-cache.tgz.part-"
    row triton-cache ok "$((size >> 10)) KiB in $(ls "$OUT"/triton-cache.tgz.part-* | wc -l) part(s) (next run: --triton-cache 'DIR/triton-cache.tgz.part-*')"
  fi
  rm -f "$WORK/triton-cache.tgz"
fi
say "done in $(elapsed) s"
pack
echo
echo "== summary (also $OUT/summary.txt; everything in $OUT/fla-validation.tar.gz) =="
cat "$OUT/summary.txt"
exit 0
