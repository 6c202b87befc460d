//! # wslens-capture
//!
//! Captures and recordings: reading pcap and pcapng files (`read`), TCP segments and their
//! reassembly (`tcp`), the WebSocket sessions in a capture run through the core's
//! session inspector (`sessions`), writing pcapng of synthesised packets with real bytes
//! (`write`), and HAR files in Chrome DevTools' shape (`har`).
//!
//! File formats and packet headers are read and written by crates (`pcap-parser`,
//! `etherparse`, `serde_json`); the WebSocket bytes only by the core.

#![warn(missing_docs)]

pub mod har;
pub mod read;
pub mod sessions;
pub mod show;
pub mod tcp;
pub mod write;

pub use sessions::{read_sessions, Found, Report, SessionInfo};
