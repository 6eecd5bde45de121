// Tests of the safetensors reader and writer: round trips for every dtype (the rounding codec
// itself: tests/test_rounding.cpp),
// atomic and non-clobbering writes, and one rejection test per reader check, each built by
// mutating the bytes of a valid file and checking that the message names the problem.
#include "path/core/random.hpp"
#include "path/io/safetensors.hpp"

#include "path/core/rounding.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>
#include <unistd.h>

namespace {

using namespace path::io;
using json = nlohmann::json;
using Bytes = std::vector<std::uint8_t>;

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

Tensor make(DType t, std::vector<int64_t> shape, std::vector<double> values) {
  Tensor x;
  x.dtype = t;
  x.shape = std::move(shape);
  x.values = std::move(values);
  return x;
}

// A small valid file with several dtypes; the rejection tests mutate its bytes.
TensorFile sample() {
  TensorFile f;
  f.tensors["a"] = make(DType::F64, {2, 3}, {1, 2, 3, 4, 5, 6});
  f.tensors["b"] = make(DType::F32, {4}, {0.5, -1, 2, 8});
  f.tensors["c"] = make(DType::I64, {3}, {0, 2, 3});
  f.tensors["d"] = make(DType::U8, {2}, {7, 9});
  f.metadata["scale"] = "0.5";
  return f;
}

TensorFile parse(const Bytes& b, const std::string& label = "mem.safetensors") {
  return parse_safetensors(b.data(), b.size(), label);
}

std::uint64_t header_len(const Bytes& b) {
  std::uint64_t n;
  std::memcpy(&n, b.data(), 8);
  return n;
}

std::string header_of(const Bytes& b) {
  return std::string(reinterpret_cast<const char*>(b.data() + 8), header_len(b));
}

Bytes data_of(const Bytes& b) { return Bytes(b.begin() + 8 + static_cast<long>(header_len(b)), b.end()); }

// A file with the given header text (as is, no padding) and data area.
Bytes assemble(const std::string& header, const Bytes& data) {
  Bytes out(8 + header.size() + data.size());
  std::uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  std::copy(header.begin(), header.end(), out.begin() + 8);
  std::copy(data.begin(), data.end(), out.begin() + 8 + static_cast<long>(header.size()));
  return out;
}

// The sample file with its header JSON edited by `edit`, data area unchanged.
Bytes with_header_edit(const std::function<void(json&)>& edit) {
  Bytes b = serialize_safetensors(sample());
  json h = json::parse(header_of(b));
  edit(h);
  return assemble(h.dump(), data_of(b));
}

// The sample file with its header text edited by `edit`, data area unchanged.
Bytes with_header_text(const std::function<void(std::string&)>& edit) {
  Bytes b = serialize_safetensors(sample());
  std::string h = header_of(b);
  edit(h);
  return assemble(h, data_of(b));
}

void replace_once(std::string& s, const std::string& from, const std::string& to) {
  auto pos = s.find(from);
  ASSERT_NE(pos, std::string::npos) << from << " not in " << s;
  s.replace(pos, from.size(), to);
}

// Parsing must throw FileError (nothing else) whose message contains every fragment.
void expect_rejected(const Bytes& b, std::initializer_list<std::string> fragments) {
  try {
    parse(b);
    ADD_FAILURE() << "accepted a malformed file";
  } catch (const FileError& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.rfind("mem.safetensors: ", 0), 0u) << msg;
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "'" << f << "' not in: " << msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

// Same check for the writer.
void expect_write_rejected(const TensorFile& f, std::initializer_list<std::string> fragments) {
  try {
    serialize_safetensors(f);
    ADD_FAILURE() << "serialized an invalid file";
  } catch (const FileError& e) {
    std::string msg = e.what();
    for (const auto& fr : fragments) EXPECT_NE(msg.find(fr), std::string::npos) << "'" << fr << "' not in: " << msg;
  }
}

bool same_value(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || (a == b && std::signbit(a) == std::signbit(b));
}

void expect_same(const TensorFile& want, const TensorFile& got) {
  ASSERT_EQ(want.tensors.size(), got.tensors.size());
  for (const auto& [name, t] : want.tensors) {
    ASSERT_TRUE(got.has(name)) << name;
    const Tensor& g = got.require(name);
    EXPECT_EQ(g.dtype, t.dtype) << name;
    EXPECT_EQ(g.shape, t.shape) << name;
    ASSERT_EQ(g.values.size(), t.values.size()) << name;
    for (std::size_t i = 0; i < t.values.size(); ++i)
      EXPECT_TRUE(same_value(g.values[i], t.values[i])) << name << "[" << i << "]: " << g.values[i] << " vs " << t.values[i];
  }
  EXPECT_EQ(want.metadata, got.metadata);
}

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    dir_ = std::filesystem::temp_directory_path() /
           ("test_safetensors." + std::to_string(::getpid()) + "." +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~TempDir() { std::filesystem::remove_all(dir_); }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  std::size_t entries() const {
    return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator(dir_), {}));
  }

 private:
  std::filesystem::path dir_;
};

Bytes slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

// ------------------------------------------------------------------------------------------
// dtypes and rounding

TEST(SafetensorsDType, NamesSizesAndInverse) {
  const std::pair<DType, std::size_t> all[] = {{DType::F64, 8}, {DType::F32, 4}, {DType::F16, 2},
                                               {DType::BF16, 2}, {DType::I64, 8}, {DType::I32, 4},
                                               {DType::I8, 1},  {DType::U8, 1},  {DType::BOOL, 1}};
  for (auto [t, size] : all) {
    EXPECT_EQ(dtype_size(t), size);
    EXPECT_EQ(dtype_from_name(dtype_name(t)), t);
  }
  EXPECT_EQ(dtype_name(DType::BF16), "BF16");
  EXPECT_EQ(dtype_name(DType::BOOL), "BOOL");
  EXPECT_FALSE(dtype_from_name("f32"));
  EXPECT_FALSE(dtype_from_name("U16"));
  EXPECT_FALSE(dtype_from_name(""));
}

// ------------------------------------------------------------------------------------------
// round trips

TEST(SafetensorsRoundTrip, EveryDtypeExactValues) {
  const double sub16 = std::ldexp(1, -24), subbf = std::ldexp(1, -133);
  TensorFile f;
  f.tensors["f64"] = make(DType::F64, {2, 3}, {0.1, -0.0, kInf, -kInf, kNaN, std::ldexp(1, -1074)});
  f.tensors["f32"] = make(DType::F32, {5}, {0.1f, -0.0, kInf, kNaN, std::ldexp(1, -149)});
  f.tensors["f16"] = make(DType::F16, {2, 2}, {65504, -sub16, 1 + std::ldexp(1, -10), kNaN});
  f.tensors["bf16"] = make(DType::BF16, {4}, {subbf, std::ldexp(1.5, 100), -kInf, 1 + std::ldexp(1, -7)});
  f.tensors["i64"] = make(DType::I64, {4}, {0, -1, std::ldexp(1, 53), -std::ldexp(1, 53)});
  f.tensors["i32"] = make(DType::I32, {3}, {-2147483648.0, 2147483647.0, 5});
  f.tensors["i8"] = make(DType::I8, {3}, {-128, 127, 0});
  f.tensors["u8"] = make(DType::U8, {3}, {0, 255, 17});
  f.tensors["bool"] = make(DType::BOOL, {3}, {1, 0, 1});
  f.tensors["scalar"] = make(DType::F64, {}, {42});
  f.tensors["empty"] = make(DType::F32, {0, 5}, {});
  expect_same(f, parse(serialize_safetensors(f)));
}

TEST(SafetensorsRoundTrip, WriteRoundsToTheStoredDtype) {
  TensorFile f;
  f.tensors["h"] = make(DType::F16, {4}, {65520, 1 + std::ldexp(1, -11), std::ldexp(1, -26) * 3, 0.1});  // 3*2^-26 = 0.75 subnormal quanta
  f.tensors["b"] = make(DType::BF16, {2}, {1 + std::ldexp(1, -9), 1 + 3 * std::ldexp(1, -8)});
  f.tensors["s"] = make(DType::F32, {1}, {0.1});
  TensorFile got = parse(serialize_safetensors(f));
  const auto& h = got.require("h").values;
  EXPECT_EQ(h[0], kInf);
  EXPECT_EQ(h[1], 1.0);
  EXPECT_EQ(h[2], std::ldexp(1, -24));
  EXPECT_EQ(h[3], path::round_to(0.1, DType::F16));
  EXPECT_EQ(got.require("b").values, (std::vector<double>{1.0, 1 + std::ldexp(1, -6)}));
  EXPECT_EQ(got.require("s").values[0], static_cast<double>(0.1f));
}

TEST(SafetensorsRoundTrip, MetadataAndEmptyFile) {
  TensorFile f;
  f.metadata = {{"gate_convention", "paper"}, {"scale", "0.57735"}, {"unicode", "\xce\xb2 \xe2\x88\x91"}, {"", ""}};
  expect_same(f, parse(serialize_safetensors(f)));
  expect_same(TensorFile{}, parse(serialize_safetensors(TensorFile{})));
}

TEST(SafetensorsRoundTrip, LayoutIsAlignedAndHeaderPadded) {
  TensorFile f;
  f.tensors["a_u8"] = make(DType::U8, {3}, {1, 2, 3});
  f.tensors["b_f64"] = make(DType::F64, {1}, {1});
  f.tensors["c_f16"] = make(DType::F16, {1}, {1});
  f.tensors["d_f32"] = make(DType::F32, {1}, {1});
  Bytes b = serialize_safetensors(f);
  EXPECT_EQ(header_len(b) % 8, 0u);
  json h = json::parse(header_of(b));
  for (const auto& [name, t] : f.tensors)
    EXPECT_EQ(h[name]["data_offsets"][0].get<std::uint64_t>() % dtype_size(t.dtype), 0u) << name;
}

TEST(SafetensorsRoundTrip, GapsBetweenTensorsAreAllowed) {
  Bytes b = with_header_edit([](json& h) { h["d"]["data_offsets"] = {h["d"]["data_offsets"][0].get<int>() + 1, h["d"]["data_offsets"][1].get<int>() + 1}; });
  b.push_back(0);  // the shifted tensor's last byte
  EXPECT_NO_THROW(parse(b));
  b.push_back(0);  // and trailing bytes nobody references
  EXPECT_NO_THROW(parse(b));
}

TEST(SafetensorsRoundTrip, ReadsAndWritesFiles) {
  TempDir dir;
  const std::string p = dir.file("x.safetensors");
  write_safetensors(p, sample(), false);
  TensorFile got = read_safetensors(p);
  EXPECT_EQ(got.source, p);
  expect_same(sample(), got);
  EXPECT_EQ(dir.entries(), 1u);  // no temporary left behind
}

// ------------------------------------------------------------------------------------------
// writer

TEST(SafetensorsWrite, RefusesToOverwriteAndLeavesFileIntact) {
  TempDir dir;
  const std::string p = dir.file("x.safetensors");
  write_safetensors(p, sample(), false);
  Bytes before = slurp(p);
  TensorFile other;
  other.tensors["z"] = make(DType::F64, {1}, {3});
  try {
    write_safetensors(p, other, false);
    ADD_FAILURE() << "overwrote";
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find(p + ": already exists"), std::string::npos) << e.what();
  }
  EXPECT_EQ(slurp(p), before);
  EXPECT_EQ(dir.entries(), 1u);
  write_safetensors(p, other, true);
  expect_same(other, read_safetensors(p));
  EXPECT_EQ(dir.entries(), 1u);
}

TEST(SafetensorsWrite, FailedWriteLeavesNothing) {
  TempDir dir;
  const std::string p = dir.file("x.safetensors");
  TensorFile bad;
  bad.tensors["t"] = make(DType::I32, {1}, {0.5});
  EXPECT_THROW(write_safetensors(p, bad, true), FileError);
  EXPECT_EQ(dir.entries(), 0u);
  write_safetensors(p, sample(), false);
  Bytes before = slurp(p);
  EXPECT_THROW(write_safetensors(p, bad, true), FileError);  // an invalid overwrite keeps the old file
  EXPECT_EQ(slurp(p), before);
  EXPECT_THROW(write_safetensors(dir.file("no/such/dir/x.safetensors"), sample(), true), FileError);
  EXPECT_EQ(dir.entries(), 1u);
}

TEST(SafetensorsWrite, RejectsValuesTheDtypeCannotHold) {
  auto one = [](DType t, double v) {
    TensorFile f;
    f.tensors["t"] = make(t, {1}, {v});
    return f;
  };
  expect_write_rejected(one(DType::I32, 0.5), {"tensor 't'", "not an integer"});
  expect_write_rejected(one(DType::I32, 2147483648.0), {"tensor 't'", "I32"});
  expect_write_rejected(one(DType::I8, -129), {"tensor 't'", "I8"});
  expect_write_rejected(one(DType::U8, -1), {"tensor 't'", "U8"});
  expect_write_rejected(one(DType::U8, kNaN), {"tensor 't'", "U8"});
  expect_write_rejected(one(DType::I64, std::ldexp(1, 53) + 2), {"tensor 't'", "I64"});
  expect_write_rejected(one(DType::BOOL, 2), {"tensor 't'", "BOOL"});
  expect_write_rejected(one(DType::I64, kInf), {"tensor 't'", "I64"});
}

TEST(SafetensorsWrite, RejectsBadShapesNamesAndStrings) {
  TensorFile f;
  f.tensors["t"] = make(DType::F64, {2, 2}, {1, 2, 3});
  expect_write_rejected(f, {"tensor 't'", "4 elements but 3 values"});
  f.tensors["t"] = make(DType::F64, {-1}, {});
  expect_write_rejected(f, {"tensor 't'", "negative"});
  f.tensors.clear();
  f.tensors["__metadata__"] = make(DType::F64, {}, {1});
  expect_write_rejected(f, {"reserved"});
  f.tensors.clear();
  f.metadata["k"] = "\xff";
  expect_write_rejected(f, {"metadata value", "UTF-8"});
  f.metadata.clear();
  f.tensors["\xc0\x80"] = make(DType::F64, {}, {1});
  expect_write_rejected(f, {"tensor name", "UTF-8"});
}

// ------------------------------------------------------------------------------------------
// reader rejections

TEST(SafetensorsReject, TooShortForTheLengthField) {
  Bytes b = serialize_safetensors(sample());
  for (std::size_t n : {0u, 1u, 7u}) expect_rejected(Bytes(b.begin(), b.begin() + n), {"too short", std::to_string(n) + " bytes"});
}

TEST(SafetensorsReject, TruncatedInsideTheHeader) {
  Bytes b = serialize_safetensors(sample());
  for (std::size_t n : {std::size_t{8}, std::size_t{9}, 8 + header_len(b) / 2, 7 + header_len(b)})
    expect_rejected(Bytes(b.begin(), b.begin() + static_cast<long>(n)), {"header length", "runs past the end"});
}

TEST(SafetensorsReject, TruncatedInsideTheData) {
  Bytes b = serialize_safetensors(sample());
  json h = json::parse(header_of(b));
  // Drop the last byte of the data area: the tensor stored last now ends beyond it.
  std::string last;
  std::uint64_t last_end = 0;
  for (auto& [name, e] : h.items())
    if (name != "__metadata__" && e["data_offsets"][1].get<std::uint64_t>() > last_end)
      last = name, last_end = e["data_offsets"][1].get<std::uint64_t>();
  b.pop_back();
  expect_rejected(b, {"tensor '" + last + "'", "beyond the data area"});
  // Cut in the middle of the data: some tensor is past the end too.
  b.resize(8 + header_len(b) + 10);
  expect_rejected(b, {"beyond the data area"});
}

TEST(SafetensorsReject, HeaderLengthBeyondFile) {
  Bytes b = serialize_safetensors(sample());
  std::uint64_t n = b.size() - 8 + 1;
  std::memcpy(b.data(), &n, 8);
  expect_rejected(b, {"header length " + std::to_string(n), "runs past the end"});
}

TEST(SafetensorsReject, HugeClaimedHeader) {
  for (std::uint64_t n : {std::uint64_t{1} << 40, ~std::uint64_t{0}, (std::uint64_t{100} << 20) + 1}) {
    Bytes b = serialize_safetensors(sample());
    std::memcpy(b.data(), &n, 8);
    expect_rejected(b, {"header length " + std::to_string(n), "100 MiB"});
  }
}

TEST(SafetensorsReject, InvalidUtf8InHeader) {
  // A lone 0xff, an overlong NUL, a UTF-16 surrogate, a sequence cut short by the end.
  expect_rejected(with_header_text([](std::string& h) { replace_once(h, "\"a\"", "\"\xff\""); }), {"not valid UTF-8"});
  expect_rejected(with_header_text([](std::string& h) { replace_once(h, "\"a\"", "\"\xc0\x80\""); }), {"not valid UTF-8"});
  expect_rejected(with_header_text([](std::string& h) { replace_once(h, "\"a\"", "\"\xed\xa0\x80\""); }), {"not valid UTF-8"});
  expect_rejected(with_header_text([](std::string& h) { h.back() = '\xe2'; }), {"not valid UTF-8"});
}

TEST(SafetensorsReject, InvalidJson) {
  expect_rejected(with_header_text([](std::string& h) { h.erase(h.rfind('}')); }), {"not valid JSON"});
  expect_rejected(with_header_text([](std::string& h) { h = ""; }), {"not valid JSON"});
  expect_rejected(with_header_text([](std::string& h) { h += "/* c */"; }), {"not valid JSON"});
  expect_rejected(with_header_text([](std::string& h) { h += "{}"; }), {"not valid JSON"});
}

TEST(SafetensorsReject, HeaderNotAnObject) {
  expect_rejected(with_header_text([](std::string& h) { h = "[1, 2]"; }), {"header is not a JSON object"});
  expect_rejected(with_header_text([](std::string& h) { h = "\"x\""; }), {"header is not a JSON object"});
}

TEST(SafetensorsReject, EntryNotAnObject) {
  expect_rejected(with_header_edit([](json& h) { h["a"] = 5; }), {"tensor 'a'", "entry is not a JSON object"});
}

TEST(SafetensorsReject, MissingFields) {
  for (const char* key : {"dtype", "shape", "data_offsets"})
    expect_rejected(with_header_edit([&](json& h) { h["b"].erase(key); }), {"tensor 'b'", std::string("missing '") + key + "'"});
}

TEST(SafetensorsReject, UnexpectedField) {
  expect_rejected(with_header_edit([](json& h) { h["b"]["stride"] = 1; }), {"tensor 'b'", "unexpected key 'stride'"});
}

TEST(SafetensorsReject, WrongFieldTypes) {
  expect_rejected(with_header_edit([](json& h) { h["b"]["dtype"] = 4; }), {"tensor 'b'", "'dtype' is not a string"});
  expect_rejected(with_header_edit([](json& h) { h["b"]["shape"] = "4"; }), {"tensor 'b'", "'shape' is not an array"});
  expect_rejected(with_header_edit([](json& h) { h["b"]["shape"] = {4.0}; }), {"tensor 'b'", "'shape' dimension 0 is not a non-negative integer"});
  expect_rejected(with_header_edit([](json& h) { h["b"]["shape"] = {json::array()}; }), {"tensor 'b'", "'shape' dimension 0"});
  expect_rejected(with_header_edit([](json& h) { h["b"]["data_offsets"] = 3; }), {"tensor 'b'", "'data_offsets' is not an array of two integers"});
  expect_rejected(with_header_edit([](json& h) { h["b"]["data_offsets"] = {48, 56, 64}; }), {"tensor 'b'", "'data_offsets' is not an array of two integers"});
  expect_rejected(with_header_edit([](json& h) { h["b"]["data_offsets"] = {48.0, 64}; }), {"tensor 'b'", "'data_offsets' begin is not a non-negative integer"});
  expect_rejected(with_header_edit([](json& h) { h["b"]["data_offsets"] = {"48", 64}; }), {"tensor 'b'", "'data_offsets' begin"});
}

TEST(SafetensorsReject, UnknownDtype) {
  expect_rejected(with_header_edit([](json& h) { h["b"]["dtype"] = "F8_E4M3"; }), {"tensor 'b'", "unsupported dtype 'F8_E4M3'"});
  expect_rejected(with_header_edit([](json& h) { h["b"]["dtype"] = "f32"; }), {"tensor 'b'", "dtype 'f32'"});
}

TEST(SafetensorsReject, NegativeDimension) {
  expect_rejected(with_header_edit([](json& h) { h["a"]["shape"] = {-2, -3}; }), {"tensor 'a'", "'shape' dimension 0 is negative (-2)"});
}

TEST(SafetensorsReject, ShapeOverflow) {
  expect_rejected(with_header_edit([](json& h) { h["a"]["shape"] = {std::uint64_t{1} << 32, std::uint64_t{1} << 32}; }), {"tensor 'a'", "overflows"});
  expect_rejected(with_header_edit([](json& h) { h["a"]["shape"] = {std::uint64_t{1} << 62}; }), {"tensor 'a'", "overflows"});  // bytes overflow
  expect_rejected(with_header_edit([](json& h) { h["a"]["shape"] = {~std::uint64_t{0}, 0}; }), {"tensor 'a'", "overflows"});
  expect_rejected(with_header_edit([](json& h) { h["a"]["shape"] = {1e30}; }), {"tensor 'a'", "not a non-negative integer"});
}

TEST(SafetensorsReject, NegativeOffset) {
  expect_rejected(with_header_edit([](json& h) { h["b"]["data_offsets"][0] = -8; }), {"tensor 'b'", "'data_offsets' begin is negative (-8)"});
}

TEST(SafetensorsReject, BeginAfterEnd) {
  expect_rejected(with_header_edit([](json& h) { h["d"]["data_offsets"] = {74, 72}; }), {"tensor 'd'", "begin 74 is after end 72"});
}

TEST(SafetensorsReject, OffsetsBeyondDataArea) {
  Bytes b = serialize_safetensors(sample());
  std::size_t data = data_of(b).size();
  expect_rejected(with_header_edit([&](json& h) { h["d"]["data_offsets"] = {data - 1, data + 1}; }),
                  {"tensor 'd'", "end " + std::to_string(data + 1) + " is beyond the data area (" + std::to_string(data) + " bytes)"});
  expect_rejected(with_header_edit([](json& h) { h["d"]["data_offsets"] = {~std::uint64_t{0} - 1, ~std::uint64_t{0}}; }), {"tensor 'd'", "beyond the data area"});
}

TEST(SafetensorsReject, ByteCountMismatch) {
  expect_rejected(with_header_edit([](json& h) { h["b"]["dtype"] = "F64"; }), {"tensor 'b'", "byte count mismatch", "span 16 bytes", "needs 32"});
  expect_rejected(with_header_edit([](json& h) { h["b"]["shape"] = {3}; }), {"tensor 'b'", "byte count mismatch"});
}

TEST(SafetensorsReject, OverlappingTensors) {
  // "b" (F32 x4, 16 bytes) moved to start inside "a" (F64 x6).
  expect_rejected(with_header_edit([](json& h) {
                    auto a0 = h["a"]["data_offsets"][0].get<std::uint64_t>();
                    h["b"]["data_offsets"] = {a0 + 8, a0 + 24};
                  }),
                  {"overlaps", "'a'", "'b'"});
  // Identical ranges overlap too; the tensor sorting first by name is the one kept as reference.
  expect_rejected(with_header_edit([](json& h) {
                    h["d"]["data_offsets"] = h["c"]["data_offsets"];
                    h["d"]["shape"] = {24};
                  }),
                  {"tensor 'd'", "overlaps tensor 'c'"});
}

TEST(SafetensorsReject, EmptyTensorsNeverOverlap) {
  Bytes b = with_header_edit([](json& h) {
    auto a0 = h["a"]["data_offsets"][0].get<std::uint64_t>();
    h["e"] = {{"dtype", "F32"}, {"shape", {0}}, {"data_offsets", {a0 + 8, a0 + 8}}};
  });
  TensorFile f = parse(b);
  EXPECT_EQ(f.require("e").numel(), 0u);
}

TEST(SafetensorsReject, DuplicateTensorNames) {
  expect_rejected(with_header_text([](std::string& h) { replace_once(h, "\"d\":", "\"c\":"); }), {"tensor 'c'", "duplicate tensor name"});
  expect_rejected(with_header_text([](std::string& h) { replace_once(h, "\"dtype\":\"U8\"", "\"dtype\":\"U8\",\"dtype\":\"U8\""); }),
                  {"tensor 'd'", "duplicate key 'dtype'"});
  expect_rejected(with_header_text([](std::string& h) { replace_once(h, "\"scale\":\"0.5\"", "\"scale\":\"0.5\",\"scale\":\"1\""); }),
                  {"__metadata__", "duplicate key 'scale'"});
}

TEST(SafetensorsReject, MetadataNotStrings) {
  expect_rejected(with_header_edit([](json& h) { h["__metadata__"] = {1, 2}; }), {"__metadata__ is not a JSON object"});
  expect_rejected(with_header_edit([](json& h) { h["__metadata__"]["scale"] = 0.5; }), {"__metadata__", "value of 'scale' is not a string"});
}

TEST(SafetensorsReject, IntegersBeyondTwoTo53) {
  Bytes b = serialize_safetensors(sample());
  json h = json::parse(header_of(b));
  std::size_t at = 8 + header_len(b) + h["c"]["data_offsets"][0].get<std::size_t>() + 8;  // c[1]
  std::int64_t v = (std::int64_t{1} << 53) + 1;  // converts to exactly 2^53: must not slip through
  std::memcpy(b.data() + at, &v, 8);
  expect_rejected(b, {"tensor 'c'", "element 1 (9007199254740993)", "2^53"});
  v = -(std::int64_t{1} << 53) - 1;
  std::memcpy(b.data() + at, &v, 8);
  expect_rejected(b, {"tensor 'c'", "element 1", "2^53"});
}

TEST(SafetensorsReject, BoolBytesOtherThanZeroOrOne) {
  TensorFile f;
  f.tensors["flags"] = make(DType::BOOL, {2}, {1, 0});
  Bytes b = serialize_safetensors(f);
  b.back() = 2;
  try {
    parse(b);
    ADD_FAILURE();
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'flags': BOOL element 1 has byte value 2"), std::string::npos) << e.what();
  }
}

TEST(SafetensorsReject, HostileNamesAreEscapedInMessages) {
  expect_rejected(with_header_text([](std::string& h) { replace_once(h, "\"a\":{", "\"\\u001b[2J\":{\"x\":1,"); }),
                  {"tensor '\\x1b[2J'", "unexpected key 'x'"});
}

// Random damage to a valid file: every outcome is a parse or a FileError, never a crash or
// another exception type.
TEST(SafetensorsReject, RandomCorruptionOnlyEverThrowsFileError) {
  const Bytes good = serialize_safetensors(sample());
  path::random::Rng rng(3);
  for (int i = 0; i < 20000; ++i) {
    Bytes b = good;
    int kind = i % 3;
    if (kind == 0) b[rng() % b.size()] = static_cast<std::uint8_t>(rng());
    if (kind == 1) b.resize(rng() % b.size());
    if (kind == 2) b[8 + rng() % header_len(good)] = "{}[]\",:0-9e. "[rng() % 14];
    try {
      parse(b);
    } catch (const FileError&) {
    } catch (const std::exception& e) {
      FAIL() << "iteration " << i << ": " << e.what();
    }
  }
}

// ------------------------------------------------------------------------------------------
// files, lookup, golden data

TEST(SafetensorsFile, RequireNamesFileAndTensor) {
  TensorFile f = parse(serialize_safetensors(sample()));
  EXPECT_TRUE(f.has("a"));
  EXPECT_FALSE(f.has("zz"));
  try {
    f.require("zz");
    ADD_FAILURE();
  } catch (const FileError& e) {
    EXPECT_EQ(std::string(e.what()), "mem.safetensors: tensor 'zz': not found (the file has: a, b, c, d)");
  }
}

TEST(SafetensorsFile, ReadErrorsNameThePath) {
  TempDir dir;
  try {
    read_safetensors(dir.file("missing.safetensors"));
    ADD_FAILURE();
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find(dir.file("missing.safetensors") + ": cannot open"), std::string::npos) << e.what();
  }
  const std::string p = dir.file("short.safetensors");
  std::ofstream(p) << "abc";
  try {
    read_safetensors(p);
    ADD_FAILURE();
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find(p + ": file is 3 bytes"), std::string::npos) << e.what();
  }
}

TEST(SafetensorsFile, GoldenVarlenCase) {
  TensorFile f = read_safetensors(std::string(PATH_GOLDEN_DIR) + "/fwd_varlen_nogate.safetensors");
  EXPECT_EQ(f.require("q").dtype, DType::F64);
  EXPECT_EQ(f.require("q").shape, (std::vector<int64_t>{1, 8, 2, 3}));
  EXPECT_EQ(f.require("q").values.size(), 48u);
  const Tensor& cu = f.require("cu_seqlens");
  EXPECT_EQ(cu.dtype, DType::I64);
  EXPECT_EQ(cu.shape, (std::vector<int64_t>{4}));
  EXPECT_EQ(cu.values, (std::vector<double>{0, 2, 3, 8}));
  EXPECT_EQ(f.metadata.at("gate_convention"), "paper");
  for (const char* name : {"k", "v", "w", "beta", "o", "lse"}) EXPECT_TRUE(f.has(name)) << name;
}

TEST(SafetensorsFile, GoldenFilesRoundTripThroughTheWriter) {
  for (const auto& entry : std::filesystem::directory_iterator(PATH_GOLDEN_DIR)) {
    if (entry.path().extension() != ".safetensors") continue;
    TensorFile f = read_safetensors(entry.path().string());
    expect_same(f, parse(serialize_safetensors(f)));
  }
}

}  // namespace
