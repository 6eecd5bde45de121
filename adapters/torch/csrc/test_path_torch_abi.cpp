// The C ABI's error boundary, without a GPU (CI): every refusal comes back as a code and a message
// naming the tensor, before any launch; a CUDA failure (no device here) comes back as
// PATH_TORCH_CUDA with the runtime's message; nothing crashes. On a GPU machine the same program
// also passes (the launch then succeeds or fails on the fake pointers' checks, never reached).
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "path_torch_kernels.h"

namespace {
int failures = 0;

void expect(bool ok, const std::string& what, const char* msg) {
  std::printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", what.c_str(), msg && *msg ? ": " : "", msg ? msg : "");
  if (!ok) ++failures;
}

bool has(const char* msg, const char* needle) { return std::strstr(msg, needle) != nullptr; }
}  // namespace

int main() {
  char err[1024];
  // aligned, never dereferenced: the checks come before any launch
  const void* fake = reinterpret_cast<const void*>(std::uintptr_t{1} << 20);
  void* out = const_cast<void*>(fake);
  const float* ff = static_cast<const float*>(fake);
  float* fo = static_cast<float*>(out);
  expect(path_torch_abi_version() == 2, "abi version", "");

  std::size_t n = 4 * 2 * 48;
  int rc = path_torch_forward(PATH_TORCH_BF16, 1, 4, 2, 2, 48, 48, 0.125, 1, fake, n, fake, n, fake, n, ff, n, ff, 8,
                              nullptr, 0, nullptr, 0, out, n, fo, 8, nullptr, err, sizeof err);
  expect(rc == PATH_TORCH_INVALID && has(err, "'q'") && has(err, "48"), "forward: D = 48 refused", err);

  n = 4 * 2 * 64;
  rc = path_torch_forward(PATH_TORCH_F16, 1, 4, 2, 2, 64, 64, 0.125, 1, fake, n, fake, n, fake, n, ff, n, ff, 8,
                          nullptr, 0, nullptr, 0, out, n - 1, fo, 8, nullptr, err, sizeof err);
  expect(rc == PATH_TORCH_INVALID && has(err, "'o'"), "forward: o one element short refused", err);

  const int64_t cu[] = {0, 9};
  rc = path_torch_forward(PATH_TORCH_F32, 1, 4, 2, 2, 64, 64, 0.125, 1, fake, n, fake, n, fake, n, ff, n, ff, 8,
                          nullptr, 0, cu, 2, out, n, fo, 8, nullptr, err, sizeof err);
  expect(rc == PATH_TORCH_INVALID && has(err, "cu_seqlens"), "forward: cu_seqlens past T refused", err);

  rc = path_torch_forward(7, 1, 4, 2, 2, 64, 64, 0.125, 1, fake, n, fake, n, fake, n, ff, n, ff, 8, nullptr, 0,
                          nullptr, 0, out, n, fo, 8, nullptr, err, sizeof err);
  expect(rc == PATH_TORCH_INVALID && has(err, "dtype"), "forward: unknown dtype code refused", err);

  rc = path_torch_forward(PATH_TORCH_BF16, 1, 4, 2, 2, 64, 64, 0.125, 1, nullptr, n, fake, n, fake, n, ff, n, ff, 8,
                          nullptr, 0, nullptr, 0, out, n, fo, 8, nullptr, err, sizeof err);
  expect(rc == PATH_TORCH_INVALID && has(err, "'q'"), "forward: null q refused", err);

  // backward: a gate without dg
  const std::size_t nb = 8, ng = 8;
  rc = path_torch_backward(PATH_TORCH_BF16, 1, 4, 2, 2, 64, 64, 0.125, 1, fake, n, fake, n, fake, n, ff, n, ff, nb,
                           ff, ng, fake, n, ff, 8, fake, n, nullptr, 0, out, n, out, n, out, n, fo, n, fo, nb,
                           nullptr, 0, nullptr, err, sizeof err);
  expect(rc == PATH_TORCH_INVALID && has(err, "dg"), "backward: gate without dg refused", err);

  // forward workspace: here (no GPU) the plain kernel's, the gate scan's G and the copy of cu_seqlens
  // (256-byte aligned); an invalid shape is 0 with the reason.
  const int64_t varlen[] = {0, 3, 4};
  const std::size_t fws = path_torch_forward_workspace_bytes(PATH_TORCH_BF16, 1, 4, 2, 2, 64, 64, 1, varlen, 3, err, sizeof err);
  expect(fws == 256 + 4 * 2 * sizeof(float), "forward workspace bytes (plain, gated, varlen)", err);
  expect(path_torch_forward_workspace_bytes(PATH_TORCH_BF16, 1, 4, 3, 2, 64, 64, 0, nullptr, 0, err, sizeof err) == 0 &&
             err[0] != 0,
         "forward workspace bytes: HQ not a multiple of H refused", err);

  const std::size_t ws = path_torch_backward_workspace_bytes(64, 1024, 32, 32, 64, 64, nullptr, 0, err, sizeof err);
  expect(ws > std::size_t{3} * 64 * 32 * 1024 * 1025 / 2 * 4 - 1, "backward workspace bytes", "");

  // prefill into a tensor: k_cache of the wrong size
  rc = path_torch_prefill_k_cache(PATH_TORCH_BF16, 1, 4, 2, 64, fake, n, ff, n, ff, 8, nullptr, 0, out, n + 1, nullptr,
                                  err, sizeof err);
  expect(rc == PATH_TORCH_INVALID && has(err, "k_cache"), "prefill_k_cache: wrong size refused", err);

  // decode cache: bad layout refused before any allocation; a null handle refused
  void* h = reinterpret_cast<void*>(1);
  rc = path_torch_cache_create(PATH_TORCH_BF16, 2, 16, 3, 2, 64, 64, 0, 0.125, 1, &h, err, sizeof err);
  expect(rc == PATH_TORCH_INVALID && h == nullptr, "cache_create: HQ not a multiple of H refused", err);
  rc = path_torch_cache_info(nullptr, nullptr, nullptr, nullptr, nullptr, err, sizeof err);
  expect(rc == PATH_TORCH_INVALID && has(err, "handle"), "cache_info: null handle refused", err);
  rc = path_torch_cache_step(nullptr, 1, fake, 1, fake, 1, fake, 1, ff, 1, ff, 1, nullptr, 0, out, 1, fo, 1, nullptr,
                             err, sizeof err);
  expect(rc == PATH_TORCH_INVALID && has(err, "handle"), "cache_step: null handle refused", err);
  path_torch_cache_destroy(nullptr);  // a no-op

  // a valid cache: made (GPU) or a CUDA error with the runtime's message (no GPU); never a crash
  rc = path_torch_cache_create(PATH_TORCH_BF16, 2, 16, 4, 2, 64, 64, 0, 0.125, 1, &h, err, sizeof err);
  expect(rc == PATH_TORCH_OK ? h != nullptr : (rc == PATH_TORCH_CUDA && h == nullptr && has(err, "CUDA")),
         "cache_create: valid layout", err);
  if (rc == PATH_TORCH_OK) {
    int64_t len = -1;
    void* keys = nullptr;
    rc = path_torch_cache_info(h, &len, &keys, nullptr, nullptr, err, sizeof err);
    expect(rc == PATH_TORCH_OK && len == 0 && keys != nullptr, "cache_info on a new cache", err);
    rc = path_torch_cache_step(h, 20, fake, 1, fake, 1, fake, 1, ff, 1, ff, 1, nullptr, 0, out, 1, fo, 1, nullptr,
                               err, sizeof err);
    expect(rc == PATH_TORCH_INVALID && has(err, "do not fit"), "cache_step: 20 tokens into 16 slots refused", err);
    path_torch_cache_destroy(h);
  }
  // a truncated message buffer stays NUL-terminated
  char tiny[8];
  rc = path_torch_forward(7, 1, 4, 2, 2, 64, 64, 0.125, 1, fake, n, fake, n, fake, n, ff, n, ff, 8, nullptr, 0, nullptr,
                          0, out, n, fo, 8, nullptr, tiny, sizeof tiny);
  expect(rc == PATH_TORCH_INVALID && std::strlen(tiny) == 7, "message truncated to the buffer", tiny);
  rc = path_torch_forward(7, 1, 4, 2, 2, 64, 64, 0.125, 1, fake, n, fake, n, fake, n, ff, n, ff, 8, nullptr, 0, nullptr,
                          0, out, n, fo, 8, nullptr, nullptr, 0);
  expect(rc == PATH_TORCH_INVALID, "no message buffer", "");

  std::printf("%d failed\n", failures);
  return failures == 0 ? 0 : 1;
}
