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
#include <vector>

#include "path/backward.hpp"
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

// The backward in double (the gradients of Loss = sum dO . o, docs/backward.md): the oracle's own
// forward (o, lse) on the device, then its own backward kernels (gpu/oracle/src/
// oracle_backward_kernel.cuh): query-parallel reverse mode, the other formulation from the kernel
// under test's key-parallel sweeps. GQA, varlen, both gate conventions, any D and Dv up to 256.
// Workspace: 3 packed causal arrays of doubles per (sequence, query head), 12 L^2 HQ bytes for a
// sequence of length L. Sums over queries are double atomics: not bitwise reproducible, each run
// within double rounding of the exact gradient (tests/test_gpu_forward.cpp checks it against the
// CPU closed form under the forward error model's scale and against mp100). Validates p and dO first.
BackwardResult<double> gpu_oracle_backward(const Problem<double>& p, const std::vector<double>& dO,
                                           OracleStats* stats = nullptr);

// The decode key cache by its definition (docs/decode.md (1)): per sequence, k_j^(L-1) =
// H_{L-1} ... H_{j+1} k_j, each key carried through the later transformations one at a time, in
// double, O(L^2 D); [B, T, H, D]. The yardstick for the decode kernels' k_cache at long T (the CPU's
// is too slow there), independent of their linear-time prefill.
std::vector<double> gpu_oracle_key_cache(const Problem<double>& p, OracleStats* stats = nullptr);

}  // namespace path::gpu
