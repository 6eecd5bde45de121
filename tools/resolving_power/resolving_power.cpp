// resolving_power: measures what the tolerance model (docs/tolerance.md) accepts and rejects on a
// built-in suite, per input dtype and output:
//
//   1. every correct implementation of tests/support/correct_variants.hpp (the CPU oracles in
//      double, the fp32 blockwise oracle, a FlashAttention-style fp32 kernel, the same-precision
//      baseline in another summation order) on every case: the fraction of verdicts that pass
//      (must be 1) and the largest ratio / c of each criterion (must be <= 1);
//   2. the resolving power: the smallest uniform relative error eps for which the result
//      fl_X(E (1 + eps)) -- the exact outputs off by eps, rounded to the output dtype X, every
//      other output exact -- is rejected: per case (bisection on eps) and per suite draw (the
//      smallest over its cases: the suite rejects as soon as one case does), reported as the
//      worst and the median draw.
//
//   resolving_power [--suite quick|standard] [--dtype bf16,fp16,fp32] [--seeds N] [--seed S]
//                   [--jobs J] [--cache DIR] [--shift] [--per-case] [--c C]
//
// Seeds: S, S+1, ..., S+N-1 (S random and printed when not given). --cache DIR keeps generated
// suites (DIR/<suite>-<dtype>-<seed>/) for reruns. --shift measures E + eps |E| instead of
// E (1 + eps). --per-case prints every case's threshold; --c C judges with another c (the
// stored measured numbers and floors kept, as validate --c does). The numbers in docs/tolerance.md come
// from this program.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "path/conformance/case.hpp"
#include "path/conformance/judge.hpp"
#include "path/conformance/suite.hpp"
#include "path/conformance/tolerance.hpp"
#include "path/core/rounding.hpp"
#include "support/correct_variants.hpp"

namespace {

using namespace path;
using namespace path::conformance;

struct Options {
  std::string suite = "quick";
  std::vector<io::DType> dtypes{io::DType::BF16, io::DType::F16, io::DType::F32};
  int seeds = 1;
  std::uint64_t seed = 0;
  bool seed_given = false;
  unsigned jobs = 2;
  std::string cache;
  bool shift = false;
  bool per_case = false;  // print every case's threshold
  std::optional<double> c;  // judge with this c instead of the stored one (validate --c)
};

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "resolving_power: " << why
            << "\nusage: resolving_power [--suite quick|standard] [--dtype bf16,fp16,fp32] [--seeds N] [--seed S]"
               " [--jobs J] [--cache DIR] [--shift] [--per-case] [--c C]\n";
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--suite") o.suite = value();
    else if (a == "--dtype") {
      o.dtypes.clear();
      std::stringstream ss(value());
      for (std::string d; std::getline(ss, d, ',');) {
        const auto t = parse_input_dtype(d);
        if (!t) usage("unknown dtype " + d);
        o.dtypes.push_back(*t);
      }
    } else if (a == "--seeds") o.seeds = std::max(1, std::stoi(value()));
    else if (a == "--seed") o.seed = std::stoull(value()), o.seed_given = true;
    else if (a == "--jobs") o.jobs = static_cast<unsigned>(std::max(1, std::stoi(value())));
    else if (a == "--cache") o.cache = value();
    else if (a == "--shift") o.shift = true;
    else if (a == "--per-case") o.per_case = true;
    else if (a == "--c") o.c = std::stod(value());
    else usage("unknown argument " + a);
  }
  if (!is_suite_name(o.suite)) usage("unknown suite " + o.suite);
  if (!o.seed_given) o.seed = random_seed();
  return o;
}

std::vector<Case> make_suite(const Options& opt, io::DType dtype, std::uint64_t seed) {
  const std::vector<CaseSpec> specs = suite_specs(opt.suite, dtype);
  std::vector<Case> cases(specs.size());
  std::string dir;
  if (!opt.cache.empty()) {
    dir = opt.cache + "/" + opt.suite + "-" + std::string(dtype_label(dtype)) + "-" + std::to_string(seed);
    if (std::filesystem::exists(dir + "/complete")) {
      for (std::size_t i = 0; i < specs.size(); ++i) cases[i] = read_case(dir + "/" + specs[i].name + ".safetensors");
      return cases;
    }
    std::filesystem::create_directories(dir);
  }
  BuildOptions b;
  b.suite = opt.suite;
  b.suite_seed = seed;
  const auto start = std::chrono::steady_clock::now();
  build_cases(specs, b, opt.jobs, [&](std::size_t i, Case&& c) {
    if (!dir.empty()) write_case(dir + "/" + c.name() + ".safetensors", c, true);
    cases[i] = std::move(c);
  });
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "  generated %s %s seed %llu: %zu cases in %.1f s\n", opt.suite.c_str(),
               std::string(dtype_label(dtype)).c_str(), static_cast<unsigned long long>(seed), cases.size(), s);
  if (!dir.empty()) std::ofstream(dir + "/complete") << "ok\n";
  return cases;
}

const std::vector<std::string> kOutputs = {"o", "lse", "k_cache", "dq", "dk", "dv", "dw", "dbeta", "dg"};

// The exact outputs off by eps in one output, rounded to its dtype.
std::vector<double> off_by(const std::vector<double>& e, double eps, io::DType t, bool shift) {
  std::vector<double> r(e.size());
  for (std::size_t i = 0; i < e.size(); ++i) r[i] = round_to(shift ? e[i] + eps * std::fabs(e[i]) : e[i] * (1 + eps), t);
  return r;
}

// The smallest eps in [1e-9, 1] rejected (bisection in log space; the verdict is monotone in eps
// up to the rounding of the perturbed values, which the bracketing below tolerates); +inf when
// eps = 1 passes. Returns the criterion that rejects at the threshold.
std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : "+") + x;
  return s;
}

std::pair<double, std::string> threshold(const std::vector<double>& e, const Tolerance& t, bool shift) {
  auto rejected = [&](double eps) { return !assess(off_by(e, eps, t.dtype, shift), e, t).pass; };
  if (max_abs(e) == 0 || !rejected(1.0)) return {std::numeric_limits<double>::infinity(), "-"};
  double lo = 1e-9, hi = 1.0;
  if (rejected(lo)) return {lo, joined(assess(off_by(e, lo, t.dtype, shift), e, t).failed)};
  for (int k = 0; k < 48; ++k) {
    const double mid = std::sqrt(lo * hi);
    (rejected(mid) ? hi : lo) = mid;
  }
  return {hi, joined(assess(off_by(e, hi, t.dtype, shift), e, t).failed)};
}

std::string pct(double x) {
  if (!std::isfinite(x)) return "-";
  char buf[32];
  if (x >= 1e-3) std::snprintf(buf, sizeof buf, "%.3g%%", 100 * x);
  else std::snprintf(buf, sizeof buf, "%.2g", x);
  return buf;
}

// A criterion's ratio in a verdict (0 where the case's model has no such criterion).
double ratio_of(const OutputVerdict& o, const char* criterion) {
  const auto it = o.ratios.find(criterion);
  return it == o.ratios.end() ? 0 : it->second;
}

double median(std::vector<double> x) {
  if (x.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(x.begin(), x.end());
  return x[x.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  std::printf("resolving_power: suite %s, seeds %llu..%llu%s\n", opt.suite.c_str(),
              static_cast<unsigned long long>(opt.seed), static_cast<unsigned long long>(opt.seed + opt.seeds - 1),
              opt.shift ? ", errors E + eps |E|" : ", errors E (1 + eps)");
  auto impls = path::testing::correct_implementations();
  bool all_correct_passed = true;
  for (io::DType dtype : opt.dtypes) {
    const std::string label(dtype_label(dtype));
    // correct implementations: verdict counts and worst ratio / c per criterion
    std::map<std::string, std::size_t> verdicts, passed;
    std::map<std::string, std::map<std::string, std::array<double, 3>>> worst;  // impl -> output -> max/norm/rows
    std::map<std::string, std::string> failures;
    std::vector<std::pair<double, std::string>> closest;  // (ratio / c, where) of correct implementations
    // resolving power: per output, thresholds per case, and which criterion rejected there
    std::map<std::string, std::vector<double>> thresholds;
    std::map<std::string, std::map<std::string, int>> by_criterion;
    // per output and suite draw (seed): the suite's threshold, the smallest over its cases
    std::map<std::string, std::map<std::uint64_t, double>> suite_threshold;
    std::map<std::string, std::pair<double, std::string>> worst_case;  // output -> (threshold, case)
    for (int k = 0; k < opt.seeds; ++k) {
      const std::uint64_t seed = opt.seed + static_cast<std::uint64_t>(k);
      const std::vector<Case> cases = make_suite(opt, dtype, seed);
      for (const Case& c : cases) {
        for (auto& impl : impls) {
          Outputs out = poisoned_outputs(c.spec());
          impl->run(c.input, out);
          const CaseVerdict v = judge(c, out, JudgeOptions{opt.c});
          ++verdicts[impl->name()];
          if (v.verdict == Verdict::pass) ++passed[impl->name()];
          else {
            failures[impl->name()] += "\n      " + c.name() + "/" + std::to_string(seed) + ":";
            for (const OutputVerdict& o : v.outputs)
              if (o.verdict != Verdict::pass) {
                char buf[200];
                std::snprintf(buf, sizeof buf, " %s(max %.2f norm %.2f rows %.2f; beta %.2g tol %.2g phi %.2g)", o.output.c_str(),
                              ratio_of(o, "max") / o.tolerance.c, ratio_of(o, "norm") / o.tolerance.c,
                              ratio_of(o, "rows") / o.tolerance.c,
                              o.tolerance.baseline_error, o.tolerance.tolerance, o.tolerance.arithmetic_floor);
                failures[impl->name()] += buf;
              }
          }
          for (const OutputVerdict& o : v.outputs) {
            auto& w = worst[impl->name()][o.output];
            w[0] = std::max(w[0], ratio_of(o, "max") / o.tolerance.c);
            w[1] = std::max(w[1], ratio_of(o, "norm") / o.tolerance.c);
            w[2] = std::max(w[2], ratio_of(o, "rows") / o.tolerance.c);
            const double worst_criterion = o.ratio / o.tolerance.c;
            const char* which = o.ratio == ratio_of(o, "max") ? "max" : o.ratio == ratio_of(o, "norm") ? "norm" : "rows";
            closest.push_back({worst_criterion, impl->name() + " " + c.name() + "/" + std::to_string(seed) + " " +
                                                    o.output + " (" + which + ")"});
          }
        }
        for (const std::string& name : output_names(c.spec())) {
          const Tolerance& stored = c.tolerances.at(name);
          const auto [eps, criterion] = threshold(c.expected.at(name), opt.c ? with_c(stored, *opt.c) : stored, opt.shift);
          thresholds[name].push_back(eps);
          if (opt.per_case)
            std::printf("  case %s %s/%llu %s: %s (%s)\n", label.c_str(), c.name().c_str(),
                        static_cast<unsigned long long>(seed), name.c_str(), pct(eps).c_str(), criterion.c_str());
          auto [st, fresh] = suite_threshold[name].emplace(seed, eps);
          if (!fresh) st->second = std::min(st->second, eps);
          ++by_criterion[name][criterion];
          auto wt = worst_case.find(name);
          if (std::isfinite(eps) && (wt == worst_case.end() || eps > wt->second.first))
            worst_case[name] = {eps, c.name() + "/" + std::to_string(seed)};
        }
      }
    }
    std::printf("\n== %s: correct implementations (pass: every ratio / c <= 1)\n", label.c_str());
    std::printf("%-20s %9s  worst ratio/c per output as max/norm/rows\n", "implementation", "passed");
    for (auto& impl : impls) {
      const std::string n = impl->name();
      std::printf("%-20s %4zu/%-4zu ", n.c_str(), passed[n], verdicts[n]);
      for (const std::string& out : kOutputs) {
        const auto it = worst[n].find(out);
        if (it == worst[n].end()) continue;
        std::printf(" %s %.2f/%.2f/%.2f", out.c_str(), it->second[0], it->second[1], it->second[2]);
      }
      std::printf("\n");
      if (passed[n] != verdicts[n]) {
        all_correct_passed = false;
        std::printf("    FAILED:%s\n", failures[n].c_str());
      }
    }
    std::sort(closest.begin(), closest.end(), std::greater<>());
    std::printf("closest to the tolerance (ratio / c):");
    for (std::size_t k = 0; k < std::min<std::size_t>(5, closest.size()); ++k)
      std::printf("%s %.3f %s", k ? ";" : "", closest[k].first, closest[k].second.c_str());
    std::printf("\n");
    std::printf("\n== %s: resolving power (smallest uniform relative error rejected)\n", label.c_str());
    std::printf("suite: over the %d suite draws, the worst (largest) and the median of each draw's threshold, the\n"
                "smallest over its cases (a suite rejects as soon as one case does); per case: median and worst\n",
                opt.seeds);
    std::printf("%-8s %6s %11s %11s %11s %11s  %-s\n", "output", "cases", "suite worst", "suite med.", "case med.",
                "case worst", "rejected by (per case)");
    for (const std::string& out : kOutputs) {
      const auto it = thresholds.find(out);
      if (it == thresholds.end()) continue;
      double worst_finite = 0;
      for (double x : it->second)
        if (std::isfinite(x)) worst_finite = std::max(worst_finite, x);
      std::vector<double> draws;
      for (const auto& [seed, x] : suite_threshold[out]) draws.push_back(x);
      std::string crit;
      for (const auto& [k, n] : by_criterion[out]) crit += k + " " + std::to_string(n) + "; ";
      std::printf("%-8s %6zu %11s %11s %11s %11s  %s(worst case: %s)\n", out.c_str(), it->second.size(),
                  pct(*std::max_element(draws.begin(), draws.end())).c_str(), pct(median(draws)).c_str(),
                  pct(median(it->second)).c_str(), pct(worst_finite).c_str(), crit.c_str(),
                  worst_case[out].second.c_str());
    }
    std::fflush(stdout);
  }
  std::printf("\n%s\n", all_correct_passed ? "every correct implementation passed every case"
                                           : "SOME CORRECT IMPLEMENTATION WAS REJECTED");
  return all_correct_passed ? 0 : 1;
}
