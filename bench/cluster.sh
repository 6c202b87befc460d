#!/usr/bin/env bash
# The backplane's fan-out benchmark: one sender and 900 receivers in /broadcast, first on one
# `wslens serve` (no Redis), then spread over three nodes sharing a real redis-server
# (`--backplane`): the sender on node 1, 300 receivers on each node; then the same with
# `--history 1000`. Same generator, same
# run, so the cross-node ÷ single-node ratio is what to read (this machine has 2 cores for
# 3 nodes + Redis + the generator). Redis's own `INFO commandstats` shows how many PUBLISHes
# the run cost against the messages sent.
#
#   bash bench/cluster.sh [SECONDS] [IN_FLIGHT]     # default 5 s per case, 8 messages in flight
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${1:-5}"
in_flight="${2:-8}"
out="$root/target/bench"
mkdir -p "$out"
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
build
command -v redis-server >/dev/null || { echo "needs Debian's redis-server (apt-get install redis-server)"; exit 1; }

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
redis_port="$(free_port)"
redis_dir="$out/cluster-redis"
mkdir -p "$redis_dir"
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$redis_dir" >/dev/null &
pids+=($!)
wait_port "$redis_port"
redis() { python3 - "$redis_port" "$@" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
args = sys.argv[2:]
s.sendall(("*%d\r\n" % len(args) + "".join("$%d\r\n%s\r\n" % (len(a), a) for a in args)).encode())
data = b""
while not data.endswith(b"\r\n") or (data.startswith(b"$") and data.count(b"\r\n") < 2):
    data += s.recv(65536)
print(data.decode(errors="replace"))
PY
}
publishes() { redis INFO commandstats | awk -F'[=,:]' '/^cmdstat_publish:/ { print $3 }'; }

start_node() { # port [flags...] → pid in $node_pid
  local port="$1"; shift
  "$wslens" serve --threads 1 --ping-interval 0 --port "$port" "$@" >/dev/null 2>&1 &
  node_pid=$!
  pids+=("$node_pid")
  wait_port "$port"
}

run_bench() { # label server_pid url [bench flags...]
  local label="$1" pid="$2" url="$3"; shift 3
  "$wslens" bench "$url" --fanout 900 --in-flight "$in_flight" --size 64 --threads 1 \
    --warmup 1s --duration "${seconds}s" --server-pid "$pid" --json "$@" || echo '{}'
}

results="$out/cluster.tsv"
: >"$results"

# One node, no Redis.
p="$(free_port)"; start_node "$p"; single="$node_pid"
json="$(run_bench single "$single" "ws://127.0.0.1:$p/broadcast")"
printf 'one node\t0\t0\t%s\n' "$json" | tee -a "$results"
kill "$single"; wait "$single" 2>/dev/null || true

# Three nodes on one Redis.
ports=()
for _ in 1 2 3; do
  p="$(free_port)"; start_node "$p" --backplane "redis://127.0.0.1:$redis_port"; ports+=("$p")
done
first="${pids[2]}"
before="$(publishes || echo 0)"
json="$(run_bench cluster "$first" "ws://127.0.0.1:${ports[0]}/broadcast" \
  --receivers-url "ws://127.0.0.1:${ports[0]}/broadcast" \
  --receivers-url "ws://127.0.0.1:${ports[1]}/broadcast" \
  --receivers-url "ws://127.0.0.1:${ports[2]}/broadcast")"
after="$(publishes || echo 0)"
printf 'three nodes over Redis\t%s\t%s\t%s\n' "${before:-0}" "${after:-0}" "$json" | tee -a "$results"
for p in "${pids[@]:2}"; do kill "$p" 2>/dev/null || true; done

# The same three nodes with --history 1000: each message is one script (XADD + PUBLISH).
ports=()
for _ in 1 2 3; do
  p="$(free_port)"; start_node "$p" --backplane "redis://127.0.0.1:$redis_port" --history 1000; ports+=("$p")
done
first="${pids[-3]}"
json="$(run_bench history "$first" "ws://127.0.0.1:${ports[0]}/broadcast" \
  --receivers-url "ws://127.0.0.1:${ports[0]}/broadcast" \
  --receivers-url "ws://127.0.0.1:${ports[1]}/broadcast" \
  --receivers-url "ws://127.0.0.1:${ports[2]}/broadcast")"
printf 'three nodes, --history 1000\t0\t0\t%s\n' "$json" | tee -a "$results"

python3 - "$results" <<'PY'
import json, sys
rows = [l.rstrip("\n").split("\t", 3) for l in open(sys.argv[1])]
print()
print("| case | deliveries/s | messages/s | send → last receiver p50 / p99 | PUBLISHes ÷ measured messages (warm-up included) | ratio to one node |")
print("|---|---:|---:|---|---:|---:|")
base = None
for label, before, after, raw in rows:
    j = json.loads(raw) if raw.strip() else {}
    if not j:
        print(f"| {label} | failed | | | | |"); continue
    d = j["deliveries_per_s"]
    base = base or d
    l = j["latency_us"]
    sent = j.get("messages") or 0
    pubs = int(after or 0) - int(before or 0)
    per = f"{pubs / sent:.2f}" if sent and pubs else "—"
    print(f"| {label} | {d:,.0f} | {j['msgs_per_s']:,.0f} | {l['p50'] / 1000:,.1f} / {l['p99'] / 1000:,.1f} ms | {per} | {d / base:.2f} |")
PY
