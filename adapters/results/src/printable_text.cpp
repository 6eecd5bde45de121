// Third-party text made safe for the reports (printable_text.hpp).
#include "path/adapters/printable_text.hpp"

#include <cstddef>
#include <cstdint>

namespace path::adapters {

namespace {

// Length of the well-formed UTF-8 sequence at s[i] (no overlong forms, no surrogates), 0 if none.
std::size_t utf8_length(const std::string& s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  std::uint32_t cp = n == 1 ? c : c & (0x7F >> n);
  for (std::size_t k = 1; k < n; ++k) {
    const auto d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3F);
  }
  static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

}  // namespace

std::string printable_text(const std::string& raw) {
  std::string out;
  for (std::size_t i = 0; i < raw.size();) {
    const std::size_t n = utf8_length(raw, i);
    const char c = raw[i];
    if (n == 0) {
      out += '?';
      ++i;
      continue;
    }
    if (n == 1 && c == '\r') out += (i + 1 < raw.size() && raw[i + 1] == '\n') ? "" : "\n";
    else if (n == 1 && static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') out += '?';
    else out.append(raw, i, n);
    i += n;
  }
  return out;
}

}  // namespace path::adapters
