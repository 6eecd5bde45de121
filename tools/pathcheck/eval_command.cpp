// pathcheck eval: evaluates an oracle on the inputs of a case file and writes o and lse (f64).
#include "eval_command.hpp"

#include <filesystem>
#include <iostream>

#include "arguments.hpp"
#include "path/forward.hpp"
#include "path/io/problem_file.hpp"

namespace pathcheck {

const char* const eval_usage =
    "pathcheck eval --in CASE.safetensors --out RESULT.safetensors\n"
    "               [--oracle naive|ut|blockwise] [--block N] [--precision double|quad|mp100] [--force]\n"
    "  Reads q, k, v, w, beta (optional g, cu_seqlens; metadata scale, gate_convention) and writes\n"
    "  o [B,T,HQ,Dv] and lse [B,T,HQ] in f64. An existing RESULT is kept unless --force is given;\n"
    "  the input file is never written.\n";

namespace {

struct EvalSettings {
  path::ForwardOptions options;
  std::string precision = "double";
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
  return s;
}

template <class S>
path::ForwardResult<double> evaluate_in(const path::Problem<double>& p, const path::ForwardOptions& opt) {
  const path::ForwardResult<S> r = path::forward(path::convert_problem<S>(p), opt);
  path::ForwardResult<double> d{r.shape, {}, {}};
  for (const S& x : r.o) d.o.push_back(path::to_double(x));
  for (const S& x : r.lse) d.lse.push_back(path::to_double(x));
  return d;
}

path::ForwardResult<double> evaluate(const path::Problem<double>& p, const EvalSettings& s) {
  if (s.precision == "quad") return evaluate_in<path::quad>(p, s.options);
  if (s.precision == "mp100") return evaluate_in<path::mp100>(p, s.options);
  return evaluate_in<double>(p, s.options);
}

void refuse_overwriting_input(const std::string& in, const std::string& out) {
  std::error_code ec;
  if (std::filesystem::exists(out) && std::filesystem::equivalent(in, out, ec))
    throw UsageError("--out names the input file " + in + "; refusing to write over the input");
}

}  // namespace

int run_eval(const std::vector<std::string>& args) {
  const Arguments a(args, {"--in", "--out", "--oracle", "--block", "--precision"}, {"--force"});
  const std::string in = a.required("--in"), out = a.required("--out");
  const EvalSettings s = settings_from(a);
  refuse_overwriting_input(in, out);
  const path::io::TensorFile file = path::io::read_safetensors(in);
  const path::io::CaseInputs inputs = path::io::read_problem(file);
  const path::Shape& sh = inputs.problem.shape;
  const path::ForwardResult<double> r = evaluate(inputs.problem, s);

  path::io::TensorFile result;
  path::io::put_tensor(result, "o", {sh.B, sh.T, sh.HQ, sh.Dv}, r.o);
  path::io::put_tensor(result, "lse", {sh.B, sh.T, sh.HQ}, r.lse);
  result.metadata["oracle"] = std::string(path::to_string(s.options.algorithm));
  if (s.options.algorithm == path::Algorithm::blockwise) result.metadata["block"] = std::to_string(s.options.block_size);
  result.metadata["precision"] = s.precision;
  result.metadata["source"] = in;
  path::io::write_safetensors(out, result, a.has("--force"));
  std::cout << "pathcheck eval: " << in << " -> " << out << " (oracle " << path::to_string(s.options.algorithm)
            << ", precision " << s.precision << ", B=" << sh.B << " T=" << sh.T << " HQ=" << sh.HQ << " H=" << sh.H
            << " D=" << sh.D << " Dv=" << sh.Dv << ")\n";
  return 0;
}

}  // namespace pathcheck
