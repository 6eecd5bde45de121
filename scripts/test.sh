#!/usr/bin/env bash
# Runs the default test suite (CPU; GPU tests skip with a message where there is no GPU).
# Random inputs are fresh each run; every test program prints its PATHCHECK_SEED, and
# PATHCHECK_SEED=<n> bash scripts/test.sh reproduces a run.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
ctest --test-dir build --output-on-failure -j"$jobs" --timeout 900
