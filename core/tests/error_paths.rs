//! One test per error path, asserting the exact close code sent and the byte it is pinned to.

mod common;
use common::*;
use wslens::frame::{FrameHeader, OpCode};
use wslens::{CloseCode, Config, Connection, Error, OwnedEvent, ProtocolError, State};

/// Feeds `wire` to `conn` and checks that it fails with `kind` at `offset`, that the close
/// frame sent carries `code`, and that the connection is closed.
fn expect_failure(mut conn: Connection, wire: &[u8], kind: ProtocolError, offset: u64, code: u16) {
    let (_, err) = feed(&mut conn, wire);
    assert_eq!(
        err,
        Some(Error::Protocol { kind, offset }),
        "wire {wire:02x?}"
    );
    assert_eq!(kind.close_code().0, code);
    let out = conn.take_output();
    let sent = if conn.role() == wslens::Role::Server {
        close_code_sent(&out)
    } else {
        // Client frames are masked: unmask the close payload's code.
        let key = [out[2], out[3], out[4], out[5]];
        Some(u16::from_be_bytes([out[6] ^ key[0], out[7] ^ key[1]]))
    };
    assert_eq!(sent, Some(code), "close frame sent: {out:02x?}");
    assert_eq!(conn.state(), State::Closed);
    // Whatever arrives next is ignored and nothing more is sent.
    let (events, err) = feed(&mut conn, &client_frame(true, OpCode::Text, b"more"));
    assert!(events.is_empty() && err.is_none());
    assert!(conn.take_output().is_empty());
}

#[test]
fn rsv_bits_without_extension_1002() {
    for rsv in [FrameHeader::RSV1, FrameHeader::RSV2, FrameHeader::RSV3] {
        let wire = frame(true, rsv, OpCode::Text, Some(KEY), b"x");
        expect_failure(server(), &wire, ProtocolError::ReservedBitsSet, 0, 1002);
    }
}

#[test]
fn rsv1_allowed_when_an_extension_claims_it() {
    let cfg = Config {
        reserved_bits: FrameHeader::RSV1,
        ..Config::default()
    };
    let mut s = Connection::accepted(cfg);
    let (events, err) = feed(
        &mut s,
        &frame(true, FrameHeader::RSV1, OpCode::Binary, Some(KEY), b"z"),
    );
    assert_eq!(
        (events, err),
        (vec![OwnedEvent::Binary(b"z".to_vec())], None)
    );
}

#[test]
fn reserved_opcodes_1002() {
    for op in [0x3u8, 0x7, 0xB, 0xF] {
        let wire = [0x80 | op, 0x80, 1, 2, 3, 4];
        expect_failure(server(), &wire, ProtocolError::ReservedOpcode, 0, 1002);
    }
}

#[test]
fn error_is_pinned_to_the_offending_frame() {
    let mut wire = client_frame(true, OpCode::Text, b"fine");
    let second = wire.len() as u64;
    wire.extend_from_slice(&[0x83, 0x80, 0, 0, 0, 0]);
    expect_failure(server(), &wire, ProtocolError::ReservedOpcode, second, 1002);
}

#[test]
fn fragmented_control_frame_1002() {
    let wire = client_frame(false, OpCode::Ping, b"x");
    expect_failure(
        server(),
        &wire,
        ProtocolError::FragmentedControlFrame,
        0,
        1002,
    );
}

#[test]
fn control_frame_over_125_bytes_1002() {
    let wire = client_frame(true, OpCode::Ping, &[0u8; 126]);
    expect_failure(server(), &wire, ProtocolError::ControlFrameTooLong, 1, 1002);
}

#[test]
fn unmasked_frame_to_server_1002() {
    let wire = server_frame(true, OpCode::Text, b"hi");
    expect_failure(server(), &wire, ProtocolError::UnmaskedClientFrame, 1, 1002);
}

#[test]
fn masked_frame_to_client_1002() {
    let wire = client_frame(true, OpCode::Text, b"hi");
    expect_failure(client(), &wire, ProtocolError::MaskedServerFrame, 1, 1002);
}

#[test]
fn length_with_msb_set_1002() {
    let wire = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
    let cfg = Config {
        max_frame_size: u64::MAX,
        ..Config::default()
    };
    expect_failure(
        Connection::accepted(cfg),
        &wire,
        ProtocolError::LengthMsbSet,
        2,
        1002,
    );
}

#[test]
fn continuation_without_start_1002() {
    let wire = client_frame(true, OpCode::Continuation, b"x");
    expect_failure(
        server(),
        &wire,
        ProtocolError::UnexpectedContinuation,
        0,
        1002,
    );
}

#[test]
fn new_data_frame_mid_message_1002() {
    let mut wire = client_frame(false, OpCode::Text, b"a");
    let at = wire.len() as u64;
    wire.extend(client_frame(true, OpCode::Binary, b"b"));
    expect_failure(
        server(),
        &wire,
        ProtocolError::ExpectedContinuation,
        at,
        1002,
    );
}

#[test]
fn invalid_utf8_single_frame_1007_at_the_bad_byte() {
    let wire = client_frame(true, OpCode::Text, b"ok\xFFok");
    // Header: 2 bytes + 4 key bytes; the bad byte is payload byte 2.
    expect_failure(server(), &wire, ProtocolError::InvalidUtf8, 6 + 2, 1007);
}

#[test]
fn invalid_utf8_fails_fast_mid_fragment() {
    // Autobahn 6.4.x: the first fragment already holds an invalid sequence; the connection
    // must fail without waiting for the final fragment.
    let mut payload = "κόσμε".as_bytes().to_vec();
    let bad = payload.len();
    payload.extend_from_slice(&[0xF4, 0x90, 0x80, 0x80]);
    let wire = client_frame(false, OpCode::Text, &payload);
    // 0xF4 is a fine lead byte; 0x90 after it is the first byte that cannot be valid.
    expect_failure(
        server(),
        &wire,
        ProtocolError::InvalidUtf8,
        6 + bad as u64 + 1,
        1007,
    );
}

#[test]
fn invalid_utf8_fails_fast_within_a_partial_frame() {
    // Only part of a single (FIN) frame has arrived; the error comes before the rest.
    let wire = client_frame(true, OpCode::Text, b"abc\xC0\xAFdefghij");
    let mut s = server();
    let (_, err) = feed(&mut s, &wire[..6 + 5]);
    assert_eq!(
        err,
        Some(Error::Protocol {
            kind: ProtocolError::InvalidUtf8,
            offset: 6 + 3
        })
    );
}

#[test]
fn truncated_utf8_at_message_end_1007() {
    let wire = client_frame(true, OpCode::Text, &[b'a', 0xE2, 0x82]);
    let (_, err) = feed(&mut server(), &wire);
    assert!(matches!(
        err,
        Some(Error::Protocol {
            kind: ProtocolError::InvalidUtf8,
            ..
        })
    ));
}

#[test]
fn frame_over_max_frame_size_1009() {
    let cfg = Config {
        max_frame_size: 1000,
        ..Config::default()
    };
    let wire = client_frame(true, OpCode::Binary, &[0u8; 1001]);
    expect_failure(
        Connection::accepted(cfg),
        &wire,
        ProtocolError::FrameTooBig,
        2,
        1009,
    );
}

#[test]
fn frame_size_checked_before_payload_arrives() {
    // A header alone claiming 2^62 bytes fails at once; nothing is buffered for it.
    let wire = [0x82, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0];
    let (_, err) = feed(&mut server(), &wire);
    assert_eq!(
        err,
        Some(Error::Protocol {
            kind: ProtocolError::FrameTooBig,
            offset: 2
        })
    );
}

#[test]
fn message_over_max_message_size_1009() {
    let cfg = Config {
        max_message_size: 10,
        ..Config::default()
    };
    let mut wire = client_frame(false, OpCode::Binary, &[1u8; 6]);
    let at = wire.len() as u64 + 1;
    wire.extend(client_frame(true, OpCode::Continuation, &[2u8; 5]));
    expect_failure(
        Connection::accepted(cfg),
        &wire,
        ProtocolError::MessageTooBig,
        at,
        1009,
    );
}

#[test]
fn default_limits_let_16_mib_through() {
    let payload = vec![7u8; 16 << 20];
    let wire = client_frame(true, OpCode::Binary, &payload);
    let (events, err) = feed(&mut server(), &wire);
    assert_eq!(err, None);
    assert!(matches!(&events[..], [OwnedEvent::Binary(b)] if b.len() == 16 << 20));
}

#[test]
fn close_with_one_byte_payload_1002() {
    let wire = client_frame(true, OpCode::Close, &[0x03]);
    expect_failure(server(), &wire, ProtocolError::CloseFrameOneByte, 6, 1002);
}

#[test]
fn close_with_forbidden_codes_1002() {
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535,
    ] {
        let wire = client_frame(true, OpCode::Close, &code.to_be_bytes());
        expect_failure(server(), &wire, ProtocolError::InvalidCloseCode, 6, 1002);
    }
}

#[test]
fn close_with_invalid_utf8_reason_1007() {
    let wire = client_frame(true, OpCode::Close, &[0x03, 0xE8, b'a', 0xFF]);
    expect_failure(
        server(),
        &wire,
        ProtocolError::InvalidCloseReason,
        6 + 3,
        1007,
    );
}

#[test]
fn close_with_allowed_codes_is_echoed() {
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999,
    ] {
        let mut s = server();
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice("reason é".as_bytes());
        let (events, err) = feed(&mut s, &client_frame(true, OpCode::Close, &payload));
        assert_eq!(err, None, "{code}");
        assert_eq!(
            events,
            vec![OwnedEvent::Close {
                code: Some(CloseCode(code)),
                reason: "reason é".into()
            }]
        );
        assert_eq!(
            s.take_output(),
            [0x88, 0x02, (code >> 8) as u8, code as u8],
            "{code}"
        );
        assert_eq!(s.state(), State::Closed);
        assert_eq!(s.send_text("after"), Err(Error::SendAfterClose));
        assert!(s.should_close_transport());
    }
}

#[test]
fn empty_close_is_answered_with_empty_close() {
    let mut s = server();
    let (events, err) = feed(&mut s, &client_frame(true, OpCode::Close, &[]));
    assert_eq!(err, None);
    assert_eq!(
        events,
        vec![OwnedEvent::Close {
            code: None,
            reason: String::new()
        }]
    );
    assert_eq!(s.take_output(), [0x88, 0x00]);
}

#[test]
fn frames_after_close_are_ignored() {
    let mut wire = client_frame(true, OpCode::Close, &[0x03, 0xE8]);
    wire.extend(client_frame(true, OpCode::Text, b"ignored"));
    let mut s = server();
    let (events, err) = feed(&mut s, &wire);
    assert_eq!(err, None);
    assert_eq!(events.len(), 1);
}

#[test]
fn eof_without_close_is_1006() {
    let mut s = server();
    assert_eq!(s.receive_eof(), Some(CloseCode::ABNORMAL));
    let mut s = server();
    feed(&mut s, &client_frame(true, OpCode::Close, &[]));
    assert_eq!(s.receive_eof(), None);
}

#[test]
fn sending_refuses_bad_input() {
    let mut s = server();
    assert!(matches!(s.ping(&[0; 126]), Err(Error::InvalidInput(_))));
    assert!(matches!(
        s.close(CloseCode(1005), ""),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        s.send(OpCode::Ping, b""),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        s.send_frame(OpCode::Continuation, b"", true),
        Err(Error::InvalidInput(_))
    ));
    assert!(s.take_output().is_empty());
}

#[test]
fn non_minimal_length_is_accepted() {
    // 5 bytes announced with a 16-bit length (126) — legal to parse, flagged in the trace.
    let mut wire = vec![0x82, 0xFE, 0x00, 0x05];
    wire.extend_from_slice(&KEY);
    let mut p = *b"abcde";
    wslens::mask::apply_mask(&mut p, KEY, 0);
    wire.extend_from_slice(&p);
    let (events, err) = feed(&mut server(), &wire);
    assert_eq!(
        (events, err),
        (vec![OwnedEvent::Binary(b"abcde".to_vec())], None)
    );
}

/// Found by the `decoder_server` fuzz target: a message ending inside a character must be
/// pinned to the same byte however the bytes are chunked.
#[test]
fn truncated_utf8_error_offset_does_not_depend_on_chunking() {
    let mut wire = client_frame(false, OpCode::Text, &[]);
    wire.extend(client_frame(true, OpCode::Continuation, &[0xEF, 0xA9]));
    let (_, whole) = feed(&mut server(), &wire);
    let (_, bytewise) = feed_bytewise(&mut server(), &wire);
    let last = wire.len() as u64 - 1;
    assert_eq!(
        whole,
        Some(Error::Protocol {
            kind: ProtocolError::InvalidUtf8,
            offset: last
        })
    );
    assert_eq!(bytewise, whole);
}
