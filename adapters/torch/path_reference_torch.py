"""A tiny pure-torch PaTH reference (naive sweep, docs/algorithms.md section 2), for small T.

Differentiable by torch.autograd; run it in fp64 on inputs already rounded to the kernel's types to
get the exact-ish answer the op is compared with (adapters/torch/test_path_attn.py). O(T^2 D) work
but a Python loop over T: keep T small (<= 128).

Per (batch, query head): x_i starts at q_i; for j = i down to 0 the raw logit is k_j . x_i, then
x_i <- H_j x_i with H_j = I - beta_j w_j w_j^T. Gate G_i = g_0 + ... + g_i: `fla` scales it with the
logit (s = scale (raw + G_i - G_j)), `paper` does not (s = scale raw + G_i - G_j).
"""
from __future__ import annotations

import torch


def _one(q, k, v, w, beta, g, scale, gate_convention):
    # q [B, T, HQ, D], k/w [B, T, H, D], v [B, T, H, Dv], beta [B, T, H], g [B, T, HQ] or None
    B, T, HQ, D = q.shape
    H = k.shape[2]
    G = HQ // H
    kk = k.repeat_interleave(G, dim=2).permute(0, 2, 1, 3)      # [B, HQ, T, D]
    ww = w.repeat_interleave(G, dim=2).permute(0, 2, 1, 3)
    vv = v.repeat_interleave(G, dim=2).permute(0, 2, 1, 3)
    bb = beta.repeat_interleave(G, dim=2).permute(0, 2, 1)       # [B, HQ, T]
    X = q.permute(0, 2, 1, 3)                                    # [B, HQ, T(query), D]
    rows = torch.arange(T, device=q.device)
    cols = [None] * T
    for j in range(T - 1, -1, -1):
        cols[j] = (X * kk[:, :, j:j + 1, :]).sum(-1)            # [B, HQ, T]: raw logit of key j per query
        active = (rows >= j).to(X.dtype)[None, None, :, None]    # queries i >= j have reached key j
        xw = (X * ww[:, :, j:j + 1, :]).sum(-1, keepdim=True)
        X = X - active * bb[:, :, j, None, None] * xw * ww[:, :, j:j + 1, :]
    raw = torch.stack(cols, dim=-1)                              # [B, HQ, T(i), T(j)]
    if g is not None:
        Gc = torch.cumsum(g, dim=1).permute(0, 2, 1)             # [B, HQ, T]
        diff = Gc[..., :, None] - Gc[..., None, :]
        s = scale * (raw + diff) if gate_convention == "fla" else scale * raw + diff
    else:
        s = scale * raw
    mask = rows[None, :] > rows[:, None]                         # j > i
    s = s.masked_fill(mask, float("-inf"))
    lse = torch.logsumexp(s, dim=-1)                             # [B, HQ, T]
    p = torch.exp(s - lse[..., None])
    o = p @ vv                                                   # [B, HQ, T, Dv]
    return o.permute(0, 2, 1, 3), lse.permute(0, 2, 1)


def path_attn_reference(q, k, v, w, beta, g=None, scale=None, cu_seqlens=None, gate_convention="fla"):
    """(o [B, T, HQ, Dv], lse [B, T, HQ]) in the inputs' dtype (use fp64)."""
    if scale is None:
        scale = k.shape[-1] ** -0.5
    if cu_seqlens is None:
        return _one(q, k, v, w, beta, g, scale, gate_convention)
    cu = [int(x) for x in cu_seqlens.tolist()]
    os, ls = [], []
    for a, b in zip(cu[:-1], cu[1:]):
        if b == a:
            continue
        sl = slice(a, b)
        o, l = _one(q[:, sl], k[:, sl], v[:, sl], w[:, sl], beta[:, sl], None if g is None else g[:, sl], scale,
                    gate_convention)
        os.append(o)
        ls.append(l)
    return torch.cat(os, dim=1), torch.cat(ls, dim=1)


def k_cache_reference(k, w, beta):
    """k_j^(T-1) = H_{T-1} ... H_{j+1} k_j for every j, [B, T, H, D] (no varlen)."""
    B, T, H, D = k.shape
    out = k.clone()
    rows = torch.arange(T, device=k.device)
    for t in range(1, T):
        # apply H_t to every key j < t
        wt = w[:, t:t + 1]                                       # [B, 1, H, D]
        dots = (out * wt).sum(-1, keepdim=True)
        upd = beta[:, t:t + 1, :, None] * dots * wt
        out = out - (rows < t).to(k.dtype)[None, :, None, None] * upd
    return out
