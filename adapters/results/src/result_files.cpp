#include "path/adapters/result_files.hpp"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>

#include "path/adapters/printable_text.hpp"
#include "path/conformance/case.hpp"
#include "path/conformance/runner.hpp"
#include "path/io/safetensors.hpp"

namespace path::adapters {

namespace {

namespace fs = std::filesystem;

// The first kErrorFileKeptBytes of the file as printable text (a harness may dump anything into
// it, a binary traceback included), and a note naming the file when the rest was cut.
std::string read_error_message(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  std::ifstream in(path, std::ios::binary);
  if (ec || !in) throw io::FileError(path + ": cannot read the implementation's error file (is it a regular file?)");
  std::string raw(static_cast<std::size_t>(std::min<std::uintmax_t>(size, kErrorFileKeptBytes)), '\0');
  in.read(raw.data(), static_cast<std::streamsize>(raw.size()));
  raw.resize(static_cast<std::size_t>(in.gcount()));
  std::string text = printable_text(raw);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\t')) text.pop_back();
  if (size > kErrorFileKeptBytes)
    text += " ... (cut: the first " + std::to_string(kErrorFileKeptBytes) + " of " + std::to_string(size) + " bytes of " +
            path + ")";
  return text;
}

// Throws ReportedFailure when the harness wrote an error file for the case.
void throw_reported_failure(const std::string& dir, const std::string& case_name) {
  const std::string path = error_file_path(dir, case_name);
  std::error_code ec;
  if (!fs::exists(path, ec)) return;
  const std::string message = read_error_message(path);
  std::string text = kReportedPrefix + (message.empty() ? "(no message: " + path + " is empty)" : message);
  if (fs::exists(conformance::case_path(dir, case_name), ec))
    text += " (its result file " + case_name + ".safetensors exists too, but the harness said the case failed)";
  throw ReportedFailure(text);
}

}  // namespace

std::string error_file_path(const std::string& dir, const std::string& case_name) {
  return (fs::path(dir) / (case_name + kErrorFileSuffix)).string();
}

void ResultFiles::run(const conformance::CaseInput& input, conformance::Outputs& outputs) {
  throw_reported_failure(dir_, input.spec.name);
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
