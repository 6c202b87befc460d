#!/usr/bin/env bash
# Runs every test. Installs what it needs first, idempotently, so it works on a fresh machine
# with rustup/cargo, Python (pyenv, with 2.7 for Autobahn) and Node/npm present:
#   - the wasm32-unknown-unknown rustup target
#   - Python `websockets` + pytest in target/pyvenv
#   - Debian's chromium (apt) and the npm packages ws + playwright-core in tests/node
#   - Autobahn|Testsuite 0.8.2 in target/autobahn-py2
#   - wasm-bindgen-cli and wasm-pack (cargo install), Debian's chromium-driver
#   - Debian's redis-server (the backplane tests run their own instances) and faketime
#     (libfaketime: the clock-jump test)
#   - Debian's tcpdump and tshark (the capture tests: real captures, and wslens's pcapng
#     checked against Wireshark's dissector)
#   - Debian's wine64 and MinGW-w64, and the x86_64-pc-windows-gnu target (tests/wine/run.sh)
#
#   bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

step() { printf '\n==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

step "toolchain targets and the wasm tools"
. scripts/wasm.sh
ensure_wasm_tools

step "Debian's redis-server (the backplane tests start their own, on a free loopback port), faketime, tcpdump and tshark"
if ! command -v redis-server >/dev/null || ! command -v faketime >/dev/null \
   || ! command -v tcpdump >/dev/null || ! command -v tshark >/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server faketime tcpdump tshark >/dev/null
fi
# (The package's own service, if the install started one, is not used: each test starts and
# stops its own redis-server by PID.)

step "build the server binary (used by the end-to-end tests)"
cargo build -p wslens-server

step "Rust: unit, property, RFC-example, error-path and end-to-end tests"
cargo test --workspace --all-targets
cargo test --workspace --doc

step "the core without std, for wasm32-unknown-unknown (with and without permessage-deflate)"
cargo build -p wslens --no-default-features --target wasm32-unknown-unknown
cargo build -p wslens --no-default-features --features deflate --target wasm32-unknown-unknown

step "Python websockets against the server"
if [ ! -x target/pyvenv/bin/python ]; then python3 -m venv target/pyvenv; fi
target/pyvenv/bin/pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
target/pyvenv/bin/python -m pytest -q tests/python

step "the Windows build, really run: wslens.exe under Debian's Wine (serve, send, Ctrl-C)"
bash tests/wine/run.sh

step "Debian chromium and chromium-driver"
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

step "the wasm module: wasm-pack test in Node.js and in headless Chromium"
wasm-pack test --node wasm
CHROMEDRIVER=/usr/bin/chromedriver wasm-pack test --headless --chrome wasm
build_page

step "Node ws, and headless Chromium on the page served by wslens (inspector, live client)"
(cd tests/node && npm ci --no-audit --no-fund --silent && npm test)

step "Autobahn|Testsuite, all 517 cases each (12-13: permessage-deflate): fuzzingclient against the server and fuzzingserver against the client, side by side"
# wstest is single-threaded Python 2 and sections 12-13 take minutes, so the two suites run at
# once (one core each); everything they share is built and installed first.
cargo build --release -p wslens-server --bin wslens --example autobahn_client --quiet
(. tests/autobahn/lib.sh && install_autobahn)
bash tests/autobahn/client.sh >target/autobahn-client.out 2>&1 &
autobahn_client=$!
server_status=0
bash tests/autobahn/run.sh || server_status=$?
client_status=0
wait "$autobahn_client" || client_status=$?
echo "--- the client's suite:"
cat target/autobahn-client.out
[ "$server_status" = 0 ] && [ "$client_status" = 0 ]

step "Autobahn|Testsuite fuzzingclient against the server over wss:// (TLS), sections 1-10"
AUTOBAHN_TLS=1 bash tests/autobahn/run.sh '["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "8.*", "9.*", "10.*"]' 301

echo
echo "all tests passed"
