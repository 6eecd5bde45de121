// libpath_torch_kernels: the C ABI of path_torch_kernels.h over the library's public device APIs
// (lowp_forward_device, lowp_backward_device, DeviceDecodeCache / prefill_to_cache / decode_step).
// Only public headers are used; every check is the library's own validate_* (called by the device
// APIs before any launch), so this file adds nothing but the translation and the error boundary.
#include "path_torch_kernels.h"

#include <cuda_runtime_api.h>

#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "path/gpu/backward.hpp"
#include "path/gpu/decode.hpp"
#include "path/gpu/error.hpp"
#include "path/gpu/forward.hpp"
#include "path/validate.hpp"

namespace {

using path::DType;
using path::index_t;
using path::gpu::DeviceOutput;
using path::gpu::DeviceTensor;

constexpr int kAbiVersion = 2;

void write_error(char* err, std::size_t err_len, const std::string& message) {
  if (err == nullptr || err_len == 0) return;
  const std::size_t n = message.size() < err_len - 1 ? message.size() : err_len - 1;
  std::memcpy(err, message.data(), n);
  err[n] = '\0';
}

// Runs f, turning every exception into an error code and message (nothing crosses the C boundary).
template <class F>
int guarded(char* err, std::size_t err_len, F&& f) {
  if (err != nullptr && err_len > 0) err[0] = '\0';
  try {
    f();
    return PATH_TORCH_OK;
  } catch (const path::InvalidProblem& e) {
    write_error(err, err_len, std::string("invalid input: ") + e.what());
    return PATH_TORCH_INVALID;
  } catch (const path::gpu::CudaError& e) {
    write_error(err, err_len, std::string("CUDA error: ") + e.what());
    return PATH_TORCH_CUDA;
  } catch (const std::bad_alloc&) {
    write_error(err, err_len, "out of host memory");
    return PATH_TORCH_OTHER;
  } catch (const std::exception& e) {
    write_error(err, err_len, std::string("error: ") + e.what());
    return PATH_TORCH_OTHER;
  } catch (...) {
    write_error(err, err_len, "unknown exception");
    return PATH_TORCH_OTHER;
  }
}

DType input_dtype(int dtype) {
  switch (dtype) {
    case PATH_TORCH_BF16: return DType::BF16;
    case PATH_TORCH_F16: return DType::F16;
    case PATH_TORCH_F32: return DType::F32;
    default: path::detail::reject("q", "dtype code " + std::to_string(dtype) + " is not bf16 (0), fp16 (1) or fp32 (2)");
  }
}

path::GateConvention convention(int gate_fla) { return gate_fla ? path::GateConvention::fla : path::GateConvention::paper; }

DeviceTensor in(const void* p, std::size_t n, DType t) { return DeviceTensor{p, n, t}; }
DeviceOutput out(void* p, std::size_t n, DType t) { return DeviceOutput{p, n, t}; }

std::vector<index_t> host_cu(const int64_t* cu, std::size_t n) {
  if (n == 0) return {};
  if (cu == nullptr) path::detail::reject("cu_seqlens", "has " + std::to_string(n) + " entries but a null pointer");
  return std::vector<index_t>(cu, cu + n);
}

void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw path::gpu::CudaError(std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")",
                               static_cast<int>(e));
}

// DeviceDecodeCache poisons its slots with cudaMemset, which runs on the legacy default stream; the
// caller's stream may be a non-blocking one (PyTorch's side streams are), which is not ordered after
// it. Waiting for the device once, after a cache is made, orders the poison before any kernel.
void settle_new_cache() { check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize (after the cache's poisoning)"); }

struct CacheHandle {
  path::gpu::DeviceDecodeCache cache;
};

CacheHandle* as_cache(void* handle) {
  if (handle == nullptr) path::detail::reject("cache", "null handle");
  return static_cast<CacheHandle*>(handle);
}

path::gpu::DecodeTokens tokens(const path::gpu::DecodeCacheLayout& c, int64_t n, const void* q, std::size_t nq,
                               const void* k, std::size_t nk, const void* v, std::size_t nv, const float* w,
                               std::size_t nw, const float* beta, std::size_t nbeta, const float* g, std::size_t ng,
                               void* stream) {
  path::gpu::DecodeTokens t;
  t.batch = c.batch;
  t.n = n;
  t.HQ = c.HQ;
  t.H = c.H;
  t.D = c.D;
  t.Dv = c.Dv;
  t.q = in(q, nq, c.dtype);
  t.k = in(k, nk, c.dtype);
  t.v = in(v, nv, c.dtype);
  t.w = in(w, nw, DType::F32);
  t.beta = in(beta, nbeta, DType::F32);
  t.g = in(g, ng, DType::F32);
  t.stream = static_cast<CUstream_st*>(stream);
  return t;
}

}  // namespace

extern "C" {

int path_torch_abi_version(void) { return kAbiVersion; }

int path_torch_forward(int dtype, int64_t B, int64_t T, int64_t HQ, int64_t H, int64_t D, int64_t Dv, double scale,
                       int gate_fla, const void* q, size_t nq, const void* k, size_t nk, const void* v, size_t nv,
                       const float* w, size_t nw, const float* beta, size_t nbeta, const float* g, size_t ng,
                       const int64_t* cu_seqlens, size_t n_cu, void* o, size_t no, float* lse, size_t nlse,
                       void* stream, char* err, size_t err_len) {
  return guarded(err, err_len, [&] {
    const DType t = input_dtype(dtype);
    path::gpu::ForwardArgs a;
    a.shape = path::Shape{B, T, HQ, H, D, Dv};
    a.scale = scale;
    a.gate_convention = convention(gate_fla);
    a.q = in(q, nq, t);
    a.k = in(k, nk, t);
    a.v = in(v, nv, t);
    a.w = in(w, nw, DType::F32);
    a.beta = in(beta, nbeta, DType::F32);
    a.g = in(g, ng, DType::F32);
    a.cu_seqlens = host_cu(cu_seqlens, n_cu);
    a.o = out(o, no, t);
    a.lse = out(lse, nlse, DType::F32);
    a.stream = static_cast<CUstream_st*>(stream);
    path::gpu::lowp_forward_device(a);
  });
}

size_t path_torch_forward_workspace_bytes(int dtype, int64_t B, int64_t T, int64_t HQ, int64_t H, int64_t D, int64_t Dv,
                                          int gated, const int64_t* cu_seqlens, size_t n_cu, char* err,
                                          size_t err_len) {
  std::size_t bytes = 0;
  const int rc = guarded(err, err_len, [&] {
    path::gpu::ForwardArgs a;
    a.shape = path::Shape{B, T, HQ, H, D, Dv};
    a.q.dtype = input_dtype(dtype);
    static const float gate_marker = 0.0f;  // only whether g is given counts
    a.g.data = gated ? &gate_marker : nullptr;
    a.cu_seqlens = host_cu(cu_seqlens, n_cu);
    bytes = path::gpu::forward_workspace_bytes(a);
  });
  return rc == PATH_TORCH_OK ? bytes : 0;
}

size_t path_torch_backward_workspace_bytes(int64_t B, int64_t T, int64_t HQ, int64_t H, int64_t D, int64_t Dv,
                                           const int64_t* cu_seqlens, size_t n_cu, char* err, size_t err_len) {
  std::size_t bytes = 0;
  const int rc = guarded(err, err_len, [&] {
    bytes = path::gpu::backward_workspace_bytes(path::Shape{B, T, HQ, H, D, Dv}, host_cu(cu_seqlens, n_cu));
  });
  return rc == PATH_TORCH_OK ? bytes : 0;
}

int path_torch_backward(int dtype, int64_t B, int64_t T, int64_t HQ, int64_t H, int64_t D, int64_t Dv, double scale,
                        int gate_fla, const void* q, size_t nq, const void* k, size_t nk, const void* v, size_t nv,
                        const float* w, size_t nw, const float* beta, size_t nbeta, const float* g, size_t ng,
                        const void* o, size_t no, const float* lse, size_t nlse, const void* dO, size_t ndO,
                        const int64_t* cu_seqlens, size_t n_cu, void* dq, size_t ndq, void* dk, size_t ndk, void* dv,
                        size_t ndv, float* dw, size_t ndw, float* dbeta, size_t ndbeta, float* dg, size_t ndg,
                        void* stream, char* err, size_t err_len) {
  return guarded(err, err_len, [&] {
    const DType t = input_dtype(dtype);
    path::gpu::BackwardArgs a;
    a.shape = path::Shape{B, T, HQ, H, D, Dv};
    a.scale = scale;
    a.gate_convention = convention(gate_fla);
    a.q = in(q, nq, t);
    a.k = in(k, nk, t);
    a.v = in(v, nv, t);
    a.w = in(w, nw, DType::F32);
    a.beta = in(beta, nbeta, DType::F32);
    a.g = in(g, ng, DType::F32);
    a.o = in(o, no, t);
    a.lse = in(lse, nlse, DType::F32);
    a.dO = in(dO, ndO, t);
    a.cu_seqlens = host_cu(cu_seqlens, n_cu);
    a.dq = out(dq, ndq, t);
    a.dk = out(dk, ndk, t);
    a.dv = out(dv, ndv, t);
    a.dw = out(dw, ndw, DType::F32);
    a.dbeta = out(dbeta, ndbeta, DType::F32);
    a.dg = out(dg, ndg, DType::F32);
    a.stream = static_cast<CUstream_st*>(stream);
    path::gpu::lowp_backward_device(a);
  });
}

int path_torch_prefill_k_cache(int dtype, int64_t B, int64_t T, int64_t H, int64_t D, const void* k, size_t nk,
                               const float* w, size_t nw, const float* beta, size_t nbeta, const int64_t* cu_seqlens,
                               size_t n_cu, void* k_cache, size_t nk_cache, void* stream, char* err, size_t err_len) {
  return guarded(err, err_len, [&] {
    const DType t = input_dtype(dtype);
    const std::vector<index_t> cu = host_cu(cu_seqlens, n_cu);
    // The shape checks of the forward (B, T, H, D, cu_seqlens), with a query head per kv head.
    path::detail::check_shape(path::Shape{B, T, H, H, D, D});
    if (!cu.empty()) {
      if (B != 1) path::detail::reject("cu_seqlens", "varlen needs B = 1, got B = " + std::to_string(B));
      if (cu.front() != 0 || cu.back() != T)
        path::detail::reject("cu_seqlens", "must start at 0 and end at T = " + std::to_string(T));
      for (std::size_t i = 1; i < cu.size(); ++i)
        if (cu[i] < cu[i - 1]) path::detail::reject("cu_seqlens", "must be non-decreasing");
    }
    const std::size_t total = static_cast<std::size_t>(B * T * H * D);
    if (nk_cache != total)
      path::detail::reject("k_cache", "has " + std::to_string(nk_cache) + " elements, the shape needs " + std::to_string(total));
    if (k_cache == nullptr) path::detail::reject("k_cache", "null pointer");
    const std::size_t es = path::dtype_size(t);
    auto* cs = static_cast<CUstream_st*>(stream);
    // (batch, begin, length) blocks: the whole batch at once, or one varlen segment at a time.
    struct Block { index_t batch, begin, length; };
    std::vector<Block> blocks;
    if (cu.empty()) blocks.push_back({B, 0, T});
    else
      for (std::size_t i = 0; i + 1 < cu.size(); ++i)
        if (cu[i + 1] > cu[i]) blocks.push_back({1, cu[i], cu[i + 1] - cu[i]});
    // Element counts of the whole tensors are checked once here; the per-block views below are exact.
    if (nk != total) path::detail::reject("k", "has " + std::to_string(nk) + " elements, the shape needs " + std::to_string(total));
    if (nw != total) path::detail::reject("w", "has " + std::to_string(nw) + " elements, the shape needs " + std::to_string(total));
    if (nbeta != static_cast<std::size_t>(B * T * H))
      path::detail::reject("beta", "has " + std::to_string(nbeta) + " elements, the shape needs " + std::to_string(B * T * H));
    for (const Block& b : blocks) {
      path::gpu::DecodeCacheLayout layout;
      layout.batch = b.batch;
      layout.capacity = b.length;
      layout.HQ = H;
      layout.H = H;
      layout.D = D;
      layout.Dv = D;
      layout.dtype = t;
      layout.gated = false;  // the keys do not depend on the gate
      path::gpu::DeviceDecodeCache cache(layout);
      settle_new_cache();
      const std::size_t row = static_cast<std::size_t>(H * D), rows = static_cast<std::size_t>(b.batch * b.length);
      const std::size_t off = static_cast<std::size_t>(b.begin) * row;
      path::gpu::DecodeTokens tk;
      tk.batch = b.batch;
      tk.n = b.length;
      tk.HQ = H;
      tk.H = H;
      tk.D = D;
      tk.Dv = D;
      tk.k = in(static_cast<const unsigned char*>(k) + off * es, rows * row, t);
      tk.v = in(static_cast<const unsigned char*>(k) + off * es, rows * row, t);  // values unused by the keys; any valid view
      tk.w = in(w + off, rows * row, DType::F32);
      tk.beta = in(beta + static_cast<std::size_t>(b.begin) * H, rows * static_cast<std::size_t>(H), DType::F32);
      tk.stream = cs;
      path::gpu::prefill_to_cache(cache, tk);
      check_cuda(cudaMemcpyAsync(static_cast<unsigned char*>(k_cache) + off * es, cache.keys(), rows * row * es,
                                 cudaMemcpyDeviceToDevice, reinterpret_cast<cudaStream_t>(cs)),
                 "cudaMemcpyAsync(k_cache)");
      check_cuda(cudaStreamSynchronize(reinterpret_cast<cudaStream_t>(cs)), "cudaStreamSynchronize(prefill)");
    }
  });
}

int path_torch_cache_create(int dtype, int64_t batch, int64_t capacity, int64_t HQ, int64_t H, int64_t D, int64_t Dv,
                            int gated, double scale, int gate_fla, void** handle, char* err, size_t err_len) {
  return guarded(err, err_len, [&] {
    if (handle == nullptr) path::detail::reject("cache", "null handle pointer");
    *handle = nullptr;
    path::gpu::DecodeCacheLayout layout;
    layout.batch = batch;
    layout.capacity = capacity;
    layout.HQ = HQ;
    layout.H = H;
    layout.D = D;
    layout.Dv = Dv;
    layout.dtype = input_dtype(dtype);
    layout.gated = gated != 0;
    layout.scale = scale;
    layout.gate_convention = convention(gate_fla);
    auto* h = new CacheHandle{path::gpu::DeviceDecodeCache(layout)};
    try {
      settle_new_cache();
    } catch (...) {
      delete h;
      throw;
    }
    *handle = h;
  });
}

void path_torch_cache_destroy(void* handle) {
  try {
    delete static_cast<CacheHandle*>(handle);
  } catch (...) {
  }
}

int path_torch_cache_info(void* handle, int64_t* length, void** keys, void** values, float** gates, char* err,
                          size_t err_len) {
  return guarded(err, err_len, [&] {
    const CacheHandle* h = as_cache(handle);
    if (length != nullptr) *length = h->cache.length();
    if (keys != nullptr) *keys = h->cache.keys();
    if (values != nullptr) *values = h->cache.values();
    if (gates != nullptr) *gates = h->cache.layout().gated ? h->cache.gates() : nullptr;
  });
}

int path_torch_cache_prefill(void* handle, int64_t n, const void* k, size_t nk, const void* v, size_t nv,
                             const float* w, size_t nw, const float* beta, size_t nbeta, const float* g, size_t ng,
                             void* stream, char* err, size_t err_len) {
  return guarded(err, err_len, [&] {
    CacheHandle* h = as_cache(handle);
    const auto t = tokens(h->cache.layout(), n, nullptr, 0, k, nk, v, nv, w, nw, beta, nbeta, g, ng, stream);
    path::gpu::prefill_to_cache(h->cache, t);
  });
}

int path_torch_cache_step(void* handle, int64_t n, const void* q, size_t nq, const void* k, size_t nk, const void* v,
                          size_t nv, const float* w, size_t nw, const float* beta, size_t nbeta, const float* g,
                          size_t ng, void* o, size_t no, float* lse, size_t nlse, void* stream, char* err,
                          size_t err_len) {
  return guarded(err, err_len, [&] {
    CacheHandle* h = as_cache(handle);
    const auto t = tokens(h->cache.layout(), n, q, nq, k, nk, v, nv, w, nw, beta, nbeta, g, ng, stream);
    path::gpu::DecodeOutputs outs;
    outs.o = out(o, no, h->cache.layout().dtype);
    outs.lse = out(lse, nlse, DType::F32);
    path::gpu::decode_step(h->cache, t, outs);
  });
}

}  // extern "C"
