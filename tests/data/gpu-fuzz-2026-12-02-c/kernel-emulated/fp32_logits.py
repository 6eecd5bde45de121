"""The fp32 reproducer (fp32/fuzz-3942135878589646-625-decode-vs-forward-decode, T = 3, prefill 1):
the logits of the last step (t = 2) as each design computes them, in units of the logit's fp32 ulp
(1.9e-6 at 16..32), beside the exact ones. o[2, 12] = sum_j p_j v_j[12] moves by
p_0 p_1 (v_0 - v_1) (ds_0 - ds_1) = 0.588 (ds_0 - ds_1), so whether the two large logits (17.16,
19.01) round to the same side decides whether o's error is ~1e-7 or ~1.1e-6.
Designs: the fused step (fp32 key: H_t by Dot2 + fma, scored by Dot2 before storing), the plain
step (the query carries H_2: Dot2(k_j^(1), fl(H_2 q))), the exact keys' logits rounded once, and
the decode members' formula written as plain fp32 loops (a = fl(beta fl(w . k)), x_d = fl(x_d -
fl(a w_d)), logit = loop dot) in the family's four summation orders.
usage: python3 fp32_logits.py   (from tests/data/gpu-fuzz-2026-12-02-c)
"""
import math
import os
import sys
from fractions import Fraction as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stages as S  # noqa: E402

c, T, tol = S.load("fp32", "fuzz-3942135878589646-625-decode-vs-forward-decode")
q, k, w, be = (c.q[0, :, 0], c.k[0, :, 0], c.w[0, :, 0], c.beta[0, :, 0])
D, sc = q.shape[1], float(c.scale)
fl = lambda a: list(map(float, a))  # noqa: E731
ulp = lambda x: 2.0 ** (math.floor(math.log2(abs(x))) - 23)  # noqa: E731


def H_exact(x, t):
    a = F(float(be[t])) * sum(F(float(w[t][d])) * x[d] for d in range(D))
    return [x[d] - a * F(float(w[t][d])) for d in range(D)]


q2 = [F(float(x)) for x in q[2]]
keys_exact = [H_exact(H_exact([F(float(x)) for x in k[0]], 1), 2), H_exact([F(float(x)) for x in k[1]], 2)]
s_exact = [float(sc * sum(a * b for a, b in zip(kk, q2))) for kk in keys_exact]


def report(label, s, pre=None):
    e = [(s[j] - s_exact[j]) / ulp(s_exact[j]) for j in range(2)]
    extra = "" if pre is None else "  (before the logit's rounding: %+.3f, %+.3f)" % tuple((pre[j] - s_exact[j]) / ulp(s_exact[j]) for j in range(2))
    print(f"{label:44s} key 0 {e[0]:+.3f}  key 1 {e[1]:+.3f}  ds_0 - ds_1 {e[0] - e[1]:+.3f} ulp"
          f" -> o[2,12] moves {0.588 * (e[0] - e[1]) * ulp(s_exact[0]):+.3g}{extra}")


print(f"exact logits of step 2: {s_exact[0]!r}, {s_exact[1]!r}")
report("exact keys, logits rounded once to fp32", [S.rn32(x) for x in s_exact])


def H_kernel(x, t, lanes):
    a = S.mul(float(be[t]), S.dot2_lanes(x, fl(w[t]), lanes))
    return [S.fma(-a, float(w[t][d]), x[d]) for d in range(D)]


# fused: both keys carry their transforms in fp32 (step 1's H_1 on key 0 is stored, as update_keys_kernel does)
kf = [H_kernel(H_kernel(fl(k[0]), 1, S.fused_lanes(D)), 2, S.fused_lanes(D)), H_kernel(fl(k[1]), 2, S.fused_lanes(D))]
pre = [float(sc * sum(F(a) * F(b) for a, b in zip(kk, fl(q[2])))) for kk in kf]
report("fused step (key side, Dot2 + fma)", [S.mul(sc, S.dot2_lanes(kk, fl(q[2]), S.fused_lanes(D))) for kk in kf], pre)
# plain: the cached keys k_j^(1), the query H_2 q_2 in fp32
kp = [H_kernel(fl(k[0]), 1, S.plain_lanes(D)), fl(k[1])]
xq = H_kernel(fl(q[2]), 2, S.plain_lanes(D))
pre = [float(sc * sum(F(a) * F(b) for a, b in zip(kk, xq))) for kk in kp]
report("plain step (query side, Dot2 + fma)", [S.mul(sc, S.dot2_lanes(xq, kk, S.plain_lanes(D))) for kk in kp], pre)

orders = {"natural": list(range(D)), "reversed": list(range(D - 1, -1, -1)),
          "interleaved": list(range(0, D, 2)) + list(range(1, D, 2)), "rotated by one": [(d + 1) % D for d in range(D)]}
for name, order in orders.items():
    def loop(x, y):
        s = 0.0
        for d in order: s = S.add(s, S.mul(x[d], y[d]))
        return s

    def H_loop(x, t):
        a = S.mul(float(be[t]), loop(x, fl(w[t])))
        return [S.sub(x[d], S.mul(a, float(w[t][d]))) for d in range(D)]
    kl = [H_loop(H_loop(fl(k[0]), 1), 2), H_loop(fl(k[1]), 2)]
    report(f"members' formula as fp32 loops, {name}", [S.mul(sc, loop(kk, fl(q[2]))) for kk in kl])
