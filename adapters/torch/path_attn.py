"""PaTH attention as a PyTorch op over this project's CUDA kernels.

    from path_attn import path_attn
    o, k_cache = path_attn(q, k, v, w, beta, g=None, scale=None, cu_seqlens=None, use_cache=False)

flash-linear-attention's ``parallel_path_attn`` signature and layout: q [B, T, HQ, D], k and w
[B, T, H, D], v [B, T, H, Dv], beta [B, T, H], g [B, T, HQ] (per-step log forget gate, <= 0); q, k, v
in bf16, fp16 or fp32 (one dtype), w, beta, g in fp32; o [B, T, HQ, Dv] in the input dtype; k_cache
[B, T, H, D] (the transformed keys k_j^(T-1) a decode step starts from) when use_cache, else None.
varlen: cu_seqlens (int64, FlashAttention convention) with B = 1. The gate convention defaults to
FLA's (``fla``: s_ij = scale * (k_j^T ... q_i + G_i - G_j)); ``gate_convention="paper"`` gives the
paper's (the gate term not scaled). D, Dv in {16, 32, 64, 128}.

What it is, honestly: a ``torch.library.custom_op`` (with ``register_fake`` and ``register_autograd``)
whose implementation calls a *prebuilt* C ABI shared library, ``libpath_torch_kernels.so``
(adapters/torch/csrc, built by the project's CMake when CUDA is on), through ``ctypes``, passing
tensor ``data_ptr()``s and ``torch.cuda.current_stream()``. It is not a torch cpp_extension: the
library is built with the project's CMake and nvcc, without torch headers, because (1) the machine
the project is developed on has no PyTorch and no GPU, (2) the GPU machine's time is short (a
cpp_extension would compile the kernels there, minutes per session), and (3) the kernels have no
torch dependency at all. The price: the op is opaque to torch.compile (it is a custom op: compile
treats it as a black box, which is what a custom op is for), cu_seqlens is copied to the host on
every call (the library validates it there; a device sync), and the library's own workspace
(stream-ordered cudaMallocAsync: the tensor-core forward's scratch, the backward's packed causal
arrays) is outside PyTorch's caching allocator, so torch.cuda.max_memory_allocated does not see it
(``forward_workspace_bytes`` and ``backward_workspace_bytes`` say how much it is).

Autograd: loss.backward() runs the library's backward kernel (dq, dk, dv, dw, dbeta, dg). lse has
no gradient (path_attn returns o only, as FLA's does; path_attn_with_lse returns lse detached).
The kernels compute in fp32 even for fp64 tensors they do not take, so torch.autograd.gradcheck in
fp64 is not possible: the tests compare the gradients with torch.autograd of a pure-torch fp64
reference instead (adapters/torch/test_path_attn.py).

Decode: ``PathDecodeCache`` wraps the library's DeviceDecodeCache (keys k_j^(t), values, cumulative
gates on the device, [batch, capacity, heads, dim] like FLA's [B, T, H, D] caches), with
``prefill`` (prefill-to-cache in O(T D^2)) and ``step`` (one or several new tokens: the cache is
updated in place). It is plain Python over ctypes (not a custom op: it mutates library-owned state).

The library is found at $PATH_TORCH_KERNELS_LIB, else under build*/adapters/torch/ of this tree.
"""

import ctypes
import glob
import math
import os
from typing import Optional, Tuple

import torch

__all__ = [
    "path_attn", "parallel_path_attn", "PathKernelError", "PathDecodeCache", "path_attn_prefill",
    "forward_workspace_bytes", "backward_workspace_bytes", "library_path", "load_library",
]

ABI_VERSION = 2
_DTYPE_CODE = {torch.bfloat16: 0, torch.float16: 1, torch.float32: 2}
_ERR_LEN = 4096


class PathKernelError(RuntimeError):
    """An error the library returned (invalid input, CUDA error), with its message."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------------------------------------
# The shared library
# ---------------------------------------------------------------------------------------------
_lib = None
_lib_path = None


def library_path() -> Optional[str]:
    env = os.environ.get("PATH_TORCH_KERNELS_LIB")
    if env:
        return env
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    hits = sorted(glob.glob(os.path.join(root, "build*", "adapters", "torch", "libpath_torch_kernels.so")),
                  key=os.path.getmtime, reverse=True)
    return hits[0] if hits else None


def load_library():
    """Loads libpath_torch_kernels.so once and declares every entry point's C signature."""
    global _lib, _lib_path
    if _lib is not None:
        return _lib
    path = library_path()
    if path is None or not os.path.exists(path):
        raise OSError("libpath_torch_kernels.so not found: set PATH_TORCH_KERNELS_LIB or build the target "
                      "path_torch_kernels (cmake --build build --target path_torch_kernels)"
                      + (f" (tried {path})" if path else ""))
    lib = ctypes.CDLL(path)
    P, S, I64, I, D = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int64, ctypes.c_int, ctypes.c_double
    err = [ctypes.c_char_p, S]
    lib.path_torch_abi_version.restype = I
    lib.path_torch_abi_version.argtypes = []
    got = lib.path_torch_abi_version()
    if got != ABI_VERSION:
        raise OSError(f"{path}: ABI version {got}, this module needs {ABI_VERSION} (rebuild the library)")
    shape6 = [I64] * 6
    lib.path_torch_forward.restype = I
    lib.path_torch_forward.argtypes = [I] + shape6 + [D, I] + [P, S] * 6 + [P, S] + [P, S] * 2 + [P] + err
    lib.path_torch_forward_workspace_bytes.restype = S
    lib.path_torch_forward_workspace_bytes.argtypes = [I] + shape6 + [I, P, S] + err
    lib.path_torch_backward_workspace_bytes.restype = S
    lib.path_torch_backward_workspace_bytes.argtypes = shape6 + [P, S] + err
    lib.path_torch_backward.restype = I
    lib.path_torch_backward.argtypes = ([I] + shape6 + [D, I] + [P, S] * 6 + [P, S] * 3 + [P, S] + [P, S] * 6
                                        + [P] + err)
    lib.path_torch_prefill_k_cache.restype = I
    lib.path_torch_prefill_k_cache.argtypes = [I] + [I64] * 4 + [P, S] * 3 + [P, S] + [P, S] + [P] + err
    lib.path_torch_cache_create.restype = I
    lib.path_torch_cache_create.argtypes = [I] + [I64] * 6 + [I, D, I, ctypes.POINTER(P)] + err
    lib.path_torch_cache_destroy.restype = None
    lib.path_torch_cache_destroy.argtypes = [P]
    lib.path_torch_cache_info.restype = I
    lib.path_torch_cache_info.argtypes = [P, ctypes.POINTER(I64), ctypes.POINTER(P), ctypes.POINTER(P),
                                          ctypes.POINTER(P)] + err
    lib.path_torch_cache_prefill.restype = I
    lib.path_torch_cache_prefill.argtypes = [P, I64] + [P, S] * 5 + [P] + err
    lib.path_torch_cache_step.restype = I
    lib.path_torch_cache_step.argtypes = [P, I64] + [P, S] * 6 + [P, S] * 2 + [P] + err
    _lib, _lib_path = lib, path
    return lib


def _call(fn, *args):
    buf = ctypes.create_string_buffer(_ERR_LEN)
    rc = fn(*args, buf, _ERR_LEN)
    if rc != 0:
        raise PathKernelError(rc, f"{fn.__name__}: {buf.value.decode(errors='replace')}")


def _ptr(t: Optional[torch.Tensor]):
    """(pointer, numel) of a contiguous tensor, (None, 0) for an absent one."""
    if t is None or t.numel() == 0:
        return (None, 0)
    if not t.is_contiguous():
        raise ValueError("internal: tensors passed to the library must be contiguous")
    return (ctypes.c_void_p(t.data_ptr()), t.numel())


def _stream(device: torch.device):
    return ctypes.c_void_p(torch.cuda.current_stream(device).cuda_stream)


def _host_cu(cu_seqlens: Optional[torch.Tensor]):
    """cu_seqlens as a host int64 array (the library validates it on the host): (array, count, keep)."""
    if cu_seqlens is None or cu_seqlens.numel() == 0:
        return None, 0, None
    h = cu_seqlens.detach().to("cpu", torch.int64).contiguous()
    return ctypes.c_void_p(h.data_ptr()), h.numel(), h


def _gate_fla(convention: str) -> int:
    if convention not in ("fla", "paper"):
        raise ValueError(f"gate_convention must be 'fla' or 'paper', got {convention!r}")
    return 1 if convention == "fla" else 0


def _flat(*pairs):
    out = []
    for p in pairs:
        out.extend(p)
    return out


# ---------------------------------------------------------------------------------------------
# The custom ops
# ---------------------------------------------------------------------------------------------
@torch.library.custom_op("path_attn::forward", mutates_args=())
def _forward_op(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, w: torch.Tensor, beta: torch.Tensor,
                g: Optional[torch.Tensor], scale: float, cu_seqlens: Optional[torch.Tensor],
                gate_fla: bool) -> Tuple[torch.Tensor, torch.Tensor]:
    lib = load_library()
    B, T, HQ, D = q.shape
    H, Dv = k.shape[2], v.shape[3]
    o = torch.empty((B, T, HQ, Dv), dtype=q.dtype, device=q.device)
    lse = torch.empty((B, T, HQ), dtype=torch.float32, device=q.device)
    cu, ncu, _keep = _host_cu(cu_seqlens)
    _call(lib.path_torch_forward, _DTYPE_CODE[q.dtype], B, T, HQ, H, D, Dv, float(scale), int(gate_fla),
          *_flat(_ptr(q), _ptr(k), _ptr(v), _ptr(w), _ptr(beta), _ptr(g)), cu, ncu,
          *_flat(_ptr(o), _ptr(lse)), _stream(q.device))
    return o, lse


@_forward_op.register_fake
def _(q, k, v, w, beta, g, scale, cu_seqlens, gate_fla):
    B, T, HQ, _ = q.shape
    return (q.new_empty((B, T, HQ, v.shape[3])), q.new_empty((B, T, HQ), dtype=torch.float32))


@torch.library.custom_op("path_attn::backward", mutates_args=())
def _backward_op(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, w: torch.Tensor, beta: torch.Tensor,
                 g: Optional[torch.Tensor], o: torch.Tensor, lse: torch.Tensor, do: torch.Tensor, scale: float,
                 cu_seqlens: Optional[torch.Tensor], gate_fla: bool
                 ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """dq, dk, dv (input dtype), dw, dbeta, dg (fp32; dg is empty without a gate)."""
    lib = load_library()
    B, T, HQ, D = q.shape
    H, Dv = k.shape[2], v.shape[3]
    dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
    dw, dbeta = torch.empty_like(w), torch.empty_like(beta)
    dg = torch.empty_like(g) if g is not None else q.new_empty((0,), dtype=torch.float32)
    cu, ncu, _keep = _host_cu(cu_seqlens)
    _call(lib.path_torch_backward, _DTYPE_CODE[q.dtype], B, T, HQ, H, D, Dv, float(scale), int(gate_fla),
          *_flat(_ptr(q), _ptr(k), _ptr(v), _ptr(w), _ptr(beta), _ptr(g), _ptr(o), _ptr(lse), _ptr(do)), cu, ncu,
          *_flat(_ptr(dq), _ptr(dk), _ptr(dv), _ptr(dw), _ptr(dbeta), _ptr(dg if g is not None else None)),
          _stream(q.device))
    return dq, dk, dv, dw, dbeta, dg


@_backward_op.register_fake
def _(q, k, v, w, beta, g, o, lse, do, scale, cu_seqlens, gate_fla):
    dg = torch.empty_like(g) if g is not None else q.new_empty((0,), dtype=torch.float32)
    return (torch.empty_like(q), torch.empty_like(k), torch.empty_like(v), torch.empty_like(w),
            torch.empty_like(beta), dg)


def _setup_context(ctx, inputs, output):
    q, k, v, w, beta, g, scale, cu_seqlens, gate_fla = inputs
    o, lse = output
    ctx.save_for_backward(q, k, v, w, beta, g, o, lse, cu_seqlens)
    ctx.scale, ctx.gate_fla = scale, gate_fla


def _autograd_backward(ctx, grad_o, grad_lse):
    # grad_lse is ignored: lse gets no gradient (path_attn returns o only, path_attn_with_lse a
    # detached lse); a direct caller of torch.ops.path_attn.forward must not differentiate lse.
    q, k, v, w, beta, g, o, lse, cu_seqlens = ctx.saved_tensors
    if grad_o is None:
        grad_o = torch.zeros_like(o)
    dq, dk, dv, dw, dbeta, dg = torch.ops.path_attn.backward(
        q, k, v, w, beta, g, o, lse, grad_o.contiguous(), ctx.scale, cu_seqlens, ctx.gate_fla)
    return dq, dk, dv, dw, dbeta, (dg if g is not None else None), None, None, None


_forward_op.register_autograd(_autograd_backward, setup_context=_setup_context)


@torch.library.custom_op("path_attn::prefill_k_cache", mutates_args=())
def _prefill_k_cache_op(k: torch.Tensor, w: torch.Tensor, beta: torch.Tensor,
                        cu_seqlens: Optional[torch.Tensor]) -> torch.Tensor:
    lib = load_library()
    B, T, H, D = k.shape
    out = torch.empty_like(k)
    cu, ncu, _keep = _host_cu(cu_seqlens)
    _call(lib.path_torch_prefill_k_cache, _DTYPE_CODE[k.dtype], B, T, H, D,
          *_flat(_ptr(k), _ptr(w), _ptr(beta)), cu, ncu, *_ptr(out), _stream(k.device))
    return out


@_prefill_k_cache_op.register_fake
def _(k, w, beta, cu_seqlens):
    return torch.empty_like(k)


# ---------------------------------------------------------------------------------------------
# The user-facing functions
# ---------------------------------------------------------------------------------------------
def _check_inputs(q, k, v, w, beta, g, cu_seqlens):
    for name, t in (("q", q), ("k", k), ("v", v), ("w", w), ("beta", beta), ("g", g)):
        if t is None:
            continue
        if not t.is_cuda:
            raise ValueError(f"path_attn: tensor '{name}' is on {t.device}; the kernels run on CUDA tensors only")
        if t.device != q.device:
            raise ValueError(f"path_attn: tensor '{name}' is on {t.device}, q on {q.device}")
    if q.dtype not in _DTYPE_CODE:
        raise ValueError(f"path_attn: q has dtype {q.dtype}; bf16, fp16 or fp32 are supported")
    if k.dtype != q.dtype or v.dtype != q.dtype:
        raise ValueError(f"path_attn: q, k, v must share one dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    for name, t in (("w", w), ("beta", beta), ("g", g)):
        if t is not None and t.dtype != torch.float32:
            raise ValueError(f"path_attn: '{name}' must be float32 (as in FLA), got {t.dtype}")
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4 or w.dim() != 4 or beta.dim() != 3:
        raise ValueError("path_attn: expected q, k, v, w of rank 4 ([B, T, heads, dim]) and beta of rank 3")
    if cu_seqlens is not None and q.shape[0] != 1:
        raise ValueError(f"path_attn: with cu_seqlens the batch size must be 1, got {q.shape[0]}")
    # Shapes, head dims, element counts, cu_seqlens and scale are then checked by the library itself.


def path_attn(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, w: torch.Tensor, beta: torch.Tensor,
              g: Optional[torch.Tensor] = None, scale: Optional[float] = None,
              cu_seqlens: Optional[torch.LongTensor] = None, use_cache: bool = False,
              gate_convention: str = "fla") -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """PaTH attention, FLA's parallel_path_attn signature: returns (o, k_cache or None)."""
    _check_inputs(q, k, v, w, beta, g, cu_seqlens)
    if scale is None:
        scale = k.shape[-1] ** -0.5
    gate_fla = bool(_gate_fla(gate_convention))
    q, k, v, w, beta = (t.contiguous() for t in (q, k, v, w, beta))
    g = g.contiguous() if g is not None else None
    o, _lse = torch.ops.path_attn.forward(q, k, v, w, beta, g, float(scale), cu_seqlens, gate_fla)
    k_cache = None
    if use_cache:
        with torch.no_grad():
            k_cache = torch.ops.path_attn.prefill_k_cache(k.detach(), w.detach(), beta.detach(), cu_seqlens)
    return o, k_cache


parallel_path_attn = path_attn


def path_attn_with_lse(q, k, v, w, beta, g=None, scale=None, cu_seqlens=None, gate_convention="fla"):
    """(o, lse): lse [B, T, HQ] fp32, natural log. Differentiable through o only: lse comes back
    detached (the library's backward takes dO alone; a gradient of lse would need dS += P * dlse,
    which its API cannot take), so a loss on lse raises instead of being silently dropped."""
    _check_inputs(q, k, v, w, beta, g, cu_seqlens)
    if scale is None:
        scale = k.shape[-1] ** -0.5
    q, k, v, w, beta = (t.contiguous() for t in (q, k, v, w, beta))
    g = g.contiguous() if g is not None else None
    o, lse = torch.ops.path_attn.forward(q, k, v, w, beta, g, float(scale), cu_seqlens,
                                         bool(_gate_fla(gate_convention)))
    return o, lse.detach()


def forward_workspace_bytes(dtype, B, T, HQ, H, D, Dv, gated=False, cu_seqlens=None) -> int:
    """Device bytes the forward allocates itself (outside PyTorch's allocator) with the kernel it
    would run here: the tensor-core kernel's scratch, or the plain kernel's gate scan."""
    lib = load_library()
    cu, ncu, _keep = _host_cu(cu_seqlens)
    buf = ctypes.create_string_buffer(_ERR_LEN)
    n = lib.path_torch_forward_workspace_bytes(_DTYPE_CODE[dtype], B, T, HQ, H, D, Dv, int(bool(gated)), cu, ncu,
                                               buf, _ERR_LEN)
    if n == 0 and buf.value:
        raise PathKernelError(1, buf.value.decode(errors="replace"))
    return int(n)


def backward_workspace_bytes(B, T, HQ, H, D, Dv, cu_seqlens=None) -> int:
    """Device bytes the backward allocates itself (outside PyTorch's allocator)."""
    lib = load_library()
    cu, ncu, _keep = _host_cu(cu_seqlens)
    buf = ctypes.create_string_buffer(_ERR_LEN)
    n = lib.path_torch_backward_workspace_bytes(B, T, HQ, H, D, Dv, cu, ncu, buf, _ERR_LEN)
    if n == 0 and buf.value:
        raise PathKernelError(1, buf.value.decode(errors="replace"))
    return int(n)


# ---------------------------------------------------------------------------------------------
# Decode
# ---------------------------------------------------------------------------------------------
class _CudaArray:
    """A device buffer the library owns, shown to torch.as_tensor through __cuda_array_interface__."""

    def __init__(self, ptr: int, shape, dtype: torch.dtype, owner):
        typestr = {torch.bfloat16: "<V2", torch.float16: "<f2", torch.float32: "<f4"}[dtype]
        self.__cuda_array_interface__ = {"shape": tuple(shape), "typestr": typestr, "data": (ptr, False),
                                         "version": 2, "strides": None}
        self.owner = owner


class PathDecodeCache:
    """The library's decode cache: keys k_j^(t), values and cumulative gates on the device.

    Layout [batch, capacity, heads, dim] (FLA's [B, T, H, D] with T = capacity); q, k, v in `dtype`,
    w, beta, g fp32, each step's tokens [batch, n, heads, dim]. Not thread-safe; steps are enqueued
    on the current stream.
    """

    def __init__(self, batch: int, capacity: int, HQ: int, H: int, D: int, Dv: int, dtype: torch.dtype,
                 gated: bool = False, scale: Optional[float] = None, gate_convention: str = "fla",
                 device=None):
        self._lib = load_library()
        if dtype not in _DTYPE_CODE:
            raise ValueError(f"PathDecodeCache: dtype {dtype} is not bf16, fp16 or fp32")
        self.batch, self.capacity, self.HQ, self.H, self.D, self.Dv = batch, capacity, HQ, H, D, Dv
        self.dtype, self.gated = dtype, gated
        self.scale = D ** -0.5 if scale is None else float(scale)
        self.device = torch.device(device) if device is not None else torch.device("cuda", torch.cuda.current_device())
        self._handle = ctypes.c_void_p()
        with torch.cuda.device(self.device):
            _call(self._lib.path_torch_cache_create, _DTYPE_CODE[dtype], batch, capacity, HQ, H, D, Dv, int(gated),
                  self.scale, _gate_fla(gate_convention), ctypes.byref(self._handle))

    def __del__(self):
        h = getattr(self, "_handle", None)
        if h is not None and h.value:
            try:
                torch.cuda.current_stream(self.device).synchronize()
            except Exception:  # interpreter shutdown
                pass
            self._lib.path_torch_cache_destroy(h)
            self._handle = None

    def _info(self):
        n = ctypes.c_int64()
        keys, values, gates = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
        _call(self._lib.path_torch_cache_info, self._handle, ctypes.byref(n), ctypes.byref(keys),
              ctypes.byref(values), ctypes.byref(gates))
        return n.value, keys.value, values.value, gates.value

    @property
    def length(self) -> int:
        return self._info()[0]

    def keys(self) -> torch.Tensor:
        """A zero-copy view [batch, capacity, H, D] of the cache's keys (rows >= length are unset)."""
        _, kp, _, _ = self._info()
        t = torch.as_tensor(_CudaArray(kp, (self.batch, self.capacity, self.H, self.D),
                                       torch.float16 if self.dtype == torch.bfloat16 else self.dtype, self),
                            device=self.device)
        return t.view(torch.bfloat16) if self.dtype == torch.bfloat16 else t

    def _tokens(self, name, t, heads, dim, n, dtype):
        if t is None:
            return None
        if not t.is_cuda or t.dtype != dtype or tuple(t.shape[:3]) != (self.batch, n, heads) \
                or (dim is not None and t.shape[3] != dim):
            raise ValueError(f"PathDecodeCache: '{name}' must be a CUDA {dtype} tensor [batch={self.batch}, n={n}, "
                             f"{heads}{'' if dim is None else ', ' + str(dim)}], got {t.dtype} {tuple(t.shape)} "
                             f"on {t.device}")
        return t.contiguous()

    def prefill(self, k, v, w, beta, g=None):
        """Tokens 0..n-1 into the empty cache (prefill-to-cache, linear in n)."""
        n = k.shape[1]
        k = self._tokens("k", k, self.H, self.D, n, self.dtype)
        v = self._tokens("v", v, self.H, self.Dv, n, self.dtype)
        w = self._tokens("w", w, self.H, self.D, n, torch.float32)
        beta = self._tokens("beta", beta, self.H, None, n, torch.float32)
        g = self._tokens("g", g, self.HQ, None, n, torch.float32)
        _call(self._lib.path_torch_cache_prefill, self._handle, n,
              *_flat(_ptr(k), _ptr(v), _ptr(w), _ptr(beta), _ptr(g)), _stream(self.device))

    def step(self, q, k, v, w, beta, g=None) -> Tuple[torch.Tensor, torch.Tensor]:
        """n >= 1 new tokens per sequence: returns (o [batch, n, HQ, Dv], lse [batch, n, HQ] fp32)."""
        n = q.shape[1]
        q = self._tokens("q", q, self.HQ, self.D, n, self.dtype)
        k = self._tokens("k", k, self.H, self.D, n, self.dtype)
        v = self._tokens("v", v, self.H, self.Dv, n, self.dtype)
        w = self._tokens("w", w, self.H, self.D, n, torch.float32)
        beta = self._tokens("beta", beta, self.H, None, n, torch.float32)
        g = self._tokens("g", g, self.HQ, None, n, torch.float32)
        o = torch.empty((self.batch, n, self.HQ, self.Dv), dtype=self.dtype, device=self.device)
        lse = torch.empty((self.batch, n, self.HQ), dtype=torch.float32, device=self.device)
        _call(self._lib.path_torch_cache_step, self._handle, n,
              *_flat(_ptr(q), _ptr(k), _ptr(v), _ptr(w), _ptr(beta), _ptr(g), _ptr(o), _ptr(lse)),
              _stream(self.device))
        return o, lse


def path_attn_prefill(q, k, v, w, beta, g=None, scale=None, capacity=None, gate_convention="fla"):
    """Prefill for decoding: (o, cache) with o the forward's output on the prompt and cache a
    PathDecodeCache of `capacity` (default T + 1024) holding the prompt (no varlen: batch rows
    decode together, all of one length)."""
    B, T, HQ, D = q.shape
    H, Dv = k.shape[2], v.shape[3]
    with torch.no_grad():
        o, _ = path_attn(q, k, v, w, beta, g, scale, None, False, gate_convention)
        cache = PathDecodeCache(B, capacity or T + 1024, HQ, H, D, Dv, q.dtype, gated=g is not None,
                                scale=scale, gate_convention=gate_convention, device=q.device)
        cache.prefill(k, v, w, beta, g)
    return o, cache
