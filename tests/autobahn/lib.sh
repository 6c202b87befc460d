# Shared by run.sh (fuzzingclient) and client.sh (fuzzingserver): installs Autobahn|Testsuite
# 0.8.2 for pyenv's Python 2.7 under target/ once, and runs wstest.
find_py2() {
  for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/2.7*/bin/python2.7 "$(command -v python2.7 || true)"; do
    [ -x "$p" ] && { echo "$p"; return; }
  done
  return 1
}

install_autobahn() {
  py2="$(find_py2)" || { echo "Autobahn needs Python 2.7 (pyenv install 2.7.18)"; exit 1; }
  site="$root/target/autobahn-py2"
  if [ ! -f "$site/.installed" ]; then
    echo "==> installing autobahntestsuite 0.8.2 into $site"
    "$py2" -m pip install --quiet --disable-pip-version-check --target "$site" autobahntestsuite==0.8.2
    touch "$site/.installed"
  fi
  # wsaccel: Autobahn's C accelerator for masking and UTF-8 validation. Without it wstest does
  # both in pure Python, and sections 12-13 (1,000 messages of up to 128 KiB per case) take
  # most of an hour instead of minutes.
  if [ ! -d "$site/wsaccel" ]; then
    "$py2" -m pip install --quiet --disable-pip-version-check --target "$site" wsaccel==0.6.6
  fi
}

# wstest ARGS... (runs in the current directory; `exec`s, so call it in a subshell when it
# must run in the background and be killed by PID)
wstest() {
  exec "$py2" -c "
import site, sys
site.addsitedir('$site')
sys.argv = ['wstest'] + sys.argv[1:]
from autobahntestsuite.wstest import run
run()
" "$@"
}

# check_report INDEX_JSON AGENT EXPECTED: exactly EXPECTED cases ran (517 for the whole suite),
# each OK or INFORMATIONAL in behavior and behaviorClose.
check_report() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
index = json.load(open(sys.argv[1]))
expected = int(sys.argv[3])
ok = {"OK", "INFORMATIONAL"}
results = index[sys.argv[2]]
bad = {case: (r["behavior"], r["behaviorClose"]) for case, r in results.items()
       if r["behavior"] not in ok or r["behaviorClose"] not in ok}
counts = {}
for r in results.values():
    counts[r["behavior"]] = counts.get(r["behavior"], 0) + 1
print("autobahn: %d cases, behavior %s" % (len(results), counts))
for case in sorted(bad, key=lambda c: [int(x) for x in c.split(".")]):
    print("  FAILED %s: behavior=%s behaviorClose=%s" % (case, bad[case][0], bad[case][1]))
print("%d passed, %d failed" % (len(results) - len(bad), len(bad)))
if len(results) != expected:
    print("  FAILED: %d cases ran, %d expected" % (len(results), expected))
sys.exit(1 if bad or len(results) != expected else 0)
PY
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listening on port $1"
  return 1
}
