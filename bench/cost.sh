#!/usr/bin/env bash
# What each echo server costs per message, measured on the server alone and independent of the
# load generator's speed: the same four servers as bench/run.sh (wslens `serve --threads 1` and
# the tokio-tungstenite, fastwebsockets and tokio-websockets peers), one at a time, with
# `wslens bench --threads 1` as the generator.
#
#   1. user-space instructions per message: the server runs under `valgrind --tool=callgrind`
#      (Ir, all of its threads, libraries included; the kernel is not counted), twice over:
#      `callgrind` with glibc's memcpy/memset switched to their vector loops (GLIBC_TUNABLES,
#      below), because valgrind counts a `rep movsb`/`rep stosb` once per byte, and
#      `callgrind-rep` with glibc's defaults, i.e. the binaries exactly as they run;
#   2. system calls per message, by name: the server runs under `strace -f -c`.
#
# Each server and case runs twice, with M1 and M2 echoed messages (by the generator's count),
# and the tables report (cost2 - cost1) / (n2 - n1): start-up, the handshakes, the closes and
# shutdown are the same in both runs and cancel (the server is stopped only after it has closed
# every connection). Counts do not depend on the machine's load; they do depend a little on
# batching (how many ready connections one `epoll_wait` returns, how many frames one `read`
# holds), which is timing: under valgrind or strace the server is the slow side, so it finds
# most connections ready at every wake-up. Repeated runs agreed within 1 % (callgrind, strace)
# and 6 % (callgrind-rep, whose runs are 10× shorter).
#
# Run time: 6½ minutes on this 2-core VM, builds aside (4 cases × 4 servers × 2 counts ×
# 3 tools = 96 server runs; each start and stop under valgrind costs a few seconds). Valgrind
# slows user-space code 20-50×, but on loopback most of an echo is the kernel's, so the servers
# still echo 1k-30k msg/s under callgrind and 15k-25k under strace; hence M1/M2 of
# 20,000/60,000 (10,000/30,000 for 16 KiB) per case below. For `callgrind-rep` they are divided
# by REP_DIV (10): tokio-tungstenite zeroes its 128 KiB read buffer on every read, and valgrind
# runs that `rep stosb` byte by byte, at ~150 echoes/s.
#
#   bash bench/cost.sh
#   CASES="small 16k" SERVERS="wslens fastwebsockets" TOOLS=callgrind bash bench/cost.sh
#
# Environment (all optional):
#   CASES     case ids, from: small (100 × 20 B), 1k (10 × 1 KiB), 16k (200 × 16 KiB),
#             text (100 × 1 KiB text), 500x16k, 1000x20   [default: small 1k 16k text]
#   SERVERS   from: wslens tokio-tungstenite fastwebsockets tokio-websockets floor [default: all]
#   TOOLS     from: callgrind callgrind-rep strace          [default: all three]
#   M1, M2    message counts for every case, instead of the per-case defaults
#   REP_DIV   divisor of M1 and M2 for callgrind-rep [default: 10]
#   SERVER_CORE, CLIENT_CORE   cores for the server and the generator [default: 0 and 1]
#   REPORT_ONLY=1   print the tables of the last run again (from target/cost/results.tsv)
#
# Output: Markdown tables on stdout; raw data (callgrind.out files, strace summaries,
# generator JSON, results.tsv) in target/cost/. Every server process started here is stopped
# by its PID (SIGTERM), also when the script fails or is interrupted.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
server_core="${SERVER_CORE:-0}"
client_core="${CLIENT_CORE:-1}"
want_cases="${CASES:-small 1k 16k text}"
want_servers="${SERVERS:-wslens tokio-tungstenite fastwebsockets tokio-websockets floor}"
tools="${TOOLS:-callgrind callgrind-rep strace}"
rep_div="${REP_DIV:-10}"
# For `callgrind`: glibc's memcpy/memmove/memset use their vector loops at every size instead of
# `rep movsb`/`rep stosb` above a threshold (2-8 KiB). Valgrind counts a rep string instruction
# once per byte (and emulates it byte by byte, slowly), while the hardware moves 32-64 bytes per
# cycle, so with the defaults a large copy or memset weighs 10-30× more in Ir than in time.
vector_loops="glibc.cpu.x86_rep_movsb_threshold=0xffffffffffff:glibc.cpu.x86_rep_stosb_threshold=0xffffffffffff"
out="$root/target/cost"
results="$out/results.tsv"
# The Markdown tables, from $results.
tables() {
  python3 - "$results" "$rep_div" <<'PY'
import sys
from collections import defaultdict

rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
msgs = {}                      # (tool, case, server, run) -> messages
vals = defaultdict(int)        # (tool, case, server, run, key) -> count
cases, names, keys = [], [], defaultdict(list)
for tool, case, name, run, n, key, v in rows:
    msgs[(tool, case, name, run)] = int(n)
    vals[(tool, case, name, run, key)] += int(v)
    if case not in cases: cases.append(case)
    if name not in names: names.append(name)
    if key not in keys[tool]: keys[tool].append(key)

def per_msg(tool, case, name, keys_):
    """(cost2 - cost1) / (n2 - n1) summed over keys_, or None when a run is missing."""
    if (tool, case, name, "1") not in msgs or (tool, case, name, "2") not in msgs:
        return None
    dn = msgs[(tool, case, name, "2")] - msgs[(tool, case, name, "1")]
    dv = sum(vals[(tool, case, name, "2", k)] - vals[(tool, case, name, "1", k)] for k in keys_)
    return dv / dn if dn else None

def table(tool, keys_, fmt, title):
    present = [n for n in names if any((tool, c, n, "1") in msgs for c in cases)]
    if not present:
        return
    print(f"\n{title}\n")
    print("| case | " + " | ".join(present) + " |")
    print("|---|" + "---:|" * len(present))
    for case in cases:
        base = per_msg(tool, case, "wslens", keys_)
        cells = []
        for n in present:
            v = per_msg(tool, case, n, keys_)
            if v is None:
                cells.append("–")
            elif n == "wslens":
                floor = per_msg(tool, case, "floor", keys_)
                cells.append(f"{fmt(v)} ({v / floor:.2f} × floor)" if floor else fmt(v))
            elif not base:
                cells.append(fmt(v))
            else:
                cells.append(f"{fmt(v)} ({v / base:.2f} ×)")
        print(f"| {case} | " + " | ".join(cells) + " |")

table("callgrind", ["Ir"], lambda v: f"{v:,.0f}",
      "**User-space instructions per echoed message** (callgrind Ir, (Ir₂ − Ir₁) / (n₂ − n₁), "
      "glibc's memcpy/memset as vector loops; in brackets: ÷ wslens)")
table("callgrind-rep", ["Ir"], lambda v: f"{v:,.0f}",
      "**The same with glibc's defaults** (`rep movsb`/`rep stosb` above 2-8 KiB, which "
      "valgrind counts once per byte; M₁ and M₂ divided by %s; in brackets: ÷ wslens)"
      % sys.argv[2])
if keys["strace"]:
    table("strace", keys["strace"], lambda v: f"{v:.2f}",
          "**System calls per echoed message**, all kinds (strace -f -c, differential; "
          "in brackets: ÷ wslens)")
    # By name: one row per case and server; a column for every system call that some server
    # makes at least 0.005 times per message in some case, the rest under "other".
    present = [n for n in names if any(("strace", c, n, "1") in msgs for c in cases)]
    order = ["read", "recvfrom", "readv", "write", "sendto", "writev", "sendmsg",
             "epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl", "timerfd_settime"]
    per = {(c, n): {k: per_msg("strace", c, n, [k]) for k in keys["strace"]}
           for c in cases for n in present}
    shown = [k for k in keys["strace"]
             if any(v[k] is not None and abs(v[k]) >= 0.005 for v in per.values())]
    shown.sort(key=lambda k: (order.index(k) if k in order else len(order), k))
    print("\n**System calls per echoed message, by name** (differential)\n")
    print("| case | server | " + " | ".join(f"`{k}`" for k in shown) + " | other | total |")
    print("|---|---|" + "---:|" * (len(shown) + 2))
    for c in cases:
        for n in present:
            v = per[(c, n)]
            if any(x is None for x in v.values()):
                continue
            other = sum(x for k, x in v.items() if k not in shown)
            z = lambda x, d: f"{round(x, d) + 0.0:.{d}f}"  # no "-0.000"
            cells = [z(v[k], 3) for k in shown] + [z(other, 3), z(sum(v.values()), 2)]
            print(f"| {c} | {n} | " + " | ".join(cells) + " |")
print("\nDifferential over two runs per server and case (M₁ and M₂ echoes by the generator's "
      "count); start-up, handshakes and shutdown cancel.")
PY
}
# REPORT_ONLY=1: print the tables of the last run again, and stop.
if [ "${REPORT_ONLY:-0}" = 1 ]; then
  tables
  exit 0
fi
rm -rf "$out"
mkdir -p "$out"
# valgrind and strace, installed only when missing.
need=()
command -v valgrind >/dev/null || need+=(valgrind)
command -v strace >/dev/null || need+=(strace)
command -v ss >/dev/null || need+=(iproute2)
if [ "${#need[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get install -y "${need[@]}"
fi

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
build peers

# id|label|M1|M2|bench arguments
cases=(
  "small|100 × 20 B|20000|60000|--connections 100 --size 20 --binary"
  "1k|10 × 1 KiB|20000|60000|--connections 10 --size 1024 --binary"
  "16k|200 × 16 KiB|10000|30000|--connections 200 --size 16384 --binary"
  "text|100 × 1 KiB text|20000|60000|--connections 100 --size 1024 --text"
  "500x16k|500 × 16 KiB|10000|30000|--connections 500 --size 16384 --binary"
  "1000x20|1,000 × 20 B|20000|60000|--connections 1000 --size 20 --binary"
)

# Waits (up to 60 s) until the server has no connection left on port $1 that it has not
# closed: the generator has closed all of them when it exits, and the server must have handled
# every close before it is stopped, or the teardown differs between the two runs.
wait_closed() {
  for _ in $(seq 600); do
    [ -z "$(ss -Htn state established state close-wait state syn-recv "( sport = :$1 )")" ] && return 0
    sleep 0.1
  done
  echo "warning: the server on port $1 still has open connections after 60 s" >&2
}
# Writes its own PID to the file named by $0, then becomes "$@": the PID written is the
# process that ends up running the command (valgrind, strace, or the server under strace).
launch='echo $$ >"$0"; exec "$@"'

# The processes of the current run, for the exit trap: the server's job ($!), the file with the
# server's PID, and the generator's job.
job=""
server_pid_file=""
stop_server() {
  # SIGTERM to the PID we started: background jobs of a non-interactive shell ignore SIGINT,
  # and the tokio peers install no handler, so SIGINT would not stop them; SIGTERM's default
  # action ends them, valgrind still writes its callgrind.out, strace its summary, and wslens
  # shuts down gracefully on it.
  local pid=""
  [ -n "$server_pid_file" ] && [ -s "$server_pid_file" ] && pid="$(cat "$server_pid_file")"
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
  if [ -n "$job" ]; then
    for _ in $(seq 300); do kill -0 "$job" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$job" 2>/dev/null; then
      echo "server (job $job) did not stop on SIGTERM within 30 s: killing it" >&2
      [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
      kill -KILL "$job" 2>/dev/null || true
    fi
    wait "$job" 2>/dev/null || true
  fi
  job=""
  server_pid_file=""
}
generator=""
cleanup() {
  if [ -n "$generator" ]; then
    kill -TERM "$generator" 2>/dev/null || true
    wait "$generator" 2>/dev/null || true
  fi
  stop_server
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run TOOL SERVER-NAME PATH "CMD" CASE-ID LABEL ARGS M RUN
run() {
  local tool="$1" name="$2" path="$3" cmd="$4" id="$5" label="$6" args="$7" m="$8" r="$9"
  local tag="$out/$tool.$id.$name.$r" port
  port="$(free_port)"
  case "$tool" in
    callgrind | callgrind-rep)
      server_pid_file="$tag.pid"
      local tunables="$vector_loops"
      [ "$tool" = callgrind ] || tunables="${GLIBC_TUNABLES:-}"
      # shellcheck disable=SC2086
      GLIBC_TUNABLES="$tunables" taskset -c "$server_core" sh -c "$launch" "$tag.pid" \
        valgrind --tool=callgrind --callgrind-out-file="$tag.out" $cmd "$port" >"$tag.log" 2>&1 &
      job=$!
      ;;
    strace)
      server_pid_file="$tag.pid"
      # strace's own PID is the job; the server's (the traced child) is in $tag.pid.
      # shellcheck disable=SC2086
      taskset -c "$server_core" strace -f -c -U name,calls,errors -o "$tag.out" \
        sh -c "$launch" "$tag.pid" $cmd "$port" >"$tag.log" 2>&1 &
      job=$!
      ;;
  esac
  # (valgrind takes a second or two to start a server: up to 30 s)
  wait_port "$port" 600 || { echo "$name under $tool did not start (see $tag.log)" >&2; exit 1; }
  # The generator runs in the background so that a signal to this script is handled at once.
  # shellcheck disable=SC2086
  taskset -c "$client_core" timeout 900 "$wslens" bench "ws://127.0.0.1:$port$path" \
    $args --threads 1 --warmup 0s --messages "$m" --json >"$tag.json" &
  generator=$!
  wait "$generator" || {
    echo "the generator failed against $name under $tool ($label, $m messages)" >&2
    exit 1
  }
  generator=""
  local json
  json="$(cat "$tag.json")"
  wait_closed "$port"
  stop_server
  python3 - "$tool" "$label" "$name" "$r" "$tag" "$json" >>"$results" <<'PY'
import json, sys
tool, label, name, r, tag, report = sys.argv[1:]
report = json.loads(report)
if report.get("mismatches"):
    sys.exit(f"{name}: {report['mismatches']} echoes differed from what was sent")
rows = []
if tool.startswith("callgrind"):
    totals = [l.split()[1] for l in open(tag + ".out") if l.startswith("totals:")]
    if not totals:
        sys.exit(f"{tag}.out: no totals line (callgrind did not finish writing)")
    rows.append(("Ir", int(totals[0])))
else:
    lines = open(tag + ".out").read().splitlines()
    if not any(l.startswith("total") for l in lines):
        sys.exit(f"{tag}.out: no strace summary")
    for l in lines:
        f = l.split()
        if len(f) >= 2 and f[0] not in ("syscall", "total") and not f[0].startswith("-"):
            rows.append((f[0], int(f[1])))
for key, value in rows:
    print(f"{tool}\t{label}\t{name}\t{r}\t{report['messages']}\t{key}\t{value}")
PY
  printf '%-9s %-18s %-17s %s messages in %.1f s\n' "$tool" "$label" "$name" \
    "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["messages"])' "$json")" \
    "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["seconds"])' "$json")" >&2
}

: >"$results"
start=$SECONDS
for tool in $tools; do
  for c in "${cases[@]}"; do
    IFS='|' read -r id label m1 m2 args <<<"$c"
    [[ " $want_cases " == *" $id "* ]] || continue
    m1="${M1:-$m1}"
    m2="${M2:-$m2}"
    if [ "$tool" = callgrind-rep ]; then
      m1=$((m1 / rep_div))
      m2=$((m2 / rep_div))
    fi
    for srv in "${echo_servers[@]}" "$floor_server"; do
      IFS='|' read -r name path cmd <<<"$srv"
      [[ " $want_servers " == *" $name "* ]] || continue
      run "$tool" "$name" "$path" "$cmd" "$id" "$label" "$args" "$m1" 1
      run "$tool" "$name" "$path" "$cmd" "$id" "$label" "$args" "$m2" 2
    done
  done
done
echo "measured in $((SECONDS - start)) s" >&2
tables
