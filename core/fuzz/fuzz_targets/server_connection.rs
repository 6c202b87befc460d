#![no_main]
//! A whole server-side connection through the core: the opening handshake (a valid upgrade
//! offering permessage-deflate is put in front when the selector byte says so, so the fuzzer
//! reaches the frames), `accept` on the request, then frames, compressed or not. Properties:
//! no panic, and feeding the bytes in pieces gives the same events, error and output bytes as
//! feeding them at once.
use libfuzzer_sys::fuzz_target;
use wslens::deflate::DeflateConfig;
use wslens::handshake::AcceptOptions;
use wslens::{Config, Connection, OwnedEvent};

const UPGRADE: &[u8] = b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";

fn run(stream: &[u8], chunk: usize) -> (Vec<OwnedEvent>, Option<wslens::Error>, Vec<u8>) {
    let config = Config { max_frame_size: 1 << 16, max_message_size: 1 << 16, ..Config::default() };
    let deflate = DeflateConfig::default();
    let mut conn = Connection::server(config);
    let mut events = Vec::new();
    let mut error = None;
    let mut output = Vec::new();
    for piece in stream.chunks(chunk.max(1)) {
        let before = events.len();
        if let Err(e) = conn.receive(piece, &mut events) {
            error = Some(e);
            break;
        }
        if events[before..].iter().any(|e| matches!(e, OwnedEvent::Request(_))) {
            let opts = AcceptOptions { deflate: Some(&deflate), ..AcceptOptions::default() };
            conn.accept(&opts).expect("accept after a request");
            // Frames that came with the head wait for the decision: read them now.
            if let Err(e) = conn.receive(&[], &mut events) {
                error = Some(e);
                break;
            }
        }
        output.extend_from_slice(&conn.take_output());
    }
    output.extend_from_slice(&conn.take_output());
    (events, error, output)
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    let stream = if first & 0x80 != 0 { [UPGRADE, rest].concat() } else { rest.to_vec() };
    let whole = run(&stream, stream.len());
    let chunked = run(&stream, usize::from(first & 0x3f) + 1);
    assert_eq!(whole, chunked);
});
