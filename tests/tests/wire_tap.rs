//! The wire tap (`wslens.wire` on `/echo`) against the real binary: the handshake record with
//! the exact request and 101, a record per event read (messages, control frames between
//! fragments, commands), the commands (`/ping`, `/fragments`, `/deflate`, `/close`), and the
//! bounded transcript at `GET /wire/<session>` with both close frames.

use serde_json::Value;
use std::io::Write;
use std::time::Duration;
use wslens::inspect::inspect_frames;
use wslens::{CloseCode, OwnedEvent, Role};
use wslens_e2e::{Client, Server};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn tapped(server: &Server) -> (Client, Value) {
    let (mut c, resp) = Client::connect(server.port, "/echo", &["wslens.wire"]).unwrap();
    assert_eq!(resp.protocol.as_deref(), Some("wslens.wire"));
    let first = record(&mut c);
    (c, first)
}

/// The next text message, parsed.
fn record(c: &mut Client) -> Value {
    loop {
        match c.recv().unwrap() {
            OwnedEvent::Text(t) => return serde_json::from_str(&t).unwrap(),
            OwnedEvent::Ping(_) | OwnedEvent::Pong(_) => {}
            other => panic!("expected a record, got {other:?}"),
        }
    }
}

fn wire(v: &Value) -> (Vec<u8>, Vec<u8>) {
    let w = &v["wire"];
    assert!(w["t"].is_u64(), "{v}");
    (
        hex(w["in"].as_str().unwrap()),
        hex(w["out"].as_str().unwrap()),
    )
}

fn transcript(server: &Server, session: &str) -> Value {
    let (status, _, body) = server.get(&format!("/wire/{session}"));
    assert_eq!(status, 200);
    serde_json::from_slice(&body).unwrap()
}

#[test]
fn the_handshake_record_holds_the_request_read_and_the_101_written() {
    let server = Server::start(&["--threads", "1"]);
    let (_c, first) = tapped(&server);
    let hs = &first["handshake"];
    let session = hs["session"].as_str().unwrap();
    assert_eq!(session.len(), 32);
    let request = String::from_utf8(hex(hs["request"].as_str().unwrap())).unwrap();
    let response = String::from_utf8(hex(hs["response"].as_str().unwrap())).unwrap();
    assert!(request.starts_with("GET /echo HTTP/1.1\r\n"), "{request}");
    assert!(request.ends_with("\r\n\r\n"));
    // The e2e client's nonce is b"e2e-test-nonce!!": its key, and the accept computed from it.
    let key = "ZTJlLXRlc3Qtbm9uY2UhIQ==";
    assert!(request.contains(&format!("Sec-WebSocket-Key: {key}\r\n")));
    assert!(response.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
    let accept = wslens::handshake::accept_key(key.as_bytes());
    assert!(
        response.contains(&format!("Sec-WebSocket-Accept: {accept}\r\n")),
        "{response}"
    );
    assert!(response.contains("Sec-WebSocket-Protocol: wslens.wire\r\n"));
    assert!(response.ends_with("\r\n\r\n"));
}

#[test]
fn each_event_read_is_a_record_with_its_exact_bytes() {
    let server = Server::start(&["--threads", "1"]);
    let (mut c, _) = tapped(&server);
    // RFC 6455 §5.7's masked "Hello", byte for byte.
    let hello = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    c.stream().write_all(&hello).unwrap();
    assert_eq!(c.recv().unwrap(), OwnedEvent::Text("Hello".into()));
    let (read, written) = wire(&record(&mut c));
    assert_eq!(read, hello);
    assert_eq!(written, [0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
    // A fragmented message with a ping between its frames: the ping is a record of its own
    // (with the first fragment before it, and the pong written), then the message's rest.
    let first = [0x01, 0x81, 0, 0, 0, 0, b'a'];
    let ping = [0x89, 0x81, 0, 0, 0, 0, b'p'];
    let last = [0x80, 0x81, 0, 0, 0, 0, b'b'];
    c.stream()
        .write_all(&[&first[..], &ping, &last].concat())
        .unwrap();
    let (read, written) = wire(&record(&mut c));
    assert_eq!(read, [&first[..], &ping].concat());
    assert_eq!(written, [0x8a, 0x01, b'p'], "the pong");
    assert_eq!(c.recv().unwrap(), OwnedEvent::Text("ab".into()));
    let (read, written) = wire(&record(&mut c));
    assert_eq!(read, last);
    assert_eq!(written, [0x81, 0x02, b'a', b'b']);
}

#[test]
fn commands_ping_fragment_deflate_and_refuse_bad_arguments() {
    let server = Server::start(&["--threads", "1"]);
    let (mut c, _) = tapped(&server);
    // /ping: the server's ping, then (once the client's automatic pong is read) its record.
    c.send_text("/ping hey");
    assert_eq!(c.recv().unwrap(), OwnedEvent::Ping(b"hey".to_vec()));
    let (_, written) = wire(&record(&mut c));
    assert_eq!(written, [0x89, 0x03, b'h', b'e', b'y']);
    let (read, written) = wire(&record(&mut c));
    let ins = inspect_frames(&read, Role::Server);
    assert_eq!(ins.frames.len(), 1);
    assert_eq!(ins.frames[0].header.unwrap().opcode, wslens::OpCode::Pong);
    assert!(written.is_empty());
    // /fragments 4: four frames of one text message with a ping after the first.
    c.send_text("/fragments 4");
    assert_eq!(
        c.recv().unwrap(),
        OwnedEvent::Ping(b"between fragments".to_vec())
    );
    assert_eq!(
        c.recv().unwrap(),
        OwnedEvent::Text(wslens_server::tap::FRAGMENTED_TEXT.into())
    );
    let (_, written) = wire(&record(&mut c));
    let ins = inspect_frames(&written, Role::Client);
    let fins: Vec<bool> = ins.frames.iter().map(|f| f.header.unwrap().fin).collect();
    assert_eq!(fins, [false, true, false, false, true]);
    let _pong = record(&mut c);
    // /deflate without permessage-deflate: the text three times, all plain.
    c.send_text("/deflate same");
    for _ in 0..3 {
        assert_eq!(c.recv().unwrap(), OwnedEvent::Text("same".into()));
    }
    let (_, written) = wire(&record(&mut c));
    assert_eq!(written, [&[0x81, 4][..], b"same"].concat().repeat(3));
    // Bad arguments: an error message, and the connection stays open.
    let long_ping = format!("/ping {}", "x".repeat(126));
    for bad in ["/close 1006", "/fragments 99", &long_ping] {
        c.send_text(bad);
        let v = record(&mut c);
        assert!(
            v["error"]
                .as_str()
                .is_some_and(|e| e.contains("RFC 6455") || e.contains("2 to 16")),
            "{bad}: {v}"
        );
        let (_, written) = wire(&record(&mut c));
        assert_eq!(
            written[0], 0x81,
            "{bad}: only the error message was written"
        );
    }
    // Text that only looks like a command is echoed.
    c.send_text("/pingpong");
    assert_eq!(c.recv().unwrap(), OwnedEvent::Text("/pingpong".into()));
}

#[test]
fn the_transcript_has_both_close_frames_after_a_server_close() {
    let server = Server::start(&["--threads", "1"]);
    let (mut c, first) = tapped(&server);
    let session = first["handshake"]["session"].as_str().unwrap().to_owned();
    c.send_text("hi");
    assert_eq!(c.recv().unwrap(), OwnedEvent::Text("hi".into()));
    let _ = record(&mut c);
    c.send_text("/close 4001 see you");
    match c.recv().unwrap() {
        OwnedEvent::Close { code, reason } => {
            assert_eq!(code, Some(CloseCode(4001)));
            assert_eq!(reason, "see you");
        }
        other => panic!("{other:?}"),
    }
    // The client's close reply went out; the server closes the TCP connection.
    assert!(c.server_closed_tcp());
    let t = wait_closed(&server, &session);
    let records = t["records"].as_array().unwrap();
    assert_eq!(records[0], first, "the handshake record first");
    let n = records.len();
    assert_eq!(n, 4, "handshake, hi, the command, the close reply: {t}");
    let (_, written) = wire(&records[n - 2]);
    assert_eq!(written, [&[0x88, 9, 0x0f, 0xa1][..], b"see you"].concat());
    let (read, written) = wire(&records[n - 1]);
    let ins = inspect_frames(&read, Role::Server);
    assert_eq!(ins.frames[0].header.unwrap().opcode, wslens::OpCode::Close);
    assert!(written.is_empty());
    assert_eq!(t["dropped"], 0);
}

#[test]
fn the_transcript_has_both_close_frames_after_a_client_close() {
    let server = Server::start(&["--threads", "1"]);
    let (mut c, first) = tapped(&server);
    let session = first["handshake"]["session"].as_str().unwrap().to_owned();
    c.close(CloseCode::NORMAL);
    assert!(matches!(c.recv().unwrap(), OwnedEvent::Close { .. }));
    let t = wait_closed(&server, &session);
    let records = t["records"].as_array().unwrap();
    let (read, written) = wire(records.last().unwrap());
    let ins = inspect_frames(&read, Role::Server);
    assert_eq!(ins.frames[0].header.unwrap().opcode, wslens::OpCode::Close);
    // The server's reply echoes the code (RFC 6455 §5.5.1).
    assert_eq!(written, [0x88, 0x02, 0x03, 0xe8]);
}

/// A close the server starts on its own (here the idle timeout) reaches the transcript too:
/// the socket can no longer carry a record of it.
#[test]
fn the_transcript_has_the_close_the_server_starts_on_a_timeout() {
    let server = Server::start(&["--threads", "1", "--idle-timeout", "1s"]);
    let (mut c, first) = tapped(&server);
    let session = first["handshake"]["session"].as_str().unwrap().to_owned();
    match c.recv().unwrap() {
        OwnedEvent::Close { code, .. } => assert_eq!(code, Some(CloseCode::GOING_AWAY)),
        other => panic!("{other:?}"),
    }
    let t = wait_closed(&server, &session);
    let records = t["records"].as_array().unwrap();
    let (_, written) = wire(&records[records.len() - 2]);
    let ins = inspect_frames(&written, Role::Client);
    assert_eq!(ins.frames[0].header.unwrap().opcode, wslens::OpCode::Close);
    assert_eq!(&written[2..4], 1001u16.to_be_bytes());
    let (read, _) = wire(records.last().unwrap());
    let ins = inspect_frames(&read, Role::Server);
    assert_eq!(ins.frames[0].header.unwrap().opcode, wslens::OpCode::Close);
}

/// The transcript once the server has let the connection go (`open: false`).
fn wait_closed(server: &Server, session: &str) -> Value {
    for _ in 0..250 {
        let t = transcript(server, session);
        if t["open"] == false {
            return t;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the tap session stayed open");
}

#[test]
fn transcripts_are_bounded_in_bytes_sessions_and_time() {
    let server = Server::start(&[
        "--threads",
        "1",
        "--tap-transcript-bytes",
        "4096",
        "--tap-sessions",
        "2",
        "--tap-transcript-ttl",
        "2s",
    ]);
    let (mut c, first) = tapped(&server);
    let session = first["handshake"]["session"].as_str().unwrap().to_owned();
    // Each record is about 1.1 KB of hex: 50 of them overflow 4 KiB many times over.
    let kib = "k".repeat(256);
    for _ in 0..50 {
        c.send_text(&kib);
        assert_eq!(c.recv().unwrap(), OwnedEvent::Text(kib.clone()));
        let _ = record(&mut c);
    }
    let (_, _, body) = server.get(&format!("/wire/{session}"));
    assert!(body.len() < 4096 + 200, "{} bytes", body.len());
    let t: Value = serde_json::from_slice(&body).unwrap();
    assert!(t["dropped"].as_u64().unwrap() >= 45, "{t}");
    assert_eq!(t["open"], true);
    // A record over the whole bound is kept as its size only.
    let big = "b".repeat(3000);
    c.send_text(&big);
    assert_eq!(c.recv().unwrap(), OwnedEvent::Text(big));
    let _ = record(&mut c);
    let t = transcript(&server, &session);
    let last = t["records"].as_array().unwrap().last().unwrap().clone();
    assert!(
        last["omitted"]["bytes"].as_u64().unwrap() > 12_000,
        "{last}"
    );
    // Unknown sessions are 404; past two sessions the oldest goes.
    assert_eq!(server.get("/wire/0123456789abcdef0123456789abcdef").0, 404);
    let (_c2, _) = tapped(&server);
    let (_c3, _) = tapped(&server);
    assert_eq!(server.get(&format!("/wire/{session}")).0, 404);
    // And after the ttl every session is gone.
    let (_c4, v) = tapped(&server);
    let s4 = v["handshake"]["session"].as_str().unwrap().to_owned();
    assert_eq!(server.get(&format!("/wire/{s4}")).0, 200);
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(server.get(&format!("/wire/{s4}")).0, 404);
}

/// Commands are messages: `--max-messages-per-second` counts them like any other.
#[test]
fn commands_are_rate_limited_like_messages() {
    let server = Server::start(&[
        "--threads",
        "1",
        "--max-messages-per-second",
        "2",
        "--drop-over-rate",
    ]);
    let (mut c, _) = tapped(&server);
    // Five commands in one write: one read, one clock reading, one rate window.
    let frame = [&[0x81, 0x87, 0, 0, 0, 0][..], b"/ping x"].concat();
    c.stream().write_all(&frame.repeat(5)).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    c.send_text("done");
    let mut pings = 0;
    loop {
        match c.recv().unwrap() {
            OwnedEvent::Ping(_) => pings += 1,
            OwnedEvent::Text(t) if t == "done" => break,
            _ => {}
        }
    }
    assert_eq!(pings, 2, "two commands a second, the rest dropped");
}
