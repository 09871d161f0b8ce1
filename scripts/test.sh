#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (GoogleTest and lit,
# through CTest). Ends with CTest's summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh all
cd "${LOPT_BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)"
