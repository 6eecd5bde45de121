// family_errors: the baseline family (conformance/src/baseline.cpp, baseline_family) of a stored
// decode case, member by member, at one row of one output; the case's STORED tolerances (made when
// the case was generated) beside the tolerances the family of this tree gives (case_tolerances); and
// optionally a result judged by both: a text file (a comment line, then o and lse row-major, the
// format of emulate_decode.py and `stages.py --out`) or a result .safetensors (what
// `pathcheck run --results DIR` writes: RESULTS/<case>.safetensors).
//
// Build (one compile against the project's built libraries, from the repository root; one line):
//   c++ -O2 -std=c++20 -DBOOST_ALL_NO_LIB -DPATH_HAVE_GMP=1 -Ireference/include -Icore/include -Iio/include
//     -Iconformance/include -isystem /usr/include/eigen3 tests/data/gpu-fuzz-2026-12-02-c/kernel-emulated/family_errors.cpp
//     build/conformance/libpath_conformance.a build/io/libpath_io.a -lgmp -o /tmp/family_errors
// Usage: family_errors CASE.safetensors OUTPUT ROW [RESULT.txt|RESULT.safetensors]
//   ROW: the row of OUTPUT (lse: the element; o: the [B, T, HQ] index of the vector).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "path/conformance/case.hpp"
#include "path/conformance/reference_outputs.hpp"
#include "path/conformance/tolerance.hpp"
#include "path/io/safetensors.hpp"

using namespace path::conformance;

namespace {

// The members' designs as kMembers in baseline.cpp lists them (members 2..16), for the labels only:
// order, forward logits and block, online softmax (decode: score before the cache is rounded),
// tiles right to left, p rounded before P*V, blockwise prefill (decode).
struct Label {
  const char* order;
  const char* logits;
  int block;
  bool online, rtl, round_p, blockwise_prefill;
};
const Label kLabels[] = {
    {"reversed", "blockwise", 16, false, false, true, true},  {"interleaved", "blockwise", 16, true, true, true, false},
    {"rotated", "naive", 16, true, false, false, true},       {"reversed", "blockwise", 8, true, true, false, true},
    {"interleaved", "blockwise", 64, true, false, true, true}, {"natural", "blockwise", 128, true, false, false, true},
    {"rotated", "blockwise", 128, false, false, true, true},  {"natural", "blockwise", 8, false, false, true, false},
    {"natural", "naive", 16, true, true, true, true},         {"reversed", "naive", 16, false, false, false, false},
    {"reversed", "blockwise", 64, true, true, true, true},    {"interleaved", "naive", 16, false, false, false, true},
    {"interleaved", "blockwise", 8, false, false, false, false}, {"rotated", "blockwise", 16, true, true, false, false},
    {"rotated", "blockwise", 64, false, false, true, true},
};

std::string label(std::size_t m) {
  char b[160];
  if (m == 0) return "decode  1: natural, scored from the rounded cache, prefill one H at a time (emulated_decode)";
  if (m < 16) {
    const Label& l = kLabels[m - 1];
    std::snprintf(b, sizeof b, "decode %2zu: %s, scored %s, prefill %s", m + 1, l.order,
                  l.online ? "BEFORE the cache is rounded" : "from the rounded cache",
                  l.blockwise_prefill ? ("blockwise " + std::to_string(l.block)).c_str() : "one H at a time");
    return b;
  }
  if (m == 16) return "forward  1: natural, naive logits, whole-row softmax, p rounded (emulate_forward)";
  const Label& l = kLabels[m - 17];
  std::snprintf(b, sizeof b, "forward %2zu: %s, %s logits (block %d), %s softmax%s, p %s", m - 15, l.order, l.logits,
                l.block, l.online ? "online" : "whole-row", l.online ? (l.rtl ? " right to left" : " left to right") : "",
                l.round_p ? "rounded" : "fp32");
  return b;
}

void print_assessment(const char* what, const Assessment& a, double c) {
  std::printf("  %-22s %s  ratio %.3g (max %.3g at element %zu, rows %.3g at row %zu: error %.4g, row tolerance %.4g; norm %.3g), c = %g\n",
              what, a.pass ? "PASS" : "FAIL", a.ratio, a.max_ratio, a.max_worst, a.row_ratio, a.worst_row,
              a.worst_row_error, a.worst_row_tolerance, a.norm_ratio, c);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: family_errors CASE.safetensors OUTPUT ROW [RESULT.txt|RESULT.safetensors]\n";
    return 2;
  }
  const Case c = read_case(argv[1]);
  const std::string out = argv[2];
  const std::size_t row = std::stoul(argv[3]);
  const std::vector<double>& E = c.expected.at(out);
  const Tolerance& stored = c.tolerances.at(out);
  const std::size_t len = stored.row_length;
  const std::vector<OutputValues> family = baseline_family(c.input);
  const std::map<std::string, Tolerance> now = case_tolerances(c.input, c.expected, ToleranceModel{});
  const Tolerance& fresh = now.at(out);

  std::printf("%s: %s row %zu (%zu elements), expected max |E| %.17g\n", c.name().c_str(), out.c_str(), row, len,
              *std::max_element(E.begin() + row * len, E.begin() + (row + 1) * len,
                                [](double a, double b) { return std::fabs(a) < std::fabs(b); }));
  std::vector<double> errs;
  for (std::size_t m = 0; m < family.size(); ++m) {
    const std::vector<double>& B = family[m].at(out);
    double e = 0, signed_e = 0;
    for (std::size_t i = row * len; i < (row + 1) * len; ++i)
      if (std::fabs(B[i] - E[i]) > e) e = std::fabs(B[i] - E[i]), signed_e = B[i] - E[i];
    errs.push_back(e);
    std::printf("  %-100s error %+.4g\n", label(m).c_str(), signed_e);
  }
  std::vector<double> sorted = errs;
  std::sort(sorted.begin(), sorted.end());
  std::printf("  family of %zu: row error max %.4g, median %.4g, min %.4g\n", errs.size(), sorted.back(),
              sorted[sorted.size() / 2], sorted.front());
  std::printf("  stored b_r %.4g, recomputed b_r %.4g; stored beta %.4g, recomputed %.4g; stored lambda %.4g, recomputed %.4g\n",
              stored.row_baseline_error.at(row), fresh.row_baseline_error.at(row), stored.measured_baseline_error,
              fresh.measured_baseline_error, stored.row_level, fresh.row_level);
  if (argc > 4) {
    const std::string file = argv[4];
    std::map<std::string, std::vector<double>> r;
    if (file.size() > 12 && file.substr(file.size() - 12) == ".safetensors") {
      r[out] = path::io::read_safetensors(file).require(out).values;
    } else {
      std::ifstream in(file);
      std::string line;
      std::getline(in, line);  // comment
      for (const char* name : {"o", "lse"}) {
        std::getline(in, line);
        std::istringstream values(line);
        double x;
        while (values >> x) r[name].push_back(x);
      }
    }
    const std::vector<double>& R = r.at(out);
    if (R.size() != E.size()) {
      std::cerr << argv[4] << ": " << R.size() << " values of " << out << ", the case has " << E.size() << "\n";
      return 1;
    }
    double e = 0;
    for (std::size_t i = row * len; i < (row + 1) * len; ++i) e = std::max(e, std::fabs(R[i] - E[i]));
    std::printf("  result %s: row error %.4g = %.3g x the family's max, %.3g x its median\n", argv[4], e, e / sorted.back(),
                e / sorted[sorted.size() / 2]);
    print_assessment("stored tolerances:", assess(R, E, stored), stored.c);
    print_assessment("recomputed tolerances:", assess(R, E, fresh), fresh.c);
  }
  return 0;
}
