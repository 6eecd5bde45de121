#pragma once
// The fp64 GPU oracle (docs/design.md section 3): the forward (o, lse) of the full problem (GQA,
// varlen via cu_seqlens, both gate conventions, D != Dv) in double on the GPU, for lengths where
// the CPU oracles are too slow (T up to 64K). Algorithm: the naive sweep of docs/algorithms.md §2
// (one Householder step at a time, no factorization) with an online softmax; one CUDA block per
// (sequence, query head, tile of 16 queries), 8 lanes per query, all in double. Its kernel source
// (gpu/oracle/src/oracle_kernel.cuh) is its own and frozen: the kernels under test (gpu/kernels)
// share none of it. Checked against the CPU oracles by
// tests/test_gpu_forward.cpp under the error model of docs/error-model.md. docs/gpu.md has the
// expected running time and what has run on a GPU so far.
#include "path/forward.hpp"
#include "path/problem.hpp"

namespace path::gpu {

template <class S>
using ForwardResult = path::ForwardResult<S>;

// Head dimensions D and Dv up to this are supported (any value 1..256, not only powers of two).
inline constexpr index_t kOracleMaxHeadDim = 256;

struct OracleStats {
  double kernel_ms = 0;  // the gate scan and the sweep, measured with CUDA events
  double total_ms = 0;   // allocation, copies both ways, kernels (host clock)
};

// Validates (path::validate, then the head-dimension limit; throws path::InvalidProblem naming
// the tensor), copies to the device, poisons the outputs (NaN), runs, synchronizes and copies back.
// Every CUDA call is checked: a failure throws path::gpu::CudaError naming the call, file and line.
ForwardResult<double> gpu_oracle_forward(const Problem<double>& p, OracleStats* stats = nullptr);

}  // namespace path::gpu
