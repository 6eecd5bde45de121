#!/usr/bin/env bash
# The Python example adapter (adapters/python/) judged end to end by pathcheck; run by CTest
# (tests/CMakeLists.txt). Modes:
#   gen  PATHCHECK DIR DTYPE                 make the quick suite in DIR (the tests' fixture)
#   unit REPO                                the example's own unit tests (test_path_numpy.py)
#   pass PATHCHECK REPO SUITE WORK validate|run [SCRIPT]
#        the example on SUITE must be judged ALL PASSED (exit 0), through `pathcheck validate`
#        on the result files it wrote, or through `pathcheck run --impl-cmd`. SCRIPT defaults to
#        path_numpy.py (path_torch.py: skipped when PyTorch is not installed in the venv).
#   bug  PATHCHECK REPO SUITE WORK BUG CASE OUTPUT
#        the example with --plant-bug BUG must be rejected: the program itself succeeds,
#        validate exits 1 (not 0, not a usage error), and the report has a FAIL line for OUTPUT
#        of CASE (a case name prefix such as q013).
# Exit 77 (CTest's SKIP_RETURN_CODE) with the reason when the project's virtual environment is
# absent: `bash scripts/setup.sh` creates it.
set -uo pipefail
mode=$1
shift

need_venv() {
  local py=$1/.venv/bin/python
  if [ ! -x "$py" ]; then
    echo "SKIP: no project virtual environment ($1/.venv); bash scripts/setup.sh creates it"
    exit 77
  fi
  if ! "$py" -c 'import numpy, ml_dtypes, safetensors' 2>/dev/null; then
    echo "FAIL: $py cannot import numpy, ml_dtypes and safetensors (re-run bash scripts/setup.sh)"
    exit 1
  fi
  PY=$py
}

die() { echo "FAIL: $*"; exit 1; }

case $mode in
gen)
  pathcheck=$1 dir=$2 dtype=$3
  rm -rf "$dir"
  "$pathcheck" gen --suite quick --dtype "$dtype" --out "$dir" --seed 20261201 --jobs 2 || die "pathcheck gen failed"
  ;;
unit)
  need_venv "$1"
  cd "$1" && exec "$PY" -m unittest discover -s adapters/python -p 'test_*.py' -v
  ;;
pass)
  pathcheck=$1 repo=$2 suite=$3 work=$4 how=$5 script=${6:-path_numpy.py}
  need_venv "$repo"
  if [ "$script" = path_torch.py ] && ! "$PY" -c 'import torch' 2>/dev/null; then
    echo "SKIP: PyTorch is not installed in $repo/.venv (optional: .venv/bin/pip install torch)"
    exit 77
  fi
  rm -rf "$work" && mkdir -p "$work" || die "cannot make $work"
  program="$PY $repo/adapters/python/$script"
  if [ "$how" = run ]; then
    "$pathcheck" run --impl-cmd "$program {suite} {results} --quiet" --suite "$suite" >"$work/report.txt" 2>&1
  else
    $program "$suite" "$work/results" --quiet || die "$script exited with status $?"
    "$pathcheck" validate --suite "$suite" --results "$work/results" >"$work/report.txt" 2>&1
  fi
  rc=$?
  tail -n 3 "$work/report.txt"
  [ $rc -eq 0 ] || { grep -E "FAIL|rror" "$work/report.txt" | head -n 40; die "pathcheck $how exited with $rc, expected 0"; }
  ;;
bug)
  pathcheck=$1 repo=$2 suite=$3 work=$4 bug=$5 case_prefix=$6 output=$7
  need_venv "$repo"
  rm -rf "$work" && mkdir -p "$work" || die "cannot make $work"
  "$PY" "$repo/adapters/python/path_numpy.py" "$suite" "$work/results" --quiet --plant-bug "$bug" ||
    die "path_numpy.py --plant-bug $bug exited with status $? (it must write results, for validate to judge)"
  "$pathcheck" validate --suite "$suite" --results "$work/results" >"$work/report.txt" 2>&1
  rc=$?
  tail -n 2 "$work/report.txt"
  [ $rc -eq 1 ] || die "validate exited with $rc for --plant-bug $bug, expected 1 (rejected)"
  # A table row: the case name, then the output name as a word, then (somewhere) FAIL.
  grep -Eq "^${case_prefix}[A-Za-z0-9_.-]*[[:space:]]+${output}[[:space:]].*FAIL" "$work/report.txt" ||
    die "the report does not name output '$output' of case $case_prefix* as failing (see $work/report.txt)"
  echo "rejected as it must be: --plant-bug $bug fails $output of $(grep -Eo "^${case_prefix}[A-Za-z0-9_.-]*" "$work/report.txt" | head -n 1)"
  ;;
*)
  echo "usage: $0 gen|unit|pass|bug ..." >&2
  exit 2
  ;;
esac
