#!/usr/bin/env python3
"""PaTH attention in plain NumPy, as a third party would write it: a runnable conformance example.

    python3 adapters/python/path_numpy.py SUITE_DIR RESULTS_DIR [--plant-bug NAME] [--force]

reads every case of a pathcheck conformance suite (suite.json's list) and writes
RESULTS_DIR/<case>.safetensors with the outputs the case asks for: o and lse; dq, dk, dv, dw,
dbeta (and dg when gated) in gradient cases; k_cache in decode cases. Everything is computed in
float64 and rounded once to the output dtype (o, dq, dk, dv, k_cache: the input dtype; lse, dw,
dbeta, dg: fp32). Then `pathcheck validate --suite SUITE_DIR --results RESULTS_DIR` judges it, or
in one step `pathcheck run --impl-cmd 'python3 adapters/python/path_numpy.py {suite} {results}'
--suite SUITE_DIR`.

Written from the definitions in docs/algorithms.md, docs/backward.md (what the gradients are of)
and docs/decode.md; see adapters/python/README.md for the method and its cost.
  forward:  the naive sweep, for all queries of a head at once, O(T^2 D);
  backward: reverse-mode differentiation of that sweep by hand (exact, not finite differences);
  decode:   a key cache updated in place by each step's transform, then plain softmax attention.
`--plant-bug NAME` deliberately breaks one thing, to see the validator reject it (`--plant-bug
list` shows them).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import pathcase  # noqa: E402

PROGRAM = "path_numpy.py"

BUGS = {
    "gqa-mapping": "query head h reads key/value head h % H instead of h // (HQ/H)",
    "gate-unscaled": "the fla convention's gate term is not multiplied by scale (paper's formula used for fla)",
    "householder-off-by-one": "the logit s_ij includes H_j itself: k_j^T H_j H_{j+1} ... H_i q_i",
    "lse-log2": "lse in base 2 instead of the natural log",
    "varlen-cross": "cu_seqlens ignored: packed sequences attend across their boundaries",
    "dw-one-term": "dw drops one of its two terms (only the query-side adjoint)",
    "dbeta-sign": "dbeta has the wrong sign",
    "dg-prefix": "dg as a prefix sum of dG instead of a suffix sum",
    "decode-stale-cache": "a decode step appends the new key but does not apply H_t to the cached keys",
}


class Planted:
    """The planted bug in force (at most one), so the code reads `if bug.is_("name")`."""

    def __init__(self, name: str | None):
        self.name = name

    def is_(self, name: str) -> bool:
        assert name in BUGS, name
        return self.name == name


# ---- one sequence, one key/value head and its group of query heads ----------------------------
#
# Shapes inside a head: q [G, L, D] (the G query heads that read this key/value head), k, w [L, D],
# v [L, Dv], beta [L], gcum [G, L] (cumulative log gate G_i within the sequence, or zeros).


def gate_factor(convention: str, scale: float, bug: Planted) -> float:
    """The gate term's factor c in s_ij = scale r_ij + c (G_i - G_j): paper 1, fla scale."""
    if convention == "fla" and not bug.is_("gate-unscaled"):
        return scale
    return 1.0


def raw_logits(q, k, w, beta, keep_states: bool, bug: Planted):
    """r[g, i, j] = k_j^T H_{j+1} ... H_i q_i for j <= i (0 above the diagonal).

    The naive sweep: x_i starts as q_i; for j = L-1 down to 0, r_ij = k_j . x_i for every i >= j,
    then x_i <- H_j x_i = x_i - beta_j (w_j . x_i) w_j (for i >= j only: a row joins the sweep at its
    own position). With keep_states the rows before each step are kept for the backward."""
    G, L, D = q.shape
    dt = np.result_type(q, k, w, beta)  # float64; complex in the complex-step tests
    x = q.astype(dt)  # a copy
    r = np.zeros((G, L, L), dt)
    states = [None] * L
    for j in range(L - 1, -1, -1):
        xs = x[:, j:, :]
        if bug.is_("householder-off-by-one"):
            xs -= beta[j] * (xs @ w[j])[..., None] * w[j]
        if keep_states:
            states[j] = xs.copy()
        r[:, j:, j] = xs @ k[j]
        if not bug.is_("householder-off-by-one"):
            xs -= beta[j] * (xs @ w[j])[..., None] * w[j]
    return r, states


def softmax_rows(s, bug: Planted):
    """Causal softmax of the final logits s [G, L, L] (entries above the diagonal ignored)."""
    L = s.shape[-1]
    causal = np.tril(np.ones((L, L), dtype=bool))
    s = np.where(causal, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    e = np.exp(s - m)
    total = e.sum(axis=-1, keepdims=True)
    p = e / total
    lse = (m + np.log(total))[..., 0]
    if bug.is_("lse-log2"):
        lse = lse / np.log(2.0)
    return p, lse


def final_logits(r, gcum, scale, c):
    return scale * r + c * (gcum[:, :, None] - gcum[:, None, :])


def head_forward(q, k, v, w, beta, gcum, scale, c, bug, keep_states=False):
    r, states = raw_logits(q, k, w, beta, keep_states, bug)
    p, lse = softmax_rows(final_logits(r, gcum, scale, c), bug)
    return p @ v, lse, p, states


def head_backward(q, k, v, w, beta, gcum, do, scale, c, bug):
    """Gradients of Loss = sum(do * o) for one head group: dq [G,L,D], dk, dw [L,D], dv [L,Dv],
    dbeta [L], dg [G,L]. Reverse-mode through the naive sweep of raw_logits, by hand."""
    o, lse, p, states = head_forward(q, k, v, w, beta, gcum, scale, c, bug, keep_states=True)
    G, L, D = q.shape
    # Softmax and P V: dv = P^T dO; dP = dO v^T; dS = P * (dP - Delta) with Delta_i = sum_j P_ij dP_ij
    # (= dO_i . o_i in exact arithmetic; this form makes a one-token row's dS exactly 0, as it is).
    dv = np.einsum("gij,gie->je", p, do)
    dp = do @ v.T
    ds = p * (dp - np.sum(p * dp, axis=-1, keepdims=True))
    dr = scale * ds
    # Gate: G_i enters row i's logits with +c and column i's with -c; g_t enters every G_i, i >= t.
    d_gcum = c * (ds.sum(axis=-1) - ds.sum(axis=-2))
    if bug.is_("dg-prefix"):
        dg = np.cumsum(d_gcum, axis=-1)
    else:
        dg = np.cumsum(d_gcum[:, ::-1], axis=-1)[:, ::-1]
    # The sweep backwards: step j (forward) read y = states[j] (rows i >= j), produced
    # r[:, i, j] = k_j . y_i and y_i - beta_j (w_j . y_i) w_j. Its adjoint runs j = 0 .. L-1.
    dt = np.result_type(q, k, v, w, beta, gcum, do)
    xbar = np.zeros((G, L, D), dt)
    dq = np.zeros((G, L, D), dt)
    dk = np.zeros((L, D), dt)
    dw = np.zeros((L, D), dt)
    dbeta = np.zeros(L, dt)
    for j in range(L):
        y = states[j]
        xb = xbar[:, j:, :]  # d Loss / d (rows after H_j)
        a = xb @ w[j]
        pw = y @ w[j]
        drj = dr[:, j:, j]
        dk[j] = np.einsum("gi,gid->d", drj, y)
        dbeta[j] = -np.sum(pw * a)
        if bug.is_("dbeta-sign"):
            dbeta[j] = -dbeta[j]
        dw[j] = -beta[j] * np.einsum("gi,gid->d", a, y)
        if not bug.is_("dw-one-term"):
            dw[j] -= beta[j] * np.einsum("gi,gid->d", pw, xb)
        ybar = xb - beta[j] * a[..., None] * w[j] + drj[..., None] * k[j]
        xbar[:, j:, :] = ybar
        dq[:, j, :] = ybar[:, 0, :]  # row j enters the sweep at step j as q_j itself
    return o, lse, dq, dk, dv, dw, dbeta, dg


def head_decode(q, k, v, w, beta, gcum, prefill, scale, c, bug):
    """Prefill the first `prefill` tokens into a key cache, then one decode step per later token.

    The cache holds k_j^(t) = H_t ... H_{j+1} k_j; a step with token t applies H_t to every cached
    key in place, appends k_t, then attends: s_tj = scale k_j^(t) . q_t + c (G_t - G_j).
    Returns o [G,L,Dv], lse [G,L] for every token and the final cache [L, D]."""
    G, L, D = q.shape
    P = min(prefill, L)
    dt = np.result_type(q, k, v, w, beta, gcum)
    o = np.zeros((G, L, v.shape[1]), dt)
    lse = np.zeros((G, L), dt)
    if P > 0:  # the prefilled rows are the forward's rows on the prefix
        o[:, :P], lse[:, :P], _, _ = head_forward(q[:, :P], k[:P], v[:P], w[:P], beta[:P], gcum[:, :P], scale, c, bug)
    cache = np.zeros((L, D), dt)
    for t in range(L):
        if not bug.is_("decode-stale-cache") or t < P:
            cache[:t] -= beta[t] * (cache[:t] @ w[t])[:, None] * w[t]
        cache[t] = k[t]
        if t < P:
            continue
        s = scale * (q[:, t, :] @ cache[: t + 1].T) + c * (gcum[:, t, None] - gcum[:, : t + 1])  # [G, t+1]
        m = s.max(axis=-1, keepdims=True)
        e = np.exp(s - m)
        total = e.sum(axis=-1, keepdims=True)
        o[:, t] = (e / total) @ v[: t + 1]
        lse[:, t] = (m + np.log(total))[:, 0]
        if bug.is_("lse-log2"):
            lse[:, t] /= np.log(2.0)
    return o, lse, cache


# ---- whole cases ------------------------------------------------------------------------------


def run_case(case: pathcase.Case, bug: Planted) -> dict[str, np.ndarray]:
    """Every output of the case in float64, in the case's [B, T, heads, dim] layout."""
    B, T, HQ, D = case.q.shape
    H, Dv = case.k.shape[2], case.v.shape[3]
    group = HQ // H
    c = gate_factor(case.gate_convention, case.scale, bug)
    inputs = [case.q, case.k, case.v, case.w, case.beta] + [a for a in (case.g, case.do) if a is not None]
    dt = np.result_type(*inputs)  # float64 (complex in the complex-step tests)
    out = {"o": np.zeros((B, T, HQ, Dv), dt), "lse": np.zeros((B, T, HQ), dt)}
    if case.gradients:
        out |= {"dq": np.zeros((B, T, HQ, D), dt), "dk": np.zeros((B, T, H, D), dt),
                "dv": np.zeros((B, T, H, Dv), dt), "dw": np.zeros((B, T, H, D), dt),
                "dbeta": np.zeros((B, T, H), dt), "dg": np.zeros((B, T, HQ), dt)}
    if case.mode == "decode":
        out["k_cache"] = np.zeros((B, T, H, D), dt)
    sequences = case.sequences()
    if bug.is_("varlen-cross") and case.cu_seqlens is not None:
        sequences = [(0, 0, T)]
    for b, start, end in sequences:
        if end == start:
            continue
        seq = slice(start, end)
        for h in range(H):
            heads = [hq for hq in range(HQ) if (hq % H if bug.is_("gqa-mapping") else hq // group) == h]
            q = case.q[b, seq][:, heads].transpose(1, 0, 2)  # [G, L, D]
            k, v, w = case.k[b, seq, h], case.v[b, seq, h], case.w[b, seq, h]
            beta = case.beta[b, seq, h]
            if case.g is None:
                gcum = np.zeros((len(heads), end - start), dt)
            else:
                gcum = np.cumsum(case.g[b, seq][:, heads].T, axis=-1)
            if case.mode == "decode":
                o, lse, cache = head_decode(q, k, v, w, beta, gcum, case.prefill_length, case.scale, c, bug)
                out["k_cache"][b, seq, h] = cache
            elif case.gradients:
                do = case.do[b, seq][:, heads].transpose(1, 0, 2)
                o, lse, dq, dk, dv, dw, dbeta, dg = head_backward(q, k, v, w, beta, gcum, do, case.scale, c, bug)
                out["dq"][b, seq][:, heads] = dq.transpose(1, 0, 2)
                out["dk"][b, seq, h] = dk  # summed over the group's query heads
                out["dv"][b, seq, h] = dv
                out["dw"][b, seq, h] = dw
                out["dbeta"][b, seq, h] = dbeta
                out["dg"][b, seq][:, heads] = dg.T
            else:
                o, lse, _, _ = head_forward(q, k, v, w, beta, gcum, case.scale, c, bug)
            out["o"][b, seq][:, heads] = o.transpose(1, 0, 2)
            out["lse"][b, seq][:, heads] = lse.T
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROGRAM, description="PaTH attention in NumPy (float64): writes result files for a pathcheck suite.")
    parser.add_argument("suite", metavar="SUITE_DIR", nargs="?", help="a suite directory made by 'pathcheck gen'")
    parser.add_argument("results", metavar="RESULTS_DIR", nargs="?", help="where <case>.safetensors results go")
    parser.add_argument("--plant-bug", metavar="NAME", help="break one thing on purpose ('list' shows the names)")
    parser.add_argument("--only", metavar="A,B", help="only these cases (comma-separated names)")
    parser.add_argument("--force", action="store_true", help="overwrite existing result files")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    if args.plant_bug == "list":
        for name, what in BUGS.items():
            print(f"{name:24} {what}")
        return 0
    if args.plant_bug is not None and args.plant_bug not in BUGS:
        parser.error(f"unknown --plant-bug '{args.plant_bug}' (known: {', '.join(BUGS)})")
    if args.suite is None or args.results is None:
        parser.error("SUITE_DIR and RESULTS_DIR are required")
    bug = Planted(args.plant_bug)
    try:
        names = pathcase.case_names(args.suite)
        if args.only:
            wanted = [n for n in args.only.split(",") if n]
            unknown = [n for n in wanted if n not in names]
            if unknown:
                raise pathcase.CaseError(f"{args.suite}: --only names cases the suite does not have: {', '.join(unknown)}")
            names = [n for n in names if n in wanted]
        if not names:
            raise pathcase.CaseError(f"{args.suite}: the suite has no cases")
        pathcase.prepare_results_dir(args.results, args.suite)
        producer = PROGRAM + (f" --plant-bug {bug.name}" if bug.name else "")
        for i, name in enumerate(names):
            case = pathcase.read_case(args.suite, name)
            outputs = run_case(case, bug)
            pathcase.write_result(args.results, case, outputs, producer, args.force)
            if not args.quiet:
                print(f"{PROGRAM}: [{i + 1}/{len(names)}] {name}: {', '.join(case.outputs)}", file=sys.stderr)
    except pathcase.CaseError as e:
        pathcase.fail(PROGRAM, str(e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
