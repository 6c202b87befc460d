//! `Sender::send_direct`: a message's frame handed to the transport without copying the
//! payload. Whatever the transport takes, the bytes on the wire (taken, then queued) are the
//! bytes `send` would have queued; and where a direct write is not allowed (client role,
//! output already pending, permessage-deflate, after close) it is `send` and the transport
//! is not called.

mod common;
use common::*;
use proptest::prelude::*;
use wslens::{Connection, Error, OpCode};

/// What `send` would have put on the wire for this message.
fn sent_by_send(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut conn = server();
    conn.sender().send(opcode, payload).unwrap();
    conn.take_output()
}

/// `send_direct` with a transport that takes `take` bytes: (what it took, then the output).
fn direct(conn: &mut Connection, opcode: OpCode, payload: &[u8], take: usize) -> Vec<u8> {
    let mut wire = Vec::new();
    conn.sender()
        .send_direct(opcode, payload, |head, body| {
            let all = [head, body].concat();
            let n = take.min(all.len());
            wire.extend_from_slice(&all[..n]);
            n
        })
        .unwrap();
    wire.extend_from_slice(&conn.take_output());
    wire
}

#[test]
fn the_transport_gets_header_and_payload_as_separate_slices() {
    let payload = vec![7u8; 300];
    let mut conn = server();
    let mut seen = None;
    conn.sender()
        .send_direct(OpCode::Binary, &payload, |head, body| {
            seen = Some((head.to_vec(), body.as_ptr()));
            head.len() + body.len()
        })
        .unwrap();
    let (head, body) = seen.expect("the transport was called");
    // RFC 6455 §5.2: FIN + binary, 126 = 16-bit length, 300 = 0x012c, no mask.
    assert_eq!(head, [0x82, 0x7e, 0x01, 0x2c]);
    assert_eq!(body, payload.as_ptr(), "the payload itself, not a copy");
    assert!(!conn.has_output(), "nothing left to queue");
}

#[test]
fn whatever_the_transport_takes_the_wire_is_what_send_produces() {
    for len in [0usize, 1, 125, 126, 65_535, 65_536, 70_000] {
        let payload: Vec<u8> = (0..len).map(|i| (i * 31) as u8).collect();
        let expected = sent_by_send(OpCode::Binary, &payload);
        for take in [
            0,
            1,
            2,
            3,
            expected.len() / 2,
            expected.len() - 1,
            expected.len(),
            usize::MAX,
        ] {
            let mut conn = server();
            assert_eq!(
                direct(&mut conn, OpCode::Binary, &payload, take),
                expected,
                "len {len} take {take}"
            );
        }
    }
}

#[test]
fn queued_output_keeps_its_place() {
    let mut conn = server();
    conn.ping(b"first").unwrap();
    let mut called = false;
    conn.sender()
        .send_direct(OpCode::Text, b"second", |_, _| {
            called = true;
            0
        })
        .unwrap();
    assert!(
        !called,
        "output was pending: the message must queue behind it"
    );
    let mut expected = server_frame(true, OpCode::Ping, b"first");
    expected.extend(server_frame(true, OpCode::Text, b"second"));
    assert_eq!(conn.take_output(), expected);
}

#[test]
fn a_client_masks_so_it_queues_instead() {
    let mut conn = client();
    let mut called = false;
    conn.sender()
        .send_direct(OpCode::Binary, b"abc", |_, _| {
            called = true;
            0
        })
        .unwrap();
    assert!(!called);
    let out = conn.take_output();
    assert_eq!(out[1] & 0x80, 0x80, "masked (RFC 6455 §5.3)");
    assert_eq!(out.len(), 2 + 4 + 3);
}

#[cfg(feature = "deflate")]
#[test]
fn a_compressing_connection_queues_the_compressed_frame_instead() {
    let mut conn = Connection::accepted(wslens::Config {
        deflate: Some(wslens::deflate::DeflateParams::default()),
        ..wslens::Config::default()
    });
    let mut called = false;
    conn.sender()
        .send_direct(OpCode::Text, b"Hello", |_, _| {
            called = true;
            0
        })
        .unwrap();
    assert!(!called);
    // RFC 7692 §7.2.3.1: "Hello" compressed, RSV1 set.
    assert_eq!(
        conn.take_output(),
        [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
    );
}

#[test]
fn refusals_match_send() {
    let mut conn = server();
    let never = |_: &[u8], _: &[u8]| -> usize { panic!("must not be called") };
    assert!(matches!(
        conn.sender().send_direct(OpCode::Ping, b"x", never),
        Err(Error::InvalidInput(_))
    ));
    conn.send_frame(OpCode::Binary, b"part", false).unwrap();
    conn.take_output();
    assert!(matches!(
        conn.sender().send_direct(OpCode::Binary, b"x", never),
        Err(Error::InvalidState(_))
    ));
    let mut conn = server();
    conn.close(wslens::CloseCode::NORMAL, "").unwrap();
    conn.take_output();
    assert!(matches!(
        conn.sender().send_direct(OpCode::Binary, b"x", never),
        Err(Error::SendAfterClose)
    ));
    assert!(!conn.has_output());
}

proptest! {
    #[test]
    fn any_partial_write_then_the_queue_is_the_frame(
        payload in proptest::collection::vec(any::<u8>(), 0..3000),
        take in 0usize..3100,
        text in any::<bool>(),
    ) {
        let opcode = if text { OpCode::Text } else { OpCode::Binary };
        // Text payloads are the caller's to validate; the frame is the same either way.
        let expected = sent_by_send(opcode, &payload);
        let mut conn = server();
        prop_assert_eq!(direct(&mut conn, opcode, &payload, take), expected);
        prop_assert!(conn.is_idle());
    }
}
