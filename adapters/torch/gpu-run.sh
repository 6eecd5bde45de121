#!/usr/bin/env bash
# One call of the device tool: the op's tests, then the peer benchmark, within one time budget.
#   run(kind="nvidia-h200", timeout_s=600, carry=["build-torch", ".deps/wheels"],
#       command="bash adapters/torch/gpu-run.sh")
# Needs build-torch/libpath_torch_kernels.so (bash adapters/torch/prebuild.sh, here) and the wheels of
# flash-linear-attention 0.6.0, fla-core 0.6.0 and einops in .deps/wheels (unpacked to /tmp here), and,
# for a machine without pytest, the wheels of pytest, pluggy, iniconfig, packaging and pygments.
# Env: PATH_TORCH_RUN_BUDGET (s, default 560: tests first, the benchmark gets what is left minus 20 s),
#      PATH_TORCH_SKIP_TESTS=1, PATH_TORCH_SKIP_BENCH=1, BENCH_ARGS (extra arguments to bench-peers.py).
# Writes $OUT/pytest.log, $OUT/bench-peers.json, $OUT/bench-peers.log; prints the table last.
set -uo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
budget=${PATH_TORCH_RUN_BUDGET:-560}
OUT=${OUT:-$PWD/out-torch}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
lib=$PWD/build-torch/libpath_torch_kernels.so
[ -f "$lib" ] || { echo "gpu-run: $lib missing (bash adapters/torch/prebuild.sh first)"; exit 2; }
echo "gpu-run: library built from $(head -1 build-torch/COMMIT 2>/dev/null || echo '?')"
fla=/tmp/path-fla
rm -rf "$fla" && mkdir -p "$fla"
tools=/tmp/path-pytest  # pytest and its dependencies, used only where the machine has no pytest
rm -rf "$tools" && mkdir -p "$tools"
for w in .deps/wheels/*.whl; do
  [ -f "$w" ] || continue
  case "$(basename "$w")" in
    pytest-*|pluggy-*|iniconfig-*|packaging-*|pygments-*) python3 -m zipfile -e "$w" "$tools" ;;
    *) python3 -m zipfile -e "$w" "$fla" ;;
  esac
done
export PYTHONPATH=$PWD/adapters/torch:$fla${PYTHONPATH:+:$PYTHONPATH}
python3 -c 'import pytest' 2>/dev/null || export PYTHONPATH=$PYTHONPATH:$tools
export PATH_TORCH_KERNELS_LIB=$lib PATH_GPU_REQUIRE_DEVICE=1
rc=0
if [ "${PATH_TORCH_SKIP_TESTS:-0}" != 1 ]; then
  timeout 180 python3 -m pytest -q -rs --tb=short adapters/torch >"$OUT/pytest.log" 2>&1
  rc=$?
  echo "gpu-run: pytest rc=$rc ($(($(date +%s) - start)) s)"
  tail -40 "$OUT/pytest.log"
fi
if [ "${PATH_TORCH_SKIP_BENCH:-0}" != 1 ]; then
  left=$((budget - ($(date +%s) - start) - 20))
  if [ "$left" -lt 30 ]; then
    echo "gpu-run: $left s left: benchmark not run"
  else
    python3 scripts/bench-peers.py --budget "$left" --out "$OUT/bench-peers.json" ${BENCH_ARGS:-} \
      >"$OUT/bench-peers.log" 2>&1
    brc=$?
    echo "gpu-run: bench-peers rc=$brc"
    grep -E "^(ROW|FAIL|SKIP)" "$OUT/bench-peers.log" | tail -15
    sed -n '/^mode /,$p' "$OUT/bench-peers.log"
    [ "$brc" -eq 0 ] || rc=$brc
  fi
fi
echo "gpu-run: done in $(($(date +%s) - start)) s, rc=$rc"
exit $rc
