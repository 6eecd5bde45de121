#include "path/adapters/result_files.hpp"

#include "path/conformance/runner.hpp"
#include "path/io/safetensors.hpp"

namespace path::adapters {

void ResultFiles::run(const conformance::CaseInput& input, conformance::Outputs& outputs) {
  const io::TensorFile f = io::read_safetensors(conformance::case_path(dir_, input.spec.name));
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
