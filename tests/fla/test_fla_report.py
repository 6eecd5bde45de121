#!/usr/bin/env python3
"""scripts/fla-report.py's reading of a run, without a GPU: how each case is classified and what the
report then claims. The H200 run of 2026-12-02 reached its time limit with 47 of 50 fp32-ieee cases
unwritten, and the report said "every case passes on every judged output" for that run: a claim
about 47 cases nobody judged. These tests pin the classification down so that cannot come back.

Usage: python3 tests/fla/test_fla_report.py (stdlib only; ctest runs it as fla_report_unit)."""

import importlib.util
import os
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("fla_report", os.path.join(HERE, "..", "..", "scripts", "fla-report.py"))
fla_report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fla_report)

TIMED_OUT = "the command timed out: still running at the time limit of 390 s (--timeout)"


def output(name, ratio, verdict):
    return {"output": name, "ratio": ratio, "verdict": verdict}


def case(name, outputs, verdict, problem=""):
    return {"case": name, "outputs": outputs, "verdict": verdict, "problem": problem}


class CaseKind(unittest.TestCase):
    def test_a_normal_pass(self):
        self.assertEqual(fla_report.case_kind(case("a", [output("o", 0.5, "PASS")], "PASS"), None), "pass")

    def test_an_output_outside_the_tolerance(self):
        c = case("a", [output("o", 0.5, "PASS"), output("dw", 2.4, "FAIL")], "FAIL")
        self.assertEqual(fla_report.case_kind(c, None), "outside")

    def test_judged_outputs_pass_but_the_run_was_cut(self):
        c = case("a", [output("o", 1.18, "PASS")], "FAIL", TIMED_OUT)
        self.assertEqual(fla_report.case_kind(c, None), "cut, outputs pass")

    def test_no_result(self):
        self.assertEqual(fla_report.case_kind(case("a", [], "FAIL", TIMED_OUT), None), "no result")

    def test_the_peer_raised(self):
        side = {"status": "failed", "error": "AcceleratorError: illegal memory access"}
        self.assertEqual(fla_report.case_kind(case("a", [], "FAIL", "x"), side), "peer error")


class Interpretation(unittest.TestCase):
    def run_of(self, cases, sidecars=None):
        return {"report": {"cases": cases}, "sidecars": sidecars or {}, "lse": None}

    def test_no_claim_about_cases_without_a_result(self):
        cases = [case("a", [output("o", 0.9, "PASS")], "FAIL", TIMED_OUT)] + \
                [case(f"b{i}", [], "FAIL", TIMED_OUT) for i in range(47)]
        text = fla_report.interpretation({"fp32-ieee": self.run_of(cases)}, {})
        self.assertNotIn("every case passes", text)
        self.assertIn("47 of 48 case(s) have no result", text)

    def test_every_case_passes_is_said_only_when_it_is_true(self):
        cases = [case(f"a{i}", [output("o", 0.9, "PASS")], "PASS") for i in range(3)]
        text = fla_report.interpretation({"bf16": self.run_of(cases)}, {})
        self.assertIn("every case passes", text)


if __name__ == "__main__":
    unittest.main()
