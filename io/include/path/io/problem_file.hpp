#pragma once
// Reading a PaTH problem from a safetensors case file, and writing results back.
// Tensor names and layout follow flash-linear-attention ([B, T, heads, dim]); see docs/file-format.md.
//   inputs:   q [B,T,HQ,D], k [B,T,H,D], v [B,T,H,Dv], w [B,T,H,D], beta [B,T,H],
//             optional g [B,T,HQ], optional cu_seqlens [N+1] (integer)
//   metadata: scale (decimal string; default D^-1/2), gate_convention ("paper" | "fla"; required with g)
// Every problem is reported as FileError "<file>: tensor '<name>': <problem>".
#include <string>

#include "path/io/safetensors.hpp"
#include "path/problem.hpp"

namespace path::io {

struct CaseInputs {
  Problem<double> problem;
  DType input_dtype = DType::F64;  // the dtype q was stored in
};

CaseInputs read_problem(const TensorFile& file);

// Adds a tensor of doubles with the given shape (stored as F64 unless dtype says otherwise).
void put_tensor(TensorFile& file, const std::string& name, std::vector<int64_t> shape, std::vector<double> values,
                DType dtype = DType::F64);

}  // namespace path::io
