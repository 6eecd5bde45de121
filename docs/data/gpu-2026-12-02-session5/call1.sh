#!/usr/bin/env bash
# Session 5 call 1: decode bandwidth (#17), forward variants (#15), tc test + racecheck + quick suites + reproducers (#14).
set -u
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
mkdir -p /tmp/b && tar xJf .carry/bin1.tar.xz -C /tmp/b && B=/tmp/b/bin1
L=$OUT/log; mkdir -p $L
{ date -u; git rev-parse HEAD; nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv; } > $L/env.txt 2>&1
echo "[$(el)] decode bench fused"
timeout 120 $B/path_gpu_decode_bench --kernel fused > $L/decode-fused.txt 2>&1; echo "rc $?" >> $L/decode-fused.txt
echo "[$(el)] decode bench plain"
timeout 90 $B/path_gpu_decode_bench --kernel plain > $L/decode-plain.txt 2>&1; echo "rc $?" >> $L/decode-plain.txt
echo "[$(el)] forward variants"
for v in "NS3:" "NS2:PATH_GPU_FORWARD_TC_SPLIT=2" "NS1:PATH_GPU_FORWARD_TC_SPLIT=1" "PRESPLIT3:PATH_GPU_FORWARD_TC_PRESPLIT=1" "PRESPLIT2:PATH_GPU_FORWARD_TC_PRESPLIT=1 PATH_GPU_FORWARD_TC_SPLIT=2"; do
  n=${v%%:*}; e=${v#*:}
  echo "== $n ($e)" >> $L/forward.txt
  env $e timeout 60 $B/path_gpu_forward_bench --dtype bf16 --kernel tensor-core --D 64,128 --T 4096 --iters 5 --warmup 1 >> $L/forward.txt 2>&1; echo "rc $?" >> $L/forward.txt
done
echo "[$(el)] tc test + racecheck (parallel)"
( PATH_GPU_REQUIRE_DEVICE=1 timeout 240 $B/test_gpu_forward_tc > $L/test_tc.txt 2>&1; echo "rc $?" >> $L/test_tc.txt ) &
( timeout 240 compute-sanitizer --tool racecheck $B/test_gpu_decode_fused --gtest_filter='Dtypes/GpuFusedDecode.PassesTheConformanceJudgeFusedAndPlain/bf16' > $L/race-fused.txt 2>&1; echo "rc $?" >> $L/race-fused.txt ) &
P=$B/pathcheck
for d in bf16 fp16 fp32; do timeout 60 $P run --impl cuda --builtin quick --dtype $d > $L/quick-$d.txt 2>&1; echo "rc $?" >> $L/quick-$d.txt; done
for d in bf16 fp16 fp32; do
  $P refresh --suite tests/data/gpu-fuzz-2026-12-02-c/$d --out /tmp/r-$d > $L/refresh-$d.txt 2>&1
  for k in plain fused; do PATH_GPU_DECODE_KERNEL=$k timeout 60 $P run --impl cuda --suite /tmp/r-$d > $L/replay-$d-$k.txt 2>&1; echo "rc $?" >> $L/replay-$d-$k.txt; done
done
wait
echo "[$(el)] ncu presplit"
PATH_GPU_FORWARD_TC_PRESPLIT=1 timeout 100 ncu --kernel-name regex:main_kernel --launch-count 1 --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section ComputeWorkloadAnalysis $B/path_gpu_forward_bench --dtype bf16 --kernel tensor-core --D 64 --T 4096 --iters 1 --warmup 0 > $L/ncu-presplit.txt 2>&1
echo "[$(el)] done"
tar czf $OUT/logs.tar.gz -C $OUT log
