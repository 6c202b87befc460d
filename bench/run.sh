#!/usr/bin/env bash
# The echo comparison: wslens against tokio-tungstenite, fastwebsockets and tokio-websockets,
# each serving echo on one thread pinned to core 0, with `wslens bench` pinned to core 1 as
# the load generator. Servers are interleaved (A B C D, A B C D, ...) so machine drift hits all
# alike; each sample follows a warm-up that is discarded; the table reports medians, min-max
# and each peer's ratio to wslens from this run.
#
#   bash bench/run.sh [SAMPLES] [SECONDS]      # defaults: 3 samples of 5 s per server and case
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
samples="${1:-3}"
seconds="${2:-5}"
server_core="${SERVER_CORE:-0}"
client_core="${CLIENT_CORE:-1}"
out="$root/target/bench"
mkdir -p "$out"

cargo build --release -p wslens-server --quiet
(cd bench && cargo build --release --quiet)
wslens="$root/target/release/wslens"
peers="$root/bench/target/release"

# name|command (the port is appended)
servers=(
  "wslens|$wslens serve --threads 1 --ping-interval 0 --port"
  "tokio-tungstenite|$peers/echo_tungstenite"
  "fastwebsockets|$peers/echo_fastwebsockets"
  "tokio-websockets|$peers/echo_tokio_websockets"
)
# label|bench arguments
cases=(
  "100 x 20 B|--connections 100 --size 20 --binary"
  "10 x 1 KiB|--connections 10 --size 1024 --binary"
  "200 x 16 KiB|--connections 200 --size 16384 --binary"
  "500 x 16 KiB|--connections 500 --size 16384 --binary"
  "1000 x 20 B|--connections 1000 --size 20 --binary"
  "100 x 1 KiB text|--connections 100 --size 1024 --text"
)

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  return 1
}

results="$out/results.tsv"
: >"$results"
for c in "${cases[@]}"; do
  label="${c%%|*}"
  args="${c#*|}"
  for ((s = 1; s <= samples; s++)); do
    for srv in "${servers[@]}"; do
      name="${srv%%|*}"
      cmd="${srv#*|}"
      port="$(free_port)"
      # shellcheck disable=SC2086
      taskset -c "$server_core" $cmd "$port" >/dev/null 2>&1 &
      pid=$!
      wait_port "$port" || { echo "$name did not start"; kill "$pid"; exit 1; }
      path=/echo
      [ "$name" = wslens ] || path=/
      # shellcheck disable=SC2086
      json="$(taskset -c "$client_core" "$wslens" bench "ws://127.0.0.1:$port$path" $args \
        --threads 1 --warmup 1s --duration "${seconds}s" --json || echo '{}')"
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      rate="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("msgs_per_s", 0))' "$json")"
      cpu="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("generator_cpu") or 0)' "$json")"
      printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$name" "$s" "$rate" "$cpu" | tee -a "$results"
    done
  done
done

python3 - "$results" <<'PY'
import statistics, sys
from collections import defaultdict
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
data = defaultdict(list)
cpu = defaultdict(list)
cases, names = [], []
for case, name, _, rate, gcpu in rows:
    data[(case, name)].append(float(rate))
    cpu[case].append(float(gcpu))
    if case not in cases: cases.append(case)
    if name not in names: names.append(name)
print("\n| case | " + " | ".join(names) + " | best peer ÷ wslens | generator CPU |")
print("|---|" + "---|" * (len(names) + 2))
for case in cases:
    med = {n: statistics.median(data[(case, n)]) for n in names}
    cells = []
    for n in names:
        v = data[(case, n)]
        cells.append("%.0f (%.0f-%.0f)%s" % (med[n], min(v), max(v), "" if n == "wslens" else " %.2f×" % (med[n] / med["wslens"] if med["wslens"] else 0)))
    best = max(med[n] for n in names if n != "wslens")
    print("| %s | %s | %.2f | %.0f%% |" % (case, " | ".join(cells), best / med["wslens"] if med["wslens"] else 0, 100 * max(cpu[case])))
print("\nmsg/s, median (min-max) of the samples; ratios are peer ÷ wslens from this run.")
PY
