#!/usr/bin/env bash
# Builds libpath_torch_kernels.so here (no GPU needed) and puts it, with the commit it was built from,
# in build-torch/ (ignored by git: /build*/), ready to be carried to the GPU machine:
#   bash adapters/torch/prebuild.sh            (BUILD_DIR=build-P JOBS=2 by default)
# The .so links the kernels' static libraries; it needs only the CUDA runtime (libcudart.so.13) and
# the C++ runtime there.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build-P}
jobs=${JOBS:-2}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90a \
    -DCMAKE_DISABLE_FIND_PACKAGE_GMP=ON -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache
fi
cmake --build "$build" --target path_torch_kernels -j"$jobs"
mkdir -p build-torch
cp "$build/adapters/torch/libpath_torch_kernels.so" build-torch/
{ git rev-parse --short HEAD; git status --porcelain --untracked-files=no | sed 's/^/changed: /'; } > build-torch/COMMIT
ls -la build-torch
ldd build-torch/libpath_torch_kernels.so | sed 's/^/  /'
