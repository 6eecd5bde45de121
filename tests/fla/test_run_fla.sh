#!/usr/bin/env bash
# The FLA adapter (adapters/fla/run_fla.py) end to end without a GPU, through the fake `fla` of
# tests/fla/fake_fla (a plain float64 PaTH behind FLA's signatures, with planted bugs):
#   - pathcheck run --impl-cmd on the quick suite (bf16): ALL PASSED, exit 0;
#   - each planted bug is rejected (exit 1), in the outputs it breaks;
#   - a peer that raises: the case fails and the report quotes the peer's message (from the
#     adapter's RESULTS/<case>.error.txt);
#   - a peer that kills its process (--workers 2): the case fails with "killed by SIGSEGV", the
#     other cases still pass;
#   - with --full: scripts/fla-validate.sh (suites, fuzz, curve; quick suite, short budget) and
#     scripts/fla-report.py on what it wrote, then one reproducer folder replayed.
# Usage: tests/fla/test_run_fla.sh [PATHCHECK] [--full]
# Environment: FLA_TEST_PYTHON, a Python with torch (CPU is enough), numpy, ml_dtypes, safetensors
# (default python3); REPORT_PYTHON for fla-report.py (default .venv/bin/python). Exit 77 when that
# Python has no torch (skipped).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
P=${1:-build/tools/pathcheck/pathcheck}
FULL=0
for a in "$@"; do [ "$a" = --full ] && FULL=1; done
[ "$P" = --full ] && P=build/tools/pathcheck/pathcheck
PY=${FLA_TEST_PYTHON:-python3}
if ! "$PY" -c 'import torch, numpy, ml_dtypes, safetensors' 2>/dev/null; then
  echo "test_run_fla: SKIPPED: $PY has no torch (set FLA_TEST_PYTHON to a Python with a CPU torch)"
  exit 77
fi
[ -x "$P" ] || { echo "test_run_fla: no pathcheck at $P"; exit 1; }
P=$(cd "$(dirname "$P")" && pwd)/$(basename "$P")
T=$(mktemp -d "${TMPDIR:-/tmp}/test-run-fla.XXXXXX")
trap 'rm -rf "$T"' EXIT
export PYTHONPATH=$ROOT/tests/fla/fake_fla
passed=0 failed=0
check() {  # check NAME CONDITION-RESULT(0/1) DETAIL
  if [ "$2" = 0 ]; then passed=$((passed + 1)); echo "ok: $1"; else failed=$((failed + 1)); echo "FAILED: $1: $3"; fi
}
"$P" gen --suite quick --dtype bf16 --seed 7 --out "$T/suite" --quiet || { echo "test_run_fla: gen failed"; exit 1; }
JUDGED=o,dq,dk,dv,dw,dbeta,dg,k_cache
run() {  # run LOG [adapter args...]: pathcheck run through the adapter
  local log=$1; shift
  "$P" run --impl-cmd "$PY $ROOT/adapters/fla/run_fla.py --device cpu --quiet $* --suite {suite} --results {results}" \
    --suite "$T/suite" --outputs "$JUDGED" > "$log" 2>&1
}

run "$T/clean.txt"
check "no bug: ALL PASSED" $? "$(tail -3 "$T/clean.txt")"
grep -q "not judged: lse in 23 cases" "$T/clean.txt"
check "lse listed as not judged" $? "$(grep 'not judged' "$T/clean.txt")"

# bug -> a case and output that must fail
for spec in "gate-unscaled q001 o" "dbeta-sign q002 dbeta" "stale-cache q017 k_cache" "decode-gate-unscaled q022 o"; do
  set -- $spec
  FLA_FAKE_BUG=$1 run "$T/$1.txt"
  rc=$?
  grep -E "^$2[^ ]* +$3 .*FAIL" "$T/$1.txt" >/dev/null
  check "bug $1 rejected ($2 $3)" $(( rc == 1 ? $? : 1 )) "exit $rc; $(grep -E "^$2" "$T/$1.txt" | head -3)"
done

FLA_FAKE_BUG=raise-varlen run "$T/raise.txt"
rc=$?
grep -q "q014.*fake FLA: varlen is not supported" "$T/raise.txt"
check "a peer exception fails its case, with the message" $(( rc == 1 ? $? : 1 )) "exit $rc"
grep -q "q014.*the implementation reported: .*fake FLA: varlen is not supported" "$T/raise.txt"
check "the message comes from RESULTS/<case>.error.txt" $? "$(grep -m1 q014 "$T/raise.txt")"
grep -q "^q013.*PASS" "$T/raise.txt"
check "the other cases still pass after an exception" $? ""

FLA_FAKE_BUG=crash-varlen run "$T/crash.txt" --workers 2
rc=$?
grep -q "q014_T20_D16_h2x2_varlen5_paper_grad: the process died while running it (killed by SIGSEGV)" "$T/crash.txt"
check "a crashing peer fails its case (--workers 2 restarts the worker)" $(( rc == 1 ? $? : 1 )) "exit $rc; $(grep -m3 'died\|worker' "$T/crash.txt")"
grep -q "^q013.*PASS" "$T/crash.txt"
check "the other cases still pass after a crash" $? ""

if [ "$FULL" = 1 ]; then
  RPY=${REPORT_PYTHON:-$ROOT/.venv/bin/python}
  OUT=$T/out FLA_FAKE_BUG=dbeta-sign bash scripts/fla-validate.sh --pathcheck "$P" --stages suites,fuzz,curve \
    --site "$ROOT/tests/fla/fake_fla" --python "$PY" --adapter-args "--device cpu" --suite quick --dtypes bf16 \
    --fuzz-seconds 10 --budget 420 --jobs 2 --workers 1 --curve-Ts 1,16 > "$T/validate.txt" 2>&1
  check "fla-validate.sh ran" $? "$(tail -5 "$T/validate.txt")"
  [ -f "$T/out/fla-validation.tar.gz" ]
  check "fla-validate.sh wrote its tarball" $? ""
  "$RPY" scripts/fla-report.py --from "$T/out" --doc "$T/doc/fla.md" --cases "$T/doc/fla-cases" \
    --plot "$T/doc/fla.png" > "$T/report.txt" 2>&1
  check "fla-report.py wrote the report" $? "$(tail -3 "$T/report.txt")"
  grep -q "dbeta ratio" "$T/doc/fla.md"
  check "the report lists the dbeta failures" $? ""
  first=$(ls -d "$T"/doc/fla-cases/bf16/*/ 2>/dev/null | head -1)
  if [ -n "$first" ]; then
    FLA_FAKE_BUG=dbeta-sign "$P" run --impl-cmd "$PY $ROOT/adapters/fla/run_fla.py --device cpu --quiet --suite {suite} --results {results}" \
      --suite "$first" --outputs "$JUDGED" > "$T/replay.txt" 2>&1
    rc=$?
    "$P" run --impl-cmd "$PY $ROOT/adapters/fla/run_fla.py --device cpu --quiet --suite {suite} --results {results}" \
      --suite "$first" --outputs "$JUDGED" > "$T/replay-clean.txt" 2>&1
    rc2=$?
    check "a reproducer folder replays: fails with the bug, passes without" $(( rc == 1 && rc2 == 0 ? 0 : 1 )) "exit $rc, $rc2"
  else
    check "a reproducer folder was written" 1 "none under $T/doc/fla-cases/bf16"
  fi
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
