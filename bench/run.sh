#!/usr/bin/env bash
# The echo comparison: wslens against tokio-tungstenite, fastwebsockets and tokio-websockets,
# each serving echo on one thread pinned to core 0, with `wslens bench` pinned to core 1 as
# the load generator. Servers are interleaved (A B C D, A B C D, ...) so machine drift hits all
# alike; each sample follows a warm-up that is discarded; the table reports medians, min-max
# and each peer's ratio to wslens from this run.
#
# Two passes over the same cases:
#   - closed loop: every echo sends the next message; the rate is what the slower of server
#     and generator allows (on this 2-core machine the generator saturates first on every
#     efficient server, so watch the generator CPU column);
#   - fixed load (`wslens bench --rate`): the same offered rate for every server, below what
#     any of the fast ones can take; the server's CPU time (`--server-pid`, from /proc) then
#     says what the load costs it, kernel included: messages per server CPU-second.
#
#   bash bench/run.sh [SAMPLES] [SECONDS]      # defaults: 3 samples of 5 s per server and case
#   PASSES="closed" bash bench/run.sh          # only one pass ("closed", "fixed" or both)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
samples="${1:-3}"
seconds="${2:-5}"
server_core="${SERVER_CORE:-0}"
client_core="${CLIENT_CORE:-1}"
out="$root/target/bench"
mkdir -p "$out"

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
build peers

passes="${PASSES:-closed fixed}"
# label|bench arguments|fixed offered load (msg/s) for the second pass
cases=(
  "100 x 20 B|--connections 100 --size 20 --binary|60000"
  "10 x 1 KiB|--connections 10 --size 1024 --binary|30000"
  "200 x 16 KiB|--connections 200 --size 16384 --binary|40000"
  "500 x 16 KiB|--connections 500 --size 16384 --binary|30000"
  "1000 x 20 B|--connections 1000 --size 20 --binary|50000"
  "100 x 1 KiB text|--connections 100 --size 1024 --text|50000"
)

results="$out/results.tsv"
: >"$results"
for pass in $passes; do
for c in "${cases[@]}"; do
  IFS='|' read -r label args rate <<<"$c"
  [ "$pass" = fixed ] && args="$args --rate $rate"
  for ((s = 1; s <= samples; s++)); do
    for srv in "${echo_servers[@]}" "$floor_server"; do
      IFS='|' read -r name path cmd <<<"$srv"
      port="$(free_port)"
      # A simple command in the background: taskset execs the server, so $! is the server's
      # own pid (its CPU time is read from /proc).
      # shellcheck disable=SC2086
      taskset -c "$server_core" $cmd "$port" >/dev/null 2>&1 &
      pid=$!
      wait_port "$port" || { echo "$name did not start"; kill "$pid"; exit 1; }
      # shellcheck disable=SC2086
      json="$(taskset -c "$client_core" "$wslens" bench "ws://127.0.0.1:$port$path" $args \
        --threads 1 --warmup 1s --duration "${seconds}s" --server-pid "$pid" --json || echo '{}')"
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      row="$(python3 -c 'import json,sys; j = json.loads(sys.argv[1]); print("\t".join(str(j.get(k) or 0) for k in ("msgs_per_s", "generator_cpu", "server_cpu", "late", "server_user")))' "$json")"
      printf '%s\t%s\t%s\t%s\t%s\n' "$pass" "$label" "$name" "$s" "$row" | tee -a "$results"
    done
  done
done
done

python3 - "$results" <<'PY'
import statistics, sys
from collections import defaultdict
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
rate, gen, srv, late, user = (defaultdict(list) for _ in range(5))
passes, cases, names = [], [], []
for p, case, name, _, r, g, s, lt, u in rows:
    k = (p, case, name)
    rate[k].append(float(r)); gen[k].append(float(g)); srv[k].append(float(s)); late[k].append(float(lt)); user[k].append(float(u))
    for lst, v in ((passes, p), (cases, case), (names, name)):
        if v not in lst: lst.append(v)
med = statistics.median
def cell(vals, ref):
    s = "%.0f (%.0f-%.0f)" % (med(vals), min(vals), max(vals))
    return s if ref is None else s + " %.2f×" % (med(vals) / ref if ref else 0)
peers = [n for n in names if n != "wslens"]
if "closed" in passes:
    print("\n**Closed loop**: msg/s, median (min-max); peer ÷ wslens; generator and server CPU (medians, % of a core); the server CPU's share in user space\n")
    print("| case | " + " | ".join(names) + " | wslens ÷ best peer | generator CPU | server CPU | server user share |")
    print("|---|" + "---:|" * (len(names) + 4))
    for case in cases:
        m = {n: med(rate[("closed", case, n)]) for n in names}
        cells = [cell(rate[("closed", case, n)], None if n == "wslens" else m["wslens"]) for n in names]
        best = max(m[n] for n in peers if n != "floor")
        gcpu = "/".join("%.0f" % (100 * med(gen[("closed", case, n)])) for n in names)
        scpu = "/".join("%.0f" % (100 * med(srv[("closed", case, n)])) for n in names)
        ushare = "/".join("%.0f%%" % (100 * med(user[("closed", case, n)])) for n in names)
        print("| %s | %s | %.2f | %s | %s | %s |" % (case, " | ".join(cells), m["wslens"] / best if best else 0, gcpu, scpu, ushare))
if "fixed" in passes:
    print("\n**Fixed load**: messages per server CPU-second (achieved msg/s ÷ server CPU), median (min-max); peer ÷ wslens; achieved msg/s and late sends (medians)\n")
    print("| case (offered) | " + " | ".join(names) + " | wslens ÷ best peer | achieved msg/s | late sends |")
    print("|---|" + "---:|" * (len(names) + 3))
    for case in cases:
        eff = {n: [r / s if s else 0 for r, s in zip(rate[("fixed", case, n)], srv[("fixed", case, n)])] for n in names}
        m = {n: med(eff[n]) for n in names}
        cells = [cell(eff[n], None if n == "wslens" else m["wslens"]) for n in names]
        best = max(m[n] for n in peers if n != "floor")
        ach = "/".join("%.0f" % med(rate[("fixed", case, n)]) for n in names)
        lt = "/".join("%.0f" % med(late[("fixed", case, n)]) for n in names)
        print("| %s | %s | %.2f | %s | %s |" % (case, " | ".join(cells), m["wslens"] / best if best else 0, ach, lt))
if "fixed" in passes and "floor" in names:
    # Server CPU per message at the same offered load: CPU share ÷ achieved rate, in µs.
    print("\n**Server CPU per message at a fixed load** (µs of server CPU, user + kernel, per echoed message: server CPU ÷ achieved msg/s), median (min-max); each ÷ the floor; wslens ÷ the best peer\n")
    print("| case (offered) | " + " | ".join(names) + " | wslens ÷ floor | wslens ÷ best peer |")
    print("|---|" + "---:|" * (len(names) + 2))
    for case in cases:
        us = {n: [1e6 * s / r if r else 0 for r, s in zip(rate[("fixed", case, n)], srv[("fixed", case, n)])] for n in names}
        m = {n: med(us[n]) for n in names}
        cells = ["%.2f (%.2f-%.2f)%s" % (m[n], min(us[n]), max(us[n]), "" if n == "floor" else " %.2f×" % (m[n] / m["floor"] if m["floor"] else 0)) for n in names]
        best = min(m[n] for n in peers if n != "floor")
        print("| %s | %s | %.2f | %.2f |" % (case, " | ".join(cells), m["wslens"] / m["floor"] if m["floor"] else 0, m["wslens"] / best if best else 0))
print("\nColumns with several values list the servers in the table's order: " + ", ".join(names) + ".")
PY
