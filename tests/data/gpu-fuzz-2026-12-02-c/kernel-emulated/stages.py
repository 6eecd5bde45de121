"""Stage-by-stage numpy model of both GPU decode step kernels on a stored decode case (one kv head,
one query head, no gate, chunks of one token: what `pathcheck run --impl cuda` does on these cases).

Unlike emulate_decode.py (which models a compensated dot as "exact, then rounded") this follows
the kernels' fp32 operations one by one, every fp32 operation correctly rounded (exact rationals,
then round to nearest even):
  prefill  prefill_keys_kernel (decode_kernel.cuh): entry i of k_j^(P-1) = x . k_j, x <- H_j x, x = e_i
           at first; Dot2 per lane (lane l holds components l, l+8, ...), butterfly over 8 lanes;
  fused    fused_step_kernel + fused_combine_kernel (fused_decode_kernel.cuh): per key in fp32
           registers dw = Dot2(x, w_t) (lane l holds components lE .. lE+E-1), x = fma(-(beta dw), w, x)
           for a cached key, raw = Dot2(x, q_t), s = scale raw, softmax of the one tile (exp_rn,
           32-lane butterfly sum, p rounded to the input type, P*V by fma in key order), one split
           (the combine is then exact: alpha = exp_rn(0) = 1), o = (acc / l) rounded, lse = m + log_rn l;
  plain    attend_kernel + update_keys_kernel (decode_kernel.cuh): the query carries H_t
           (raw_t = Dot2(q, k_t), x = H_t q), cached keys raw_j = Dot2(x, k_j^(t-1)); softmax tile 1 =
           the own key, tile 2 = the cached keys (8-lane sums, rescale by exp_rn(m - m_new)).

A stage can be done in float64 instead (no rounding inside it) to see which stage makes the error:
  --exact transform   this step's H_t in float64 (fused: on the key, which stays float64 until stored;
                      plain: on the query and in the cache update)
  --exact cache       the cache never rounded (keys carried in float64 from the inputs: no prefill,
                      step or storage rounding; for bf16/fp16: "what if the cache were exact")
  --exact score       the logits in float64: exact dot of the (fp32/f64) key with q, not rounded to fp32
  --exact softmax     exp, max subtraction, l and P*V in float64 (p still rounded to the input type
                      before P*V for bf16/fp16, a design choice all members share or not)
  --exact divide      o = acc / l and lse = m + log l in float64, rounded once to the output dtype
(several --exact allowed). Prints, for o and lse against the case's expected values and its STORED
tolerances, the model-2 criteria's ratios (error / (tolerance / c); pass <= c), as assess computes
them; the prefilled rows (the forward kernel's, not modelled) count as exact.

usage: python3 stages.py SUITE_DIR CASE fused|plain [--exact STAGE ...] [--element t,d] [--out FILE]
needs numpy, ml_dtypes, safetensors and adapters/python (the .venv of adapters/python).
"""
import argparse
import json
import math
import os
import sys
from fractions import Fraction as F

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../../adapters/python"))
import pathcase  # noqa: E402
from safetensors import safe_open  # noqa: E402


# ---- correctly rounded fp32 arithmetic on python floats (exact rationals, then nearest even) ----
def rn32(x):
    """x (float or Fraction) to the nearest float32, ties to even; returned as a python float."""
    if isinstance(x, float):
        if x == 0 or not math.isfinite(x):
            return float(np.float32(x))
        x = F(x)
    if x == 0:
        return 0.0
    c = np.float32(float(x))
    best = None
    for cand in (np.nextafter(c, np.float32(-np.inf)), c, np.nextafter(c, np.float32(np.inf))):
        d = abs(F(float(cand)) - x)
        even = (int(np.array(cand, np.float32).view(np.int32)) & 1) == 0
        key = (d, not even)
        if best is None or key < best[0]:
            best = (key, float(cand))
    return best[1]


def add(a, b): return rn32(F(a) + F(b))
def sub(a, b): return rn32(F(a) - F(b))
def mul(a, b): return rn32(F(a) * F(b))
def div(a, b): return rn32(F(a) / F(b))
def fma(a, b, c): return rn32(F(a) * F(b) + F(c))
def exp_rn(x): return 0.0 if x == -math.inf else rn32(math.exp(x))  # exp in double, rounded once
def log_rn(x): return rn32(math.log(x))


def two_sum(a, b):
    s = add(a, b)
    z = sub(s, a)
    e = add(sub(a, sub(s, z)), sub(b, z))
    return s, e


def dot2_lanes(x, y, lanes_of):
    """lowp_math's Dot2: per lane (hi, lo) += x_d y_d over the lane's components (in order), then
    the 8-lane butterfly of group_dot2 (xor 4, 2, 1), hi + lo rounded once."""
    L = len(lanes_of)
    hi = [0.0] * L
    lo = [0.0] * L
    for l, comps in enumerate(lanes_of):
        for d in comps:
            p = mul(x[d], y[d])
            ep = rn32(F(x[d]) * F(y[d]) - F(p))  # fma(a, b, -p): exact
            s, es = two_sum(hi[l], p)
            hi[l] = s
            lo[l] = add(lo[l], add(ep, es))
    off = L // 2
    while off > 0:
        nh, nl = hi[:], lo[:]
        for l in range(L):
            s, e = two_sum(hi[l], hi[l ^ off])
            nh[l] = s
            nl[l] = add(add(lo[l], lo[l ^ off]), e)
        hi, lo = nh, nl
        off //= 2
    return add(hi[0], lo[0])


def fused_lanes(D): E = D // 8; return [list(range(l * E, l * E + E)) for l in range(8)]
def plain_lanes(D): return [list(range(l, D, 8)) for l in range(8)]


def butterfly_sum(vals, lanes):
    """kernel_support::lane_group_sum<lanes>: v += shfl_xor(v, off), off = lanes/2 .. 1; lane 0's value."""
    v = list(vals) + [0.0] * (lanes - len(vals))
    off = lanes // 2
    while off > 0:
        v = [add(v[l], v[l ^ off]) for l in range(lanes)]
        off //= 2
    return v[0]


# ---- the case ----
def load(d, name):
    c = pathcase.read_case(d, name)
    f = safe_open(f"{d}/{name}.safetensors", "np")
    T = {k: f.get_tensor(k) for k in f.keys()}
    tol = json.loads(f.metadata()["tolerances"])
    return c, T, tol


def to_dtype(x, dt):
    """fp32 value to the input/cache dtype (round to nearest even) and back, as a python float."""
    if dt == "F32": return rn32(x)
    if dt == "F16": return float(np.float16(np.float32(x)))
    return float(np.array(np.float32(x)).astype(pathcase.BFLOAT16).astype(np.float32))


def run(c, kernel, exact):
    dt = c.input_dtype
    P = c.prefill_length
    q, k, v, w, be = (c.q[0, :, 0], c.k[0, :, 0], c.v[0, :, 0], c.w[0, :, 0], c.beta[0, :, 0])
    Tn, D = q.shape
    sc = float(c.scale)
    X = exact  # set of stages in float64
    r = (lambda x: x) if "cache" in X else (lambda x: to_dtype(x, dt))  # the cache's storage rounding

    # prefill (prefill_keys_kernel), or exact keys
    if "cache" in X:
        K = []
        for t in range(P):
            K = [kk - be[t] * np.dot(w[t], kk) * w[t] for kk in K] + [k[t].astype(np.float64)]
        K = [list(map(float, kk)) for kk in K]
    else:
        K = [[0.0] * D for _ in range(P)]
        for i in range(D):
            x = [1.0 if d == i else 0.0 for d in range(D)]
            for j in range(P - 1, -1, -1):
                K[j][i] = r(dot2_lanes(x, list(map(float, k[j])), plain_lanes(D)))
                dw = dot2_lanes(x, list(map(float, w[j])), plain_lanes(D))
                al = mul(float(be[j]), dw)
                x = [fma(-al, float(w[j][d]), x[d]) for d in range(D)]

    O = {}
    L = {}
    for t in range(P, Tn):
        qt = list(map(float, q[t]))
        wt = list(map(float, w[t]))
        bt = float(be[t])
        kt = list(map(float, k[t]))

        def transform(x):
            if "transform" in X or "cache" in X:
                a = bt * float(np.dot(np.array(x), np.array(wt)))
                return [x[d] - a * wt[d] for d in range(D)]
            dw = dot2_lanes(x, wt, fused_lanes(D))
            al = mul(bt, dw)
            return [fma(-al, wt[d], x[d]) for d in range(D)]

        def score(x, y, lanes):
            if "score" in X:
                return sc * float(np.dot(np.array(x), np.array(y)))
            return mul(sc, dot2_lanes(x, y, lanes))

        if kernel == "fused":
            keys = [transform(kk) for kk in K] + [kt]
            s = [score(kk, qt, fused_lanes(D)) for kk in keys]
            newK = [[r(x) for x in kk] for kk in keys]
            # one tile, one split
            if "softmax" in X:
                m = max(s)
                p = [math.exp(sj - m) for sj in s]
                l = math.fsum(p)
                acc = [math.fsum(to_dtype(pj, dt) * float(v[j][e]) for j, pj in enumerate(p)) for e in range(v.shape[1])]
            else:
                m = max(s)
                p = [exp_rn(sub(sj, m)) if "score" not in X else exp_rn(sj - m) for sj in s]
                l = butterfly_sum(p, 32)
                acc = []
                for e in range(v.shape[1]):
                    a = 0.0
                    for j, pj in enumerate(p):
                        a = fma(to_dtype(pj, dt), float(v[j][e]), a)
                    acc.append(a)
            # combine of one split: alpha = exp_rn(m - m) = 1, l and acc unchanged (exact)
        else:  # plain
            s_own = score(qt, kt, plain_lanes(D))
            if "transform" in X or "cache" in X:
                a = bt * float(np.dot(np.array(qt), np.array(wt)))
                xq = [qt[d] - a * wt[d] for d in range(D)]
            else:
                dw = dot2_lanes(qt, wt, plain_lanes(D))
                al = mul(bt, dw)
                xq = [fma(-al, wt[d], qt[d]) for d in range(D)]
            s_c = [score(xq, kk, plain_lanes(D)) for kk in K]
            newK = [[r(x) for x in transform(kk)] for kk in K] + [[r(x) for x in kt]]
            if "softmax" in X:
                s = s_c + [s_own]
                m = max(s)
                p = [math.exp(sj - m) for sj in s]
                l = math.fsum(p)
                vv = [v[j] for j in range(t)] + [v[t]]
                acc = [math.fsum(to_dtype(pj, dt) * float(vv[j][e]) for j, pj in enumerate(p)) for e in range(v.shape[1])]
            else:
                # tile 1: the own key
                m = s_own
                l = 1.0
                acc = [float(x) for x in v[t]]
                # tile 2: the cached keys (8 lanes, key r on lane r % 8)
                if t > 0:
                    m_new = max(m, max(s_c))
                    p = [exp_rn(sub(sj, m_new)) if "score" not in X else exp_rn(sj - m_new) for sj in s_c]
                    lane_sums = [0.0] * 8
                    for j, pj in enumerate(p):
                        lane_sums[j % 8] = add(lane_sums[j % 8], pj)
                    psum = butterfly_sum(lane_sums, 8)
                    alpha = exp_rn(sub(m, m_new))
                    l = fma(l, alpha, psum)  # nvcc contracts l * alpha + psum
                    m = m_new
                    acc = [mul(a, alpha) for a in acc]
                    for j, pj in enumerate(p):
                        acc = [fma(to_dtype(pj, dt), float(v[j][e]), acc[e]) for e in range(len(acc))]
        if "divide" in X:
            o = [to_dtype(float(F(a) / F(l)), dt) for a in acc]  # acc / l in float64, then rounded to fp32 and the input type
            lse = rn32(m + math.log(l))
        else:
            o = [to_dtype(div(a, l), dt) for a in acc]
            lse = add(m, log_rn(l))
        O[t] = o
        L[t] = lse
        K = newK
    return O, L, K


def judge(out, R, E, tt, row_scale, row_b):
    """The model-2 criteria (conformance/src/tolerance.cpp, assess) with a case's stored numbers:
    returns (max ratio, its element), (rows ratio, its row), norm ratio; ratio = error / (tolerance / c)."""
    cc = tt["c"]
    p = {"F32": 24, "F16": 11, "BF16": 8}[tt["dtype"]]
    emin = {"F32": -126, "F16": -14, "BF16": -126}[tt["dtype"]]
    def ulp(m):
        e = math.floor(math.log2(m)) if m >= 2.0 ** emin else emin
        return 2.0 ** (e - p + 1)
    n = tt["gamma_n"]; u = 2.0 ** -24; gamma = n * u / (1 - n * u)
    R = np.asarray(R, np.float64).reshape(len(row_scale), -1)
    E = np.asarray(E, np.float64).reshape(len(row_scale), -1)
    best_max, best_row, sq = (0, None), (0, None), 0.0
    for r in range(len(row_scale)):
        mag = np.abs(E[r]).max()
        rho_r = tt["floor_ulps"] * ulp(mag)
        zero = mag <= gamma * row_scale[r]
        phi = tt["arithmetic_floor"] if zero else gamma * row_scale[r]
        degenerate = zero or row_b[r] <= rho_r
        tol_i = cc * max(tt["measured_baseline_error"], tt["arithmetic_level"] * row_scale[r], phi if degenerate else 0) + tt["floor"]
        d = np.abs(R[r] - E[r])
        if not zero: sq += float((d * d).sum())
        i = int(np.argmax(d))
        if d[i] / (tol_i / cc) > best_max[0]: best_max = (d[i] / (tol_i / cc), (r, i))
        tol_r = cc * max(tt["row_level"] * row_scale[r], phi) + rho_r
        if d.max() / (tol_r / cc) > best_row[0]: best_row = (d.max() / (tol_r / cc), r, d.max(), tol_r)
    return best_max, best_row, math.sqrt(sq) / (tt["norm_tolerance"] / cc)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("suite")
    ap.add_argument("case")
    ap.add_argument("kernel", choices=["fused", "plain"])
    ap.add_argument("--exact", action="append", default=[], choices=["transform", "cache", "score", "softmax", "divide"])
    ap.add_argument("--element", help="t,d: print o[0, t, 0, d]")
    ap.add_argument("--out", help="also write o then lse (all rows, prefilled ones from the expected values) as text, "
                                  "the format of emulate_decode.py's output that family_errors.cpp judges")
    a = ap.parse_args()
    c, T, tol = load(a.suite, a.case)
    O, L, K = run(c, a.kernel, set(a.exact))
    Eo, El = T["o"][0, :, 0], T["lse"][0, :, 0]
    label = a.kernel + ("" if not a.exact else " exact " + "+".join(a.exact))
    # the prefilled rows are the forward kernel's (not modelled): taken as exact here
    Ro = np.array([O[t] if t in O else Eo[t] for t in range(len(Eo))])
    Rl = np.array([L[t] if t in L else El[t] for t in range(len(El))])
    for out, R, E in (("o", Ro, Eo), ("lse", Rl, El)):
        (mr, (mrow, mi)), (rr, row, rerr, rtol), nr = judge(out, R, E, tol[out], T["row_scale." + out].ravel(),
                                                           T["row_baseline_error." + out].ravel())
        print(f"{label}: {out}: max ratio {mr:.3g} at row t={mrow} [{mi}] (error {abs(R.reshape(len(E), -1)[mrow][mi] - E.reshape(len(E), -1)[mrow][mi]):.3g}); "
              f"rows ratio {rr:.3g} at t={row} (error {rerr:.3g}, row tolerance {rtol:.3g}); norm ratio {nr:.3g}; c = {tol[out]['c']:g}")
    if a.out:
        with open(a.out, "w") as fo:
            fo.write(f"# o then lse, row-major: stages.py {a.kernel} {' '.join('--exact ' + x for x in a.exact)}\n")
            fo.write(" ".join("%.17g" % x for x in Ro.ravel()) + "\n")
            fo.write(" ".join("%.17g" % x for x in Rl.ravel()) + "\n")
    if a.element:
        t, dd = map(int, a.element.split(","))
        print(f"{label}: o[0,{t},0,{dd}] = {O[t][dd]!r} expected {Eo[t][dd]!r} error {O[t][dd] - Eo[t][dd]:.4g}")
    print(f"{label}: lse " + " ".join(f"t={t}: {L[t]!r} (error {L[t] - El[t]:.3g})" for t in sorted(L)))


if __name__ == "__main__":
    main()
