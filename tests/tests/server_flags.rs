//! Each `wslens serve` limit and timeout flag, end to end: the server does what the flag says,
//! and not before its time. (Windows of time are asserted loosely: the point is the order of
//! events and that a deadline is neither skipped nor fired early, not speed. The loop's clock
//! counts whole milliseconds, so "not early" allows it `MS`.)

use std::io::Write;
use std::time::{Duration, Instant};
use wslens::frame::{encode_frame, FrameHeader, OpCode};
use wslens::{CloseCode, OwnedEvent};
use wslens_e2e::{http, Server};

/// The loop keeps time in whole milliseconds: a deadline may fire up to this much early by
/// a client's finer clock.
const MS: Duration = Duration::from_millis(2);

/// Reads events until a close; returns the pings seen before it (and when) and the close.
fn until_close(
    c: &mut wslens_e2e::Client,
    started: Instant,
) -> (Vec<Duration>, OwnedEvent, Duration) {
    let mut pings = Vec::new();
    loop {
        match c.recv().expect("an event before the close") {
            OwnedEvent::Ping(_) => pings.push(started.elapsed()),
            close @ OwnedEvent::Close { .. } => return (pings, close, started.elapsed()),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn a_client_that_ignores_pings_gets_the_ping_then_1001_ping_timeout() {
    let server = Server::start(&["--ping-interval", "600ms", "--ping-timeout", "600ms"]);
    // Times are from before the connect: the server's clock for this connection starts later.
    let started = Instant::now();
    let mut c = server.connect("/echo");
    c.go_silent();
    let (pings, close, at) = until_close(&mut c, started);
    assert_eq!(pings.len(), 1, "one ping, then the close: {pings:?}");
    assert!(
        pings[0] >= Duration::from_millis(600) - MS,
        "ping at {:?}, before the interval",
        pings[0]
    );
    match close {
        OwnedEvent::Close { code, reason } => {
            assert_eq!(code, Some(CloseCode::GOING_AWAY));
            assert_eq!(reason, "ping timeout");
        }
        _ => unreachable!(),
    }
    assert!(
        at >= Duration::from_millis(1200) - MS,
        "closed at {at:?}, before interval + timeout"
    );
    assert!(at < Duration::from_secs(6), "closed at {at:?}");
}

#[test]
fn a_client_that_answers_pings_is_kept() {
    let server = Server::start(&["--ping-interval", "300ms", "--ping-timeout", "300ms"]);
    let mut c = server.connect("/echo");
    let started = Instant::now();
    let mut pings = 0;
    // Client::recv answers each ping with its pong (the core does it on read).
    c.stream()
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    while started.elapsed() < Duration::from_millis(1600) {
        match c.recv() {
            Ok(OwnedEvent::Ping(p)) => {
                assert_eq!(p, b"wslens");
                pings += 1;
            }
            Ok(other) => panic!("{other:?}"),
            Err(_) => {} // read timeout: nothing this slice
        }
    }
    assert!(pings >= 2, "{pings} pings in 1.6 s at a 300 ms interval");
    c.stream()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    c.send_text("still open");
    assert_eq!(c.recv().unwrap(), OwnedEvent::Text("still open".into()));
}

#[test]
fn idle_timeout_closes_a_silent_connection_with_1001_idle_timeout() {
    let server = Server::start(&["--ping-interval", "0", "--idle-timeout", "700ms"]);
    let started = Instant::now();
    let mut busy = server.connect("/echo");
    let mut idle = server.connect("/echo");
    // The busy one keeps talking past the idle one's deadline and is not closed.
    while started.elapsed() < Duration::from_millis(500) {
        busy.send_text("tick");
        assert_eq!(busy.recv().unwrap(), OwnedEvent::Text("tick".into()));
        std::thread::sleep(Duration::from_millis(100));
    }
    let (pings, close, at) = until_close(&mut idle, started);
    assert!(pings.is_empty());
    assert_eq!(
        close,
        OwnedEvent::Close {
            code: Some(CloseCode::GOING_AWAY),
            reason: "idle timeout".into()
        }
    );
    assert!(
        at >= Duration::from_millis(700) - MS,
        "closed at {at:?}, before the idle timeout"
    );
    assert!(at < Duration::from_secs(6), "closed at {at:?}");
    busy.send_text("tock");
    assert_eq!(busy.recv().unwrap(), OwnedEvent::Text("tock".into()));
}

#[test]
fn shutdown_timeout_bounds_the_wait_for_a_client_that_never_answers_the_close() {
    let mut server = Server::start(&["--shutdown-timeout", "800ms"]);
    let mut c = server.connect("/echo");
    c.go_silent();
    let started = Instant::now();
    server.signal("TERM");
    match c.recv().unwrap() {
        OwnedEvent::Close { code, .. } => assert_eq!(code, Some(CloseCode::GOING_AWAY)),
        other => panic!("{other:?}"),
    }
    let status = server.wait_exit(Duration::from_secs(10)).expect("exited");
    let took = started.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(
        took >= Duration::from_millis(800) - MS,
        "exited after {took:?}, before the shutdown timeout"
    );
    assert!(took < Duration::from_secs(8), "exited after {took:?}");
}

#[test]
fn max_frame_refuses_a_longer_frame_with_1009() {
    let server = Server::start(&["--max-frame", "1024"]);
    let mut ok = server.connect("/echo");
    ok.send_binary(&[7u8; 1024]);
    assert_eq!(ok.recv().unwrap(), OwnedEvent::Binary(vec![7u8; 1024]));
    let mut c = server.connect("/echo");
    let mut frame = Vec::new();
    let header = FrameHeader {
        mask: Some([9, 8, 7, 6]),
        ..FrameHeader::new(OpCode::Binary, 1025)
    };
    encode_frame(&mut frame, &header, &[1u8; 1025]);
    c.stream().write_all(&frame).unwrap();
    match c.recv().unwrap() {
        OwnedEvent::Close { code, .. } => assert_eq!(code, Some(CloseCode::TOO_BIG)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn max_header_bytes_refuses_a_longer_head_with_431() {
    let server = Server::start(&["--max-header-bytes", "1024"]);
    let request = |extra: usize| {
        format!(
            "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             X-Pad: {}\r\n\r\n",
            "a".repeat(extra)
        )
    };
    let (status, _, _) = http(server.port, request(600).as_bytes()).unwrap();
    assert_eq!(status, 101);
    let (status, head, _) = http(server.port, request(1100).as_bytes()).unwrap();
    assert_eq!(status, 431, "{head}");
}

/// The `Sec-WebSocket-Extensions` header the server answers to a client offering permessage-deflate
/// with `client_max_window_bits` (RFC 7692 §7.1), or `None`.
fn deflate_answer(args: &[&str]) -> Option<String> {
    let server = Server::start(args);
    let request = "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
        Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
    let (status, head, _) = http(server.port, request.as_bytes()).unwrap();
    assert_eq!(status, 101, "{head}");
    head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("sec-websocket-extensions")
            .then(|| value.trim().to_owned())
    })
}

#[test]
fn the_deflate_flags_shape_the_servers_answer() {
    let default = deflate_answer(&[]).expect("permessage-deflate on by default");
    assert!(default.starts_with("permessage-deflate"), "{default}");
    assert!(default.contains("server_no_context_takeover"), "{default}");
    assert_eq!(deflate_answer(&["--no-deflate"]), None);
    let bits = deflate_answer(&["--deflate-window-bits", "10"]).unwrap();
    // The client offered client_max_window_bits (it lets the server choose): the server asks
    // for its own limit.
    assert!(bits.contains("client_max_window_bits=10"), "{bits}");
    assert!(
        default.contains("client_max_window_bits=15")
            || !default.contains("client_max_window_bits"),
        "{default}"
    );
    let takeover = deflate_answer(&["--deflate-context-takeover"]).unwrap();
    assert!(
        !takeover.contains("server_no_context_takeover"),
        "{takeover}"
    );
    let none = deflate_answer(&["--deflate-no-context-takeover"]).unwrap();
    assert!(none.contains("client_no_context_takeover"), "{none}");
}
