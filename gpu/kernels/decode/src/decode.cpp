// The low-precision decode's host side (path/gpu/decode.hpp): the device cache, every check before a
// launch, and the whole-problem convenience the cuda adapter runs decode cases with.
#include "path/gpu/decode.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>

#include "decode_launch.hpp"
#include "host_support.hpp"
#include "path/core/rounding.hpp"
#include "path/gpu/cuda_check.hpp"
#include "path/gpu/forward.hpp"
#include "path/validate.hpp"

namespace path::gpu {

using namespace kernel_host;
using path::detail::reject;

namespace {

std::string layout_text(index_t HQ, index_t H, index_t D, index_t Dv) {
  return "HQ=" + std::to_string(HQ) + " H=" + std::to_string(H) + " D=" + std::to_string(D) + " Dv=" + std::to_string(Dv);
}

// The tokens' head layout and batch against the cache's, then every view (dtypes, sizes, pointers).
void validate_tokens(const DecodeCacheLayout& c, index_t length, const DecodeTokens& t, bool need_q) {
  const std::string cache_is = "the cache's head layout is " + layout_text(c.HQ, c.H, c.D, c.Dv) + ", the tokens' is " +
                               layout_text(t.HQ, t.H, t.D, t.Dv) + " (a cache from a different head layout)";
  if (t.HQ != c.HQ) reject("q", cache_is);
  if (t.H != c.H || t.D != c.D) reject("k", cache_is);
  if (t.Dv != c.Dv) reject("v", cache_is);
  if (t.batch != c.batch)
    reject("k", "has a batch of " + std::to_string(t.batch) + " sequences, the cache holds " + std::to_string(c.batch));
  if (t.n < 1) reject("k", "a step needs at least 1 new token, got n = " + std::to_string(t.n));
  if (length + t.n > c.capacity)
    reject("k", std::to_string(t.n) + " new tokens do not fit: the cache holds " + std::to_string(length) +
                    " of " + std::to_string(c.capacity));
  const std::size_t rows = static_cast<std::size_t>(t.batch * t.n);
  const DType in = c.dtype;
  if (need_q) check_view("q", t.q, rows * static_cast<std::size_t>(t.HQ * t.D), in);
  check_view("k", t.k, rows * static_cast<std::size_t>(t.H * t.D), in);
  check_view("v", t.v, rows * static_cast<std::size_t>(t.H * t.Dv), in);
  check_view("w", t.w, rows * static_cast<std::size_t>(t.H * t.D), DType::F32);
  check_view("beta", t.beta, rows * static_cast<std::size_t>(t.H), DType::F32);
  if (c.gated) {
    check_view("g", t.g, rows * static_cast<std::size_t>(t.HQ), DType::F32);
  } else if (t.g.data != nullptr || t.g.numel != 0) {
    reject("g", "is given but the cache was built without a gate");
  }
}

decode_detail::DecodeKernelArgs kernel_args(const DeviceDecodeCache& cache, const DecodeTokens& t) {
  const DecodeCacheLayout& c = cache.layout();
  decode_detail::DecodeKernelArgs a;
  a.in_type = c.dtype;
  a.cache_type = cache.cache_dtype();
  a.batch = c.batch;
  a.n0 = cache.length();
  a.n = t.n;
  a.capacity = c.capacity;
  a.HQ = c.HQ;
  a.H = c.H;
  a.D = c.D;
  a.Dv = c.Dv;
  a.scale = static_cast<float>(round_to(c.scale, DType::F32));
  a.gate_fla = c.gate_convention == GateConvention::fla;
  a.q = t.q.data;
  a.k = t.k.data;
  a.v = t.v.data;
  a.w = static_cast<const float*>(t.w.data);
  a.beta = static_cast<const float*>(t.beta.data);
  a.g = c.gated ? static_cast<const float*>(t.g.data) : nullptr;
  a.cache_k = cache.keys();
  a.cache_v = cache.values();
  a.cache_G = c.gated ? cache.gates() : nullptr;
  return a;
}

}  // namespace

void validate_cache_layout(const DecodeCacheLayout& c) {
  path::detail::check_shape(Shape{c.batch, c.capacity, c.HQ, c.H, c.D, c.Dv});
  check_head_dims(Shape{c.batch, c.capacity, c.HQ, c.H, c.D, c.Dv});
  check_input_dtype(c.dtype, "k");
  if (c.cache_dtype && *c.cache_dtype != c.dtype && *c.cache_dtype != DType::F32)
    reject("k", "the cache dtype must be the input dtype (" + std::string(dtype_label(c.dtype)) + ") or fp32, got " +
                    std::string(dtype_label(*c.cache_dtype)));
  check_scale(c.scale);
  if (c.HQ > 65535 || c.batch > 65535)
    reject("q", "HQ = " + std::to_string(c.HQ) + " and batch = " + std::to_string(c.batch) + " must be at most 65535 (the grid)");
}

DeviceDecodeCache::DeviceDecodeCache(const DecodeCacheLayout& layout) : layout_(layout) {
  validate_cache_layout(layout_);
  const DecodeCacheLayout& c = layout_;
  const std::size_t slots = static_cast<std::size_t>(c.batch * c.capacity);
  const DType kc = cache_dtype();
  keys_ = detail::poisoned(slots * static_cast<std::size_t>(c.H * c.D) * dtype_size(kc));
  values_ = detail::poisoned(slots * static_cast<std::size_t>(c.H * c.Dv) * dtype_size(kc));
  if (c.gated) gates_ = detail::poisoned(slots * static_cast<std::size_t>(c.HQ) * sizeof(float));
}

std::vector<double> DeviceDecodeCache::download_keys() const {
  const DecodeCacheLayout& c = layout_;
  const std::size_t row = static_cast<std::size_t>(c.H * c.D);
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(c.batch * length_) * row);
  for (index_t b = 0; b < c.batch; ++b) {
    const auto* base = static_cast<const unsigned char*>(keys_.get()) +
                       static_cast<std::size_t>(b * c.capacity) * row * dtype_size(cache_dtype());
    const std::vector<double> part = download_as(base, static_cast<std::size_t>(length_) * row, cache_dtype());
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

void validate_prefill(const DecodeCacheLayout& c, index_t length, const DecodeTokens& t) {
  if (length != 0) reject("k", "prefill_to_cache needs an empty cache; this one holds " + std::to_string(length) + " tokens");
  validate_tokens(c, length, t, false);
}

void validate_step(const DecodeCacheLayout& c, index_t length, const DecodeTokens& t, const DecodeOutputs& out) {
  validate_tokens(c, length, t, true);
  const std::size_t rows = static_cast<std::size_t>(t.batch * t.n);
  check_view("o", out.o, rows * static_cast<std::size_t>(c.HQ * c.Dv), c.dtype);
  check_view("lse", out.lse, rows * static_cast<std::size_t>(c.HQ), DType::F32);
}

void prefill_to_cache(DeviceDecodeCache& cache, const DecodeTokens& t) {
  validate_prefill(cache.layout(), cache.length(), t);
  decode_detail::DecodeKernelArgs a = kernel_args(cache, t);
  a.q = nullptr;
  decode_detail::launch_prefill(a, t.stream);
  cache.length_ += t.n;
}

DecodeKernel decode_kernel_choice() {
  const char* env = std::getenv("PATH_GPU_DECODE_KERNEL");
  if (env == nullptr || *env == '\0' || std::string(env) == "auto") return DecodeKernel::automatic;
  if (std::string(env) == "plain") return DecodeKernel::plain;
  if (std::string(env) == "fused") return DecodeKernel::fused;
  throw InvalidProblem("PATH_GPU_DECODE_KERNEL=" + std::string(env) + ": expected plain, fused or auto");
}

void decode_step(DeviceDecodeCache& cache, const DecodeTokens& t, const DecodeOutputs& out) {
  validate_step(cache.layout(), cache.length(), t, out);
  decode_detail::DecodeKernelArgs a = kernel_args(cache, t);
  a.o = out.o.data;
  a.lse = static_cast<float*>(out.lse.data);
  const DecodeKernel choice = decode_kernel_choice();
  std::size_t floats = 0;
  std::string why;
  const bool fused = choice != DecodeKernel::plain && decode_detail::fused_step_plan(a, &floats, &why);
  if (choice == DecodeKernel::fused && !fused)
    throw InvalidProblem("PATH_GPU_DECODE_KERNEL=fused: the fused step cannot run this step: " + why);
  if (fused) {
    if (floats > cache.partials_floats_) {
      PATH_CUDA_CHECK(cudaStreamSynchronize(t.stream));  // the old workspace may be in use
      cache.partials_ = detail::DeviceBuffer();
      cache.partials_ = detail::poisoned(floats * sizeof(float));
      cache.partials_floats_ = floats;
    }
    a.partials = cache.partials_.as<float>();
    decode_detail::launch_fused_step(a, t.stream);
  } else {
    decode_detail::launch_step(a, t.stream);
  }
  cache.length_ += t.n;
}

namespace {

// Tokens [begin, begin + n) of the given batch rows of p, as a problem of B = rows.size(), T = n.
Problem<double> slice(const Problem<double>& p, const std::vector<index_t>& rows, index_t begin, index_t n) {
  const Shape& s = p.shape;
  Problem<double> r;
  r.shape = Shape{static_cast<index_t>(rows.size()), n, s.HQ, s.H, s.D, s.Dv};
  r.scale = p.scale;
  r.gate_convention = p.gate_convention;
  auto take = [&](const std::vector<double>& x, std::vector<double>& out, index_t heads, index_t dim) {
    for (index_t b : rows)
      for (index_t t = 0; t < n; ++t)
        for (index_t h = 0; h < heads; ++h)
          for (index_t d = 0; d < dim; ++d) out.push_back(x[flat_index(b, begin + t, h, d, s.T, heads, dim)]);
  };
  take(p.q, r.q, s.HQ, s.D);
  take(p.k, r.k, s.H, s.D);
  take(p.v, r.v, s.H, s.Dv);
  take(p.w, r.w, s.H, s.D);
  take(p.beta, r.beta, s.H, 1);
  if (p.has_gate()) take(p.g, r.g, s.HQ, 1);
  return r;
}

// Writes rows [0, n) of a [rows, n, heads, dim] tensor into rows [begin, begin + n) of the full one.
void scatter(const std::vector<double>& part, std::vector<double>& full, const Shape& s,
             const std::vector<index_t>& rows, index_t begin, index_t n, index_t heads, index_t dim) {
  std::size_t at = 0;
  for (index_t b : rows)
    for (index_t t = 0; t < n; ++t)
      for (index_t h = 0; h < heads; ++h)
        for (index_t d = 0; d < dim; ++d) full[flat_index(b, begin + t, h, d, s.T, heads, dim)] = part[at++];
}

// Device copies of a slice's token tensors, kept alive while a step runs.
struct UploadedTokens {
  detail::DeviceBuffer q, k, v, w, beta, g;
  DecodeTokens tokens;
};

UploadedTokens upload_tokens(const Problem<double>& part, DType in) {
  const Shape& s = part.shape;
  UploadedTokens u;
  u.q = upload_as(part.q, in);
  u.k = upload_as(part.k, in);
  u.v = upload_as(part.v, in);
  u.w = upload_as(part.w, DType::F32);
  u.beta = upload_as(part.beta, DType::F32);
  if (part.has_gate()) u.g = upload_as(part.g, DType::F32);
  DecodeTokens& t = u.tokens;
  t.batch = s.B;
  t.n = s.T;
  t.HQ = s.HQ;
  t.H = s.H;
  t.D = s.D;
  t.Dv = s.Dv;
  t.q = {u.q.get(), s.q_size(), in};
  t.k = {u.k.get(), s.k_size(), in};
  t.v = {u.v.get(), s.v_size(), in};
  t.w = {u.w.get(), s.k_size(), DType::F32};
  t.beta = {u.beta.get(), s.beta_size(), DType::F32};
  if (part.has_gate()) t.g = {u.g.get(), s.g_size(), DType::F32};
  return u;
}

}  // namespace

DecodeRunResult lowp_decode(const Problem<double>& p, index_t prefill, DType precision, index_t chunk) {
  validate(p);
  check_head_dims(p.shape);
  check_input_dtype(precision);
  const Shape& s = p.shape;
  if (prefill < 0 || prefill > s.T)
    throw InvalidProblem("option 'prefill': " + std::to_string(prefill) + " is outside [0, T = " + std::to_string(s.T) + "]");
  if (chunk < 1) throw InvalidProblem("option 'chunk': a decode step needs at least 1 token, got " + std::to_string(chunk));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  DecodeRunResult r{std::vector<double>(s.o_size(), nan), std::vector<double>(s.lse_size(), nan),
                    std::vector<double>(s.k_size(), nan)};

  // Batch rows decode together (they have one length); varlen segments one at a time.
  struct Group {
    std::vector<index_t> rows;
    index_t begin, length;
  };
  std::vector<Group> groups;
  if (p.is_varlen()) {
    for (const SequenceRange& q : sequences_of(s, p.cu_seqlens))
      if (q.length > 0) groups.push_back({{0}, q.begin, q.length});
  } else {
    Group g{{}, 0, s.T};
    for (index_t b = 0; b < s.B; ++b) g.rows.push_back(b);
    groups.push_back(std::move(g));
  }

  for (const Group& g : groups) {
    const index_t P = std::min(prefill, g.length);
    const index_t batch = static_cast<index_t>(g.rows.size());
    DecodeCacheLayout layout;
    layout.batch = batch;
    layout.capacity = g.length;
    layout.HQ = s.HQ;
    layout.H = s.H;
    layout.D = s.D;
    layout.Dv = s.Dv;
    layout.dtype = precision;
    if (const char* env = std::getenv("PATH_GPU_DECODE_CACHE_DTYPE"); env && std::string(env) == "f32")
      layout.cache_dtype = DType::F32;
    layout.gated = p.has_gate();
    layout.scale = p.scale;
    layout.gate_convention = p.gate_convention;
    DeviceDecodeCache cache(layout);
    if (P > 0) {
      const Problem<double> prefix = slice(p, g.rows, g.begin, P);
      const ForwardResult<double> f = lowp_forward(prefix, precision);  // the prefilled rows' o and lse
      scatter(f.o, r.o, s, g.rows, g.begin, P, s.HQ, s.Dv);
      scatter(f.lse, r.lse, s, g.rows, g.begin, P, s.HQ, 1);
      const UploadedTokens u = upload_tokens(prefix, precision);
      prefill_to_cache(cache, u.tokens);
      PATH_CUDA_CHECK(cudaDeviceSynchronize());
    }
    for (index_t t0 = P; t0 < g.length; t0 += chunk) {
      const index_t n = std::min(chunk, g.length - t0);
      const Problem<double> part = slice(p, g.rows, g.begin + t0, n);
      const UploadedTokens u = upload_tokens(part, precision);
      const Shape& ps = part.shape;
      const detail::DeviceBuffer o = detail::poisoned(ps.o_size() * dtype_size(precision));
      const detail::DeviceBuffer lse = detail::poisoned(ps.lse_size() * sizeof(float));
      DecodeOutputs out;
      out.o = {o.get(), ps.o_size(), precision};
      out.lse = {lse.get(), ps.lse_size(), DType::F32};
      decode_step(cache, u.tokens, out);
      PATH_CUDA_CHECK(cudaDeviceSynchronize());  // errors of the running kernels surface here
      scatter(download_as(o, ps.o_size(), precision), r.o, s, g.rows, g.begin + t0, n, s.HQ, s.Dv);
      scatter(download_as(lse, ps.lse_size(), DType::F32), r.lse, s, g.rows, g.begin + t0, n, s.HQ, 1);
    }
    scatter(cache.download_keys(), r.k_cache, s, g.rows, g.begin, g.length, s.H, s.D);
  }
  return r;
}

}  // namespace path::gpu
