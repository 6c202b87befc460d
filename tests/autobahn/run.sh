#!/usr/bin/env bash
# Autobahn|Testsuite fuzzingclient against `wslens serve` /echo: all 517 cases, sections 12
# and 13 (permessage-deflate, RFC 7692) included; every case must be OK or INFORMATIONAL in
# both `behavior` and `behaviorClose` (NON-STRICT and UNIMPLEMENTED fail).
#
#   bash tests/autobahn/run.sh [CASES EXPECTED]   # CASES: JSON list, default ["*"] (517 cases)
#   AUTOBAHN_TLS=1 bash tests/autobahn/run.sh [CASES EXPECTED]   # the same over wss:// (--tls-self-signed)
#
# EXPECTED is how many cases CASES selects: the report must hold exactly that many results.
#
# Installs the suite (autobahntestsuite 0.8.2, Python 2.7 from pyenv) under target/ once.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

cases="${1:-[\"*\"]}"
expected="${2:-517}"
if [ $# -eq 1 ]; then echo "run.sh: with CASES, give EXPECTED (the number of cases they select)"; exit 2; fi
report="$root/target/autobahn-report"
scheme=ws
tls_args=()
if [ "${AUTOBAHN_TLS:-0}" = 1 ]; then
  # wstest's client does not verify certificates: the server's own is good enough.
  report="$root/target/autobahn-report-tls"
  scheme=wss
fi

. tests/autobahn/lib.sh
install_autobahn
port="${AUTOBAHN_PORT:-$(free_port)}"
if [ "$scheme" = wss ]; then
  tls_args=(--tls-self-signed --tls-only --tls-port "$port" --tls-cert-out "$root/target/autobahn-cert.pem")
fi

cargo build --release -p wslens-server --quiet
./target/release/wslens serve --port "$port" --threads 1 --www www "${tls_args[@]}" \
  >"$root/target/autobahn-server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
wait_port "$port"

rm -rf "$report"
mkdir -p "$report"
cat >"$report/spec.json" <<JSON
{
  "outdir": "$report",
  "servers": [{"agent": "wslens", "url": "$scheme://127.0.0.1:$port/echo"}],
  "cases": $cases,
  "exclude-cases": [],
  "exclude-agent-cases": {}
}
JSON
echo "==> wstest -m fuzzingclient over $scheme:// (cases $cases)"
started=$SECONDS
(cd "$report" && wstest -m fuzzingclient -s spec.json >"$report/wstest.log" 2>&1)
echo "wstest took $((SECONDS - started)) s"

kill -TERM $server
wait $server || { echo "server exited with an error"; exit 1; }
trap - EXIT

check_report "$report/index.json" wslens "$expected"
