#!/usr/bin/env bash
# Installs what is missing, builds (preset "dev" unless PRESET is set) and runs every test.
# Also builds the "asan" preset and runs every test again under AddressSanitizer + UBSan (gatewayd
# and its plugins too, so the end-to-end tests check them), unless SKIP_ASAN=1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

preset=${PRESET:-dev}
jobs=${JOBS:-$(nproc)}
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$jobs"
ctest --preset "$preset" -j "$jobs"

if [ "${SKIP_ASAN:-0}" != 1 ]; then
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j "$jobs"
  ctest --preset asan -j "$jobs"
fi
