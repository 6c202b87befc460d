#!/usr/bin/env bash
# A local cluster: one redis-server and three `wslens serve` nodes sharing its rooms
# (--backplane), on http://localhost:8765, :8766 and :8767. Open the page's chat on two of
# them (or `wslens listen ws://localhost:8766/chat/lobby` and
# `wslens send ws://localhost:8765/chat/lobby hello`): the room spans the nodes. Ctrl-C stops
# all four (by the PIDs this script started). Installs Debian's redis-server and the page's
# tools if missing.
#
#   bash scripts/cluster.sh [REDIS_PORT]      # default 6390 (not 6379: a system Redis may be there)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
redis_port="${1:-6390}"
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v redis-server >/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
. scripts/wasm.sh
ensure_wasm_tools
build_page
cargo build --release -q -p wslens-server

pids=()
stop() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "cluster stopped"
}
trap stop EXIT INT TERM
dir="$root/target/cluster"
mkdir -p "$dir"
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
  >"$dir/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null && break; sleep 0.05; done
# Each node logs to its own file (target/cluster/node-PORT.log), followed below.
for port in 8765 8766 8767; do
  RUST_LOG="${RUST_LOG:-info}" target/release/wslens serve --port "$port" --www www \
    --backplane "redis://127.0.0.1:$redis_port" >"$dir/node-$port.log" 2>&1 &
  pids+=($!)
done
echo "redis on 127.0.0.1:$redis_port; nodes on http://localhost:8765, :8766, :8767 (Ctrl-C stops)"
tail -n +1 -F "$dir"/node-*.log &
pids+=($!)
wait
