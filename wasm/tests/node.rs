//! `wasm-pack test --node`: the shared cases in Node.js.
#![cfg(target_arch = "wasm32")]

include!("shared/cases.rs");
