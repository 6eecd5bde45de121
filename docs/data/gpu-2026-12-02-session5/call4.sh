#!/usr/bin/env bash
# Session 5 call 4: the fused decode with per-group P*V, expf and float4 row reads (#17): timed
# alone, then proved on the GPU (tests, racecheck, memcheck, suites), then profiled.
set -u
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
mkdir -p /tmp/b4 && tar xJf .carry/bin4.tar.xz -C /tmp/b4 && B=/tmp/b4/bin4
L=$OUT/log; mkdir -p $L
{ date -u; nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv; } > $L/env.txt 2>&1
finish() { tar czf $OUT/logs.tar.gz -C $OUT log; }
echo "[$(el)] decode bench"
timeout 60 $B/path_gpu_decode_bench --kernel fused > $L/decode-fused.txt 2>&1; echo "rc $?" >> $L/decode-fused.txt
timeout 45 $B/path_gpu_decode_bench --kernel fused --cache f32 > $L/decode-fused-f32cache.txt 2>&1; echo "rc $?" >> $L/decode-fused-f32cache.txt
finish
echo "[$(el)] correctness (parallel)"
F='Dtypes/GpuFusedDecode.PassesTheConformanceJudgeFusedAndPlain/bf16'
( PATH_GPU_TIME_BUDGET=150 OUT=$L/check bash scripts/gpu-check.sh --prebuilt $B --phases pathcheck > $L/check.txt 2>&1 ) &
( export PATH_GPU_REQUIRE_DEVICE=1; timeout 120 $B/test_gpu_decode_fused > $L/test_fused.txt 2>&1; echo "rc $?" >> $L/test_fused.txt
  timeout 80 $B/test_gpu_backward_decode > $L/test_bd.txt 2>&1; echo "rc $?" >> $L/test_bd.txt ) &
( timeout 170 compute-sanitizer --tool racecheck $B/test_gpu_decode_fused --gtest_filter=$F > $L/san-fused-racecheck.txt 2>&1; echo "rc $?" >> $L/san-fused-racecheck.txt ) &
( timeout 170 compute-sanitizer --tool memcheck --leak-check full $B/test_gpu_decode_fused --gtest_filter=$F > $L/san-fused-memcheck.txt 2>&1; echo "rc $?" >> $L/san-fused-memcheck.txt ) &
for d in bf16 fp16; do
  ( nice -n 5 timeout 190 $B/pathcheck fuzz --impl cuda --dtype $d --seconds 170 --properties decode-vs-forward,oracle \
      --out $L/fuzz-$d --report-json $L/fuzz-$d.json > $L/fuzz-$d.log 2>&1; echo "rc $?" >> $L/fuzz-$d.log ) &
done
while [ -n "$(jobs -rp)" ] && [ "$(el)" -lt 215 ]; do sleep 3; done
echo "[$(el)] correctness done (still running: $(jobs -rp | wc -l))"
finish
echo "[$(el)] ncu decode"
timeout 70 ncu --kernel-name regex:fused_step --launch-skip 5 --launch-count 1 --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis --section InstructionStats --section SchedulerStats $B/path_gpu_decode_bench --kernel fused --reps 8 > $L/ncu-decode.txt 2>&1
echo "[$(el)] done"
finish
