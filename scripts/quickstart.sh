#!/usr/bin/env bash
# Installs what is missing, builds the release preset and starts the gateway on the quick-start
# configuration (config/quickstart.yaml). Ctrl-C (SIGINT) drains and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target gatewayd gateway_plugins
exec build/release/bin/gatewayd run --config config/quickstart.yaml
