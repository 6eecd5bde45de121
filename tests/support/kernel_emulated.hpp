#pragma once
// The GPU step kernels' outputs on the decode reproducers of 2026-12-02, as numpy models of the
// kernels compute them (tests/data/gpu-fuzz-2026-12-02-c/kernel-emulated/: a comment line, then o
// and lse, row-major, one line each), and the reproducers themselves: what both the baseline
// family's test and pathcheck refresh's test judge.
#include <fstream>
#include <sstream>
#include <string>

#include "path/conformance/reference_outputs.hpp"

namespace path::testing {

inline std::string decode_reproducers_dir() { return std::string(PATH_GOLDEN_DIR) + "/../gpu-fuzz-2026-12-02-c/"; }

struct DecodeReproducer {
  const char* file;    // under decode_reproducers_dir(), without .safetensors
  const char* model;   // kernel-emulated/<model>.txt
  const char* failed;  // the output the tolerances stored in the file reject
};

inline const DecodeReproducer kDecodeReproducers[] = {
    {"fp32/fuzz-3942135878589646-625-decode-vs-forward-decode", "fp32", "o"},
    {"fp16/fuzz-1515097446441344-414-oracle", "fp16", "lse"},
    {"bf16/fuzz-8195623905174248-721-decode-vs-forward-decode", "bf16", "lse"},
};

// o and lse of the model; empty where the file is missing or short (the caller asserts sizes).
inline conformance::OutputValues read_kernel_emulated(const std::string& model) {
  std::ifstream in(decode_reproducers_dir() + "kernel-emulated/" + model + ".txt");
  conformance::OutputValues r;
  std::string line;
  if (!std::getline(in, line)) return r;  // the comment
  for (const char* name : {"o", "lse"}) {
    if (!std::getline(in, line)) return r;
    std::istringstream values(line);
    double x;
    while (values >> x) r[name].push_back(x);
  }
  return r;
}

}  // namespace path::testing
