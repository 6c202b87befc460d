//! The request head is parsed once: `HeadScanner` finds its end (each byte once, however it
//! is split), `Head::parse` reads the request line and headers, `Request::from_head` applies
//! RFC 6455 §4.2.1, and `Connection::from_request` continues from there without parsing
//! again. The pieces agree with the all-in-one `RequestParser` on every input.

use proptest::prelude::*;
use wslens::handshake::{AcceptOptions, Head, HeadScanner, Request, RequestParser, Status};
use wslens::{Config, Connection, OwnedEvent, State};

const UPGRADE: &[u8] = b"GET /chat?room=1 HTTP/1.1\r\nHost: server.example.com\r\n\
Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

#[test]
fn a_head_is_read_into_method_target_version_and_headers() {
    let head = Head::parse(UPGRADE).unwrap();
    assert_eq!(
        (head.method, head.target, head.version),
        ("GET", "/chat?room=1", "HTTP/1.1")
    );
    assert_eq!(head.path(), "/chat");
    assert_eq!(head.version_minor(), Some(1));
    assert!(head.is_upgrade());
    assert_eq!(head.header("HOST"), Some("server.example.com"));
    assert_eq!(head.headers.len(), 7);
    // Any method and target: the same parse serves static files.
    let plain = Head::parse(b"HEAD /index.html HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(
        (plain.method, plain.path(), plain.version_minor()),
        ("HEAD", "/index.html", Some(0))
    );
    assert!(!plain.is_upgrade());
    assert_eq!(
        Head::parse(b"GET / HTTP/2.0\r\nHost: x\r\n\r\n")
            .unwrap()
            .version_minor(),
        None
    );
}

#[test]
fn each_malformed_head_is_refused_with_400_at_its_byte() {
    for (input, reason, at) in [
        (
            &b"GET /\r\nHost: x\r\n\r\n"[..],
            "malformed request line",
            0,
        ),
        (
            b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
            "malformed request line",
            0,
        ),
        (
            b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
            "invalid header name",
            16,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
            "obsolete line folding is not allowed",
            25,
        ),
        (
            b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
            "header line without a colon",
            16,
        ),
        (
            b"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
            "control character in a header line (bare CR or LF?)",
            20,
        ),
    ] {
        let e = Head::parse(input).unwrap_err();
        assert_eq!(
            (e.status, e.reason, e.offset),
            (400, reason, Some(at)),
            "{input:?}"
        );
    }
}

#[test]
fn from_request_continues_where_the_parsed_request_left_off() {
    let request = Request::from_head(Head::parse(UPGRADE).unwrap()).unwrap();
    assert_eq!(request.protocols, ["chat", "superchat"]);
    let mut conn = Connection::from_request(Config::default(), request.clone());
    assert_eq!(conn.state(), State::Connecting);
    // Frames that arrive before the decision wait for it (the request was delivered
    // already: no second Request event).
    let hello = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let mut events = Vec::new();
    conn.receive(&hello, &mut events).unwrap();
    assert!(events.is_empty(), "{events:?}");
    conn.accept(&AcceptOptions {
        protocol: Some("chat"),
        ..AcceptOptions::default()
    })
    .unwrap();
    assert_eq!(conn.state(), State::Open);
    let response = conn.take_output();
    conn.receive(&[], &mut events).unwrap();
    assert_eq!(events, [OwnedEvent::Text("Hello".into())]);
    events.clear();
    // The same 101 as a connection that parsed the head itself.
    let mut parsed = Connection::server(Config::default());
    parsed.receive(UPGRADE, &mut events).unwrap();
    assert!(matches!(&events[..], [OwnedEvent::Request(r)] if **r == request));
    parsed
        .accept(&AcceptOptions {
            protocol: Some("chat"),
            ..AcceptOptions::default()
        })
        .unwrap();
    assert_eq!(response, parsed.take_output());
    // And a rejection from a parsed request.
    let mut refused = Connection::from_request(Config::default(), request);
    refused.reject(403, "origin not allowed").unwrap();
    assert!(refused
        .take_output()
        .starts_with(b"HTTP/1.1 403 Forbidden\r\n"));
    assert_eq!(refused.state(), State::Closed);
}

#[test]
fn the_buffer_room_stops_one_byte_past_the_cap() {
    let scanner = HeadScanner::new(100);
    assert_eq!(scanner.room(0), 101);
    assert_eq!(scanner.room(60), 41);
    assert_eq!(
        scanner.room(101),
        1,
        "always at least one, so the scan can fail"
    );
    let mut scanner = HeadScanner::new(16);
    let e = scanner.scan(b"GET / HTTP/1.1\r\nX: aa").unwrap_err();
    assert_eq!(e.status, 431);
}

/// Requests, good and bad, to compare the two paths on.
fn request() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(UPGRADE.to_vec()),
        Just(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n".to_vec()),
        Just(b"POST /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n".to_vec()),
        Just(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(|mut v| {
            v.extend_from_slice(b"\r\n\r\n");
            v
        }),
        (0usize..UPGRADE.len(), any::<u8>()).prop_map(|(i, b)| {
            let mut v = UPGRADE.to_vec();
            v[i] = b;
            v
        }),
    ]
}

proptest! {
    /// Scanner + Head::parse + Request::from_head, fed in any chunks, give exactly what
    /// RequestParser gives on the whole input.
    #[test]
    fn the_pieces_agree_with_the_parser_split_anywhere(input in request(), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..4)) {
        let mut whole = RequestParser::new();
        let expected = match whole.parse(&input) {
            Ok(Status::Complete(r, used)) => Some(Ok((r, used))),
            Ok(Status::Partial) => None,
            Err(e) => Some(Err(e)),
        };
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
        points.push(input.len());
        points.sort_unstable();
        let mut scanner = HeadScanner::new(wslens::handshake::DEFAULT_MAX_HEADER_BYTES);
        let mut got = None;
        for &p in &points {
            match scanner.scan(&input[..p]) {
                Ok(None) => {}
                Ok(Some(end)) => {
                    got = Some(Head::parse(&input[..end]).and_then(Request::from_head).map(|r| (r, end)));
                    break;
                }
                Err(e) => {
                    got = Some(Err(e));
                    break;
                }
            }
        }
        prop_assert_eq!(got, expected);
    }
}
