#include "path/adapters/result_files.hpp"

#include "path/conformance/case.hpp"
#include "path/conformance/runner.hpp"
#include "path/io/safetensors.hpp"

namespace path::adapters {

void ResultFiles::run(const conformance::CaseInput& input, conformance::Outputs& outputs) {
  const io::TensorFile f = io::read_safetensors(conformance::case_path(dir_, input.spec.name));
  // A case file holds the expected outputs under the result names: a harness that writes back
  // what it loaded must not pass.
  if (const auto it = f.metadata.find("format"); it != f.metadata.end() && it->second == conformance::kCaseFormat)
    throw io::FileError(f.source + ": is a conformance case file (format " + it->second +
                        ": it holds the expected outputs), not an implementation's result file");
  for (auto it = outputs.begin(); it != outputs.end();) {
    const auto found = f.tensors.find(it->first);
    if (found == f.tensors.end()) {
      it = outputs.erase(it);
    } else {
      it->second = found->second;
      ++it;
    }
  }
}

}  // namespace path::adapters
