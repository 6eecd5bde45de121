// pathcheck eval: evaluates an oracle on the inputs of a case file and writes o and lse (f64);
// with `do` in the file also the gradients (closed-form backward), with --decode the decode
// oracle's outputs and final key cache.
#include "eval_command.hpp"

#include <filesystem>
#include <iostream>

#include "arguments.hpp"
#include "command_options.hpp"
#include "heartbeat.hpp"
#include "path/backward.hpp"
#include "path/decode.hpp"
#include "path/forward.hpp"
#include "path/io/problem_file.hpp"

namespace pathcheck {

CommandLine eval_command_line() {
  return CommandLine("pathcheck eval --in CASE.safetensors --out RESULT.safetensors [options]",
                     "Evaluates an oracle on the inputs of a file (q, k, v, w, beta; optional g, cu_seqlens; metadata "
                     "scale, gate_convention) and writes o [B,T,HQ,Dv] and lse [B,T,HQ] in f64. When the file holds "
                     "`do` [B,T,HQ,Dv], also the gradients of sum(do * o): dq, dk, dv, dw, dbeta and (gated) dg, by "
                     "the closed-form backward. A conformance case file is a valid input.")
      .option("--in", "CASE", "the input file (never written)")
      .option("--out", "RESULT", "the output file (an existing one is kept unless --force)")
      .option("--oracle", "ALG", "naive, ut or blockwise (default blockwise)")
      .option("--block", "N", "block size of the blockwise oracle and of prefill (default 64)")
      .option("--precision", "P", "double (default), quad or mp100 (about 100 digits; minutes for T in the hundreds)")
      .flag("--decode", "run each sequence token by token through the key cache; also writes k_cache [B,T,H,D]")
      .option("--prefill", "N", "with --decode: the first N tokens of each sequence go into the cache by prefill")
      .flag("--force", kForceHelp)
      .flag("--quiet", "no progress lines")
      .footer("Exit status: 0 written, 1 a bad input file (named with the tensor and the problem), 2 a bad command line.");
}

namespace {

using path::from_doubles;
using path::shape_text;
using path::to_doubles;

struct EvalSettings {
  path::ForwardOptions options;
  std::string precision = "double";
  bool decode = false;
  path::index_t prefill = 0;
};

EvalSettings settings_from(const Arguments& a) {
  EvalSettings s;
  const std::string oracle = a.value_or("--oracle", "blockwise");
  const auto algorithm = path::parse_algorithm(oracle);
  if (!algorithm || *algorithm == path::Algorithm::naive_matrix)
    throw UsageError("--oracle: unknown oracle '" + oracle + "' (expected naive, ut or blockwise)");
  s.options.algorithm = *algorithm;
  s.options.block_size = a.integer_or("--block", 64);
  if (s.options.block_size < 1) throw UsageError("--block: block size must be at least 1");
  s.precision = a.value_or("--precision", "double");
  if (s.precision != "double" && s.precision != "quad" && s.precision != "mp100")
    throw UsageError("--precision: unknown precision '" + s.precision + "' (expected double, quad or mp100)");
  s.decode = a.has("--decode");
  if (a.has("--prefill") && !s.decode) throw UsageError("--prefill needs --decode");
  s.prefill = a.integer_or("--prefill", 0);
  if (s.prefill < 0) throw UsageError("--prefill: the number of prefilled tokens must be at least 0");
  return s;
}


// Everything eval computes, in f64 for writing.
struct Outputs {
  std::vector<double> o, lse, k_cache;
  path::BackwardResult<double> gradients;
  bool has_gradients = false;
};

template <class S>
void evaluate_in(const path::Problem<double>& pd, const EvalSettings& s, const std::vector<double>* dO, Outputs& out) {
  const path::Problem<S> p = path::convert_problem<S>(pd);
  if (s.decode) {
    const path::DecodeResult<S> r = path::decode(p, path::DecodeOptions{s.prefill, s.options, s.options.block_size});
    out.o = to_doubles(r.o);
    out.lse = to_doubles(r.lse);
    out.k_cache = to_doubles(r.k_cache);
  } else {
    const path::ForwardResult<S> r = path::forward(p, s.options);
    out.o = to_doubles(r.o);
    out.lse = to_doubles(r.lse);
  }
  if (!dO) return;
  const path::BackwardResult<S> g = path::backward(p, from_doubles<S>(*dO));
  out.gradients = {g.shape, to_doubles(g.dq), to_doubles(g.dk), to_doubles(g.dv), to_doubles(g.dw),
                   to_doubles(g.dbeta), to_doubles(g.dg)};
  out.has_gradients = true;
}

Outputs evaluate(const path::Problem<double>& p, const EvalSettings& s, const std::vector<double>* dO) {
  Outputs out;
  if (s.precision == "quad") evaluate_in<path::quad>(p, s, dO, out);
  else if (s.precision == "mp100") evaluate_in<path::mp100>(p, s, dO, out);
  else evaluate_in<double>(p, s, dO, out);
  return out;
}


// `do`, when the file has it: a floating tensor of o's shape [B, T, HQ, Dv] with finite values.
const std::vector<double>* output_gradient(const path::io::TensorFile& f, const path::Problem<double>& p) {
  if (!f.has("do")) return nullptr;
  const path::io::Tensor& t = f.require("do");
  const path::Shape& s = p.shape;
  const std::vector<int64_t> want{s.B, s.T, s.HQ, s.Dv};
  const auto fail = [&](const std::string& problem) {
    throw path::io::FileError(f.source + ": tensor 'do': " + problem);
  };
  using path::io::DType;
  if (t.dtype != DType::F64 && t.dtype != DType::F32 && t.dtype != DType::F16 && t.dtype != DType::BF16)
    fail("unsupported dtype " + std::string(path::io::dtype_name(t.dtype)) + " (expected F64, F32, F16 or BF16)");
  if (t.shape != want) fail("has shape " + shape_text(t.shape) + ", expected the shape of o " + shape_text(want));
  try {
    path::validate_output_gradient(p, t.values);
  } catch (const path::InvalidProblem& e) {
    throw path::io::FileError(f.source + ": " + e.what());
  }
  return &t.values;
}

void put_gradients(path::io::TensorFile& result, const path::BackwardResult<double>& g, bool gated) {
  const path::Shape& s = g.shape;
  path::io::put_tensor(result, "dq", {s.B, s.T, s.HQ, s.D}, g.dq);
  path::io::put_tensor(result, "dk", {s.B, s.T, s.H, s.D}, g.dk);
  path::io::put_tensor(result, "dv", {s.B, s.T, s.H, s.Dv}, g.dv);
  path::io::put_tensor(result, "dw", {s.B, s.T, s.H, s.D}, g.dw);
  path::io::put_tensor(result, "dbeta", {s.B, s.T, s.H}, g.dbeta);
  if (gated) path::io::put_tensor(result, "dg", {s.B, s.T, s.HQ}, g.dg);
  result.metadata["gradients"] = "closed-form backward";
}

path::io::TensorFile result_file(const Outputs& r, const path::Problem<double>& p, const EvalSettings& s,
                                 const std::string& in) {
  const path::Shape& sh = p.shape;
  path::io::TensorFile result;
  path::io::put_tensor(result, "o", {sh.B, sh.T, sh.HQ, sh.Dv}, r.o);
  path::io::put_tensor(result, "lse", {sh.B, sh.T, sh.HQ}, r.lse);
  if (s.decode) {
    path::io::put_tensor(result, "k_cache", {sh.B, sh.T, sh.H, sh.D}, r.k_cache);
    result.metadata["mode"] = "decode";
    result.metadata["prefill"] = std::to_string(s.prefill);
  }
  if (r.has_gradients) put_gradients(result, r.gradients, p.has_gate());
  result.metadata["oracle"] = std::string(path::to_string(s.options.algorithm));
  if (s.options.algorithm == path::Algorithm::blockwise || s.decode)
    result.metadata["block"] = std::to_string(s.options.block_size);
  result.metadata["precision"] = s.precision;
  result.metadata["source"] = in;
  return result;
}

void refuse_overwriting_input(const std::string& in, const std::string& out) {
  std::error_code ec;
  if (std::filesystem::exists(out) && std::filesystem::equivalent(in, out, ec))
    throw UsageError("--out names the input file " + in + "; refusing to write over the input");
}

}  // namespace

int run_eval(const std::vector<std::string>& args) {
  const Arguments a = eval_command_line().parse(args);
  const std::string in = a.required("--in"), out = a.required("--out");
  const EvalSettings s = settings_from(a);
  refuse_overwriting_input(in, out);
  std::error_code ec;
  if (std::filesystem::exists(out, ec) && !a.has("--force"))  // before minutes of arithmetic, not after
    throw path::io::FileError(out + ": already exists; use --force to replace it");
  const path::io::TensorFile file = path::io::read_safetensors(in);
  const path::io::CaseInputs inputs = path::io::read_problem(file);
  const path::Shape& sh = inputs.problem.shape;
  if (s.prefill > sh.T)
    throw UsageError("--prefill: " + std::to_string(s.prefill) + " tokens exceed the sequence length T = " +
                     std::to_string(sh.T) + " of " + in);
  const std::vector<double>* dO = output_gradient(file, inputs.problem);
  Outputs r;
  {
    // mp100 takes minutes on a few hundred tokens: say what runs, and that it still does.
    Heartbeat beat(a.has("--quiet") ? nullptr : &std::cerr,
                   "pathcheck eval: " + std::string(s.decode ? "decode" : "forward") + (dO ? " and backward" : "") +
                       " at " + s.precision + " (T=" + std::to_string(sh.T) + ", HQ=" + std::to_string(sh.HQ) +
                       ", D=" + std::to_string(sh.D) + ")");
    r = evaluate(inputs.problem, s, dO);
  }
  path::io::write_safetensors(out, result_file(r, inputs.problem, s, in), a.has("--force"));
  std::cout << "pathcheck eval: " << in << " -> " << out << " (" << (s.decode ? "decode, " : "") << "oracle "
            << path::to_string(s.options.algorithm) << ", precision " << s.precision << (dO ? ", gradients" : "")
            << ", B=" << sh.B << " T=" << sh.T << " HQ=" << sh.HQ << " H=" << sh.H << " D=" << sh.D
            << " Dv=" << sh.Dv << ")\n";
  return 0;
}

}  // namespace pathcheck
