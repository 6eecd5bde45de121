// Running an implementation through cases: one case (poison, run, judge the selected outputs),
// a suite directory, a suite in memory.
#include "path/conformance/runner.hpp"

#include <chrono>
#include <filesystem>
#include <variant>

namespace path::conformance {

namespace fs = std::filesystem;

io::TensorFile results_file(const Case& c, const Outputs& outputs, const std::string& implementation) {
  io::TensorFile f;
  for (const auto& [name, t] : outputs) f.tensors[name] = t;
  f.metadata["case"] = c.name();
  f.metadata["implementation"] = implementation;
  return f;
}

CaseInput selected_input(const Case& c, const OutputSelection& outputs) {
  CaseInput input = c.input;
  if (input.spec.gradients && !outputs.any_gradient()) {
    input.spec.gradients = false;
    input.dO.clear();
  }
  return input;
}

namespace {

// The judge sees every output of the case; the verdict keeps the selected ones.
CaseVerdict keep_selected(CaseVerdict v, const Case& c, const OutputSelection& selection) {
  v.not_judged = selection.not_judged(c.spec());
  if (selection.all()) return v;
  std::erase_if(v.outputs, [&](const OutputVerdict& o) { return !selection.selects(o.output); });
  if (v.problem.empty()) {
    v.verdict = Verdict::pass;
    for (const OutputVerdict& o : v.outputs)
      if (o.verdict != Verdict::pass) v.verdict = Verdict::fail;
  }
  return v;
}

void write_results(const Case& c, const Outputs& outputs, const Implementation& impl, const CaseRunOptions& options) {
  const std::string file = case_path(*options.results_dir, c.name());
  try {
    io::write_safetensors(file, results_file(c, outputs, impl.name()), options.overwrite_results);
  } catch (const io::FileError& e) {
    throw io::FileError(std::string("cannot write the result file: ") + e.what() +
                        (options.overwrite_results ? "" : " (use --force to replace existing result files)"));
  }
}

}  // namespace

CaseVerdict run_case(Implementation& impl, const Case& c, const CaseRunOptions& options) {
  const CaseInput input = selected_input(c, options.outputs);
  if (const std::string why = impl.cannot_run(input.spec); !why.empty()) {
    CaseVerdict v = skipped_case(c, impl.name() + " cannot run this case: " + why);
    v.not_judged = options.outputs.not_judged(c.spec());
    return v;
  }
  Outputs outputs = poisoned_outputs(input.spec);
  std::erase_if(outputs, [&](const auto& entry) { return !options.outputs.selects(entry.first); });
  const auto start = std::chrono::steady_clock::now();
  CaseVerdict v;
  try {
    impl.run(input, outputs);
  } catch (const io::FileError& e) {
    v = failed_case(c, std::string("results unreadable: ") + e.what());
  } catch (const std::exception& e) {
    v = failed_case(c, impl.name() + " failed: " + e.what());
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (v.problem.empty()) {
    v = judge(c, outputs, options.judge);
    if (options.results_dir) write_results(c, outputs, impl, options);  // a failing case's too, for inspection
  }
  v = keep_selected(std::move(v), c, options.outputs);
  v.seconds = seconds;
  return v;
}

namespace {

std::string note_of(const CaseVerdict& v) {
  std::string note(to_string(v.verdict));
  if (v.verdict != Verdict::pass) {
    if (!v.problem.empty()) note += ": " + v.problem;
    for (const OutputVerdict& o : v.outputs)
      if (o.verdict == Verdict::fail) note += " " + o.output;
  }
  return note;
}

CaseVerdict unreadable_case(const std::string& name, const std::string& problem) {
  CaseVerdict v;
  v.name = name;
  v.verdict = Verdict::fail;
  v.problem = "case file unreadable: " + problem;
  return v;
}

// The case file, checked to be the case its manifest names.
std::variant<Case, CaseVerdict> load_case(const std::string& dir, const std::string& name) {
  try {
    Case c = read_case(case_path(dir, name));
    if (c.name() != name) return unreadable_case(name, "its metadata 'case' is '" + c.name() + "', not its file name");
    return c;
  } catch (const io::FileError& e) {
    return unreadable_case(name, e.what());
  }
}

CaseRunOptions case_options(const SuiteRunOptions& o, const OutputSelection& outputs) {
  return CaseRunOptions{o.judge, outputs, o.results_dir, o.overwrite_results};
}

}  // namespace

std::vector<std::string> selected_cases(const SuiteManifest& m, const SuiteRunOptions& options) {
  std::vector<std::string> names = shard_of(m.cases, options.shard);
  if (!options.only.empty()) names = filter_names(names, options.only);
  if (names.empty())
    throw io::FileError("no case of the suite is selected (" +
                        (options.only.empty() ? std::string() : "--only " + options.only + ", ") + "shard " +
                        options.shard.text() + " of " + std::to_string(m.cases.size()) + " cases)");
  return names;
}

Report run_suite_directory(Implementation& impl, const std::string& suite_dir, const SuiteRunOptions& options) {
  const SuiteManifest m = read_manifest(suite_dir);
  const std::vector<std::string> names = selected_cases(m, options);
  verify_case_files(suite_dir, m, names);
  const OutputSelection outputs = options.outputs ? *options.outputs : OutputSelection(m.outputs);
  Report r;
  r.suite = suite_dir;
  r.implementation = impl.name();
  r.dtype = m.dtype;
  r.outputs = outputs.text();
  r.shard = options.shard.whole() ? "" : options.shard.text();
  r.suite_cases = m.cases.size();
  r.suite_identity = suite_identity(m.suite, m.dtype, m.seed, m.cases);
  const auto start = std::chrono::steady_clock::now();
  Progress progress(options.progress, impl.name(), {}, names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    std::variant<Case, CaseVerdict> loaded = load_case(suite_dir, names[i]);
    CaseVerdict v;
    if (auto* bad = std::get_if<CaseVerdict>(&loaded)) {
      v = std::move(*bad);
    } else {
      const Case& c = std::get<Case>(loaded);
      if (r.dtype.empty()) r.dtype = std::string(dtype_label(c.spec().dtype));
      if (outputs.judged(c.spec()).empty()) {
        r.not_judged_cases.push_back(names[i]);
        progress.done(i, names[i], "not judged (none of its outputs is in --outputs " + outputs.text() + ")");
        continue;
      }
      v = run_case(impl, c, case_options(options, outputs));
    }
    progress.done(i, names[i], note_of(v));
    r.cases.push_back(std::move(v));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

Report run_cases(Implementation& impl, const std::vector<Case>& cases, const SuiteRunOptions& options) {
  const OutputSelection outputs = options.outputs.value_or(OutputSelection{});
  Report r;
  r.implementation = impl.name();
  r.outputs = outputs.text();
  r.shard = options.shard.whole() ? "" : options.shard.text();
  if (!cases.empty()) r.dtype = std::string(dtype_label(cases.front().spec().dtype));
  const auto start = std::chrono::steady_clock::now();
  Progress progress(options.progress, impl.name(), {}, cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    if (outputs.judged(cases[i].spec()).empty()) {
      r.not_judged_cases.push_back(cases[i].name());
      progress.done(i, cases[i].name(), "not judged (none of its outputs is in --outputs " + outputs.text() + ")");
      continue;
    }
    CaseVerdict v = run_case(impl, cases[i], case_options(options, outputs));
    progress.done(i, cases[i].name(), note_of(v));
    r.cases.push_back(std::move(v));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace path::conformance
