#!/usr/bin/env bash
# Autobahn|Testsuite fuzzingclient against `wslens serve` /echo: sections 1-10, every case
# must be OK or INFORMATIONAL in both `behavior` and `behaviorClose` (NON-STRICT fails).
#
#   bash tests/autobahn/run.sh [CASES]      # CASES: JSON list, default ["1.*", ..., "10.*"]
#
# Installs the suite (autobahntestsuite 0.8.2, Python 2.7 from pyenv) under target/ once.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

cases="${1:-[\"1.*\", \"2.*\", \"3.*\", \"4.*\", \"5.*\", \"6.*\", \"7.*\", \"8.*\", \"9.*\", \"10.*\"]}"
port="${AUTOBAHN_PORT:-9001}"
site="$root/target/autobahn-py2"
report="$root/target/autobahn-report"

find_py2() {
  for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/2.7*/bin/python2.7 "$(command -v python2.7 || true)"; do
    [ -x "$p" ] && { echo "$p"; return; }
  done
  return 1
}
py2="$(find_py2)" || { echo "Autobahn needs Python 2.7 (pyenv install 2.7.18)"; exit 1; }
if [ ! -f "$site/.installed" ]; then
  echo "==> installing autobahntestsuite 0.8.2 into $site"
  "$py2" -m pip install --quiet --disable-pip-version-check --target "$site" autobahntestsuite==0.8.2
  touch "$site/.installed"
fi

cargo build --release -p wslens-server --quiet
./target/release/wslens serve --port "$port" --threads 1 --www www >"$root/target/autobahn-server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

rm -rf "$report"
mkdir -p "$report"
cat >"$report/spec.json" <<JSON
{
  "outdir": "$report",
  "servers": [{"agent": "wslens", "url": "ws://127.0.0.1:$port/echo"}],
  "cases": $cases,
  "exclude-cases": [],
  "exclude-agent-cases": {}
}
JSON
echo "==> wstest -m fuzzingclient (cases $cases)"
(cd "$report" && "$py2" -c "
import site, sys
site.addsitedir('$site')
sys.argv = ['wstest', '-m', 'fuzzingclient', '-s', 'spec.json']
from autobahntestsuite.wstest import run
run()
" >"$report/wstest.log" 2>&1)

kill -TERM $server
wait $server || { echo "server exited with an error"; exit 1; }
trap - EXIT

python3 - "$report/index.json" <<'PY'
import json, sys
index = json.load(open(sys.argv[1]))
ok = {"OK", "INFORMATIONAL"}
results = index["wslens"]
bad = {case: (r["behavior"], r["behaviorClose"]) for case, r in results.items()
       if r["behavior"] not in ok or r["behaviorClose"] not in ok}
counts = {}
for r in results.values():
    counts[r["behavior"]] = counts.get(r["behavior"], 0) + 1
print("autobahn: %d cases, behavior %s" % (len(results), counts))
for case in sorted(bad, key=lambda c: [int(x) for x in c.split(".")]):
    print("  FAILED %s: behavior=%s behaviorClose=%s" % (case, *bad[case]))
print("%d passed, %d failed" % (len(results) - len(bad), len(bad)))
sys.exit(1 if bad or not results else 0)
PY
