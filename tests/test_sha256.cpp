// SHA-256 against the FIPS 180-2 / NIST example vectors and the padding boundaries (lengths around
// 55/56 and 64 bytes, where the length field moves to a second block); feeding the same bytes in
// random pieces gives the same digest (the seed is printed).
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "path/conformance/sha256.hpp"
#include "support/seed.hpp"

namespace path {
namespace {

using conformance::Sha256;
using conformance::sha256_hex;

TEST(Sha256, StandardVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
                       "mnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, PaddingBoundaries) {
  // Digests of n bytes 'x' (from coreutils sha256sum).
  const std::pair<std::size_t, const char*> vectors[] = {
      {55, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072"},
      {56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e"},
      {63, "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2"},
      {64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c"},
      {65, "9537c5fdf120482f7d58d25e9ed583f52c02b4e304ea814db1633ad565aed7e9"},
      {119, "000b48d4edf0fa7bee3c6236ecd2785baa5db4eeb8bb54341b029e0d9fa5fb0c"}};
  for (const auto& [n, digest] : vectors) EXPECT_EQ(sha256_hex(std::string(n, 'x')), digest) << n << " bytes";
}

TEST(Sha256, PiecewiseUpdatesEqualOneShot) {
  auto rng = testing::rng_for("Sha256.Piecewise");
  for (int trial = 0; trial < 50; ++trial) {
    std::string bytes(rng() % 700, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    Sha256 h;
    for (std::size_t at = 0; at < bytes.size();) {
      const std::size_t n = std::min<std::size_t>(bytes.size() - at, rng() % 130);
      h.update(bytes.data() + at, n);
      at += n;
    }
    EXPECT_EQ(h.hex_digest(), sha256_hex(bytes)) << bytes.size() << " bytes; " << testing::seed_note();
  }
}

}  // namespace
}  // namespace path
