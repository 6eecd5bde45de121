#!/usr/bin/env bash
# The speed half of a GPU session (docs/performance-gpu.md), after scripts/gpu-check.sh proved the
# kernels: our kernels' own benchmarks, then the PyTorch op's tests and the one-run peer benchmark
# (adapters/torch/gpu-run.sh: ours, cuDNN SDPA, FA2 SDPA, flash-linear-attention). Nothing else runs
# on the GPU meanwhile, so the timings are the GPU's alone.
# Usage: scripts/gpu-perf.sh PREBUILT_DIR   (the programs of gpu-check.sh --prebuild-only)
# Env: PATH_GPU_PERF_BUDGET (s, default 330: the op's tests and the peer benchmark get what the
#      kernel benchmarks leave). Writes $OUT/forward-bench.txt, $OUT/decode-bench.txt and what
#      gpu-run.sh writes.
set -uo pipefail
cd "$(dirname "$0")/.."
PRE=${1:?usage: scripts/gpu-perf.sh PREBUILT_DIR}
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
start=$(date +%s)
budget=${PATH_GPU_PERF_BUDGET:-330}
left() { echo $(( budget - ($(date +%s) - start) )); }
echo "gpu-perf: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1 | head -1), programs from $(cut -c1-12 "$PRE/COMMIT" 2>/dev/null)"
for dt in bf16 fp16; do
  echo "== path_gpu_forward_bench --dtype $dt (tensor-core), $(left) s left" | tee -a "$OUT/forward-bench.txt"
  timeout 90 "$PRE/path_gpu_forward_bench" --dtype "$dt" --kernel tensor-core --T 1024,4096,16384 --iters 10 --warmup 2 \
    >> "$OUT/forward-bench.txt" 2>&1 || echo "forward bench $dt: rc=$?" | tee -a "$OUT/forward-bench.txt"
done
echo "== path_gpu_forward_bench --kernel plain (T = 1K, 4K), $(left) s left" | tee -a "$OUT/forward-bench.txt"
timeout 60 "$PRE/path_gpu_forward_bench" --kernel plain --T 1024,4096 --D 64 --iters 3 --warmup 1 \
  >> "$OUT/forward-bench.txt" 2>&1 || echo "plain forward bench: rc=$?" | tee -a "$OUT/forward-bench.txt"
cat "$OUT/forward-bench.txt"
for k in fused plain; do
  echo "== path_gpu_decode_bench --kernel $k, $(left) s left" | tee -a "$OUT/decode-bench.txt"
  timeout 90 "$PRE/path_gpu_decode_bench" --kernel "$k" --reps 30 >> "$OUT/decode-bench.txt" 2>&1 \
    || echo "decode bench $k: rc=$?" | tee -a "$OUT/decode-bench.txt"
done
cat "$OUT/decode-bench.txt"
if [ -f build-torch/libpath_torch_kernels.so ] && [ "$(left)" -gt 60 ]; then
  PATH_TORCH_RUN_BUDGET=$(left) OUT=$OUT bash adapters/torch/gpu-run.sh
else
  echo "gpu-perf: the op and the peer benchmark not run ($(left) s left, or build-torch/ missing)"
fi
echo "gpu-perf: done in $(( $(date +%s) - start )) s"
