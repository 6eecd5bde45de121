// safetensors reader and writer. The file is untrusted input: every header field is checked
// against the data area before any tensor byte is read, and every failure becomes a FileError.
// Layout of this file: message helpers, header parsing, layout checks, value decoding, encoding
// (floats through the project's one rounding codec, path/core/rounding.hpp), and file I/O. docs/file-format.md describes the checks.
#include "path/io/safetensors.hpp"

#include "path/core/rounding.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace path::io {

// The format stores little-endian; we copy bytes straight into native integers and floats.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");
static_assert(std::numeric_limits<double>::is_iec559 && std::numeric_limits<float>::is_iec559,
              "exact widening to double assumes IEEE 754 float and double");

using json = nlohmann::json;

namespace {

constexpr std::uint64_t kMaxHeaderBytes = 100ull << 20;  // far above any real header; bounds memory
constexpr double kTwo53 = 9007199254740992.0;            // integers beyond this lose exactness
constexpr const char* kMetadataKey = "__metadata__";

bool is_integer_dtype(DType t) { return !path::is_floating(t); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Messages. Names come from untrusted files: control bytes are escaped and very long names cut,
// so a hostile name cannot garble a terminal or a log.

namespace {

std::string printable(std::string_view s) {
  constexpr std::size_t kMax = 200;
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < kMax; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMax) out += "...";
  return out;
}

std::string fmt(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

[[noreturn]] void fail(const std::string& file, const std::string& problem) {
  throw FileError(file + ": " + problem);
}

[[noreturn]] void fail_tensor(const std::string& file, std::string_view name, const std::string& problem) {
  throw FileError(file + ": tensor '" + printable(name) + "': " + problem);
}

// Offset of the first byte that breaks UTF-8 (overlong forms, surrogates and code points past
// U+10FFFF included), or nullopt when the whole text is valid.
std::optional<std::size_t> first_invalid_utf8(std::string_view s) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  std::size_t i = 0;
  while (i < s.size()) {
    unsigned c = byte(i);
    if (c < 0x80) { ++i; continue; }
    std::size_t len;
    unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return i;
    if (i + len > s.size()) return i;
    if (byte(i + 1) < lo || byte(i + 1) > hi) return i;
    for (std::size_t k = 2; k < len; ++k)
      if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return i;
    i += len;
  }
  return std::nullopt;
}

std::size_t checked_mul(std::size_t a, std::size_t b, bool& overflow) {
  std::size_t r;
  if (__builtin_mul_overflow(a, b, &r)) overflow = true;
  return r;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Header parsing.

namespace {

// nlohmann::json keeps only the last of duplicate keys, silently. A file with two entries of the
// same name is ambiguous (other readers may pick the first), so we watch the keys as they are
// parsed and remember the first duplicate, with where it occurred.
struct DuplicateKeyWatcher {
  std::vector<std::set<std::string>> open_objects;  // keys seen so far, per enclosing object
  std::string top_level_key;                        // the entry currently being parsed
  std::optional<std::string> problem_entry;         // entry the duplicate belongs to
  std::optional<std::string> duplicate;             // the duplicated key
  int duplicate_depth = 0;

  bool operator()(int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start: open_objects.emplace_back(); break;
      case json::parse_event_t::object_end: open_objects.pop_back(); break;
      case json::parse_event_t::key: on_key(depth, parsed.get_ref<const std::string&>()); break;
      default: break;
    }
    return true;
  }

  void on_key(int depth, const std::string& key) {
    if (depth == 1) top_level_key = key;
    if (open_objects.empty() || open_objects.back().insert(key).second || duplicate) return;
    duplicate = key;
    duplicate_depth = depth;
    problem_entry = top_level_key;
  }
};

[[noreturn]] void report_duplicate(const std::string& file, const DuplicateKeyWatcher& w) {
  if (w.duplicate_depth == 1) {
    if (*w.duplicate == kMetadataKey) fail(file, "duplicate '__metadata__' entry in header");
    fail_tensor(file, *w.duplicate, "duplicate tensor name in header");
  }
  if (*w.problem_entry == kMetadataKey)
    fail(file, "__metadata__: duplicate key '" + printable(*w.duplicate) + "'");
  fail_tensor(file, *w.problem_entry, "duplicate key '" + printable(*w.duplicate) + "' in its entry");
}

// Reads the 8-byte length and returns the header text, after the size checks.
std::string_view header_text(const std::uint8_t* data, std::size_t size, const std::string& file) {
  if (size < 8)
    fail(file, "file is " + std::to_string(size) + " bytes, too short for the 8-byte header length");
  std::uint64_t n;
  std::memcpy(&n, data, 8);
  if (n > kMaxHeaderBytes)
    fail(file, "header length " + std::to_string(n) + " is larger than the 100 MiB limit (corrupt file?)");
  if (n > size - 8)
    fail(file, "header length " + std::to_string(n) + " runs past the end of the file (" +
                   std::to_string(size - 8) + " bytes follow the length field)");
  return {reinterpret_cast<const char*>(data + 8), static_cast<std::size_t>(n)};
}

json parse_header_json(std::string_view text, const std::string& file) {
  if (auto bad = first_invalid_utf8(text))
    fail(file, "header is not valid UTF-8 (bad byte at header offset " + std::to_string(*bad) + ")");
  DuplicateKeyWatcher watcher;
  json header;
  try {
    header = json::parse(text.begin(), text.end(), std::ref(watcher), /*allow_exceptions=*/true,
                         /*ignore_comments=*/false);
  } catch (const json::exception& e) {
    fail(file, std::string("header is not valid JSON: ") + e.what());
  }
  if (watcher.duplicate) report_duplicate(file, watcher);
  if (!header.is_object()) fail(file, "header is not a JSON object");
  return header;
}

std::map<std::string, std::string> parse_metadata(const json& value, const std::string& file) {
  if (!value.is_object()) fail(file, "__metadata__ is not a JSON object");
  std::map<std::string, std::string> out;
  for (const auto& [key, v] : value.items()) {
    if (!v.is_string())
      fail(file, "__metadata__: value of '" + printable(key) + "' is not a string");
    out.emplace(key, v.get<std::string>());
  }
  return out;
}

// What a header entry says about one tensor, before the data area is consulted.
struct Entry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::uint64_t begin = 0, end = 0;
  std::size_t numel = 0;
};

const json& member(const json& obj, const char* key, const std::string& file, const std::string& name) {
  auto it = obj.find(key);
  if (it == obj.end()) fail_tensor(file, name, std::string("entry is missing '") + key + "'");
  return *it;
}

DType parse_dtype(const json& v, const std::string& file, const std::string& name) {
  if (!v.is_string()) fail_tensor(file, name, "'dtype' is not a string");
  const auto& s = v.get_ref<const std::string&>();
  auto t = dtype_from_name(s);
  if (!t) fail_tensor(file, name, "unknown or unsupported dtype '" + printable(s) + "'");
  return *t;
}

// Non-negative JSON integers parse as number_unsigned; negatives as number_integer; anything
// with a fraction or exponent (or past 2^64) as number_float. Only the first is acceptable.
std::uint64_t parse_count(const json& v, const std::string& what, const std::string& file,
                          const std::string& name) {
  if (v.is_number_integer() && !v.is_number_unsigned())
    fail_tensor(file, name, what + " is negative (" + std::to_string(v.get<std::int64_t>()) + ")");
  if (!v.is_number_unsigned()) fail_tensor(file, name, what + " is not a non-negative integer");
  return v.get<std::uint64_t>();
}

void parse_shape(const json& v, Entry& e, const std::string& file) {
  if (!v.is_array()) fail_tensor(file, e.name, "'shape' is not an array");
  bool overflow = false;
  e.numel = 1;
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::uint64_t d = parse_count(v[i], "'shape' dimension " + std::to_string(i), file, e.name);
    if (d > static_cast<std::uint64_t>(std::numeric_limits<int64_t>::max())) overflow = true;
    e.shape.push_back(static_cast<int64_t>(d));
    e.numel = checked_mul(e.numel, static_cast<std::size_t>(d), overflow);
  }
  if (overflow) fail_tensor(file, e.name, "'shape' element count overflows");
}

void parse_offsets(const json& v, Entry& e, const std::string& file) {
  if (!v.is_array() || v.size() != 2)
    fail_tensor(file, e.name, "'data_offsets' is not an array of two integers");
  e.begin = parse_count(v[0], "'data_offsets' begin", file, e.name);
  e.end = parse_count(v[1], "'data_offsets' end", file, e.name);
  if (e.begin > e.end)
    fail_tensor(file, e.name, "'data_offsets' begin " + std::to_string(e.begin) + " is after end " +
                                  std::to_string(e.end));
}

Entry parse_entry(const std::string& name, const json& v, const std::string& file) {
  if (!v.is_object()) fail_tensor(file, name, "entry is not a JSON object");
  for (const auto& [key, unused] : v.items())
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      fail_tensor(file, name, "unexpected key '" + printable(key) + "' in its entry");
  Entry e;
  e.name = name;
  e.dtype = parse_dtype(member(v, "dtype", file, name), file, name);
  parse_shape(member(v, "shape", file, name), e, file);
  parse_offsets(member(v, "data_offsets", file, name), e, file);
  return e;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Layout checks: each entry against the data area, then the entries against each other.

namespace {

void check_extent(const Entry& e, std::size_t data_size, const std::string& file) {
  if (e.end > data_size)
    fail_tensor(file, e.name, "'data_offsets' end " + std::to_string(e.end) +
                                  " is beyond the data area (" + std::to_string(data_size) + " bytes)");
  bool overflow = false;
  std::size_t expected = checked_mul(e.numel, dtype_size(e.dtype), overflow);
  if (overflow) fail_tensor(file, e.name, "'shape' byte count overflows");
  if (e.end - e.begin != expected)
    fail_tensor(file, e.name, "byte count mismatch: data_offsets span " + std::to_string(e.end - e.begin) +
                                  " bytes but shape " + shape_str(e.shape) + " of " +
                                  std::string(dtype_name(e.dtype)) + " needs " + std::to_string(expected));
}

// Sorted by start, each non-empty tensor must begin at or after the furthest end seen so far.
// Empty tensors occupy no bytes and cannot overlap anything. Gaps are allowed (padding).
void check_no_overlap(std::vector<const Entry*> entries, const std::string& file) {
  std::erase_if(entries, [](const Entry* e) { return e->begin == e->end; });
  std::sort(entries.begin(), entries.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->name < b->name;
  });
  const Entry* furthest = nullptr;
  for (const Entry* e : entries) {
    if (furthest && e->begin < furthest->end)
      fail_tensor(file, e->name, "data [" + std::to_string(e->begin) + ", " + std::to_string(e->end) +
                                     ") overlaps tensor '" + printable(furthest->name) + "' [" +
                                     std::to_string(furthest->begin) + ", " + std::to_string(furthest->end) + ")");
    if (!furthest || e->end > furthest->end) furthest = e;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Decoding tensor bytes into doubles.

namespace {

template <class T>
T load(const std::uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <class T>
void decode_ints(const std::uint8_t* p, Tensor& t, const std::string& file, const std::string& name) {
  for (std::size_t i = 0; i < t.values.size(); ++i) {
    T v = load<T>(p + i * sizeof(T));
    // Past 2^53 the conversion may round, and the oracle would see a different integer. The
    // comparison is in integers: 2^53 + 1 converts to exactly 2^53 and would pass a double test.
    if constexpr (sizeof(T) == 8) {
      constexpr std::int64_t limit = std::int64_t{1} << 53;
      if (v > limit || v < -limit)
        fail_tensor(file, name, "element " + std::to_string(i) + " (" + std::to_string(v) +
                                    ") is not exactly representable as double (|x| > 2^53)");
    }
    t.values[i] = static_cast<double>(v);
  }
}

void decode_bools(const std::uint8_t* p, Tensor& t, const std::string& file, const std::string& name) {
  for (std::size_t i = 0; i < t.values.size(); ++i) {
    if (p[i] > 1)
      fail_tensor(file, name, "BOOL element " + std::to_string(i) + " has byte value " +
                                  std::to_string(p[i]) + " (must be 0 or 1)");
    t.values[i] = p[i];
  }
}

Tensor decode(const Entry& e, const std::uint8_t* data_area, const std::string& file) {
  Tensor t;
  t.dtype = e.dtype;
  t.shape = e.shape;
  t.values.resize(e.numel);
  const std::uint8_t* p = data_area + e.begin;
  auto fill = [&](auto element) {
    for (std::size_t i = 0; i < e.numel; ++i) t.values[i] = element(i);
  };
  switch (e.dtype) {
    case DType::F64: fill([&](std::size_t i) { return load<double>(p + 8 * i); }); break;
    case DType::F32: fill([&](std::size_t i) { return double{load<float>(p + 4 * i)}; }); break;
    case DType::F16: fill([&](std::size_t i) { return path::decode_fp16(load<std::uint16_t>(p + 2 * i)); }); break;
    case DType::BF16: fill([&](std::size_t i) { return path::decode_bf16(load<std::uint16_t>(p + 2 * i)); }); break;
    case DType::I64: decode_ints<std::int64_t>(p, t, file, e.name); break;
    case DType::I32: decode_ints<std::int32_t>(p, t, file, e.name); break;
    case DType::I8: decode_ints<std::int8_t>(p, t, file, e.name); break;
    case DType::U8: decode_ints<std::uint8_t>(p, t, file, e.name); break;
    case DType::BOOL: decode_bools(p, t, file, e.name); break;
  }
  return t;
}

}  // namespace

TensorFile parse_safetensors(const std::uint8_t* data, std::size_t size, const std::string& label) {
  std::string_view text = header_text(data, size, label);
  json header = parse_header_json(text, label);
  const std::uint8_t* data_area = data + 8 + text.size();
  std::size_t data_size = size - 8 - text.size();

  TensorFile out;
  out.source = label;
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey) out.metadata = parse_metadata(value, label);
    else entries.push_back(parse_entry(name, value, label));
  }
  for (const auto& e : entries) check_extent(e, data_size, label);
  std::vector<const Entry*> view;
  for (const auto& e : entries) view.push_back(&e);
  check_no_overlap(std::move(view), label);
  for (const auto& e : entries) out.tensors.emplace(e.name, decode(e, data_area, label));
  return out;
}

// ---------------------------------------------------------------------------------------------
// TensorFile helpers.

bool TensorFile::has(const std::string& name) const { return tensors.count(name) != 0; }

const Tensor& TensorFile::require(const std::string& name) const {
  auto it = tensors.find(name);
  if (it != tensors.end()) return it->second;
  std::string present;
  for (const auto& [n, unused] : tensors) present += (present.empty() ? "" : ", ") + printable(n);
  fail_tensor(source.empty() ? "<memory>" : source, name,
              "not found (the file has: " + (present.empty() ? std::string("no tensors") : present) + ")");
}

// ---------------------------------------------------------------------------------------------
// Encoding. Every check happens before any byte is produced, so a refused file is never written.

namespace {

void check_utf8(const std::string& s, const std::string& what, const std::string& file) {
  if (first_invalid_utf8(s)) fail(file, what + " '" + printable(s) + "' is not valid UTF-8");
}

// The integer range a value must be in to be stored as `t` (and read back exactly).
std::pair<double, double> integer_range(DType t) {
  switch (t) {
    case DType::I64: return {-kTwo53, kTwo53};
    case DType::I32: return {-2147483648.0, 2147483647.0};
    case DType::I8: return {-128.0, 127.0};
    case DType::U8: return {0.0, 255.0};
    default: return {0.0, 1.0};  // BOOL
  }
}

void check_integer_values(const std::string& name, const Tensor& t, const std::string& file) {
  auto [lo, hi] = integer_range(t.dtype);
  for (std::size_t i = 0; i < t.values.size(); ++i) {
    double v = t.values[i];
    if (!(v >= lo && v <= hi) || v != std::trunc(v))
      fail_tensor(file, name, "element " + std::to_string(i) + " (" + fmt(v) + ") is not an integer in [" +
                                  fmt(lo) + ", " + fmt(hi) + "] as " + std::string(dtype_name(t.dtype)) +
                                  " requires");
  }
}

void check_tensor(const std::string& name, const Tensor& t, const std::string& file) {
  check_utf8(name, "tensor name", file);
  if (name == kMetadataKey) fail_tensor(file, name, "the name is reserved for the metadata");
  bool overflow = false;
  std::size_t n = 1;
  for (auto d : t.shape) {
    if (d < 0) fail_tensor(file, name, "shape " + shape_str(t.shape) + " has a negative dimension");
    n = checked_mul(n, static_cast<std::size_t>(d), overflow);
  }
  checked_mul(n, dtype_size(t.dtype), overflow);
  if (overflow) fail_tensor(file, name, "shape " + shape_str(t.shape) + " element count overflows");
  if (n != t.values.size())
    fail_tensor(file, name, "shape " + shape_str(t.shape) + " has " + std::to_string(n) + " elements but " +
                                std::to_string(t.values.size()) + " values are given");
  if (is_integer_dtype(t.dtype)) check_integer_values(name, t, file);
}

template <class T>
void store(std::uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);
}

void encode(const Tensor& t, std::uint8_t* p) {
  for (std::size_t i = 0; i < t.values.size(); ++i) {
    double v = t.values[i];
    switch (t.dtype) {
      case DType::F64: store(p + 8 * i, v); break;
      case DType::F32: store(p + 4 * i, path::encode_fp32(v)); break;
      case DType::F16: store(p + 2 * i, path::encode_fp16(v)); break;
      case DType::BF16: store(p + 2 * i, path::encode_bf16(v)); break;
      case DType::I64: store(p + 8 * i, static_cast<std::int64_t>(v)); break;
      case DType::I32: store(p + 4 * i, static_cast<std::int32_t>(v)); break;
      case DType::I8: store(p + i, static_cast<std::int8_t>(v)); break;
      case DType::U8:
      case DType::BOOL: store(p + i, static_cast<std::uint8_t>(v)); break;
    }
  }
}

// Larger elements first, then by name: every tensor starts at a multiple of its element size
// (the data area itself starts at a multiple of 8), which lets readers map tensors in place.
std::vector<const std::pair<const std::string, Tensor>*> layout_order(const TensorFile& file) {
  std::vector<const std::pair<const std::string, Tensor>*> order;
  for (const auto& kv : file.tensors) order.push_back(&kv);
  std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) {
    return dtype_size(a->second.dtype) > dtype_size(b->second.dtype);
  });
  return order;
}

std::vector<std::uint8_t> serialize_labeled(const TensorFile& file, const std::string& label) {
  for (const auto& [name, t] : file.tensors) check_tensor(name, t, label);
  for (const auto& [k, v] : file.metadata) {
    check_utf8(k, "metadata key", label);
    check_utf8(v, "metadata value", label);
  }
  json header = json::object();
  std::uint64_t offset = 0;
  auto order = layout_order(file);
  for (const auto* kv : order) {
    const Tensor& t = kv->second;
    std::uint64_t bytes = t.values.size() * dtype_size(t.dtype);
    header[kv->first] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!file.metadata.empty()) header[kMetadataKey] = file.metadata;
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {  // not expected after the UTF-8 checks; never let it escape
    fail(label, std::string("cannot encode header: ") + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // data area starts 8-aligned
  if (text.size() > kMaxHeaderBytes) fail(label, "header would exceed the 100 MiB limit readers enforce");

  std::vector<std::uint8_t> out(8 + text.size() + offset);
  store<std::uint64_t>(out.data(), text.size());
  std::memcpy(out.data() + 8, text.data(), text.size());
  std::uint8_t* p = out.data() + 8 + text.size();
  for (const auto* kv : order) {
    encode(kv->second, p);
    p += kv->second.values.size() * dtype_size(kv->second.dtype);
  }
  return out;
}

}  // namespace

std::vector<std::uint8_t> serialize_safetensors(const TensorFile& file) {
  return serialize_labeled(file, file.source.empty() ? "<memory>" : file.source);
}

// ---------------------------------------------------------------------------------------------
// File I/O.

TensorFile read_safetensors(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    if (!std::filesystem::exists(path, ec)) fail(path, "cannot open: no such file");
    fail(path, "cannot open: not a regular file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
  std::vector<std::uint8_t> bytes;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) bytes.insert(bytes.end(), buf, buf + in.gcount());
  if (in.bad()) fail(path, "read error");
  return parse_safetensors(bytes.data(), bytes.size(), path);
}

namespace {

// Removes the temporary file on every exit path except a successful commit.
class TempFile {
 public:
  explicit TempFile(std::string path) : path_(std::move(path)) {}
  ~TempFile() { if (!committed_) ::unlink(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }
  void committed() { committed_ = true; }

 private:
  std::string path_;
  bool committed_ = false;
};

std::string errno_text() { return std::strerror(errno); }

// Writes all bytes and forces them to disk, so the rename below publishes complete data.
void write_fully(const std::string& tmp, const std::vector<std::uint8_t>& bytes, const std::string& path) {
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) fail(path, "cannot create temporary file '" + tmp + "': " + errno_text());
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string why = errno_text();
      ::close(fd);
      fail(path, "write to '" + tmp + "' failed: " + why);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) fail(path, "flushing '" + tmp + "' failed: " + errno_text());
}

[[noreturn]] void fail_exists(const std::string& path) {
  fail(path, "already exists and overwrite is false; left unchanged");
}

// Publishes tmp at path without replacing an existing file. link() fails with EEXIST
// atomically, closing the window between our exists() check and the publication; on file
// systems without hard links we fall back to check-then-rename.
void publish_no_clobber(TempFile& tmp, const std::string& path) {
  if (::link(tmp.path().c_str(), path.c_str()) == 0) return;  // TempFile's destructor unlinks tmp
  if (errno == EEXIST) fail_exists(path);
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) fail_exists(path);
  if (::rename(tmp.path().c_str(), path.c_str()) != 0)
    fail(path, "cannot rename temporary file: " + errno_text());
  tmp.committed();
}

}  // namespace

void write_safetensors(const std::string& path, const TensorFile& file, bool overwrite) {
  std::error_code ec;
  if (!overwrite && std::filesystem::exists(path, ec)) fail_exists(path);
  std::vector<std::uint8_t> bytes = serialize_labeled(file, path);
  TempFile tmp(path + ".tmp." + std::to_string(::getpid()));
  write_fully(tmp.path(), bytes, path);
  if (overwrite) {
    if (::rename(tmp.path().c_str(), path.c_str()) != 0)
      fail(path, "cannot rename temporary file over it: " + errno_text());
    tmp.committed();
  } else {
    publish_no_clobber(tmp, path);
  }
}

}  // namespace path::io
