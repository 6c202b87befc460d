#!/usr/bin/env bash
# The soak: echo (with and without permessage-deflate), TLS, rooms, broadcast, slow readers,
# connection churn and resets, all at once against one release `wslens serve`, for MINUTES
# (10 for the README's figure). Every message carries a sequence number and a SHA-256 and is
# checked on arrival: the run fails on any lost, corrupted or out-of-order message. The
# server's RSS and open files are sampled every 10 s and plotted.
#
#   bash bench/soak.sh [MINUTES]     -> target/soak/{result.json,samples.csv,soak.png}
#
# Python `websockets` and matplotlib go into target/pyvenv. Loopback only; the server is
# started here and stopped by its PID (SIGTERM: it must exit 0).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
minutes="${1:-10}"
out="$root/target/soak"
mkdir -p "$out"
[ -x target/pyvenv/bin/python ] || python3 -m venv target/pyvenv
target/pyvenv/bin/pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt matplotlib
cargo build --release -q -p wslens-server
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
tls_port=$(free_port)
target/release/wslens serve --port "$port" --tls-self-signed --tls-port "$tls_port" \
  --tls-cert-out "$out/cert.pem" --threads 2 >"$out/server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [ -s "$out/cert.pem" ] && break; sleep 0.1; done
echo "==> soak for $minutes minute(s) against wslens (pid $pid, ports $port and $tls_port)"
status=0
target/pyvenv/bin/python bench/soak.py --minutes "$minutes" --port "$port" --tls-port "$tls_port" \
  --ca "$out/cert.pem" --pid "$pid" --out "$out" | tee "$out/result.json" || status=$?
kill -TERM "$pid"
server_status=0
wait "$pid" || server_status=$?
trap - EXIT
echo "server exit status after SIGTERM: $server_status"
target/pyvenv/bin/python bench/soak_plot.py "$out/samples.csv" "$out/soak.png" \
  "wslens serve under the soak ($minutes min, $(date -u +%F)): RSS and open files"
echo "plot: $out/soak.png"
[ "$status" = 0 ] && [ "$server_status" = 0 ]
