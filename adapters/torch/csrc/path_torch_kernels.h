/* libpath_torch_kernels: a C ABI over the library's device APIs (path/gpu/forward.hpp, backward.hpp,
 * decode.hpp) for callers that hold raw device pointers: the PyTorch op (adapters/torch/path_attn.py,
 * through ctypes) and anything else without the library's C++ headers.
 *
 * Layout: flash-linear-attention's, contiguous, [B, T, heads, dim]: q [B,T,HQ,D], k and w [B,T,H,D],
 * v [B,T,H,Dv], beta [B,T,H], g [B,T,HQ], o [B,T,HQ,Dv], lse [B,T,HQ]. q, k, v, o, dO, dq, dk, dv and
 * the key cache in `dtype` (PATH_TORCH_BF16, _F16 or _F32); w, beta, g, lse, dw, dbeta, dg fp32.
 * Every tensor comes with its element count, which the library checks against the shape before any
 * launch (so does every other check of the validate_* functions: head dims, alignment, null pointers,
 * cu_seqlens, scale). cu_seqlens is a HOST array of n_cu int64 (n_cu = 0: not varlen; B must be 1).
 * gate_fla: 1 = the `fla` convention (FLA's), 0 = `paper`. g == NULL: no forget gate.
 * stream: a cudaStream_t (NULL: the legacy default stream). Work is enqueued on it; kernel faults
 * surface at the caller's next synchronization.
 *
 * Every function returns 0 on success, or an error code with a NUL-terminated message in err
 * (err_len bytes, truncated to fit; err may be NULL): no C++ exception crosses this boundary. */
#ifndef PATH_TORCH_KERNELS_H
#define PATH_TORCH_KERNELS_H
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define PATH_TORCH_API __attribute__((visibility("default")))
#else
#define PATH_TORCH_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

enum { PATH_TORCH_BF16 = 0, PATH_TORCH_F16 = 1, PATH_TORCH_F32 = 2 };
enum {
  PATH_TORCH_OK = 0,
  PATH_TORCH_INVALID = 1, /* path::InvalidProblem: the message names the tensor */
  PATH_TORCH_CUDA = 2,    /* a CUDA runtime call or launch failed */
  PATH_TORCH_OTHER = 3    /* any other exception (bad_alloc, ...) */
};

/* The ABI's version (bumped on any signature change); Python checks it on load. */
PATH_TORCH_API int path_torch_abi_version(void);

PATH_TORCH_API int path_torch_forward(int dtype, int64_t B, int64_t T, int64_t HQ, int64_t H, int64_t D, int64_t Dv,
                       double scale, int gate_fla,
                       const void* q, size_t nq, const void* k, size_t nk, const void* v, size_t nv,
                       const float* w, size_t nw, const float* beta, size_t nbeta, const float* g, size_t ng,
                       const int64_t* cu_seqlens, size_t n_cu,
                       void* o, size_t no, float* lse, size_t nlse,
                       void* stream, char* err, size_t err_len);

/* Bytes of device memory the forward allocates itself (stream-ordered, outside PyTorch's allocator)
 * for this problem with the kernel it would run here (the tensor-core kernel's scratch included);
 * 0 and a message in err when the problem is invalid. gated: whether g is given. */
PATH_TORCH_API size_t path_torch_forward_workspace_bytes(int dtype, int64_t B, int64_t T, int64_t HQ, int64_t H,
                                           int64_t D, int64_t Dv, int gated, const int64_t* cu_seqlens,
                                           size_t n_cu, char* err, size_t err_len);

/* Bytes of device workspace the backward allocates (stream-ordered) for this problem; 0 and a message
 * in err when the shape is invalid. */
PATH_TORCH_API size_t path_torch_backward_workspace_bytes(int64_t B, int64_t T, int64_t HQ, int64_t H, int64_t D, int64_t Dv,
                                           const int64_t* cu_seqlens, size_t n_cu, char* err, size_t err_len);

/* Gradients of sum(dO . o) given the forward's o and lse. dg must be NULL (and ndg 0) without a gate. */
PATH_TORCH_API int path_torch_backward(int dtype, int64_t B, int64_t T, int64_t HQ, int64_t H, int64_t D, int64_t Dv,
                        double scale, int gate_fla,
                        const void* q, size_t nq, const void* k, size_t nk, const void* v, size_t nv,
                        const float* w, size_t nw, const float* beta, size_t nbeta, const float* g, size_t ng,
                        const void* o, size_t no, const float* lse, size_t nlse, const void* dO, size_t ndO,
                        const int64_t* cu_seqlens, size_t n_cu,
                        void* dq, size_t ndq, void* dk, size_t ndk, void* dv, size_t ndv,
                        float* dw, size_t ndw, float* dbeta, size_t ndbeta, float* dg, size_t ndg,
                        void* stream, char* err, size_t err_len);

/* Prefill-to-cache into a caller's tensor: k_cache [B, T, H, D] (dtype) receives
 * k_j^(L-1) = H_{L-1} ... H_{j+1} k_j for every sequence of length L (varlen: per segment). Runs
 * through a temporary DeviceDecodeCache and copies its keys out; synchronizes `stream` before
 * returning (the temporary is freed). */
PATH_TORCH_API int path_torch_prefill_k_cache(int dtype, int64_t B, int64_t T, int64_t H, int64_t D,
                               const void* k, size_t nk, const float* w, size_t nw, const float* beta, size_t nbeta,
                               const int64_t* cu_seqlens, size_t n_cu,
                               void* k_cache, size_t nk_cache, void* stream, char* err, size_t err_len);

/* A decode cache (path::gpu::DeviceDecodeCache) owned by the library, behind an opaque handle.
 * Layout of its buffers: keys [batch, capacity, H, D] and values [batch, capacity, H, Dv] in dtype,
 * cumulative gates G [batch, capacity, HQ] fp32 (gated only): FLA's [B, T, H, D] with T = capacity. */
PATH_TORCH_API int path_torch_cache_create(int dtype, int64_t batch, int64_t capacity, int64_t HQ, int64_t H, int64_t D, int64_t Dv,
                            int gated, double scale, int gate_fla, void** handle, char* err, size_t err_len);
PATH_TORCH_API void path_torch_cache_destroy(void* handle);
/* length (tokens cached) and the device pointers of its buffers (gates NULL when not gated). */
PATH_TORCH_API int path_torch_cache_info(void* handle, int64_t* length, void** keys, void** values, float** gates,
                          char* err, size_t err_len);
/* n tokens of each of the batch's sequences into the EMPTY cache (q not needed); k [batch,n,H,D], ... */
PATH_TORCH_API int path_torch_cache_prefill(void* handle, int64_t n,
                             const void* k, size_t nk, const void* v, size_t nv,
                             const float* w, size_t nw, const float* beta, size_t nbeta, const float* g, size_t ng,
                             void* stream, char* err, size_t err_len);
/* A decode step of n >= 1 new tokens per sequence: o [batch,n,HQ,Dv] (dtype), lse [batch,n,HQ] fp32;
 * the cache is updated in place and its length grows by n. */
PATH_TORCH_API int path_torch_cache_step(void* handle, int64_t n,
                          const void* q, size_t nq, const void* k, size_t nk, const void* v, size_t nv,
                          const float* w, size_t nw, const float* beta, size_t nbeta, const float* g, size_t ng,
                          void* o, size_t no, float* lse, size_t nlse,
                          void* stream, char* err, size_t err_len);

#ifdef __cplusplus
}
#endif
#endif
