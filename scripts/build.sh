#!/usr/bin/env bash
# Configures (once) and builds lopt with CMake + Ninja into ./build.
# Usage: scripts/build.sh [ninja targets...]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${LOPT_BUILD_DIR:-build}
if [[ ! -f "$build/build.ninja" ]]; then
  cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release
fi
jobs=${LOPT_JOBS:-$(nproc)}
ninja -C "$build" -j "$jobs" "$@"
