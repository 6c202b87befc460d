#!/usr/bin/env bash
# Autobahn|Testsuite fuzzingserver against the wslens client (server/examples/autobahn_client.rs)
# offering permessage-deflate: all 517 cases (sections 12 and 13 compressed), every case OK or
# INFORMATIONAL in both `behavior` and `behaviorClose`.
#
#   bash tests/autobahn/client.sh [CASES EXPECTED]   # CASES: JSON list, default ["*"] (517 cases)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
. tests/autobahn/lib.sh

cases="${1:-[\"*\"]}"
expected="${2:-517}"  # how many cases CASES selects: the report must hold exactly that many
if [ $# -eq 1 ]; then echo "client.sh: with CASES, give EXPECTED (the number of cases they select)"; exit 2; fi
port="${AUTOBAHN_CLIENT_PORT:-$(free_port)}"
report="$root/target/autobahn-client-report"
install_autobahn
cargo build --release -p wslens-server --example autobahn_client --quiet

rm -rf "$report"
mkdir -p "$report"
cat >"$report/spec.json" <<JSON
{
  "url": "ws://127.0.0.1:$port",
  "outdir": "$report",
  "cases": $cases,
  "exclude-cases": [],
  "exclude-agent-cases": {}
}
JSON
echo "==> wstest -m fuzzingserver (cases $cases)"
(cd "$report" && wstest -m fuzzingserver -s spec.json >"$report/wstest.log" 2>&1) &
fuzzingserver=$!
trap 'kill $fuzzingserver 2>/dev/null || true' EXIT
wait_port "$port"
started=$SECONDS
./target/release/examples/autobahn_client "ws://127.0.0.1:$port" --deflate 2>"$report/client.log"
echo "the client ran the cases in $((SECONDS - started)) s"
kill $fuzzingserver 2>/dev/null || true
trap - EXIT
check_report "$report/index.json" wslens "$expected"
