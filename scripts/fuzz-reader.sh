#!/usr/bin/env bash
# Fuzzes the file readers with libFuzzer under AddressSanitizer and UBSan (docs/conformance.md):
#   scripts/fuzz-reader.sh [SECONDS]     (default 60: each target runs SECONDS)
# Targets: fuzz_safetensors_reader (the safetensors reader + write/read round trip) and
# fuzz_case_reader (conformance case files). Seed corpora: fuzz/corpus/{safetensors,case}; the
# corpus grown during the run is kept in $BUILD/corpus-*, crashes in $BUILD/artifacts/.
# Exit status: 0 when clean, non-zero when a target found a crash, a leak or a sanitizer report.
# Environment: PATH_FUZZ_BUILD_DIR (default build-fuzz), CXX_FUZZ (default clang++), JOBS (2).
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: $0 [SECONDS]   (a positive number of seconds per target; default 60)" >&2
  exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${PATH_FUZZ_BUILD_DIR:-$root/build-fuzz}"
cxx="${CXX_FUZZ:-$(command -v clang++ || command -v clang++-14 || true)}"
if [ -z "$cxx" ]; then
  echo "$0: clang++ not found (apt-get install clang)" >&2
  exit 2
fi

cmake -S "$root/fuzz" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzz_safetensors_reader fuzz_case_reader -j "${JOBS:-2}"

mkdir -p "$build/artifacts"
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
status=0
for pair in "fuzz_safetensors_reader:safetensors" "fuzz_case_reader:case"; do
  target="${pair%%:*}"
  seeds="$root/fuzz/corpus/${pair##*:}"
  corpus="$build/corpus-${pair##*:}"
  mkdir -p "$corpus"
  echo "== $target for ${seconds}s (seed corpus $seeds)"
  log="$build/$target.log"
  if "$build/$target" "$corpus" "$seeds" -dict="$root/fuzz/safetensors.dict" -max_total_time="$seconds" \
       -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
       -artifact_prefix="$build/artifacts/$target-" >"$log" 2>&1; then
    tail -n 12 "$log"
  else
    tail -n 80 "$log"
    status=1
  fi
done
if [ "$status" -ne 0 ]; then
  echo "fuzz-reader: FAILED (reproduce with: $build/<target> $build/artifacts/<file>)" >&2
else
  echo "fuzz-reader: clean"
fi
exit "$status"
