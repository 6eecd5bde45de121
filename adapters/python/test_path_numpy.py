"""Unit tests of the NumPy example itself (run by CTest as python_example_unit; or
`.venv/bin/python -m unittest discover -s adapters/python`).

The end-to-end tests (tests/python_example_test.sh) judge the example through `pathcheck
validate`; these check, without pathcheck, the parts a wrong answer could come from:
  - the forward against explicit D x D products of the H's, built directly from the definition;
  - the backward against complex-step derivatives of the forward (f(x + i h d) for h = 1e-30
    gives the directional derivative to rounding: an independent check, no subtraction);
  - decode against the forward rows and the cache against explicit products;
  - the rounding to the output dtypes (directly from float64, no double rounding);
  - that the planted bugs do break what they claim to (so these comparisons can fail).
"""

from __future__ import annotations

import os
import sys
import tempfile
import unittest
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pathcase  # noqa: E402
import path_numpy  # noqa: E402
from path_numpy import Planted  # noqa: E402

NO_BUG = Planted(None)


def make_case(B=1, T=7, HQ=2, H=1, D=4, Dv=3, gated=True, convention="paper", cu=None, mode="prefill",
              prefill=0, gradients=True, seed=1):
    rng = np.random.default_rng(seed)
    if cu is not None:
        B, T = 1, cu[-1]
    w = rng.standard_normal((B, T, H, D))
    w /= np.linalg.norm(w, axis=-1, keepdims=True)
    w *= rng.uniform(0.6, 1.3, (B, T, H, 1))  # not unit: the kernel must not normalize
    return pathcase.Case(
        name="synthetic", path="synthetic.safetensors",
        q=rng.standard_normal((B, T, HQ, D)), k=rng.standard_normal((B, T, H, D)),
        v=rng.standard_normal((B, T, H, Dv)), w=w, beta=rng.uniform(0, 2, (B, T, H)),
        g=np.log(1 / (1 + np.exp(-rng.standard_normal((B, T, HQ)) - 2))) if gated else None,
        cu_seqlens=cu, do=rng.standard_normal((B, T, HQ, Dv)) if gradients else None,
        scale=D ** -0.5, gate_convention=convention, mode=mode, prefill_length=prefill,
        gradients=gradients, input_dtype="F32")


def explicit_forward(case):
    """o, lse from the definition with explicit D x D matrices, one (sequence, query head) at a time."""
    B, T, HQ, D = case.q.shape
    H = case.k.shape[2]
    o = np.zeros(case.q.shape[:3] + (case.v.shape[3],))
    lse = np.zeros(case.q.shape[:3])
    for b, start, end in case.sequences():
        for hq in range(HQ):
            h = hq // (HQ // H)
            gc = np.cumsum(case.g[b, start:end, hq]) if case.g is not None else np.zeros(end - start)
            for i in range(start, end):
                s = []
                for j in range(start, i + 1):
                    prod = np.eye(D)
                    for t in range(j + 1, i + 1):
                        wt = case.w[b, t, h]
                        prod = prod @ (np.eye(D) - case.beta[b, t, h] * np.outer(wt, wt))
                    r = case.k[b, j, h] @ prod @ case.q[b, i, hq]
                    gate = gc[i - start] - gc[j - start]
                    s.append(case.scale * r + gate if case.gate_convention == "paper"
                             else case.scale * (r + gate))
                s = np.array(s)
                m = s.max()
                p = np.exp(s - m)
                lse[b, i, hq] = m + np.log(p.sum())
                o[b, i, hq] = (p / p.sum()) @ case.v[b, start:i + 1, h]
    return o, lse


CASES = {
    "gqa_paper": dict(HQ=2, H=1, convention="paper"),
    "gqa2_fla": dict(HQ=4, H=2, convention="fla", T=6),
    "nogate": dict(gated=False, HQ=1, H=1),
    "batch_fla": dict(B=2, T=5, HQ=2, H=1, convention="fla"),
    "varlen": dict(cu=[0, 1, 1, 4, 9], HQ=2, H=2, convention="fla"),
    "t1": dict(T=1),
}


class Forward(unittest.TestCase):
    def test_equals_explicit_products(self):
        for label, kw in CASES.items():
            with self.subTest(label):
                case = make_case(**kw, gradients=False)
                got = path_numpy.run_case(case, NO_BUG)
                o, lse = explicit_forward(case)
                np.testing.assert_allclose(got["o"], o, rtol=0, atol=1e-12)
                np.testing.assert_allclose(got["lse"], lse, rtol=0, atol=1e-12)

    def test_planted_forward_bugs_are_seen(self):
        seen = {"gqa-mapping": "gqa2_fla", "gate-unscaled": "gqa2_fla", "householder-off-by-one": "gqa_paper",
                "lse-log2": "gqa_paper", "varlen-cross": "varlen"}
        for bug, label in seen.items():
            with self.subTest(bug):
                case = make_case(**CASES[label], gradients=False)
                got = path_numpy.run_case(case, Planted(bug))
                o, lse = explicit_forward(case)
                err = max(np.abs(got["o"] - o).max(), np.abs(got["lse"] - lse).max())
                self.assertGreater(err, 1e-3)


def loss(case, bug):
    return np.sum(case.do * path_numpy.run_case(case, bug)["o"])


def complex_step_check(test, case, bug, expect_ok=True):
    """sum <grad, d> from the backward against Im f(x + i h d) / h for one random direction d."""
    grads = path_numpy.run_case(case, bug)
    rng = np.random.default_rng(7)
    names = {"q": "dq", "k": "dk", "v": "dv", "w": "dw", "beta": "dbeta"}
    if case.g is not None:
        names["g"] = "dg"
    worst = 0.0
    for inp, gname in names.items():  # one input at a time, so a wrong gradient is named
        d = rng.standard_normal(getattr(case, inp).shape)
        h = 1e-30
        shifted = pathcase.Case(**{**case.__dict__, inp: getattr(case, inp) + 1j * h * d, "gradients": False})
        directional = np.imag(loss(shifted, bug)) / h
        predicted = np.sum(grads[gname] * d)
        scale = 1 + np.sum(np.abs(grads[gname] * d))
        rel = abs(directional - predicted) / scale
        worst = max(worst, rel)
        if expect_ok:
            test.assertLess(rel, 1e-12, f"{gname}: complex step {directional}, backward {predicted}")
    return worst


class Backward(unittest.TestCase):
    def test_equals_complex_step_derivatives(self):
        for label, kw in CASES.items():
            with self.subTest(label):
                complex_step_check(self, make_case(**kw), NO_BUG)

    def test_first_position_has_zero_dw_dbeta(self):
        got = path_numpy.run_case(make_case(), NO_BUG)
        self.assertTrue(np.all(got["dw"][:, 0] == 0) and np.all(got["dbeta"][:, 0] == 0))

    def test_planted_gradient_bugs_are_seen(self):
        for bug in ("dw-one-term", "dbeta-sign", "dg-prefix"):
            with self.subTest(bug):
                worst = complex_step_check(self, make_case(**CASES["gqa2_fla"]), Planted(bug), expect_ok=False)
                self.assertGreater(worst, 1e-6)


class Decode(unittest.TestCase):
    def cache_by_products(self, case):
        B, T, H, D = case.k.shape
        cache = np.zeros_like(case.k)
        for b, start, end in case.sequences():
            for h in range(H):
                for j in range(start, end):
                    x = case.k[b, j, h].copy()
                    for t in range(j + 1, end):
                        wt = case.w[b, t, h]
                        x = x - case.beta[b, t, h] * wt * (wt @ x)
                    cache[b, j, h] = x
        return cache

    def test_every_prefill_equals_forward_and_products(self):
        for label in ("gqa_paper", "gqa2_fla", "varlen", "nogate"):
            base = make_case(**CASES[label], gradients=False)
            T = base.q.shape[1]
            fwd = path_numpy.run_case(base, NO_BUG)
            cache = self.cache_by_products(base)
            for prefill in range(T + 1):
                with self.subTest(label, prefill=prefill):
                    case = pathcase.Case(**{**base.__dict__, "mode": "decode", "prefill_length": prefill})
                    got = path_numpy.run_case(case, NO_BUG)
                    np.testing.assert_allclose(got["o"], fwd["o"], rtol=0, atol=1e-12)
                    np.testing.assert_allclose(got["lse"], fwd["lse"], rtol=0, atol=1e-12)
                    np.testing.assert_allclose(got["k_cache"], cache, rtol=0, atol=1e-12)

    def test_stale_cache_bug_is_seen(self):
        base = make_case(**CASES["gqa_paper"], gradients=False)
        case = pathcase.Case(**{**base.__dict__, "mode": "decode", "prefill_length": 2})
        got = path_numpy.run_case(case, Planted("decode-stale-cache"))
        self.assertGreater(np.abs(got["k_cache"] - self.cache_by_products(base)).max(), 1e-3)


try:
    import torch  # noqa: F401
    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False


@unittest.skipUnless(HAVE_TORCH, "PyTorch is not installed (optional; path_torch.py needs it)")
class TorchVariant(unittest.TestCase):
    """path_torch.py (autograd backward) and path_numpy.py (hand-written reverse mode) agree."""

    def test_same_outputs_as_numpy(self):
        import path_torch
        for label, kw in CASES.items():
            for mode, prefill in (("prefill", 0), ("decode", 2)):
                with self.subTest(label, mode=mode):
                    case = make_case(**kw, gradients=mode == "prefill", mode=mode, prefill=prefill)
                    want = path_numpy.run_case(case, NO_BUG)
                    got = path_torch.run_case(case, "cpu")
                    for name in case.outputs:
                        np.testing.assert_allclose(got[name], want[name], rtol=0, atol=1e-12, err_msg=name)


class Rounding(unittest.TestCase):
    def test_bf16_rounds_once_from_float64(self):
        case = make_case()
        case.input_dtype = "BF16"
        # 1 + 2^-8 + 2^-30: above the midpoint of 1 and 1 + 2^-7, so 1 + 2^-7; through float32 it
        # would first become the midpoint 1 + 2^-8 and then round to even, 1.
        x = np.array([1 + 2**-8 + 2**-30, 1 + 2**-8, 1 + 3 * 2**-8, -2.0**-140, 1e39])
        with warnings.catch_warnings():  # 1e39 overflows to inf, as it must
            warnings.simplefilter("ignore", RuntimeWarning)
            got = pathcase.round_output(case, "o", x).astype(np.float64)
        np.testing.assert_array_equal(got, [1 + 2**-7, 1.0, 1 + 2**-6, -0.0, np.inf])
        self.assertEqual(pathcase.round_output(case, "dw", x).dtype, np.float32)

    def test_fp16_rounds_once_from_float64(self):
        case = make_case()
        case.input_dtype = "F16"
        x = np.array([1 + 2**-11 + 2**-40, 1 + 2**-11])
        got = pathcase.round_output(case, "dq", x).astype(np.float64)
        np.testing.assert_array_equal(got, [1 + 2**-10, 1.0])


class Files(unittest.TestCase):
    def test_result_round_trip_and_no_overwrite(self):
        case = make_case(gated=False)
        case.input_dtype = "BF16"
        out = path_numpy.run_case(case, NO_BUG)
        with tempfile.TemporaryDirectory() as d:
            path = pathcase.write_result(d, case, out, "test", force=False)
            from safetensors.numpy import load_file
            back = load_file(path)
            self.assertEqual(sorted(back), sorted(case.outputs))
            self.assertEqual(back["o"].dtype, pathcase.BFLOAT16)
            self.assertEqual(back["lse"].dtype, np.float32)
            np.testing.assert_allclose(back["o"].astype(np.float64), out["o"], rtol=2**-8, atol=0)
            with self.assertRaisesRegex(pathcase.CaseError, "already exists"):
                pathcase.write_result(d, case, out, "test", force=False)

    def test_bad_suites_are_clear_errors(self):
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaisesRegex(pathcase.CaseError, "not a directory"):
                pathcase.case_names(os.path.join(d, "nope"))
            with open(os.path.join(d, "suite.json"), "w") as f:
                f.write('{"cases": ["../etc/passwd"]}')
            with self.assertRaisesRegex(pathcase.CaseError, "not a plain file name"):
                pathcase.case_names(d)
            with open(os.path.join(d, "suite.json"), "w") as f:
                f.write('{"cases": ["c1"]}')
            with self.assertRaisesRegex(pathcase.CaseError, "case file not found"):
                pathcase.read_case(d, "c1")
            with open(os.path.join(d, "c1.safetensors"), "wb") as f:
                f.write(b"\x05\x00")
            with self.assertRaisesRegex(pathcase.CaseError, "c1.safetensors: cannot read"):
                pathcase.read_case(d, "c1")
            with self.assertRaisesRegex(pathcase.CaseError, "is the suite itself"):
                pathcase.prepare_results_dir(d, d)


if __name__ == "__main__":
    unittest.main()
