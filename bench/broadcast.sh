#!/usr/bin/env bash
# The broadcast benchmark: `wslens serve --threads 1` pinned to core 0, `wslens bench --fanout`
# pinned to core 1, one sender and 1,000 receivers in `/broadcast`. Cases: lock-step (one
# message in flight: latency), pipelined (64 in flight: throughput), and 10 stalled receivers
# (64 KiB messages) with the default policy (close 1008 past --max-backpressure) and with
# --drop-on-backpressure, where the server's peak RSS (VmHWM) shows whether memory stays
# bounded. The generator reads the server's CPU time (--server-pid), so each row also gives
# deliveries per server CPU-second, which a shared machine does not distort as much as the
# wall-clock rate.
#
#   bash bench/broadcast.sh [SECONDS]      # default 5 s per case after a 1 s warm-up
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${1:-5}"
server_core="${SERVER_CORE:-0}"
client_core="${CLIENT_CORE:-1}"
out="$root/target/bench"
mkdir -p "$out"
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
build
status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# label|server flags|bench flags
cases=(
  "lock-step, 20 B||--fanout 1000 --in-flight 1 --size 20"
  "pipelined, 20 B||--fanout 1000 --in-flight 64 --size 20"
  "pipelined, 1 KiB||--fanout 1000 --in-flight 64 --size 1024"
  "10 stalled, 64 KiB, close 1008||--fanout 1000 --stalled 10 --in-flight 8 --size 65536"
  "10 stalled, 64 KiB, drop|--drop-on-backpressure|--fanout 1000 --stalled 10 --in-flight 8 --size 65536"
)
results="$out/broadcast.tsv"
: >"$results"
for c in "${cases[@]}"; do
  IFS='|' read -r label sflags bflags <<<"$c"
  port="$(free_port)"
  # shellcheck disable=SC2086
  taskset -c "$server_core" "$wslens" serve --threads 1 --ping-interval 0 --port "$port" $sflags \
    >/dev/null 2>&1 &
  pid=$!
  wait_port "$port" || { echo "the server did not start"; kill "$pid"; exit 1; }
  rss0="$(status_kib "$pid" VmRSS)"
  # shellcheck disable=SC2086
  json="$(taskset -c "$client_core" "$wslens" bench "ws://127.0.0.1:$port/broadcast" $bflags \
    --threads 1 --warmup 1s --duration "${seconds}s" --server-pid "$pid" --json || echo '{}')"
  hwm="$(status_kib "$pid" VmHWM)"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  printf '%s\t%s\t%s\t%s\n' "$label" "$rss0" "$hwm" "$json" | tee -a "$results"
done

python3 - "$results" <<'PY'
import json, sys
print()
print("| case | deliveries/s | msg/s | send → last receiver p50 / p99 / max | deliveries per read | generator CPU | server CPU | deliveries per server CPU-s | server RSS before → peak |")
print("|---|---:|---:|---|---:|---:|---:|---:|---:|")
for line in open(sys.argv[1]):
    label, rss0, hwm, raw = line.rstrip("\n").split("\t", 3)
    j = json.loads(raw)
    if not j:
        print(f"| {label} | failed | | | | | | | |")
        continue
    l = j["latency_us"]
    ms = lambda us: f"{us / 1000:,.1f}"
    gen = f"{j['generator_cpu'] * 100:.0f} %" + (" (saturated)" if j["generator_saturated"] else "")
    srv = f"{j['server_cpu'] * 100:.0f} %" if j["server_cpu"] is not None else "?"
    per = f"{j['deliveries_per_server_cpu_s']:,}" if j["deliveries_per_server_cpu_s"] else "?"
    print(f"| {label} | {j['deliveries_per_s']:,.0f} | {j['msgs_per_s']:,.0f} "
          f"| {ms(l['p50'])} / {ms(l['p99'])} / {ms(l['max'])} ms | {j['deliveries_per_read']:.1f} "
          f"| {gen} | {srv} | {per} | {int(rss0) / 1024:,.1f} → {int(hwm) / 1024:,.1f} MiB |")
PY
