#!/usr/bin/env bash
# Session 5 call 3: the new fused decode (#17) timed alone, its correctness on the GPU (tests,
# sanitizers, suites), then ncu and the peers in one run (FLA's decode step, the copy floor, the
# forward at T = 4K with the pre-split default).
set -u
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
mkdir -p /tmp/b3 && tar xJf .carry/bin3.tar.xz -C /tmp/b3 && B=/tmp/b3/bin3
L=$OUT/log; mkdir -p $L
{ date -u; nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv; } > $L/env.txt 2>&1
finish() { tar czf $OUT/logs.tar.gz -C $OUT log; }
echo "[$(el)] decode bench fused (new)"
timeout 60 $B/path_gpu_decode_bench --kernel fused > $L/decode-fused.txt 2>&1; echo "rc $?" >> $L/decode-fused.txt
timeout 45 $B/path_gpu_decode_bench --kernel fused --cache f32 > $L/decode-fused-f32cache.txt 2>&1; echo "rc $?" >> $L/decode-fused-f32cache.txt
finish
echo "[$(el)] correctness (parallel)"
F='Dtypes/GpuFusedDecode.PassesTheConformanceJudgeFusedAndPlain/bf16'
( PATH_GPU_TIME_BUDGET=240 OUT=$L/check bash scripts/gpu-check.sh --prebuilt $B --phases pathcheck > $L/check.txt 2>&1 ) &
( export PATH_GPU_REQUIRE_DEVICE=1; timeout 150 $B/test_gpu_decode_fused > $L/test_fused.txt 2>&1; echo "rc $?" >> $L/test_fused.txt
  timeout 100 $B/test_gpu_backward_decode > $L/test_bd.txt 2>&1; echo "rc $?" >> $L/test_bd.txt ) &
( timeout 220 compute-sanitizer --tool racecheck $B/test_gpu_decode_fused --gtest_filter=$F > $L/san-fused-racecheck.txt 2>&1; echo "rc $?" >> $L/san-fused-racecheck.txt ) &
( timeout 220 compute-sanitizer --tool memcheck --leak-check full $B/test_gpu_decode_fused --gtest_filter=$F > $L/san-fused-memcheck.txt 2>&1; echo "rc $?" >> $L/san-fused-memcheck.txt ) &
( export PATH_GPU_REQUIRE_DEVICE=1; timeout 100 $B/test_gpu_forward_tc --gtest_filter='TcPresplit.*:Shapes/TcShapes.TensorCoreAndPlainPass/T65_*' > $L/test_tc.txt 2>&1; echo "rc $?" >> $L/test_tc.txt
  timeout 110 compute-sanitizer --tool racecheck $B/test_gpu_forward_tc --gtest_filter='TcPresplit.*' > $L/san-tc-racecheck.txt 2>&1; echo "rc $?" >> $L/san-tc-racecheck.txt ) &
while [ -n "$(jobs -rp)" ] && [ "$(el)" -lt 300 ]; do sleep 3; done
echo "[$(el)] correctness done (still running: $(jobs -rp | wc -l))"
finish
echo "[$(el)] ncu decode"
timeout 60 ncu --kernel-name regex:fused_step --launch-skip 5 --launch-count 1 --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis $B/path_gpu_decode_bench --kernel fused --reps 8 > $L/ncu-decode.txt 2>&1
finish
echo "[$(el)] peers"
left=$(( 560 - $(el) ))
PATH_TORCH_SKIP_TESTS=1 PATH_TORCH_RUN_BUDGET=$left OUT=$L/peers \
  BENCH_ARGS="--dtypes bf16 --dims 64 --Ts 4096 --modes fwd --no-T64k --reps 10 --decode-steps 30 --peers cudnn,fla,ours" \
  timeout $(( left + 10 )) bash adapters/torch/gpu-run.sh > $L/peers.txt 2>&1; echo "rc $?" >> $L/peers.txt
echo "[$(el)] done"
finish
