"""How large an lse error the bf16/fp16 key cache's roundings make, statistically, on a stored decode
case (one kv head, one query head, no gate, one-token steps), against the error they actually make.

A step kernel that scores the key before storing it (both GPU step kernels; docs/decode.md 6) sees
at step t the key k_j^(t) = H_t c_j^(t-1), c the cache, which was rounded to the cache dtype at the
end of the prefill (j < P) and after every later step t' < t that transformed it. A rounding error
e at step t' reaches the logit as scale * (H_{t'+1} ... H_t q_t) . e (every H symmetric), and lse
moves by sum_j p_tj ds_tj. Modelling every rounding error as independent and uniform in half an ulp
of its component (variance ulp^2 / 12) gives the standard deviation sigma of that lse error; the
realized error (the cache as the kernels round it: exact transforms of the rounded cache, rounded
again) is printed beside it, with its linearization sum_j p_j ds_j.
usage: python3 lse_sigma.py SUITE_DIR CASE ROW   (ROW = the decode step t whose lse is judged)
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stages  # noqa: E402  (the case reader and the dtype rounding)


def main():
    d, name, row = sys.argv[1], sys.argv[2], int(sys.argv[3])
    c, T, tol = stages.load(d, name)
    dt, P = c.input_dtype, c.prefill_length
    bits = {"BF16": 8, "F16": 11}[dt]
    emin = {"BF16": -126, "F16": -14}[dt]
    q, k, w, be = c.q[0, :, 0], c.k[0, :, 0], c.w[0, :, 0], c.beta[0, :, 0]
    sc = float(c.scale)
    D = q.shape[1]

    def H(t, x): return x - be[t] * np.dot(w[t], x) * w[t]
    def ulp(x): return np.array([2.0 ** (max(math.floor(math.log2(abs(a))), emin) - bits + 1) if a != 0 else 2.0 ** (emin - bits + 1) for a in x])
    def rnd(x): return np.array([stages.to_dtype(float(a), dt) for a in x])

    # exact keys k_j^(t') and the rounded cache c_j^(t') as a score-first kernel keeps it (exact arithmetic otherwise)
    exact = {}   # (j, t') -> k_j^(t')
    events = {}  # j -> list of (t', ulp vector of the rounded value)
    cache = []
    for t in range(row + 1):
        exact.update({(j, t): H(t, exact[(j, t - 1)]) for j in range(t)})
        exact[(t, t)] = k[t].astype(np.float64)
        if t < P:
            if t == P - 1:  # the prefill stores its keys once
                cache = [rnd(exact[(j, t)]) for j in range(P)]
                for j in range(P): events.setdefault(j, []).append((t, ulp(exact[(j, t)])))
            continue
        keys = [H(t, cj) for cj in cache] + [k[t].astype(np.float64)]  # scored before rounding
        if t == row:
            break
        cache = [rnd(x) for x in keys]
        for j in range(t): events.setdefault(j, []).append((t, ulp(keys[j])))  # key t is stored as given (exact)
    s_exact = np.array([sc * np.dot(exact[(j, row)], q[row]) for j in range(row + 1)])
    s_kern = np.array([sc * np.dot(x, q[row]) for x in keys])
    p = np.exp(s_exact - s_exact.max()); p /= p.sum()
    lse = lambda s: s.max() + math.log(np.exp(s - s.max()).sum())
    var = 0.0
    for j, ev in events.items():
        vj = 0.0
        for t1, u in ev:
            a = q[row].astype(np.float64)
            for t2 in range(row, t1, -1): a = H(t2, a)  # H_{t1+1} ... H_row q_row
            vj += sc * sc * float(np.sum(a * a * u * u)) / 12.0
        var += p[j] ** 2 * vj
    sigma = math.sqrt(var)
    err = lse(s_kern) - float(T["lse"][0, row, 0])
    lin = float(np.dot(p, s_kern - s_exact))
    n_events = sum(len(e) for e in events.values())
    print(f"{name} lse row t={row} ({dt}, prefill {P}, {n_events} key roundings before this step): "
          f"sigma of the cache-rounding lse error {sigma:.3g}; realized (exact arithmetic on the rounded cache) "
          f"{err:+.4g} = {err / sigma:+.2f} sigma (linearized sum_j p_j ds_j {lin:+.4g}); largest p_j {p.max():.3f}")


if __name__ == "__main__":
    main()
