#!/usr/bin/env bash
# Server memory per idle WebSocket connection: wslens (`--threads 1`) and the peers of
# bench/run.sh (tokio-tungstenite, fastwebsockets, tokio-websockets, one thread each).
# For each server, bench/memory.py starts it, opens idle upgraded connections to its echo
# route in steps and reads its VmRSS from /proc before and after each step (once settled);
# the table gives RSS growth and bytes per connection.
#
#   bash bench/memory.sh [COUNTS]      # default 1000,10000,19000
#
# 19,000 needs 19,000 open files in the client and in the server: the script raises the soft
# limit to the hard one (20,000 here). Loopback only; source addresses rotate over
# 127.0.0.1-4 so ephemeral ports never run short.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
counts="${1:-1000,10000,19000}"
ulimit -n "$(ulimit -Hn)"
out="$root/target/bench"
mkdir -p "$out"

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
build peers

results="$out/memory.tsv"
: >"$results"
run() { python3 "$root/bench/memory.py" "$@" | tee -a "$results"; }
for srv in "${echo_servers[@]}"; do
  IFS='|' read -r name path cmd <<<"$srv"
  # shellcheck disable=SC2086
  run "$name" "$path" "$counts" -- $cmd
done

python3 - "$results" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
print()
print("| server | idle connections | RSS growth | per connection |")
print("|---|---:|---:|---:|")
for r in rows:
    if len(r) < 6:
        print(f"| {r[0]} | {int(r[1]):,} | {' '.join(r[2:])} | |")
        continue
    growth, per = int(r[4]), float(r[5])
    g = f"{growth / 1024:,.1f} MiB" if growth >= 10240 else f"{growth:,} KiB"
    p = f"{per / 1024:,.1f} KiB" if per >= 10240 else f"{per:,.0f} B"
    note = f" {r[6]}" if len(r) > 6 else ""
    print(f"| {r[0]} | {int(r[1]):,} | {g} | {p}{note} |")
PY
