#!/usr/bin/env bash
# TLS against plain, in the same run: one `wslens serve --threads 1` (release, pinned to core 0)
# with both listeners, `wslens bench --threads 1` pinned to core 1, ROUNDS interleaved rounds of
# each case over ws:// and wss://; then the server CPU time per TLS handshake (Python's ssl,
# sequential connections, CPU time read from /proc). Loopback only; stops by itself.
#
#   bash scripts/bench-tls.sh [ROUNDS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
seconds="${2:-4}"

cargo build --release -p wslens-server
bin=target/release/wslens
dir="$(mktemp -d)"
port=$((20000 + RANDOM % 20000))
tls_port=$((port + 1))
cert="$dir/cert.pem"

taskset -c 0 "$bin" serve --threads 1 --port "$port" --tls-port "$tls_port" --tls-self-signed \
  --tls-cert-out "$cert" --ping-interval 0 --www www >"$dir/serve.out" 2>"$dir/serve.err" &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [ -s "$cert" ] && break; sleep 0.05; done

echo "round scheme connections size msg/s MB/s p50_us p99_us generator_cpu"
for round in $(seq "$rounds"); do
  for case in "100 20" "10 1024" "200 16384"; do
    set -- $case
    for scheme in ws wss; do
      if [ "$scheme" = ws ]; then url="ws://127.0.0.1:$port/echo"; extra=();
      else url="wss://127.0.0.1:$tls_port/echo"; extra=(--ca "$cert"); fi
      taskset -c 1 "$bin" bench "$url" "${extra[@]}" --connections "$1" --size "$2" \
        --duration "${seconds}s" --warmup 1s --threads 1 --json |
        python3 -c 'import json, sys
d = json.loads(sys.stdin.read())
print(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], round(d["msgs_per_s"]), round(d["mb_per_s"], 1),
      round(d["latency_us"]["p50"]), round(d["latency_us"]["p99"]), round(d["generator_cpu"] or 0, 2))' \
          "$round" "$scheme" "$1" "$2"
    done
  done
done

python3 - "$server" "$port" "$tls_port" "$cert" <<'EOF'
import os, socket, ssl, sys
pid, port, tls_port, cert = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
tick = os.sysconf("SC_CLK_TCK")
def cpu():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick
n = 2000
for kind in ["plain", "TLS 1.3", "TLS 1.2"]:
    ctx = ssl.create_default_context(cafile=cert)
    if kind == "TLS 1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    before = cpu()
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port if kind == "plain" else tls_port))
        if kind != "plain":
            s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(100)
        s.close()
    print(f"{kind}: {n} connections, each a GET /healthz: {1e6 * (cpu() - before) / n:.0f} us of server CPU each")
EOF
