#!/usr/bin/env bash
# Runs the cargo-fuzz targets of the core and of the capture crate (nightly + cargo-fuzz;
# installed if missing).
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# Default: 60 seconds for each of the nine targets (capture_* are the capture crate's).
# Crashes land in core/fuzz/artifacts/ (capture/fuzz/artifacts/).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(decoder_server decoder_client decoder_deflate handshake_request handshake_response http_head server_connection capture_pcap capture_har)

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

for t in "${targets[@]}"; do
  case "$t" in
    capture_*) cd "$repo/capture" ;;
    *) cd "$repo/core" ;;
  esac
  mkdir -p "fuzz/corpus/$t"
  if [ -d "fuzz/seeds/$t" ]; then cp -n "fuzz/seeds/$t"/* "fuzz/corpus/$t/" 2>/dev/null || true; fi
  echo "==> fuzzing $t for ${secs}s"
  log="fuzz/last-$t.log"
  status=0
  cargo +nightly fuzz run "$t" "fuzz/corpus/$t" -- -max_total_time="$secs" -max_len=4096 >"$log" 2>&1 || status=$?
  grep -E '^(Done [0-9]+ runs|==[0-9]+==|SUMMARY|thread .* panicked)' "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 30 "$log"
    echo "fuzz target $t failed (exit $status); the input is in $PWD/fuzz/artifacts/$t/"
    exit 1
  fi
done
