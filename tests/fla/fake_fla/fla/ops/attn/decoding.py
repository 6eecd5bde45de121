"""Fake fla.ops.attn.decoding.attn_decoding_one_step (fla-core 0.6.0's signature and contract).

q [1, N, HQ, K] (one query per sequence, the last token of each), k [1, T, H, K], v [1, T, H, V],
g [1, T, HQ] per-step log gates, cu_seqlens [N + 1] over k; returns o [1, N, HQ, V] in v's dtype.
do_gate_scale=True scales the gate term by scale (the `fla` convention). Float64, rounded once.
"""

import os

import torch

BUG = set(os.environ.get("FLA_FAKE_BUG", "").split(","))  # one or more, comma-separated


def attn_decoding_one_step(q, k, v, g=None, scale=None, cu_seqlens=None, do_gate_scale=False, *, window_size=None,
                           sink_bias=None):
    assert cu_seqlens is not None, "The cu_seqlens must be provided for varlen decoding"
    _, T, H, K = k.shape
    HQ, V = q.shape[2], v.shape[-1]
    G = HQ // H
    if scale is None:
        scale = K ** -0.5
    c = scale if (do_gate_scale and "decode-gate-unscaled" not in BUG) else 1.0
    cu = [int(x) for x in cu_seqlens.tolist()]
    o = torch.zeros(*q.shape[:-1], V, dtype=torch.float64)
    for n in range(len(cu) - 1):
        s, e = cu[n], cu[n + 1]
        for hq in range(HQ):
            h = hq // G
            logits = scale * (k[0, s:e, h].double() @ q[0, n, hq].double())
            if g is not None:
                gc = torch.cumsum(g[0, s:e, hq].double(), 0)
                logits = logits + c * (gc[-1] - gc)
            p = torch.softmax(logits, 0)
            o[0, n, hq] = p @ v[0, s:e, h].double()
    return o.to(v.dtype)
