#include "path/io/problem_file.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "path/validate.hpp"

namespace path::io {
namespace {

[[noreturn]] void fail(const TensorFile& f, const std::string& tensor, const std::string& problem) {
  throw FileError(f.source + ": tensor '" + tensor + "': " + problem);
}


const Tensor& floating_input(const TensorFile& f, const std::string& name, std::size_t rank) {
  const Tensor& t = f.require(name);
  if (t.dtype != DType::F64 && t.dtype != DType::F32 && t.dtype != DType::F16 && t.dtype != DType::BF16)
    fail(f, name, "unsupported dtype " + std::string(dtype_name(t.dtype)) + " (expected F64, F32, F16 or BF16)");
  if (t.shape.size() != rank)
    fail(f, name, "has rank " + std::to_string(t.shape.size()) + " (shape " + shape_text(t.shape) + "), expected rank " +
                      std::to_string(rank));
  return t;
}

void expect_shape(const TensorFile& f, const std::string& name, const Tensor& t, const std::vector<int64_t>& want) {
  if (t.shape != want) fail(f, name, "has shape " + shape_text(t.shape) + ", expected " + shape_text(want));
}

double parse_scale(const TensorFile& f, const std::string& text) {
  errno = 0;
  char* end = nullptr;
  const double x = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(x))
    throw FileError(f.source + ": metadata 'scale': '" + text + "' is not a finite decimal number");
  return x;
}

std::vector<index_t> read_cu_seqlens(const TensorFile& f) {
  const Tensor& t = f.require("cu_seqlens");
  if (t.dtype != DType::I64 && t.dtype != DType::I32)
    fail(f, "cu_seqlens", "has dtype " + std::string(dtype_name(t.dtype)) + ", expected I64 or I32");
  if (t.shape.size() != 1) fail(f, "cu_seqlens", "must be 1-D, has shape " + shape_text(t.shape));
  std::vector<index_t> cu;
  for (double x : t.values) cu.push_back(static_cast<index_t>(x));
  return cu;
}

}  // namespace

CaseInputs read_problem(const TensorFile& f) {
  const Tensor& q = floating_input(f, "q", 4);
  const Tensor& k = floating_input(f, "k", 4);
  const Tensor& v = floating_input(f, "v", 4);
  const Tensor& w = floating_input(f, "w", 4);
  const Tensor& beta = floating_input(f, "beta", 3);
  Shape s{q.shape[0], q.shape[1], q.shape[2], k.shape[2], q.shape[3], v.shape[3]};
  expect_shape(f, "k", k, {s.B, s.T, s.H, s.D});
  expect_shape(f, "v", v, {s.B, s.T, s.H, s.Dv});
  expect_shape(f, "w", w, {s.B, s.T, s.H, s.D});
  expect_shape(f, "beta", beta, {s.B, s.T, s.H});
  CaseInputs in;
  Problem<double>& p = in.problem;
  in.input_dtype = q.dtype;
  p.shape = s;
  p.q = q.values;
  p.k = k.values;
  p.v = v.values;
  p.w = w.values;
  p.beta = beta.values;
  if (f.has("g")) {
    const Tensor& g = floating_input(f, "g", 3);
    expect_shape(f, "g", g, {s.B, s.T, s.HQ});
    p.g = g.values;
    const auto it = f.metadata.find("gate_convention");
    if (it == f.metadata.end())
      throw FileError(f.source + ": metadata 'gate_convention' is required when tensor 'g' is present (\"paper\" or \"fla\")");
    const auto conv = parse_gate_convention(it->second);
    if (!conv)
      throw FileError(f.source + ": metadata 'gate_convention': unknown convention '" + it->second +
                      "' (expected \"paper\" or \"fla\")");
    p.gate_convention = *conv;
  }
  if (f.has("cu_seqlens")) p.cu_seqlens = read_cu_seqlens(f);
  const auto scale = f.metadata.find("scale");
  p.scale = scale != f.metadata.end() ? parse_scale(f, scale->second) : 1.0 / std::sqrt(static_cast<double>(s.D));
  try {
    validate(p);
  } catch (const InvalidProblem& e) {
    throw FileError(f.source + ": " + e.what());
  }
  return in;
}

void put_tensor(TensorFile& file, const std::string& name, std::vector<int64_t> shape, std::vector<double> values,
                DType dtype) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.values = std::move(values);
  file.tensors[name] = std::move(t);
}

}  // namespace path::io
