#pragma once
// SHA-256 (FIPS 180-4), for the suite manifest: suite.json lists every case file with its digest,
// so a file edited, truncated or swapped after generation is refused (docs/conformance.md). Written
// here from the standard rather than pulling in a crypto library for one hash;
// tests/test_sha256.cpp checks it against the standard's test vectors.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace path::conformance {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t size);
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
  // The digest as 64 lower-case hex digits; the object must not be updated afterwards.
  std::string hex_digest();

 private:
  void compress(const std::uint8_t* block);
  std::array<std::uint32_t, 8> state_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_bytes_ = 0;
};

std::string sha256_hex(std::string_view bytes);
// The digest of a file's contents (io::FileError naming the file when it cannot be read).
std::string sha256_file(const std::string& path);

}  // namespace path::conformance
