#![no_main]
//! Any bytes as a capture file: the pcap/pcapng reader, the link/IP/TCP decoding, the TCP
//! reassembly and the session inspector behind them. Properties: no panic, and every event
//! belongs to a session announced before it.
use libfuzzer_sys::fuzz_target;
use wslens_capture::{read_sessions, Found};

fuzz_target!(|data: &[u8]| {
    let mut announced = std::collections::HashSet::new();
    let _ = read_sessions(std::io::Cursor::new(data), wslens::Config::default(), 16, |found| match found {
        Found::Session(s) => {
            assert!(announced.insert(s.id), "session {} announced twice", s.id);
        }
        Found::Event { session, .. } | Found::Bytes { session, .. } => {
            assert!(announced.contains(&session.id))
        }
    });
});
