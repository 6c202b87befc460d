# Sourced by serve.sh and test.sh: installs the wasm toolchain idempotently and builds the page's
# wasm module into www/pkg.
#   - the wasm32-unknown-unknown rustup target
#   - wasm-bindgen-cli at exactly the version Cargo.lock pins for the `wasm-bindgen` crate
#     (from crates.io: downloads from GitHub are not possible here)
#   - wasm-pack (from crates.io); wasm-opt stays off (wasm/Cargo.toml), so nothing is downloaded

wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

ensure_wasm_tools() {
  rustup target add wasm32-unknown-unknown >/dev/null
  local want
  want="$(wasm_bindgen_version)"
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
    echo "==> installing wasm-bindgen-cli $want (cargo install, a few minutes once)"
    cargo install wasm-bindgen-cli --version "$want" --force
  fi
  if ! command -v wasm-pack >/dev/null; then
    echo "==> installing wasm-pack (cargo install, a few minutes once)"
    cargo install wasm-pack --locked
  fi
}

build_page() {
  echo "==> building the wasm module into www/pkg"
  wasm-pack --quiet build wasm --target web --mode no-install --release --out-dir ../www/pkg --no-typescript
  python3 scripts/strip_wasm_names.py www/pkg/wslens_wasm_bg.wasm
  # Precompressed for the wire: `wslens serve` sends it gzip-encoded to browsers that accept
  # gzip (Content-Encoding, Vary). -n: no name or time stamp, so the same module gives the
  # same bytes.
  gzip -9 -n -k -f www/pkg/wslens_wasm_bg.wasm
  echo "    www/pkg/wslens_wasm_bg.wasm.gz: $(wc -c <www/pkg/wslens_wasm_bg.wasm.gz) bytes on the wire"
  # The guided tour's session, recorded by the core at build time (a real client and server
  # connection talking): the page reads it from here, so the inspector module does not carry
  # the compressor the recording needs.
  cargo run -q -p wslens --example tour_json > www/pkg/tour.json
  # The capture module (feature `capture`: the pcap, pcapng and HAR readers), loaded only by
  # the page's capture worker (www/capture-worker.js) when a file is dropped.
  echo "==> building the capture module into www/pkg-capture"
  wasm-pack --quiet build wasm --target web --mode no-install --release --out-dir ../www/pkg-capture \
    --out-name wslens_capture --no-typescript -- --features capture
  python3 scripts/strip_wasm_names.py www/pkg-capture/wslens_capture_bg.wasm
  gzip -9 -n -k -f www/pkg-capture/wslens_capture_bg.wasm
  echo "    www/pkg-capture/wslens_capture_bg.wasm.gz: $(wc -c <www/pkg-capture/wslens_capture_bg.wasm.gz) bytes on the wire"
}
