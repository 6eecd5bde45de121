#!/usr/bin/env python3
"""adapters/fla/decode_drift.py's statistics without a GPU or torch: they must be path_gpu_drift's
(gpu/tools/drift_stats.hpp), so that the two CSVs share a plot: the same column order, the same
windows (row 0 is the prefilled token), the floors in the cache dtype, NaN for an unwritten slot.

Usage: .venv/bin/python tests/fla/test_decode_drift.py (numpy, ml_dtypes; ctest: fla_decode_drift_unit)."""

import math
import os
import re
import sys
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "adapters", "fla"))
import decode_drift  # noqa: E402


def cpp_header() -> str:
    """The string csv_header() returns in gpu/tools/drift_stats.hpp (its adjacent literals joined)."""
    text = open(os.path.join(ROOT, "gpu", "tools", "drift_stats.hpp"), encoding="utf-8").read()
    body = re.search(r"std::string csv_header\(\) \{\s*return (.*?);", text, re.S).group(1)
    return "".join(re.findall(r'"([^"]*)"', body))


class Stats(unittest.TestCase):
    def test_the_columns_are_path_gpu_drifts(self):
        self.assertEqual(decode_drift.CSV_HEADER, cpp_header())

    def test_compare_against_hand_values(self):
        l2, mx = decode_drift.compare(np.array([1.0, 2.0, 2.0]), np.array([1.0, 2.0, 1.0]))
        self.assertAlmostEqual(l2, 1 / math.sqrt(6))
        self.assertAlmostEqual(mx, 0.5)

    def test_a_nan_is_never_small(self):
        l2, mx = decode_drift.compare(np.array([np.nan, 1.0]), np.array([1.0, 1.0]))
        self.assertTrue(math.isnan(l2) and math.isnan(mx))

    def test_the_floor_rounds_to_the_named_dtype(self):
        x = np.array([1.0 + 2.0 ** -9])  # exact in fp16 (11 bits), a quarter ulp in bf16 (8 bits): 1
        self.assertEqual(decode_drift.rounded(x, "fp16")[0], x[0])
        self.assertEqual(decode_drift.rounded(x, "bf16")[0], 1.0)

    def test_windows_leave_out_the_prefilled_row(self):
        win, allr = decode_drift.step_rows(5, 1024)
        self.assertEqual((win.start, win.stop, allr.start, allr.stop), (1, 5, 1, 5))
        win, _ = decode_drift.step_rows(2048, 1024)
        self.assertEqual((win.start, win.stop), (1024, 2048))

    def test_a_row_has_every_column_and_exact_inputs_give_zero_error(self):
        rng = np.random.default_rng(7)
        L = 6
        exact_cache = rng.normal(size=(1, L, 1, 4))
        exact_o = rng.normal(size=(1, L, 1, 4))
        info = {"impl": "fla", "gate": "none", "B": 1, "T": L, "H": 1, "HQ": 1, "D": 4, "seed": 3}
        row = decode_drift.checkpoint_row(info, L, 1024, exact_cache, exact_cache, exact_o, exact_o, "bf16", 0.5)
        f = row.split(",")
        self.assertEqual(len(f), len(decode_drift.CSV_HEADER.split(",")))
        cols = dict(zip(decode_drift.CSV_HEADER.split(","), f))
        self.assertEqual(float(cols["cache_rel_l2"]), 0.0)
        self.assertGreater(float(cols["cache_floor_rel_l2"]), 0.0)  # normal draws are not bf16 numbers
        self.assertEqual((cols["window_first"], cols["window_steps"], cols["steps"]), ("1", "5", "5"))
        # a cache one bf16 rounding off: ratio 1 in the L2 column
        row = decode_drift.checkpoint_row(info, L, 1024, decode_drift.rounded(exact_cache, "bf16"), exact_cache,
                                          exact_o, exact_o, "bf16", 0.5)
        self.assertAlmostEqual(float(dict(zip(decode_drift.CSV_HEADER.split(","), row.split(",")))["cache_ratio_l2"]), 1.0)


if __name__ == "__main__":
    unittest.main()
