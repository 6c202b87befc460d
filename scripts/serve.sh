#!/usr/bin/env bash
# Builds the page's wasm module and runs the server: http://localhost:8765 serves the page,
# ws://localhost:8765/echo, /chat/<room> and /broadcast the sockets. Installs what it needs
# (see scripts/wasm.sh) idempotently. Extra arguments go to `wslens serve`.
#
#   bash scripts/serve.sh [--port 8765] [--threads N] ...
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/wasm.sh
ensure_wasm_tools
build_page
exec cargo run --release -p wslens-server -- serve "$@"
