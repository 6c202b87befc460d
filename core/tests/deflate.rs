//! permessage-deflate (RFC 7692): the RFC's §7.2.3 examples byte for byte, context takeover
//! and its absence, fragmented compressed messages both ways, the handshake end to end, and
//! every error path with its exact close code.
#![cfg(feature = "deflate")]

use wslens::deflate::{DeflateConfig, DeflateParams};
use wslens::handshake::{AcceptOptions, ClientRequest};
use wslens::{
    CloseCode, Config, Connection, Error, Event, OpCode, OwnedEvent, ProtocolError, State,
};

fn config(params: DeflateParams) -> Config {
    Config {
        deflate: Some(params),
        ..Config::default()
    }
}

/// A server (receives masked frames, sends unmasked ones) with permessage-deflate on.
fn server(params: DeflateParams) -> Connection {
    Connection::accepted(config(params))
}

/// A client whose masking key is always zero, so its frames can be read by eye (the mask bit
/// and key are still there).
fn client(params: DeflateParams) -> Connection {
    Connection::connected(config(params), || [0; 4])
}

fn events(conn: &mut Connection, bytes: &[u8]) -> Result<Vec<OwnedEvent>, Error> {
    let mut out = Vec::new();
    conn.receive(bytes, &mut out).map(|()| out)
}

fn text(s: &str) -> OwnedEvent {
    OwnedEvent::Text(s.into())
}

/// RFC 7692 §7.2.3.1: "Hello" in one compressed DEFLATE block.
const HELLO: [u8; 9] = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

#[test]
fn rfc7692_7_2_3_1_one_block_sent_and_received() {
    let mut s = server(DeflateParams::default());
    s.send_text("Hello").unwrap();
    assert_eq!(s.take_output(), HELLO);
    let mut c = client(DeflateParams::default());
    assert_eq!(events(&mut c, &HELLO).unwrap(), [text("Hello")]);
}

#[test]
fn rfc7692_7_2_3_1_fragmented_compressed_message() {
    // The same compressed bytes split over two frames; RSV1 on the first only.
    let frames = [
        0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00,
    ];
    let mut c = client(DeflateParams::default());
    assert_eq!(events(&mut c, &frames).unwrap(), [text("Hello")]);
    // Our sender fragments the compressed bytes the same way.
    let mut s = Connection::accepted(Config {
        fragment_size: Some(3),
        ..config(DeflateParams::default())
    });
    s.send_text("Hello").unwrap();
    assert_eq!(
        s.take_output(),
        [0x41, 0x03, 0xf2, 0x48, 0xcd, 0x00, 0x03, 0xc9, 0xc9, 0x07, 0x80, 0x01, 0x00]
    );
}

/// RFC 7692 §7.2.3.2: the second "Hello" refers back into the shared LZ77 window.
#[test]
fn rfc7692_7_2_3_2_sharing_the_window() {
    let second = [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00];
    let mut s = server(DeflateParams::default());
    s.send_text("Hello").unwrap();
    s.send_text("Hello").unwrap();
    let wire = s.take_output();
    assert_eq!(&wire[..9], HELLO);
    assert_eq!(&wire[9..], second);
    let mut c = client(DeflateParams::default());
    assert_eq!(
        events(&mut c, &wire).unwrap(),
        [text("Hello"), text("Hello")]
    );
    // Fed one byte at a time, the window is kept just the same.
    let mut c = client(DeflateParams::default());
    let mut got = Vec::new();
    for b in &wire {
        got.extend(events(&mut c, &[*b]).unwrap());
    }
    assert_eq!(got, [text("Hello"), text("Hello")]);
}

/// Without context takeover, the sender resets after every message: the second "Hello" is
/// compressed exactly like the first, and the receiver resets its window too.
#[test]
fn no_context_takeover_resets_both_sides() {
    let params = DeflateParams {
        server_no_context_takeover: true,
        ..DeflateParams::default()
    };
    let mut s = server(params);
    s.send_text("Hello").unwrap();
    s.send_text("Hello").unwrap();
    let wire = s.take_output();
    assert_eq!(wire, [HELLO, HELLO].concat());
    // A receiver that expects no context takeover cannot resolve a back-reference into
    // the previous message: the shared-window example is then corrupt (1007).
    let mut c = client(params);
    let shared = [&HELLO[..], &[0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]].concat();
    let mut got = Vec::new();
    let err = c.receive(&shared, &mut got).unwrap_err();
    assert_eq!(got, [text("Hello")]);
    assert_eq!(
        err,
        Error::Protocol {
            kind: ProtocolError::InvalidCompressedData,
            offset: 9
        }
    );
    let close = c.take_output();
    assert_eq!(close[0], 0x88);
    assert_eq!(close[6..8], [0x03, 0xef], "1007, masked with the zero key");
}

/// RFC 7692 §7.2.3.3: a DEFLATE block with no compression.
#[test]
fn rfc7692_7_2_3_3_stored_block() {
    let frame = [
        0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    ];
    let mut c = client(DeflateParams::default());
    assert_eq!(events(&mut c, &frame).unwrap(), [text("Hello")]);
}

/// RFC 7692 §7.2.3.4: a block with BFINAL set; the stream ends inside the message and the
/// next message starts a new one.
#[test]
fn rfc7692_7_2_3_4_bfinal_block() {
    let frame = [0xc1, 0x07, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let mut c = client(DeflateParams::default());
    let wire = [frame, frame, HELLO].concat();
    assert_eq!(
        events(&mut c, &wire).unwrap(),
        [text("Hello"), text("Hello"), text("Hello")]
    );
}

/// RFC 7692 §7.2.3.5: two DEFLATE blocks in one message.
#[test]
fn rfc7692_7_2_3_5_two_blocks() {
    let frame = [
        0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
    ];
    let mut c = client(DeflateParams::default());
    assert_eq!(events(&mut c, &frame).unwrap(), [text("Hello")]);
}

/// RFC 7692 §7.2.3.6: an empty fragment ends a message whose data was already flushed; an
/// empty message is one 0x00 octet.
#[test]
fn rfc7692_7_2_3_6_empty_fragment_and_empty_message() {
    let mut s = server(DeflateParams::default());
    s.send_frame(OpCode::Text, b"Hello", false).unwrap();
    s.send_frame(OpCode::Continuation, b"", true).unwrap();
    s.send_text("").unwrap();
    let wire = s.take_output();
    assert_eq!(
        wire,
        [
            0x41, 0x0b, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00, 0x00, 0xff,
            0xff, // "Hello", flushed
            0x80, 0x01, 0x00, // the empty final fragment
            0xc1, 0x01, 0x00, // the empty message
        ]
    );
    let mut c = client(DeflateParams::default());
    assert_eq!(events(&mut c, &wire).unwrap(), [text("Hello"), text("")]);
}

#[test]
fn control_frames_are_never_compressed_and_uncompressed_messages_pass() {
    let mut s = server(DeflateParams::default());
    s.ping(b"hi").unwrap();
    s.close(CloseCode::NORMAL, "bye").unwrap();
    assert_eq!(
        s.take_output(),
        [0x89, 0x02, b'h', b'i', 0x88, 0x05, 0x03, 0xe8, b'b', b'y', b'e']
    );
    // RSV1 is per message: an uncompressed message may follow a compressed one.
    let mut c = client(DeflateParams::default());
    let wire = [&HELLO[..], &[0x81, 0x02, b'h', b'i'], &HELLO[..]].concat();
    assert_eq!(
        events(&mut c, &wire).unwrap(),
        [text("Hello"), text("hi"), text("Hello")]
    );
}

#[test]
fn a_fragmented_message_may_go_uncompressed_and_stays_so_to_its_end() {
    let mut s = server(DeflateParams::default());
    s.send_frame_uncompressed(OpCode::Text, b"Hel", false)
        .unwrap();
    s.ping(b"p").unwrap();
    // A plain message continues plain: a compressed continuation does not fit it.
    assert!(matches!(
        s.send_frame(OpCode::Continuation, b"lo", true),
        Err(Error::InvalidInput(_))
    ));
    s.send_frame_uncompressed(OpCode::Continuation, b"lo", true)
        .unwrap();
    let wire = s.take_output();
    assert_eq!(
        wire,
        [0x01, 0x03, b'H', b'e', b'l', 0x89, 0x01, b'p', 0x80, 0x02, b'l', b'o']
    );
    let mut c = client(DeflateParams::default());
    assert_eq!(
        events(&mut c, &wire).unwrap(),
        [OwnedEvent::Ping(b"p".to_vec()), text("Hello")]
    );
    // And a compressed one continues compressed.
    s.send_frame(OpCode::Text, b"Hel", false).unwrap();
    assert!(matches!(
        s.send_frame_uncompressed(OpCode::Continuation, b"lo", true),
        Err(Error::InvalidInput(_))
    ));
    s.send_frame(OpCode::Continuation, b"lo", true).unwrap();
    assert_eq!(events(&mut c, &s.take_output()).unwrap(), [text("Hello")]);
}

#[test]
fn compressed_binary_and_fragment_delivery() {
    let data: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let mut cl = client(DeflateParams::default());
    cl.send_binary(&data).unwrap();
    let wire = cl.take_output();
    assert!(wire.len() < data.len() / 10, "compressed: {}", wire.len());
    assert_eq!(wire[0], 0xc2);
    let mut s = Connection::accepted(Config {
        deliver_fragments: true,
        ..config(DeflateParams::default())
    });
    let mut got = Vec::new();
    for piece in wire.chunks(100) {
        for e in events(&mut s, piece).unwrap() {
            match e {
                OwnedEvent::Fragment { data, text, fin } => {
                    assert!(!text);
                    got.extend_from_slice(&data);
                    assert_eq!(fin, got.len() == 50_000);
                }
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(got, data);
}

// ---- The handshake, end to end ------------------------------------------------------------

fn handshake(
    server_cfg: Option<&DeflateConfig>,
    client_cfg: Option<&DeflateConfig>,
) -> (Connection, Connection) {
    let request = ClientRequest {
        host: "localhost",
        path: "/echo",
        nonce: *b"0123456789abcdef",
        protocols: &[],
        extensions: None,
        origin: None,
        extra_headers: &[],
        deflate: client_cfg,
    };
    let mut c = Connection::client(Config::default(), &request, || [1, 2, 3, 4]);
    let mut s = Connection::server(Config::default());
    let req = c.take_output();
    let mut evs = Vec::new();
    s.receive(&req, &mut evs).unwrap();
    assert!(matches!(evs[..], [OwnedEvent::Request(_)]));
    s.accept(&AcceptOptions {
        deflate: server_cfg,
        ..AcceptOptions::default()
    })
    .unwrap();
    let resp = s.take_output();
    let mut evs = Vec::new();
    c.receive(&resp, &mut evs).unwrap();
    match &evs[..] {
        [OwnedEvent::Connected(r)] => assert_eq!(r.deflate.as_ref(), c.deflate_params()),
        other => panic!("{other:?}"),
    }
    (s, c)
}

#[test]
fn handshake_negotiates_and_messages_flow_both_ways() {
    let cfg = DeflateConfig::default();
    let (mut s, mut c) = handshake(Some(&cfg), Some(&cfg));
    assert_eq!(s.deflate_params(), Some(&DeflateParams::default()));
    assert_eq!(c.deflate_params(), Some(&DeflateParams::default()));
    let big = "wslens ".repeat(10_000);
    for _ in 0..3 {
        c.send_text(&big).unwrap();
        let wire = c.take_output();
        assert_eq!(wire[0] & 0x40, 0x40, "RSV1");
        assert!(wire.len() < 1000);
        let evs = events(&mut s, &wire).unwrap();
        assert_eq!(evs, [OwnedEvent::Text(big.clone())]);
        s.send_text(&big).unwrap();
        let evs = events(&mut c, &s.take_output()).unwrap();
        assert_eq!(evs, [OwnedEvent::Text(big.clone())]);
    }
}

#[test]
fn handshake_low_memory_preset_and_declines() {
    let low = DeflateConfig::low_memory();
    let (s, c) = handshake(Some(&low), Some(&low));
    let expected = DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: 9,
        client_max_window_bits: 9,
        level: 1,
        mem_level: 1,
    };
    assert_eq!(s.deflate_params(), Some(&expected));
    assert_eq!(c.deflate_params(), Some(&expected));
    // The server without deflate ignores the offer; the client without deflate offers none.
    let (s, c) = handshake(None, Some(&low));
    assert_eq!((s.deflate_params(), c.deflate_params()), (None, None));
    let (s, c) = handshake(Some(&low), None);
    assert_eq!((s.deflate_params(), c.deflate_params()), (None, None));
}

#[test]
fn client_fails_on_a_response_it_did_not_ask_for() {
    let request = ClientRequest {
        host: "localhost",
        path: "/",
        nonce: *b"0123456789abcdef",
        protocols: &[],
        extensions: None,
        origin: None,
        extra_headers: &[],
        deflate: Some(&DeflateConfig::low_memory()),
    };
    let mut c = Connection::client(Config::default(), &request, || [0; 4]);
    let sent = String::from_utf8(c.take_output()).unwrap();
    assert!(sent.contains("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9\r\n"), "{sent}");
    let resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; server_max_window_bits=12\r\n\r\n",
        wslens::handshake::accept_key(b"MDEyMzQ1Njc4OWFiY2RlZg==")
    );
    let err = events(&mut c, resp.as_bytes()).unwrap_err();
    match err {
        Error::Handshake(e) => {
            assert_eq!(e.reason, "server_max_window_bits is larger than offered")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.state(), State::Closed);
}

// ---- Error paths: the exact close code, and nothing after it ------------------------------

/// Feeds `wire` to a server with deflate on and returns the error and the close code sent.
fn server_error(params: Option<DeflateParams>, max_message: usize, wire: &[u8]) -> (Error, u16) {
    let mut s = Connection::accepted(Config {
        deflate: params,
        max_message_size: max_message,
        ..Config::default()
    });
    let mut evs = Vec::new();
    let err = s.receive(wire, &mut evs).unwrap_err();
    let out = s.take_output();
    assert_eq!(out[0], 0x88, "a close frame, and only that: {out:02x?}");
    assert_eq!(out.len(), 2 + out[1] as usize);
    assert_eq!(s.state(), State::Closed);
    // Nothing more is read or sent.
    s.receive(wire, &mut evs).unwrap();
    assert!(s.take_output().is_empty());
    (err, u16::from_be_bytes([out[2], out[3]]))
}

/// Masks `payload` with the zero key into a client frame with the given first byte.
fn masked(b0: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut f = vec![b0, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    f.extend_from_slice(payload);
    f
}

fn protocol(kind: ProtocolError, offset: u64) -> Error {
    Error::Protocol { kind, offset }
}

#[test]
fn rsv1_without_negotiation_is_1002() {
    let wire = masked(0xc1, &HELLO[2..]);
    assert_eq!(
        server_error(None, 1 << 20, &wire),
        (protocol(ProtocolError::ReservedBitsSet, 0), 1002)
    );
}

#[test]
fn rsv1_on_a_continuation_frame_is_1002() {
    let wire = [
        masked(0x41, &[0xf2, 0x48, 0xcd]),
        masked(0xc0, &[0xc9, 0xc9, 0x07, 0x00]),
    ]
    .concat();
    let (err, code) = server_error(Some(DeflateParams::default()), 1 << 20, &wire);
    assert_eq!(
        (err, code),
        (protocol(ProtocolError::MisplacedCompressionBit, 9), 1002)
    );
    assert_eq!(
        ProtocolError::MisplacedCompressionBit.rfc_section(),
        "RFC 7692 §6.1"
    );
}

#[test]
fn rsv1_on_control_frames_is_1002() {
    for b0 in [0xc9, 0xca, 0xc8] {
        let wire = masked(b0, b"");
        assert_eq!(
            server_error(Some(DeflateParams::default()), 1 << 20, &wire),
            (protocol(ProtocolError::MisplacedCompressionBit, 0), 1002),
            "{b0:02x}"
        );
    }
}

#[test]
fn rsv2_and_rsv3_stay_errors_with_deflate() {
    for b0 in [0xa1, 0x91, 0xe1] {
        let wire = masked(b0, &HELLO[2..]);
        assert_eq!(
            server_error(Some(DeflateParams::default()), 1 << 20, &wire),
            (protocol(ProtocolError::ReservedBitsSet, 0), 1002),
            "{b0:02x}"
        );
    }
}

#[test]
fn corrupt_compressed_data_is_1007() {
    // BTYPE = 11 (reserved) is invalid DEFLATE.
    let wire = masked(0xc2, &[0xff, 0xff, 0xff]);
    let (err, code) = server_error(Some(DeflateParams::default()), 1 << 20, &wire);
    assert_eq!(
        (err, code),
        (protocol(ProtocolError::InvalidCompressedData, 0), 1007)
    );
    assert_eq!(
        ProtocolError::InvalidCompressedData.rfc_section(),
        "RFC 7692 §7.2.2"
    );
    assert!(ProtocolError::InvalidCompressedData
        .to_string()
        .contains("(RFC 7692 §7.2.2, close 1007)"));
    // A stored block whose NLEN does not match its LEN, after a valid first frame.
    let wire = [
        masked(0x01, b"ok"),
        masked(0x80, b""),
        masked(0xc1, &[0x00, 0x05, 0x00, 0x00, 0x00]),
    ]
    .concat();
    let (err, code) = server_error(Some(DeflateParams::default()), 1 << 20, &wire);
    assert_eq!(
        (err, code),
        (protocol(ProtocolError::InvalidCompressedData, 14), 1007)
    );
}

#[test]
fn invalid_utf8_after_inflating_is_1007() {
    // A stored block holding 0xff, in a text message.
    let wire = masked(0xc1, &[0x00, 0x01, 0x00, 0xfe, 0xff, 0xff]);
    assert_eq!(
        server_error(Some(DeflateParams::default()), 1 << 20, &wire),
        (protocol(ProtocolError::InvalidUtf8, 0), 1007)
    );
    // The same bytes as binary are fine.
    let mut s = server(DeflateParams::default());
    let wire = masked(0xc2, &[0x00, 0x01, 0x00, 0xfe, 0xff, 0xff]);
    assert_eq!(
        events(&mut s, &wire).unwrap(),
        [OwnedEvent::Binary(vec![0xff])]
    );
}

#[test]
fn inflated_size_over_the_limit_is_1009() {
    // 2,000 zeros compress to a few bytes; the limit is 1,000 inflated bytes.
    let mut c = client(DeflateParams::default());
    c.send_binary(&[0u8; 2000]).unwrap();
    let wire = c.take_output();
    assert!(wire.len() < 40);
    assert_eq!(
        server_error(Some(DeflateParams::default()), 1000, &wire),
        (protocol(ProtocolError::MessageTooBig, 0), 1009)
    );
    // Exactly at the limit passes.
    let mut c = client(DeflateParams::default());
    c.send_binary(&[0u8; 1000]).unwrap();
    let mut s = Connection::accepted(Config {
        max_message_size: 1000,
        ..config(DeflateParams::default())
    });
    assert_eq!(
        events(&mut s, &c.take_output()).unwrap(),
        [OwnedEvent::Binary(vec![0; 1000])]
    );
}

#[test]
fn the_zero_copy_read_path_sees_inflated_messages() {
    let mut s = server(DeflateParams::default());
    let mut wire = masked(0xc1, &HELLO[2..]);
    let len = wire.len();
    let (used, event) = s.read(&mut wire).unwrap();
    assert_eq!(used, len);
    assert_eq!(event, Some(Event::Text("Hello")));
}

#[test]
fn shrink_buffers_frees_state_without_context_takeover_and_keeps_working() {
    let params = DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        ..DeflateParams::default()
    };
    let mut s = server(params);
    let mut c = client(params);
    for _ in 0..3 {
        c.send_text("Hello Hello Hello").unwrap();
        assert_eq!(
            events(&mut s, &c.take_output()).unwrap(),
            [text("Hello Hello Hello")]
        );
        s.send_text("Hello").unwrap();
        assert_eq!(s.take_output(), HELLO);
        s.shrink_buffers();
        c.shrink_buffers();
    }
}

#[test]
fn compressed_bytes_are_bounded_too() {
    // Limit 1,000 inflated bytes: the compressed bytes of one message may be at most
    // 1,000 + 1,000/8 + 1,024 = 2,149 (room for DEFLATE's worst case). A frame header claiming
    // 2,150 is refused with 1009 at its length byte, before any payload arrives.
    let header = [0xc2, 0x80 | 126, 0x08, 0x66, 0, 0, 0, 0];
    assert_eq!(
        server_error(Some(DeflateParams::default()), 1000, &header),
        (protocol(ProtocolError::MessageTooBig, 1), 1009)
    );
    // Just under it, 429 empty stored blocks and a final 0x00 (2,146 bytes inflating to
    // nothing) are one empty message.
    let mut payload = [0x00, 0x00, 0x00, 0xff, 0xff].repeat(429);
    payload.push(0x00);
    let n = payload.len();
    let mut wire = vec![0xc2, 0x80 | 126, (n >> 8) as u8, n as u8, 0, 0, 0, 0];
    wire.extend_from_slice(&payload);
    let mut s = Connection::accepted(Config {
        max_message_size: 1000,
        ..config(DeflateParams::default())
    });
    assert_eq!(events(&mut s, &wire).unwrap(), [OwnedEvent::Binary(vec![])]);
}

/// Found by the `decoder_deflate` fuzzer: a text message whose inflated bytes turn invalid
/// (UTF-8) before its DEFLATE data turns invalid. Fed whole, one inflate call met both; fed in
/// pieces, the UTF-8 error came first. The bytes inflated before a failure are now checked
/// first, so both feedings report the same error at the same offset.
#[test]
fn regression_utf8_error_before_corrupt_data_in_any_chunking() {
    let wire = [
        0x41, 0x85, 0x01, 0x02, 0x03, 0x04, 0xcb, 0x4a, 0xce, 0xcd, 0xc8, 0x89, 0x80, 0x01, 0x02,
        0x03, 0x04, 0x80, 0x86, 0x01, 0x02, 0x98, 0x98, 0x98, 0x98, 0x03, 0x23, 0x00, 0x2a, 0x02,
    ];
    let feed = |chunk: usize| {
        let mut s = server(DeflateParams::default());
        let mut evs = Vec::new();
        let mut err = None;
        for piece in wire.chunks(chunk) {
            if let Err(e) = s.receive(piece, &mut evs) {
                err = Some(e);
                break;
            }
        }
        (evs, err, s.take_output())
    };
    let whole = feed(wire.len());
    assert_eq!(whole.1, Some(protocol(ProtocolError::InvalidUtf8, 17)));
    for chunk in 1..wire.len() {
        assert_eq!(feed(chunk), whole, "chunk {chunk}");
    }
}

/// A connection whose deflate settings came from the handshake is never idle (a spare made
/// from the `Config` would not have them); one configured with `Config::deflate` is idle when
/// it holds no LZ77 context, and recycling it keeps RSV1 working.
#[test]
fn idle_and_recycle_with_deflate() {
    let cfg = DeflateConfig::low_memory();
    let (s, _) = handshake(Some(&cfg), Some(&cfg));
    assert!(!s.is_idle(), "negotiated: not what the Config gives");
    // Configured, with context takeover: idle until the first compressed message arrives.
    let mut s = server(DeflateParams::default());
    assert!(s.is_idle());
    let wire = masked(0xc1, &HELLO[2..]);
    assert_eq!(events(&mut s, &wire).unwrap(), [text("Hello")]);
    s.shrink_buffers();
    assert!(!s.is_idle(), "the client's window is kept");
    assert!(!s.recycle());
    // Without context takeover: idle between messages, and recycled it still reads
    // compressed messages.
    let params = DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        ..DeflateParams::default()
    };
    let mut s = server(params);
    assert_eq!(events(&mut s, &wire).unwrap(), [text("Hello")]);
    s.send_text("Hello").unwrap();
    assert_eq!(s.take_output(), HELLO);
    assert!(s.is_idle(), "reset after each message: no context");
    s.shrink_buffers();
    assert!(s.is_idle());
    assert!(s.recycle());
    assert_eq!(events(&mut s, &wire).unwrap(), [text("Hello")]);
    s.send_text("Hello").unwrap();
    assert_eq!(s.take_output(), HELLO);
}

/// RFC 7692 §6: compression is per message. `send_uncompressed` clears RSV1 on a deflate
/// connection (RFC 6455 §5.7's "Hello" exactly), the receiver reads it as plain text, and the
/// compressed messages around it keep their shared window (§7.2.3.2).
#[test]
fn rfc7692_6_uncompressed_message_between_compressed_ones() {
    let mut s = server(DeflateParams::default());
    s.send_text("Hello").unwrap();
    s.send_uncompressed(OpCode::Text, b"Hello").unwrap();
    s.send_text("Hello").unwrap();
    let wire = s.take_output();
    assert_eq!(&wire[..9], HELLO);
    assert_eq!(&wire[9..16], [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert_eq!(&wire[16..], [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]);
    let mut c = client(DeflateParams::default());
    assert_eq!(
        events(&mut c, &wire).unwrap(),
        [text("Hello"), text("Hello"), text("Hello")]
    );
}

#[test]
fn send_uncompressed_refuses_what_send_refuses() {
    let mut s = server(DeflateParams::default());
    assert!(matches!(
        s.send_uncompressed(OpCode::Ping, b"x"),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        s.send_uncompressed(OpCode::Text, &[0xff]),
        Err(Error::InvalidInput(_))
    ));
    s.send_frame(OpCode::Text, b"a", false).unwrap();
    assert!(matches!(
        s.send_uncompressed(OpCode::Text, b"b"),
        Err(Error::InvalidState(_))
    ));
    s.send_frame(OpCode::Continuation, b"c", true).unwrap();
    s.close(CloseCode::NORMAL, "").unwrap();
    assert!(matches!(
        s.send_uncompressed(OpCode::Binary, b"d"),
        Err(Error::SendAfterClose)
    ));
    assert_eq!(s.state(), State::Closing);
}
