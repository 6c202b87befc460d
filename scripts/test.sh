#!/usr/bin/env bash
# Runs every test of the workspace. Installs what it needs first, idempotently, so it works on a
# fresh machine with only rustup/cargo present.
#
#   bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain targets"
rustup target add wasm32-unknown-unknown >/dev/null

step "unit, property and integration tests"
cargo test --workspace --all-targets
cargo test --workspace --doc

step "the core without std, for wasm32-unknown-unknown"
cargo build -p wslens --no-default-features --target wasm32-unknown-unknown
