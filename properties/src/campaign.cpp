// The fuzzing campaign: generate, judge, shrink, save, report (properties/campaign.hpp).
#include "path/properties/campaign.hpp"

#include <sys/utsname.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>
#include <stdexcept>

#include "path/conformance/runner.hpp"
#include "path/core/random.hpp"
#include "path/properties/external.hpp"
#include "path/properties/properties.hpp"

namespace path::properties {

namespace {

namespace pc = conformance;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string fixed(double x, int digits) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << x;
  return os.str();
}

// One test: the cases a property needs for a choice, built with an oracle, and the property's verdict.
struct Evaluated {
  std::optional<pc::CaseSpec> spec;       // of the generated case
  std::vector<pc::Case> cases;
  PropertyResult result;
};

std::set<std::string> failing_outputs(const std::vector<pc::CaseVerdict>& vs) {
  std::set<std::string> out;
  for (const pc::CaseVerdict& v : vs) {
    if (v.verdict != pc::Verdict::fail) continue;
    if (!v.problem.empty()) out.insert("(case)");
    for (const pc::OutputVerdict& o : v.outputs)
      if (o.verdict == pc::Verdict::fail) out.insert(o.output);
  }
  return out;
}

std::string join(const std::set<std::string>& s) {
  std::string out;
  for (const std::string& x : s) out += (out.empty() ? "" : ", ") + x;
  return out.empty() ? "none" : out;
}

// The properties that can judge the claimed outputs; the others go to `skipped` with the reason
// (a campaign that silently dropped one would look like it had passed it).
std::vector<std::unique_ptr<Property>> judging(std::vector<std::unique_ptr<Property>> selected,
                                               const pc::OutputSelection& claimed, std::vector<SkippedProperty>& skipped) {
  std::vector<std::unique_ptr<Property>> kept;
  for (auto& p : selected) {
    if (const std::string why = p->cannot_judge(claimed); !why.empty()) skipped.push_back({p->name(), why});
    else kept.push_back(std::move(p));
  }
  if (!kept.empty()) return kept;
  std::string reasons;
  for (const SkippedProperty& x : skipped) reasons += (reasons.empty() ? "" : "; ") + x.name + ": " + x.reason;
  throw std::invalid_argument("--outputs " + claimed.text() + ": no selected property can judge these outputs (" +
                              reasons + ")");
}

class Campaign {
 public:
  Campaign(pc::Implementation& impl, const CampaignOptions& o)
      : impl_(impl), command_(dynamic_cast<CommandImplementation*>(&impl)), o_(o),
        generator_(drawn_for(o.generator, o.outputs)), gen_(fuzz_choice(generator_)),
        props_(judging(select_properties(o.properties), o.outputs, report_.skipped_properties)) {
    if (o.shards < 1 || o.shard >= o.shards) throw std::invalid_argument("shard: K/N needs 0 <= K < N");
    if (!(o.seconds >= 0)) throw std::invalid_argument("seconds: must be >= 0");
    if (o.batch < 1) throw std::invalid_argument("batch: must be at least 1");
    build_.suite = "fuzz";
    build_.suite_seed = o.seed;
    for (const auto& p : props_) report_.properties.push_back({p->name(), 0, 0, 0});
    report_.implementation = impl.name();
    report_.description = impl.description();
    report_.dtype = std::string(dtype_label(o.generator.dtype));
    report_.seed = o.seed;
    report_.outputs = o.outputs.text();
    report_.shard = o.shard;
    report_.shards = o.shards;
  }

  CampaignReport run() {
    const Clock::time_point start = Clock::now();
    Clock::time_point last_progress = start;
    std::uint64_t n = o_.shard;
    bool stop = false;
    while (!stop) {
      // One batch of tests: generate and build them all, stage them together, then judge each.
      struct Pending {
        std::uint64_t test;
        rc::Shrinkable<FuzzChoice> shrinkable;
        Evaluated e;
      };
      std::vector<Pending> batch;
      while (batch.size() < o_.batch && !out_of_time(start) && !enough_tests(n)) {
        const int size = static_cast<int>(n % (rc::kNominalSize + 1));
        rc::Shrinkable<FuzzChoice> s = gen_(rc::Random(random::derive_seed(o_.seed, "test" + std::to_string(n))), size);
        Evaluated e = prepare(s.value(), property_for(n), base_name(n), o_.oracle);
        batch.push_back({n, std::move(s), std::move(e)});
        n += o_.shards;
      }
      if (batch.empty()) break;
      if (command_) {
        std::vector<const pc::Case*> all;
        for (const Pending& p : batch)
          for (const pc::Case& c : p.e.cases) all.push_back(&c);
        command_->stage(all);
      }
      std::vector<Pending*> failed;
      for (Pending& p : batch) {
        PropertyCount& count = count_of(property_for(p.test));
        if (!p.e.cases.empty() && p.e.result.outcome != Outcome::discard) judge(p.e, property_for(p.test));
        if (p.e.result.outcome == Outcome::discard) {
          ++count.discards;
          ++report_.discarded;
          continue;
        }
        ++count.tests;
        ++report_.tests;
        if (p.e.result.outcome == Outcome::fail) {
          ++count.failures;
          failed.push_back(&p);
        }
      }
      report_.seconds = since(start) - report_.shrink_seconds;
      for (Pending* p : failed) {
        if (report_.failures.size() >= o_.max_failures) break;
        const Clock::time_point shrink_start = Clock::now();
        report_.failures.push_back(shrink_and_save(p->test, p->shrinkable, p->e));
        report_.shrink_seconds += since(shrink_start);
      }
      if (report_.failures.size() >= o_.max_failures) {
        report_.stopped_because = "found " + std::to_string(report_.failures.size()) + " failure(s) (--max-failures " +
                                  std::to_string(o_.max_failures) + ")";
        stop = true;
      }
      if (o_.progress && (since(last_progress) >= o_.progress_interval || stop)) {
        last_progress = Clock::now();
        const double left = std::max(0.0, o_.seconds - (since(start) - report_.shrink_seconds));
        *o_.progress << "pathcheck fuzz: " << fixed(since(start), 1) << " s, " << report_.tests << " cases ("
                     << fixed(report_.cases_per_second(), 1) << "/s), " << report_.failures.size() << " failure(s) found, "
                     << report_.discarded << " discarded; " << fixed(left, 0) << " s left\n"
                     << std::flush;
      }
    }
    report_.seconds = since(start) - report_.shrink_seconds;
    if (report_.stopped_because.empty())
      report_.stopped_because = enough_tests(n) ? "reached the test limit" : "time budget spent (--seconds)";
    return report_;
  }

 private:
  bool out_of_time(Clock::time_point start) const { return since(start) - report_.shrink_seconds >= o_.seconds; }
  bool enough_tests(std::uint64_t n) const { return o_.max_tests && n >= *o_.max_tests; }

  std::string base_name(std::uint64_t n) const { return "fuzz-" + std::to_string(o_.seed) + "-" + std::to_string(n); }

  // Half of the tests go to the oracle property (when selected), the rest to the others in turn.
  const Property& property_for(std::uint64_t n) const {
    const std::size_t P = props_.size();
    if (P == 1) return *props_[0];
    if (props_[0]->name() == "oracle") return n % 2 == 0 ? *props_[0] : *props_[1 + (n / 2) % (P - 1)];
    return *props_[n % P];
  }

  PropertyCount& count_of(const Property& p) {
    for (PropertyCount& c : report_.properties)
      if (c.name == p.name()) return c;
    throw std::logic_error("property not counted");
  }

  Evaluated prepare(const FuzzChoice& choice, const Property& property, const std::string& name, const OracleChoice& oracle) {
    Evaluated e;
    const std::optional<pc::CaseInput> base = make_input(choice, generator_, name);
    if (!base) return discard(e, "the choice describes no tokens");
    e.spec = base->spec;
    if (const std::string why = impl_.cannot_run(base->spec); !why.empty()) return discard(e, why);
    const auto inputs = property.inputs(*base);
    if (!inputs) return discard(e, property.name() + " says nothing about this case");
    try {
      for (const pc::CaseInput& in : *inputs) {
        if (const std::string why = impl_.cannot_run(in.spec); !why.empty()) return discard(e, why);
        e.cases.push_back(build_case(in, oracle, build_, choice.values.seed));
        ++(oracle_of(e.cases.back()) == "mp100" ? report_.mp100_cases : report_.f64_cases);
      }
    } catch (const std::exception& ex) {  // inputs beyond what the dtype's baseline can represent
      e.cases.clear();
      return discard(e, ex.what());
    }
    return e;
  }

  static Evaluated& discard(Evaluated& e, const std::string& why) {
    e.result.outcome = Outcome::discard;
    e.result.summary = why;
    return e;
  }

  void judge(Evaluated& e, const Property& property) {
    try {
      e.result = property.check(impl_, e.cases, o_.outputs);
    } catch (const std::exception& ex) {
      e.result.outcome = Outcome::fail;
      e.result.summary = std::string("the property could not be judged: ") + ex.what();
    }
  }

  // One candidate while shrinking: its own cases, staged alone for an external program.
  Evaluated evaluate(const FuzzChoice& c, const Property& p, const std::string& name) {
    Evaluated e = prepare(c, p, name, o_.oracle);
    if (e.result.outcome == Outcome::discard) return e;
    if (command_) {
      std::vector<const pc::Case*> all;
      for (const pc::Case& x : e.cases) all.push_back(&x);
      command_->stage(all);
    }
    judge(e, p);
    return e;
  }

  Failure shrink_and_save(std::uint64_t test, rc::Shrinkable<FuzzChoice> current, Evaluated e) {
    const Property& property = property_for(test);
    Failure f;
    f.property = property.name();
    f.test = test;
    f.first_shape = e.spec ? describe_shape(*e.spec) : "?";
    const Clock::time_point start = Clock::now();
    // Greedy shrinking: take the first candidate that still fails, start again from it; stop when
    // no candidate fails (a local minimum) or the budget is spent.
    bool budget_left = true;
    while (budget_left) {
      bool improved = false;
      rc::Seq<rc::Shrinkable<FuzzChoice>> candidates = current.shrinks();
      while (rc::Maybe<rc::Shrinkable<FuzzChoice>> next = candidates.next()) {
        if (f.shrink_tries >= o_.max_shrink_tries || since(start) >= o_.shrink_seconds) {
          budget_left = false;
          break;
        }
        ++f.shrink_tries;
        Evaluated c = evaluate(next->value(), property, base_name(test) + "-s" + std::to_string(f.shrink_tries));
        if (c.result.outcome == Outcome::fail) {
          current = std::move(*next);
          e = std::move(c);
          ++f.shrink_steps;
          improved = true;
          break;
        }
      }
      if (!improved) break;
    }
    f.shrink_seconds = since(start);
    f.minimal = current.value();
    f.minimal_spec = *e.spec;
    f.minimal_shape = describe_shape(*e.spec);
    f.summary = e.result.summary;
    f.verdicts = e.result.verdicts;
    for (const pc::Case& c : e.cases) f.oracles.push_back(oracle_of(c));
    save(f, e, property);
    return f;
  }

  // The minimal case as conformance case files (expected values from mp100), read back and rerun.
  void save(Failure& f, const Evaluated& e, const Property& property) {
    const std::string name = base_name(f.test) + "-" + property.name();
    std::vector<pc::Case> cases;
    for (const pc::Case& c : e.cases) {
      pc::CaseInput in = c.input;
      in.spec.name = name + c.name().substr(std::min(c.name().size(), e.spec->name.size()));
      pc::Case m = pc::build_case_from_inputs(std::move(in), build_, f.minimal.values.seed);
      m.provenance["generator"] = "pathcheck fuzz";
      m.provenance["fuzz_seed"] = std::to_string(o_.seed);
      m.provenance["fuzz_test"] = std::to_string(f.test);
      m.provenance["fuzz_shard"] = std::to_string(o_.shard) + "/" + std::to_string(o_.shards);
      m.provenance["fuzz_property"] = property.name();
      m.provenance["fuzz_failure"] = f.summary;
      m.provenance["fuzz_choice"] = choice_json(f.minimal);
      m.provenance["fuzz_shape"] = f.minimal_shape;
      m.provenance["fuzz_first_shape"] = f.first_shape;
      m.provenance["fuzz_shrink_steps"] = std::to_string(f.shrink_steps);
      m.provenance["implementation"] = impl_.name();
      m.provenance["implementation_description"] = impl_.description();
      if (!o_.implementation_config.empty()) m.provenance["implementation_config"] = o_.implementation_config;
      m.provenance["machine"] = machine_description();
      m.provenance["compiler"] = compiler_description();
      cases.push_back(std::move(m));
    }
    if (!o_.out_dir.empty()) {
      fs::path dir = fs::path(o_.out_dir) / ("failure-" + std::to_string(report_.failures.size() + 1));
      std::error_code ec;
      fs::create_directories(dir.parent_path(), ec);
      if (!fs::create_directory(dir, ec))
        throw io::FileError(dir.string() + ": cannot create the reproducer directory (it must not exist yet)");
      pc::SuiteManifest m;
      m.suite = "fuzz";
      m.dtype = std::string(dtype_label(o_.generator.dtype));
      m.seed = o_.seed;
      for (const pc::Case& c : cases) {
        const std::string path = pc::case_path(dir.string(), c.name());
        pc::write_case(path, c, false);
        f.case_files.push_back(path);
        m.cases.push_back(c.name());
      }
      pc::write_manifest(dir.string(), m);
      f.directory = dir.string();
      if (!o_.replay.empty()) f.replay_command = o_.replay + " --suite " + adapters::shell_quote(f.directory);
      // Read back: what a user reruns is the files, not the cases in memory.
      cases.clear();
      for (const std::string& path : f.case_files) cases.push_back(pc::read_case(path));
    }
    rerun(f, cases, property);
  }

  void rerun(Failure& f, const std::vector<pc::Case>& cases, const Property& property) {
    if (command_) {
      std::vector<const pc::Case*> all;
      for (const pc::Case& c : cases) all.push_back(&c);
      command_->stage(all);
    }
    PropertyResult again;
    try {
      again = property.check(impl_, cases, o_.outputs);
    } catch (const std::exception& ex) {
      again.outcome = Outcome::fail;
      again.summary = ex.what();
    }
    // Against the oracle alone (what `pathcheck run` on the reproducer does).
    std::vector<pc::CaseVerdict> conformance;
    pc::CaseRunOptions claimed;
    claimed.outputs = o_.outputs;
    for (const pc::Case& c : cases) conformance.push_back(pc::run_case(impl_, c, claimed));
    const std::set<std::string> before = failing_outputs(f.verdicts), now = failing_outputs(again.verdicts);
    const bool run_fails = std::any_of(conformance.begin(), conformance.end(),
                                       [](const pc::CaseVerdict& v) { return v.verdict == pc::Verdict::fail; });
    f.reproduced = again.outcome == Outcome::fail && now == before && run_fails;
    std::string text = "rerun with the mp100 oracle: " + std::string(again.outcome == Outcome::fail ? "fails" : "PASSES") +
                       " (failing outputs: " + join(now) + "; in the campaign: " + join(before) + ")";
    for (const pc::CaseVerdict& v : conformance)
      text += "; pathcheck run: " + v.name + " " + std::string(pc::to_string(v.verdict)) +
              (v.verdict == pc::Verdict::fail ? " in " + join(failing_outputs({v})) : "");
    if (again.outcome == Outcome::fail && !run_fails)
      text += "; no case fails against the oracle: the oracle itself breaks the relation (report this)";
    f.reproduction = text;
  }

  // The cases worth drawing: none that need an output the implementation does not compute.
  static GeneratorOptions drawn_for(GeneratorOptions g, const pc::OutputSelection& claimed) {
    g.decode = g.decode && claimed.selects("k_cache");
    g.gradients = g.gradients && claimed.any_gradient();
    return g;
  }

  pc::Implementation& impl_;
  CommandImplementation* command_;
  const CampaignOptions& o_;
  CampaignReport report_;  // first: judging() records the skipped properties in it
  GeneratorOptions generator_;
  rc::Gen<FuzzChoice> gen_;
  std::vector<std::unique_ptr<Property>> props_;
  pc::BuildOptions build_;
};

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') out += '?';
        else out += c;
    }
  }
  return out;
}

json verdict_json(const pc::CaseVerdict& v) {
  json outs = json::array();
  for (const pc::OutputVerdict& o : v.outputs) {
    json j = {{"output", o.output}, {"verdict", pc::to_string(o.verdict)}, {"tolerance", o.tolerance.tolerance},
              {"baseline_error", o.tolerance.baseline_error}, {"floor", o.tolerance.floor}};
    j["error"] = std::isfinite(o.error) ? json(o.error) : json(nullptr);
    j["ratio"] = std::isfinite(o.ratio) ? json(o.ratio) : json(nullptr);
    if (!o.problem.empty()) j["problem"] = o.problem;
    if (o.worst) j["worst"] = {{"index", o.worst->index}, {"got", std::isfinite(o.worst->got) ? json(o.worst->got) : json(nullptr)},
                               {"expected", o.worst->expected}};
    outs.push_back(j);
  }
  return {{"case", v.name}, {"verdict", pc::to_string(v.verdict)}, {"problem", v.problem}, {"outputs", outs}};
}

}  // namespace

void check_claimed(const CampaignOptions& options) {
  std::vector<SkippedProperty> skipped;
  judging(select_properties(options.properties), options.outputs, skipped);
}

CampaignReport run_campaign(pc::Implementation& impl, const CampaignOptions& options) {
  return Campaign(impl, options).run();
}

void print_summary(std::ostream& os, const CampaignReport& r) {
  os << "pathcheck fuzz: " << r.implementation << " (" << r.description << "), " << r.dtype << ", seed " << r.seed;
  if (r.shards > 1) os << ", shard " << r.shard << "/" << r.shards;
  os << "\n  " << r.tests << " cases in " << fixed(r.seconds, 1) << " s (" << fixed(r.cases_per_second(), 1)
     << " cases/s), " << r.discarded << " discarded; oracle: mp100 for " << r.mp100_cases << " cases, f64 for "
     << r.f64_cases << "; stopped: " << r.stopped_because << "\n";
  for (const PropertyCount& p : r.properties)
    os << "  " << std::left << std::setw(24) << p.name << p.tests << " cases, " << p.failures << " failed, " << p.discards
       << " discarded\n";
  for (const SkippedProperty& p : r.skipped_properties)
    os << "  " << std::left << std::setw(24) << p.name << "skipped: " << p.reason << " (--outputs " << r.outputs << ")\n";
  for (std::size_t i = 0; i < r.failures.size(); ++i) {
    const Failure& f = r.failures[i];
    os << "FAILURE " << i + 1 << ": property " << f.property << " (test " << f.test << ")\n"
       << "  generated:  " << f.first_shape << "\n"
       << "  minimal:    " << f.minimal_shape << "  (" << f.shrink_steps << " shrink steps, " << f.shrink_tries
       << " candidates, " << fixed(f.shrink_seconds, 1) << " s)\n"
       << "  failure:    " << f.summary << "\n"
       << "  reproducer: " << (f.directory.empty() ? std::string("(not saved: no --out)") : f.directory) << "\n"
       << "  rerun:      " << (f.reproduced ? "reproduced" : "NOT REPRODUCED") << ": " << f.reproduction << "\n";
    if (!f.replay_command.empty()) os << "  replay:     " << f.replay_command << "\n";
  }
  os << (r.passed() ? "FUZZ PASSED" : r.tests == 0 ? "FUZZ FAILED: no case was judged" : "FUZZ FAILED") << "\n";
}

json skipped_json(const CampaignReport& r) {
  json skipped = json::array();
  for (const SkippedProperty& p : r.skipped_properties) skipped.push_back({{"name", p.name}, {"reason", p.reason}});
  return skipped;
}

std::string campaign_json(const CampaignReport& r) {
  json props = json::array();
  for (const PropertyCount& p : r.properties)
    props.push_back({{"name", p.name}, {"cases", p.tests}, {"failures", p.failures}, {"discarded", p.discards}});
  json failures = json::array();
  for (const Failure& f : r.failures) {
    json verdicts = json::array();
    for (const pc::CaseVerdict& v : f.verdicts) verdicts.push_back(verdict_json(v));
    failures.push_back({{"property", f.property}, {"test", f.test}, {"generated_shape", f.first_shape},
                        {"minimal_shape", f.minimal_shape}, {"minimal_choice", json::parse(choice_json(f.minimal))},
                        {"shrink_steps", f.shrink_steps}, {"shrink_candidates", f.shrink_tries},
                        {"shrink_seconds", f.shrink_seconds}, {"failure", f.summary}, {"oracles", f.oracles},
                        {"verdicts", verdicts}, {"reproducer", f.directory}, {"case_files", f.case_files},
                        {"reproduced", f.reproduced}, {"reproduction", f.reproduction}, {"replay", f.replay_command}});
  }
  const json j = {{"format", "pathcheck-fuzz-report"}, {"format_version", 1}, {"implementation", r.implementation},
                  {"description", r.description}, {"dtype", r.dtype}, {"seed", r.seed},
                  {"shard", {{"index", r.shard}, {"count", r.shards}}}, {"seconds", r.seconds},
                  {"shrink_seconds", r.shrink_seconds}, {"cases", r.tests}, {"cases_per_second", r.cases_per_second()},
                  {"discarded", r.discarded}, {"oracle_cases", {{"mp100", r.mp100_cases}, {"f64", r.f64_cases}}},
                  {"properties", props}, {"outputs", r.outputs}, {"skipped_properties", skipped_json(r)},
                  {"failures", failures}, {"stopped", r.stopped_because}, {"passed", r.passed()}};
  return j.dump(2) + "\n";
}

std::string campaign_junit(const CampaignReport& r) {
  std::ostringstream os;
  std::size_t failed_props = 0;
  for (const PropertyCount& p : r.properties) failed_props += p.failures > 0;
  os << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
     << "<testsuites>\n<testsuite name=\"" << xml_escape("pathcheck fuzz " + r.implementation + " " + r.dtype)
     << "\" tests=\"" << r.properties.size() + r.skipped_properties.size() << "\" failures=\"" << failed_props
     << "\" skipped=\"" << r.skipped_properties.size() << "\" time=\"" << r.seconds << "\">\n";
  for (const SkippedProperty& p : r.skipped_properties)
    os << "  <testcase classname=\"fuzz." << xml_escape(r.implementation) << "\" name=\"" << xml_escape(p.name)
       << "\">\n    <skipped message=\"" << xml_escape(p.reason + " (--outputs " + r.outputs + ")") << "\"/>\n  </testcase>\n";
  for (const PropertyCount& p : r.properties) {
    os << "  <testcase classname=\"fuzz." << xml_escape(r.implementation) << "\" name=\"" << xml_escape(p.name)
       << "\">\n    <system-out>" << p.tests << " cases, " << p.discards << " discarded, seed " << r.seed
       << "</system-out>\n";
    if (p.failures > 0) {
      std::string text;
      for (const Failure& f : r.failures)
        if (f.property == p.name)
          text += "minimal: " + f.minimal_shape + "\n" + f.summary + "\nreproducer: " + f.directory +
                  "\nreplay: " + f.replay_command + "\n" + f.reproduction + "\n";
      os << "    <failure message=\"" << xml_escape(std::to_string(p.failures) + " failing case(s)") << "\">"
         << xml_escape(text) << "</failure>\n";
    }
    os << "  </testcase>\n";
  }
  os << "</testsuite>\n</testsuites>\n";
  return os.str();
}

std::string machine_description() {
  std::string m;
  utsname u{};
  if (uname(&u) == 0) m = std::string(u.sysname) + " " + u.release + " " + u.machine;
  std::ifstream cpu("/proc/cpuinfo");
  for (std::string line; std::getline(cpu, line);)
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) m += (m.empty() ? "" : ", ") + line.substr(colon + 2);
      break;
    }
  return m.empty() ? "unknown" : m;
}

std::string compiler_description() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("GCC ") + __VERSION__;
#else
  return "unknown compiler";
#endif
}

}  // namespace path::properties

namespace path::properties {

namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> parts;
  for (std::size_t begin = 0; begin <= text.size();) {
    const std::size_t end = std::min(text.find(',', begin), text.size());
    if (end > begin) parts.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return parts;
}

bool parse_count(const std::string& s, std::uint64_t& out) {
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  out = std::stoull(s);
  return true;
}

}  // namespace

void claim_outputs(CampaignOptions& campaign, const std::string& list) {
  std::string expanded;  // "gradients" spelled out, for the selection `pathcheck run` parses
  for (const std::string& p : split_list(list)) expanded += (expanded.empty() ? "" : ",") + (p == "gradients" ? "dq,dk,dv,dw,dbeta,dg" : p);
  try {
    campaign.outputs = conformance::OutputSelection::parse(expanded);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("--outputs: ") + e.what() + " (or the word gradients)");
  }
  campaign.generator.gradients = campaign.outputs.any_gradient();
  campaign.generator.decode = campaign.outputs.selects("k_cache");
}

std::pair<std::uint64_t, std::uint64_t> parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  std::uint64_t k = 0, n = 0;
  if (slash == std::string::npos || !parse_count(text.substr(0, slash), k) || !parse_count(text.substr(slash + 1), n) ||
      n < 1 || k >= n)
    throw std::invalid_argument("--shard: '" + text + "' is not K/N with 0 <= K < N");
  return {k, n};
}

std::vector<int> parse_head_dims(const std::string& text) {
  std::vector<int> dims;
  for (const std::string& p : split_list(text)) {
    std::uint64_t d = 0;
    if (!parse_count(p, d) || d < 1 || d > 1024) throw std::invalid_argument("--head-dims: '" + p + "' is not in [1, 1024]");
    dims.push_back(static_cast<int>(d));
  }
  if (dims.empty()) throw std::invalid_argument("--head-dims: give at least one");
  std::sort(dims.begin(), dims.end());  // the smallest first: the head dim shrinks toward it
  dims.erase(std::unique(dims.begin(), dims.end()), dims.end());
  return dims;
}

}  // namespace path::properties
