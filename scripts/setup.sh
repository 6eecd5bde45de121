#!/usr/bin/env bash
# Installs every dependency from Debian's packages (and the Python example's from PyPI, pinned, into
# .venv/) and builds everything (Release) in build/.
# Usage: bash scripts/setup.sh            (re-running it is cheap: apt and the build are incremental)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake make g++ clang libeigen3-dev libboost-dev libgmp-dev libmpfr-dev nlohmann-json3-dev
          libgtest-dev googletest librapidcheck-dev libbenchmark-dev libcli11-dev)
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}"
fi

# Python: the example adapter's pinned dependencies (adapters/python/requirements.txt) in a
# project-local virtual environment, .venv/ (ignored by git). Re-created only when the requirements
# change; the tests that need it skip with the reason where it is absent.
python=${PYTHON:-python3}
if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "setup: installing python3-venv"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3 python3-venv
  python=python3
fi
requirements=adapters/python/requirements.txt
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.requirements.sha256 2>/dev/null)" != "$want" ]; then
  echo "setup: creating .venv from $requirements"
  rm -rf .venv
  "$python" -m venv .venv
  .venv/bin/python -m pip install --disable-pip-version-check -q -r "$requirements"
  echo "$want" >.venv/.requirements.sha256
fi

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
echo "setup: built in build/ (tools: build/tools/pathcheck/pathcheck)"
