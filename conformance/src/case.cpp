// Conformance case files: CaseSpec helpers and the reader/writer (docs/conformance.md).
#include "path/conformance/case.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>

#include "path/io/problem_file.hpp"
#include "path/validate.hpp"

namespace path::conformance {

using json = nlohmann::json;

std::string_view to_string(Mode m) { return m == Mode::prefill ? "prefill" : "decode"; }

std::optional<Mode> parse_mode(std::string_view s) {
  if (s == "prefill") return Mode::prefill;
  if (s == "decode") return Mode::decode;
  return std::nullopt;
}

std::vector<std::string> output_names(const CaseSpec& spec) {
  std::vector<std::string> names = {"o", "lse"};
  if (spec.mode == Mode::decode) {
    names.push_back("k_cache");
  } else if (spec.gradients) {
    for (const char* n : {"dq", "dk", "dv", "dw", "dbeta"}) names.push_back(n);
    if (spec.gated) names.push_back("dg");
  }
  return names;
}

std::vector<std::int64_t> output_shape(const CaseSpec& spec, std::string_view out) {
  const Shape& s = spec.shape;
  if (out == "o") return {s.B, s.T, s.HQ, s.Dv};
  if (out == "lse" || out == "dg") return {s.B, s.T, s.HQ};
  if (out == "dq") return {s.B, s.T, s.HQ, s.D};
  if (out == "dk" || out == "dw" || out == "k_cache") return {s.B, s.T, s.H, s.D};
  if (out == "dv") return {s.B, s.T, s.H, s.Dv};
  if (out == "dbeta") return {s.B, s.T, s.H};
  throw std::invalid_argument("unknown output '" + std::string(out) + "'");
}

io::DType output_dtype(const CaseSpec& spec, std::string_view out) {
  if (out == "o" || out == "dq" || out == "dk" || out == "dv" || out == "k_cache") return spec.dtype;
  return io::DType::F32;  // lse, dw, dbeta, dg
}

namespace {

[[noreturn]] void fail(const io::TensorFile& f, const std::string& problem) {
  throw io::FileError((f.source.empty() ? std::string("<memory>") : f.source) + ": " + problem);
}

[[noreturn]] void fail_tensor(const io::TensorFile& f, const std::string& tensor, const std::string& problem) {
  fail(f, "tensor '" + tensor + "': " + problem);
}

std::string number_text(double x) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, x);  // shortest round-trip form
  return std::string(buf, r.ptr);
}

const std::string& meta(const io::TensorFile& f, const std::string& key) {
  const auto it = f.metadata.find(key);
  if (it == f.metadata.end()) fail(f, "metadata '" + key + "' is missing (not a pathcheck conformance case?)");
  return it->second;
}

json meta_json(const io::TensorFile& f, const std::string& key) {
  try {
    return json::parse(meta(f, key));
  } catch (const json::exception& e) {
    fail(f, "metadata '" + key + "' is not valid JSON: " + e.what());
  }
}

double json_number(const io::TensorFile& f, const json& j, const std::string& where, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number()) fail(f, where + ": '" + key + "' is missing or not a number");
  const double x = it->get<double>();
  if (!std::isfinite(x) || x < 0) fail(f, where + ": '" + key + "' must be a finite non-negative number");
  return x;
}

std::int64_t parse_integer(const io::TensorFile& f, const std::string& key, const std::string& text) {
  std::int64_t x = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), x);
  if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size())
    fail(f, "metadata '" + key + "': '" + text + "' is not an integer");
  return x;
}

bool parse_bool(const io::TensorFile& f, const std::string& key, const std::string& text) {
  if (text == "true") return true;
  if (text == "false") return false;
  fail(f, "metadata '" + key + "': '" + text + "' is not true or false");
}

json tolerance_json(const Tolerance& t) {
  json j = {{"dtype", io::dtype_name(t.dtype)},       {"max_abs_expected", t.max_abs_expected},
            {"baseline_error", t.baseline_error},     {"c", t.c},
            {"floor_ulps", t.floor_ulps},             {"floor", t.floor},
            {"tolerance", t.tolerance}};
  if (t.model_version >= 2) {  // docs/tolerance.md; the per-row numbers are the tensors row_*_tensor(output)
    j["model"] = t.model_version;
    j["gamma_n"] = t.gamma_n;
    j["row_length"] = t.row_length;
    j["norm_baseline_error"] = t.norm_baseline_error;
    // derived (the reader recomputes and compares them)
    j["measured_baseline_error"] = t.measured_baseline_error;
    j["row_level"] = t.row_level;
    j["arithmetic_level"] = t.arithmetic_level;
    j["arithmetic_floor"] = t.arithmetic_floor;
    j["norm_floor"] = t.norm_floor;
    j["norm_arithmetic_floor"] = t.norm_arithmetic_floor;
    j["norm_envelope"] = t.norm_envelope;
    j["norm_tolerance"] = t.norm_tolerance;
  }
  return j;
}

// The shape of an output's per-row tensors: the output's without its last dimension for a
// [B, T, heads, dim] output, the output's own for a [B, T, heads] one.
std::vector<std::int64_t> row_tensor_shape(std::vector<std::int64_t> output_shape) {
  if (output_shape.size() == 4) output_shape.pop_back();
  return output_shape;
}

// The stored tolerance of one output; every number the model derives is recomputed from the
// measured ones and the expected values, and must agree with the stored one (an edited case is
// an error, not a looser or stricter verdict).
Tolerance tolerance_from_json(const io::TensorFile& f, const json& j, const std::string& output, io::DType want,
                              std::int64_t version, const std::vector<std::int64_t>& shape,
                              const std::vector<double>& expected) {
  const std::string where = "metadata 'tolerances' entry '" + output + "'";
  if (!j.is_object()) fail(f, where + " is not an object");
  Tolerance t;
  const auto dt = j.find("dtype");
  if (dt == j.end() || !dt->is_string()) fail(f, where + ": 'dtype' is missing or not a string");
  const auto parsed = io::dtype_from_name(dt->get<std::string>());
  if (!parsed || *parsed != want)
    fail(f, where + ": dtype '" + dt->get<std::string>() + "' is not the output's dtype " +
                std::string(io::dtype_name(want)));
  t.dtype = want;
  t.max_abs_expected = json_number(f, j, where, "max_abs_expected");
  t.baseline_error = json_number(f, j, where, "baseline_error");
  t.c = json_number(f, j, where, "c");
  t.floor_ulps = json_number(f, j, where, "floor_ulps");
  t.floor = json_number(f, j, where, "floor");
  t.tolerance = json_number(f, j, where, "tolerance");
  if (t.c <= 0) fail(f, where + ": 'c' must be positive");
  if (version >= 2) {
    if (json_number(f, j, where, "model") != 2) fail(f, where + ": 'model' must be 2");
    t.model_version = 2;
    const double n = json_number(f, j, where, "gamma_n");
    if (n != std::floor(n) || n > 1e6) fail(f, where + ": 'gamma_n' must be an integer below 10^6");
    t.gamma_n = static_cast<int>(n);
    if (json_number(f, j, where, "row_length") != static_cast<double>(row_length(shape)))
      fail(f, where + ": 'row_length' is not the output's last dimension");
    t.row_length = row_length(shape);
    t.norm_baseline_error = json_number(f, j, where, "norm_baseline_error");
    t.measured_baseline_error = json_number(f, j, where, "measured_baseline_error");
    t.row_level = json_number(f, j, where, "row_level");
    t.arithmetic_level = json_number(f, j, where, "arithmetic_level");
    t.arithmetic_floor = json_number(f, j, where, "arithmetic_floor");
    t.norm_floor = json_number(f, j, where, "norm_floor");
    t.norm_arithmetic_floor = json_number(f, j, where, "norm_arithmetic_floor");
    t.norm_envelope = json_number(f, j, where, "norm_envelope");
    t.norm_tolerance = json_number(f, j, where, "norm_tolerance");
    for (int which = 0; which < 2; ++which) {
      const std::string name = row_tensor(output, which);
      const io::Tensor& rt = f.require(name);
      if (rt.shape != row_tensor_shape(shape))
        fail_tensor(f, name, "has shape " + shape_text(rt.shape) + ", expected " + shape_text(row_tensor_shape(shape)));
      if (rt.dtype != io::DType::F64) fail_tensor(f, name, "is stored as " + std::string(io::dtype_name(rt.dtype)) + ", expected F64");
      for (std::size_t i = 0; i < rt.values.size(); ++i)
        if (!std::isfinite(rt.values[i]) || rt.values[i] < 0)
          fail_tensor(f, name, "element " + std::to_string(i) + " is not a finite non-negative number");
      (which == 0 ? t.row_scale : t.row_baseline_error) = rt.values;
    }
  }
  if (const std::string why = inconsistency(t, expected); !why.empty())
    fail(f, where + ": " + why + ": the case was edited after generation");
  return t;
}

// The metadata 'shape' and 'cu_seqlens' are for people, but a case whose metadata disagrees
// with its tensors has been edited (or made by hand): an error, not a guess at which one is meant.
void check_shape_metadata(const io::TensorFile& f, const CaseSpec& s) {
  const json shape = meta_json(f, "shape");
  const Shape& sh = s.shape;
  const json want = {{"B", sh.B}, {"T", sh.T}, {"HQ", sh.HQ}, {"H", sh.H}, {"D", sh.D}, {"Dv", sh.Dv}};
  if (shape != want)
    fail(f, "metadata 'shape' " + shape.dump() + " does not match the tensors, which have " + want.dump() +
                " (edited after generation?)");
  const json cu = meta_json(f, "cu_seqlens");
  if (cu != json(s.cu_seqlens))
    fail(f, "metadata 'cu_seqlens' " + cu.dump() + " does not match the tensor 'cu_seqlens', which holds " +
                json(s.cu_seqlens).dump() + " (edited after generation?)");
}

}  // namespace

io::TensorFile case_to_file(const Case& c) {
  const CaseSpec& s = c.spec();
  const Problem<double>& p = c.input.problem;
  const Shape& sh = s.shape;
  io::TensorFile f;
  f.source = c.source;
  io::put_tensor(f, "q", {sh.B, sh.T, sh.HQ, sh.D}, p.q, s.dtype);
  io::put_tensor(f, "k", {sh.B, sh.T, sh.H, sh.D}, p.k, s.dtype);
  io::put_tensor(f, "v", {sh.B, sh.T, sh.H, sh.Dv}, p.v, s.dtype);
  io::put_tensor(f, "w", {sh.B, sh.T, sh.H, sh.D}, p.w, io::DType::F32);
  io::put_tensor(f, "beta", {sh.B, sh.T, sh.H}, p.beta, io::DType::F32);
  if (s.gated) io::put_tensor(f, "g", {sh.B, sh.T, sh.HQ}, p.g, io::DType::F32);
  if (!s.cu_seqlens.empty()) {
    std::vector<double> cu(s.cu_seqlens.begin(), s.cu_seqlens.end());
    io::put_tensor(f, "cu_seqlens", {static_cast<std::int64_t>(cu.size())}, cu, io::DType::I64);
  }
  if (s.gradients) io::put_tensor(f, "do", {sh.B, sh.T, sh.HQ, sh.Dv}, c.input.dO, s.dtype);
  json tolerances = json::object();
  json outputs = json::array();
  for (const std::string& name : output_names(s)) {
    io::put_tensor(f, name, output_shape(s, name), c.expected.at(name), io::DType::F64);
    const Tolerance& t = c.tolerances.at(name);
    tolerances[name] = tolerance_json(t);
    if (t.model_version >= 2)
      for (int which = 0; which < 2; ++which)
        io::put_tensor(f, row_tensor(name, which), row_tensor_shape(output_shape(s, name)),
                       which == 0 ? t.row_scale : t.row_baseline_error, io::DType::F64);
    outputs.push_back(name);
  }
  auto& m = f.metadata;
  m["format"] = kCaseFormat;
  m["format_version"] = std::to_string(kCaseFormatVersion);
  m["case"] = s.name;
  m["scale"] = number_text(p.scale);
  m["gate_convention"] = std::string(path::to_string(s.gate_convention));
  m["gated"] = s.gated ? "true" : "false";
  m["input_dtype"] = std::string(io::dtype_name(s.dtype));
  m["mode"] = std::string(to_string(s.mode));
  if (s.mode == Mode::decode) m["prefill_length"] = std::to_string(s.prefill_length);
  m["gradients"] = s.gradients ? "true" : "false";
  m["distribution"] = s.distribution;
  m["shape"] = json{{"B", sh.B}, {"T", sh.T}, {"HQ", sh.HQ}, {"H", sh.H}, {"D", sh.D}, {"Dv", sh.Dv}}.dump();
  m["cu_seqlens"] = json(s.cu_seqlens).dump();
  m["outputs"] = outputs.dump();
  m["tolerances"] = tolerances.dump();
  for (const auto& [k, v] : c.provenance) m[k] = v;
  return f;
}

Case case_from_file(const io::TensorFile& f) {
  if (meta(f, "format") != kCaseFormat)
    fail(f, "metadata 'format' is '" + meta(f, "format") + "', expected '" + kCaseFormat + "'");
  const std::int64_t version = parse_integer(f, "format_version", meta(f, "format_version"));
  if (version < 1 || version > kCaseFormatVersion)
    fail(f, "format_version " + std::to_string(version) + " is not supported (this pathcheck reads versions 1 to " +
                std::to_string(kCaseFormatVersion) + ")");
  Case c;
  c.source = f.source;
  io::CaseInputs in = io::read_problem(f);  // q, k, v, w, beta, g, cu_seqlens, scale, gate_convention
  CaseSpec& s = c.input.spec;
  s.name = meta(f, "case");
  if (s.name.empty()) fail(f, "metadata 'case' is empty");
  const auto dtype = parse_input_dtype(meta(f, "input_dtype"));
  if (!dtype) fail(f, "metadata 'input_dtype': '" + meta(f, "input_dtype") + "' is not BF16, F16 or F32");
  s.dtype = *dtype;
  if (in.input_dtype != s.dtype)
    fail_tensor(f, "q", "is stored as " + std::string(io::dtype_name(in.input_dtype)) + " but metadata 'input_dtype' says " +
                            std::string(io::dtype_name(s.dtype)));
  s.shape = in.problem.shape;
  s.gated = parse_bool(f, "gated", meta(f, "gated"));
  if (s.gated != in.problem.has_gate())
    fail(f, std::string("metadata 'gated' is ") + (s.gated ? "true" : "false") + " but tensor 'g' is " +
                (in.problem.has_gate() ? "present" : "absent"));
  const auto conv = parse_gate_convention(meta(f, "gate_convention"));
  if (!conv) fail(f, "metadata 'gate_convention': '" + meta(f, "gate_convention") + "' is not paper or fla");
  s.gate_convention = *conv;
  s.cu_seqlens = in.problem.cu_seqlens;
  const auto mode = parse_mode(meta(f, "mode"));
  if (!mode) fail(f, "metadata 'mode': '" + meta(f, "mode") + "' is not prefill or decode");
  s.mode = *mode;
  if (s.mode == Mode::decode) {
    s.prefill_length = parse_integer(f, "prefill_length", meta(f, "prefill_length"));
    if (s.prefill_length < 0 || s.prefill_length > s.shape.T)
      fail(f, "metadata 'prefill_length' " + std::to_string(s.prefill_length) + " is outside [0, T = " +
                  std::to_string(s.shape.T) + "]");
  }
  s.gradients = parse_bool(f, "gradients", meta(f, "gradients"));
  if (s.gradients && s.mode == Mode::decode) fail(f, "metadata: a decode case cannot ask for gradients");
  if (f.metadata.count("distribution")) s.distribution = f.metadata.at("distribution");
  check_shape_metadata(f, s);
  c.input.problem = std::move(in.problem);

  if (s.gradients) {
    const io::Tensor& d = f.require("do");
    const std::vector<std::int64_t> want = output_shape(s, "o");
    if (d.shape != want) fail_tensor(f, "do", "has shape " + shape_text(d.shape) + ", expected " + shape_text(want));
    for (std::size_t i = 0; i < d.values.size(); ++i)
      if (!std::isfinite(d.values[i]))
        fail_tensor(f, "do", "element " + path::detail::element_text(i, {want.begin(), want.end()}) + " is not finite");
    c.input.dO = d.values;
  }

  const json outputs = meta_json(f, "outputs");
  const std::vector<std::string> names = output_names(s);
  if (!outputs.is_array() || outputs.size() != names.size())
    fail(f, "metadata 'outputs' does not list the case's outputs (" + json(names).dump() + ")");
  for (std::size_t i = 0; i < names.size(); ++i)
    if (!outputs[i].is_string() || outputs[i].get<std::string>() != names[i])
      fail(f, "metadata 'outputs' does not list the case's outputs (" + json(names).dump() + ")");

  const json tolerances = meta_json(f, "tolerances");
  if (!tolerances.is_object()) fail(f, "metadata 'tolerances' is not a JSON object");
  for (const std::string& name : names) {
    const io::Tensor& t = f.require(name);
    const std::vector<std::int64_t> want = output_shape(s, name);
    if (t.shape != want) fail_tensor(f, name, "has shape " + shape_text(t.shape) + ", expected " + shape_text(want));
    if (t.dtype != io::DType::F64)
      fail_tensor(f, name, "expected outputs are stored as F64, found " + std::string(io::dtype_name(t.dtype)));
    for (std::size_t i = 0; i < t.values.size(); ++i)
      if (!std::isfinite(t.values[i]))
        fail_tensor(f, name, "expected value " + path::detail::element_text(i, {want.begin(), want.end()}) + " is not finite");
    c.expected[name] = t.values;
    const auto it = tolerances.find(name);
    if (it == tolerances.end()) fail(f, "metadata 'tolerances' has no entry for output '" + name + "'");
    c.tolerances[name] = tolerance_from_json(f, *it, name, output_dtype(s, name), version, want, c.expected[name]);
  }
  static const std::set<std::string> spec_keys = {"format", "format_version", "case",  "scale",   "gate_convention",
                                                  "gated",  "input_dtype",    "mode",  "prefill_length",
                                                  "gradients", "distribution", "shape", "cu_seqlens",
                                                  "outputs", "tolerances"};
  for (const auto& [k, v] : f.metadata)
    if (!spec_keys.count(k)) c.provenance[k] = v;
  return c;
}

Case read_case(const std::string& path) { return case_from_file(io::read_safetensors(path)); }

void write_case(const std::string& path, const Case& c, bool overwrite) {
  Case copy = c;
  copy.source = path;
  io::write_safetensors(path, case_to_file(copy), overwrite);
}

}  // namespace path::conformance
