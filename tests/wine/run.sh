#!/usr/bin/env bash
# The Windows build, really run, under Debian's Wine: the core's tests and the server
# library's, built for x86_64-pc-windows-gnu; then `wslens.exe` (release). It serves the page and /echo to a native Linux client (Python `websockets`), its `send`
# talks to the native Linux server, and Ctrl-C (SIGINT, which Wine turns into the console's
# CTRL_C_EVENT) shuts it down cleanly with exit code 0.
#
#   bash tests/wine/run.sh      (installs wine64 and MinGW-w64 from Debian if missing)
#
# One thing Wine 8.0 (Debian 12) cannot do: Rust's std (1.78 and later) draws its random
# numbers with ProcessPrng from bcryptprimitives.dll, which Wine 8.0 does not have, so the
# unmodified .exe stops at load ("Library bcryptprimitives.dll ... not found", c0000135).
# tests/wine/bcryptprimitives.c is a four-line stand-in (ProcessPrng over RtlGenRandom, which
# Wine has), built with MinGW and put beside the .exe, where Windows' DLL search finds it
# first. Real Windows has the DLL; nothing in wslens itself is changed for Wine.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v wine >/dev/null || ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
  echo "==> installing Debian's wine64 and MinGW-w64 (once)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wine64 gcc-mingw-w64-x86-64-win32 >/dev/null
fi
rustup target add x86_64-pc-windows-gnu >/dev/null

echo "==> building wslens.exe (release, x86_64-pc-windows-gnu)"
cargo build --release -q -p wslens-server --target x86_64-pc-windows-gnu
dir="$root/target/wine"
mkdir -p "$dir"
cp target/x86_64-pc-windows-gnu/release/wslens.exe "$dir/"
x86_64-w64-mingw32-gcc -shared -O2 -o "$dir/bcryptprimitives.dll" tests/wine/bcryptprimitives.c -ladvapi32
[ -x target/debug/wslens ] || cargo build -q -p wslens-server

export WINEPREFIX="$dir/prefix" WINEDEBUG=-all
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_healthz() {
  for _ in $(seq 1 300); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$1/healthz', timeout=1)" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "no /healthz on port $1"; return 1
}
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wineserver -k 2>/dev/null || true
}
trap cleanup EXIT
# Create the prefix once, up front, and keep one wineserver alive for the whole run. Otherwise
# the prefix is built in the background while the first test binary runs, and a binary started
# while the last one's wineserver is shutting down can fail before printing anything (seen once
# in CI: exit 1 and no output from the deflate tests).
wineboot --init >/dev/null 2>&1 || true
wineserver -w
wineserver -p

echo "==> the core's tests and the server library's, built for Windows, run under Wine"
mkdir -p target/x86_64-pc-windows-gnu/debug/deps
cp "$dir/bcryptprimitives.dll" target/x86_64-pc-windows-gnu/debug/deps/
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine
# (not the doctests: they run from a temporary directory, without the stand-in DLL)
cargo test -q -p wslens --lib --tests --target x86_64-pc-windows-gnu
cargo test -q -p wslens-server --lib --target x86_64-pc-windows-gnu
unset CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER
echo "==> wslens.exe serve under Wine, Python websockets (Linux) as the client"
port=$(free_port)
wine "$dir/wslens.exe" serve --port "$port" --threads 1 --www www >"$dir/serve.log" 2>&1 &
win=$!
pids+=("$win")
wait_healthz "$port" || { cat "$dir/serve.log"; exit 1; }
target/pyvenv/bin/python tests/wine/client.py "$port"

echo "==> wslens.exe send under Wine against the native Linux server"
native_port=$(free_port)
target/debug/wslens serve --port "$native_port" --threads 1 >"$dir/native.log" 2>&1 &
native=$!
pids+=("$native")
wait_healthz "$native_port"
got=$(wine "$dir/wslens.exe" send "ws://127.0.0.1:$native_port/echo" "hello from Windows" | tr -d '\r')
[ "$got" = "hello from Windows" ] || { echo "wslens.exe send printed: $got"; exit 1; }
echo "wslens.exe send: $got"
kill -INT "$native"; wait "$native"

echo "==> Ctrl-C: SIGINT to wslens.exe under Wine"
kill -INT "$win"
status=0
wait "$win" || status=$?
grep -q "stopped" "$dir/serve.log" || { cat "$dir/serve.log"; echo "no clean stop"; exit 1; }
[ "$status" = 0 ] || { echo "wslens.exe exited $status"; exit 1; }
pids=()
echo "wslens.exe under Wine: served, sent, stopped cleanly on Ctrl-C (exit 0)"
