"""Fake fla.ops.path_attn.parallel.parallel_path_attn (fla-core 0.6.0's signature and contract).

Returns (o, k_cache) like the real one: o [B, T, HQ, V] in v's dtype, k_cache [B, T, H, K] in k's
dtype when use_cache else None; the gate term is scaled (`fla` convention); the backward gives
dq, dk, dv in their inputs' dtypes, dw, dbeta, dg in fp32, dg w.r.t. the per-step g. The forward
saves (q, k, v, w, g_cumsum, o, beta, L, A) with L the base-2 log-sum-exp [B, T, HQ], as the real
one does. Computed in float64 (adapters/python/path_torch.py's naive sweep), rounded once.

FLA_FAKE_BUG (for the adapter's tests: each must be rejected by pathcheck):
  gate-unscaled   the gate term is not multiplied by scale (the `paper` convention)
  dbeta-sign      dbeta with the wrong sign
  stale-cache     use_cache returns the keys untransformed
  lse-natural     the saved L is the natural-log lse (not base 2)
  raise-varlen    raises on cu_seqlens (a peer that rejects a case)
  crash-varlen    the process dies (SIGSEGV) on cu_seqlens (a peer that takes the process down)
  beta-after-32   beta of positions 32 and later taken as 0 (wrong only for T > 33: for the fuzzer)
  decode-gate-unscaled  (fla.ops.attn.decoding) ignores do_gate_scale
"""

import math
import os
import sys

import torch

_ADAPTERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), *[".."] * 6, "adapters", "python")
sys.path.insert(0, os.path.abspath(_ADAPTERS))
import path_torch  # noqa: E402  (the project's plain PaTH in PyTorch, float64)

BUG = set(os.environ.get("FLA_FAKE_BUG", "").split(","))  # one or more, comma-separated


def _sequences(B, T, cu_seqlens):
    if cu_seqlens is None:
        return [(b, 0, T) for b in range(B)]
    cu = [int(c) for c in cu_seqlens.tolist()]
    return [(0, cu[n], cu[n + 1]) for n in range(len(cu) - 1)]


def _forward64(q, k, v, w, beta, g, scale, cu_seqlens):
    """o [B, T, HQ, V], lse [B, T, HQ] (natural log), float64, differentiable."""
    B, T, HQ, K = q.shape
    H, V = k.shape[2], v.shape[3]
    G = HQ // H
    c = 1.0 if "gate-unscaled" in BUG else scale
    if "beta-after-32" in BUG:
        beta = beta * (torch.arange(T) < 32).to(beta.dtype)[None, :, None]
    o = torch.zeros(B, T, HQ, V, dtype=torch.float64)
    lse = torch.zeros(B, T, HQ, dtype=torch.float64)
    for b, s, e in _sequences(B, T, cu_seqlens):
        if e == s:
            continue
        for h in range(H):
            qh = q[b, s:e, h * G:(h + 1) * G].transpose(0, 1)
            gc = (torch.zeros(G, e - s, dtype=torch.float64) if g is None
                  else torch.cumsum(g[b, s:e, h * G:(h + 1) * G].T, dim=-1))
            oh, lh = path_torch.head_forward(qh, k[b, s:e, h], v[b, s:e, h], w[b, s:e, h], beta[b, s:e, h], gc, scale, c)
            idx = (torch.tensor(b), torch.arange(s, e))
            for n in range(G):
                o = o.index_put(idx + (torch.tensor(h * G + n),), oh[n])
                lse = lse.index_put(idx + (torch.tensor(h * G + n),), lh[n])
    return o, lse


def _k_cache(k, w, beta, cu_seqlens):
    """k_j^(n-1) = H_{n-1} ... H_{j+1} k_j per sequence, float64."""
    B, T, H, K = k.shape
    out = torch.zeros(B, T, H, K, dtype=torch.float64)
    for b, s, e in _sequences(B, T, cu_seqlens):
        for h in range(H):
            cache = torch.zeros(0, K, dtype=torch.float64)
            for t in range(s, e):
                if "stale-cache" not in BUG:
                    wt = w[b, t, h]
                    cache = cache - beta[b, t, h] * (cache @ wt)[:, None] * wt
                cache = torch.cat([cache, k[b, t, h][None]])
            out[b, s:e, h] = cache
    return out


class ParallelPATHAttentionFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, w, beta, g, scale, cu_seqlens, use_cache=False):
        leaves = [t.detach().double().requires_grad_(True) if t is not None else None for t in (q, k, v, w, beta, g)]
        with torch.enable_grad():
            o64, lse64 = _forward64(*leaves, scale, cu_seqlens)
        L = (lse64 if "lse-natural" in BUG else lse64 / math.log(2.0)).detach().float()
        o = o64.detach().to(v.dtype)
        k_cache = _k_cache(k.double(), w.double(), beta.double(), cu_seqlens).to(k.dtype) if use_cache else None
        g_cumsum = None if g is None else torch.cumsum(g, dim=1)
        ctx.save_for_backward(q, k, v, w, g_cumsum, o, beta, L, torch.zeros(1))
        ctx.inner = (leaves, o64)
        ctx.dtypes = [t.dtype if t is not None else None for t in (q, k, v, w, beta, g)]
        return o, k_cache

    @staticmethod
    def backward(ctx, do, dk_cache):
        leaves, o64 = ctx.inner
        used = [t for t in leaves if t is not None]
        grads = iter(torch.autograd.grad(o64, used, grad_outputs=do.double(), allow_unused=True))
        out = []
        for t, dt in zip(leaves, ctx.dtypes):
            if t is None:
                out.append(None)
                continue
            gr = next(grads)
            gr = torch.zeros_like(t) if gr is None else gr
            out.append(gr.to(dt))
        if "dbeta-sign" in BUG:
            out[4] = -out[4]
        return (*out, None, None, None)


def parallel_path_attn(q, k, v, w, beta, g=None, scale=None, cu_seqlens=None, use_cache=False):
    if scale is None:
        scale = k.shape[-1] ** -0.5
    if cu_seqlens is not None and q.shape[0] != 1:
        raise ValueError(f"The batch size is expected to be 1 rather than {q.shape[0]} when using `cu_seqlens`.")
    if "crash-varlen" in BUG and cu_seqlens is not None:
        import signal
        os.kill(os.getpid(), signal.SIGSEGV)
    if "raise-varlen" in BUG and cu_seqlens is not None:
        raise ValueError("fake FLA: varlen is not supported (FLA_FAKE_BUG=raise-varlen)")
    assert w.dtype == beta.dtype == torch.float32, 'w, beta should be float32 to preserve precision.'
    if g is not None:
        assert g.dtype == torch.float32, 'g should be float32 to preserve precision.'
    assert q.shape[-1] in [16, 32, 64, 128], "only support head_dim in [16, 32, 64, 128] for now. Stay tuned!"
    assert v.shape[-1] in [16, 32, 64, 128], "only support head_dim in [16, 32, 64, 128] for now. Stay tuned!"
    assert q.shape[-1] == k.shape[-1], 'q, k should have the same head_dim.'
    assert k.shape == w.shape, 'k, w should have the same shape.'
    assert q.shape[-2] % k.shape[-2] == 0, 'the number of query heads should be divisible by the number of key heads'
    return ParallelPATHAttentionFunction.apply(q, k, v, w, beta, g, scale, cu_seqlens, use_cache)
