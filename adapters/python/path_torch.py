#!/usr/bin/env python3
"""PaTH attention in PyTorch (float64, CPU or CUDA): the optional variant of path_numpy.py.

    python3 adapters/python/path_torch.py SUITE_DIR RESULTS_DIR [--device cpu|cuda] [--force]

Same cases, outputs and dtypes as path_numpy.py; the difference is the backward: here it is
torch.autograd through the forward (the naive sweep, written with out-of-place tensor ops so the
tape can record it), an independent check of path_numpy.py's hand-written reverse mode. Decode
is the in-place key cache of docs/decode.md. PyTorch is not among the pinned requirements (it is
large): install it into the project's environment to use this (`.venv/bin/pip install torch`).
Without it the program says so and exits with status 77 (the tests report it skipped).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

PROGRAM = "path_torch.py"
try:
    import torch
except ImportError:
    print(f"{PROGRAM}: PyTorch is not installed in this Python ({sys.executable}); "
          "install it (.venv/bin/pip install torch) or use path_numpy.py", file=sys.stderr)
    sys.exit(77)

import pathcase  # noqa: E402


def raw_logits(q, k, w, beta):
    """r[g, i, j] = k_j^T H_{j+1} ... H_i q_i (j <= i), for q [G, L, D]: the naive sweep.

    Rows i >= j of the running x hold H_{j+1} ... H_i q_i at step j; a row joins at its own j."""
    G, L, D = q.shape
    x = q
    columns = [None] * L
    for j in range(L - 1, -1, -1):
        columns[j] = x @ k[j]  # [G, L]; entries i < j are masked later
        joined = torch.arange(L, device=q.device) >= j
        update = beta[j] * (x @ w[j])[..., None] * w[j]
        x = x - torch.where(joined[None, :, None], update, torch.zeros_like(update))
    return torch.stack(columns, dim=-1)  # [G, L(i), L(j)]


def attend(s, v):
    L = s.shape[-1]
    causal = torch.ones(L, L, dtype=torch.bool, device=s.device).tril()
    s = s.masked_fill(~causal, float("-inf"))
    lse = torch.logsumexp(s, dim=-1)
    return torch.exp(s - lse[..., None]) @ v, lse


def head_forward(q, k, v, w, beta, gcum, scale, c):
    r = raw_logits(q, k, w, beta)
    return attend(scale * r + c * (gcum[:, :, None] - gcum[:, None, :]), v)


def head_decode(q, k, v, w, beta, gcum, prefill, scale, c):
    G, L, D = q.shape
    P = min(prefill, L)
    o = torch.zeros(G, L, v.shape[1], dtype=q.dtype, device=q.device)
    lse = torch.zeros(G, L, dtype=q.dtype, device=q.device)
    if P > 0:
        o[:, :P], lse[:, :P] = head_forward(q[:, :P], k[:P], v[:P], w[:P], beta[:P], gcum[:, :P], scale, c)
    cache = torch.zeros(L, D, dtype=q.dtype, device=q.device)
    for t in range(L):
        cache[:t] -= beta[t] * (cache[:t] @ w[t])[:, None] * w[t]  # H_t on every cached key
        cache[t] = k[t]
        if t >= P:
            s = scale * (q[:, t] @ cache[: t + 1].T) + c * (gcum[:, t, None] - gcum[:, : t + 1])
            lse[:, t] = torch.logsumexp(s, dim=-1)
            o[:, t] = torch.exp(s - lse[:, t, None]) @ v[: t + 1]
    return o, lse, cache


def run_case(case: pathcase.Case, device: str) -> dict:
    def t(a):
        return None if a is None else torch.tensor(a, dtype=torch.float64, device=device)

    q, k, v, w, beta, g, do = (t(a) for a in (case.q, case.k, case.v, case.w, case.beta, case.g, case.do))
    B, T, HQ, D = q.shape
    H, Dv = k.shape[2], v.shape[3]
    group = HQ // H
    c = case.scale if case.gate_convention == "fla" else 1.0
    leaves = {"q": q, "k": k, "v": v, "w": w, "beta": beta}
    if g is not None:
        leaves["g"] = g
    if case.gradients:
        for x in leaves.values():
            x.requires_grad_(True)
    o_parts, lse_parts = {}, {}
    k_cache = torch.zeros(B, T, H, D, dtype=torch.float64, device=device)
    with torch.set_grad_enabled(case.gradients):
        for b, start, end in case.sequences():
            if end == start:
                continue
            for h in range(H):
                heads = list(range(h * group, (h + 1) * group))
                qh = q[b, start:end, h * group:(h + 1) * group].transpose(0, 1)
                kh, vh, wh, bh = k[b, start:end, h], v[b, start:end, h], w[b, start:end, h], beta[b, start:end, h]
                if g is None:
                    gcum = torch.zeros(group, end - start, dtype=torch.float64, device=device)
                else:
                    gcum = torch.cumsum(g[b, start:end, h * group:(h + 1) * group].T, dim=-1)
                if case.mode == "decode":
                    oh, lh, cache = head_decode(qh, kh, vh, wh, bh, gcum, case.prefill_length, case.scale, c)
                    k_cache[b, start:end, h] = cache
                else:
                    oh, lh = head_forward(qh, kh, vh, wh, bh, gcum, case.scale, c)
                for n, hq in enumerate(heads):
                    o_parts[(b, start, hq)] = oh[n]
                    lse_parts[(b, start, hq)] = lh[n]
        # Assemble o [B, T, HQ, Dv] and lse [B, T, HQ] from the pieces (differentiably).
        o = torch.zeros(B, T, HQ, Dv, dtype=torch.float64, device=device)
        lse = torch.zeros(B, T, HQ, dtype=torch.float64, device=device)
        for (b, start, hq), piece in o_parts.items():
            end = start + piece.shape[0]
            o = o.index_put((torch.tensor(b), torch.arange(start, end), torch.tensor(hq)), piece)
            lse = lse.index_put((torch.tensor(b), torch.arange(start, end), torch.tensor(hq)), lse_parts[(b, start, hq)])
    out = {"o": o.detach(), "lse": lse.detach()}
    if case.gradients:
        grads = torch.autograd.grad((o * do).sum(), list(leaves.values()), allow_unused=True)
        for name, grad, x in zip(leaves, grads, leaves.values()):
            out["d" + name] = torch.zeros_like(x) if grad is None else grad
    if case.mode == "decode":
        out["k_cache"] = k_cache
    return {n: x.detach().cpu().numpy() for n, x in out.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROGRAM, description="PaTH attention in PyTorch (float64, autograd backward).")
    parser.add_argument("suite", metavar="SUITE_DIR")
    parser.add_argument("results", metavar="RESULTS_DIR")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--force", action="store_true", help="overwrite existing result files")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    try:
        torch.zeros(1, device=args.device)
    except (RuntimeError, AssertionError) as e:
        parser.error(f"--device {args.device}: {e}")
    try:
        names = pathcase.case_names(args.suite)
        if not names:
            raise pathcase.CaseError(f"{args.suite}: the suite has no cases")
        pathcase.prepare_results_dir(args.results, args.suite)
        for i, name in enumerate(names):
            case = pathcase.read_case(args.suite, name)
            pathcase.write_result(args.results, case, run_case(case, args.device), PROGRAM, args.force)
            if not args.quiet:
                print(f"{PROGRAM}: [{i + 1}/{len(names)}] {name}: {', '.join(case.outputs)}", file=sys.stderr)
    except pathcase.CaseError as e:
        pathcase.fail(PROGRAM, str(e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
