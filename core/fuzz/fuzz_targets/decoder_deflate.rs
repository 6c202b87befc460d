#![no_main]
// The decoder with permessage-deflate (RFC 7692) on. The first byte picks the role, the chunk
// size and the agreed parameters; the rest is the stream. Properties checked: no panic, the
// 1 MiB limit holds on inflated messages, and feeding in chunks gives exactly the same events,
// error (with its offset) and reply bytes as feeding the whole stream at once.
use libfuzzer_sys::fuzz_target;
use wslens::deflate::DeflateParams;
use wslens::{Config, Connection, OwnedEvent, Role};

const LIMIT: usize = 1 << 20;

fn config(b: u8) -> Config {
    let params = DeflateParams {
        server_no_context_takeover: b & 1 != 0,
        client_no_context_takeover: b & 2 != 0,
        ..DeflateParams::default()
    };
    Config {
        max_frame_size: LIMIT as u64,
        max_message_size: LIMIT,
        deflate: Some(params),
        ..Config::default()
    }
}

fn run(role: Role, cfg: Config, stream: &[u8], chunk: usize) -> (Vec<OwnedEvent>, Option<wslens::Error>, Vec<u8>) {
    let mut conn = match role {
        Role::Server => Connection::accepted(cfg),
        Role::Client => Connection::connected(cfg, || [1, 2, 3, 4]),
    };
    let mut events = Vec::new();
    let mut error = None;
    for piece in stream.chunks(chunk.max(1)) {
        if let Err(e) = conn.receive(piece, &mut events) {
            error = Some(e);
            break;
        }
    }
    (events, error, conn.take_output())
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, stream)) = data.split_first() else { return };
    let role = if first & 4 != 0 { Role::Server } else { Role::Client };
    let cfg = config(first);
    let whole = run(role, cfg.clone(), stream, stream.len());
    for e in &whole.0 {
        if let OwnedEvent::Text(t) = e {
            assert!(t.len() <= LIMIT);
        }
        if let OwnedEvent::Binary(b) = e {
            assert!(b.len() <= LIMIT);
        }
    }
    let chunked = run(role, cfg.clone(), stream, usize::from(first >> 3) % 17 + 1);
    assert_eq!(whole, chunked);
    let ins = wslens::inspect::inspect_frames_with(stream, role, cfg);
    assert_eq!(ins.events, whole.0);
});
