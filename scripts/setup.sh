#!/usr/bin/env bash
# Installs every dependency from Debian's packages and builds everything (Release) in build/.
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

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
echo "setup: built in build/ (tools: build/tools/pathcheck/pathcheck)"
