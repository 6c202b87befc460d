//! RFC 6455 §5.7 examples, byte for byte, in both roles and in every chunking.

mod common;
use common::*;
use wslens::frame::OpCode;
use wslens::{OwnedEvent, State};

const UNMASKED_HELLO: [u8; 7] = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
const MASKED_HELLO: [u8; 11] = [
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];
const FRAGMENTED_HEL_LO: [u8; 9] = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
const UNMASKED_PING: [u8; 7] = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
const MASKED_PONG: [u8; 11] = [
    0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];

fn text(s: &str) -> OwnedEvent {
    OwnedEvent::Text(s.into())
}

#[test]
fn single_frame_unmasked_text_to_client() {
    let (events, err) = feed(&mut client(), &UNMASKED_HELLO);
    assert_eq!((events, err), (vec![text("Hello")], None));
}

#[test]
fn single_frame_masked_text_to_server() {
    let (events, err) = feed(&mut server(), &MASKED_HELLO);
    assert_eq!((events, err), (vec![text("Hello")], None));
}

#[test]
fn masked_hello_is_what_a_client_sends() {
    let mut c = client();
    c.send_text("Hello").unwrap();
    assert_eq!(c.take_output(), MASKED_HELLO);
}

#[test]
fn unmasked_hello_is_what_a_server_sends() {
    let mut s = server();
    s.send_text("Hello").unwrap();
    assert_eq!(s.take_output(), UNMASKED_HELLO);
}

#[test]
fn fragmented_text_reassembles() {
    let (events, err) = feed(&mut client(), &FRAGMENTED_HEL_LO);
    assert_eq!((events, err), (vec![text("Hello")], None));
}

#[test]
fn ping_is_answered_with_the_rfc_masked_pong() {
    let mut c = client();
    let (events, err) = feed(&mut c, &UNMASKED_PING);
    assert_eq!(
        (events, err),
        (vec![OwnedEvent::Ping(b"Hello".to_vec())], None)
    );
    // The client's automatic pong, masked with the key source's key, is the RFC's masked pong.
    assert_eq!(c.take_output(), MASKED_PONG);
}

#[test]
fn masked_pong_to_server() {
    let mut s = server();
    let (events, err) = feed(&mut s, &MASKED_PONG);
    assert_eq!(
        (events, err),
        (vec![OwnedEvent::Pong(b"Hello".to_vec())], None)
    );
    assert!(
        s.take_output().is_empty(),
        "unsolicited pong needs no answer"
    );
}

#[test]
fn binary_256_bytes_16_bit_length() {
    let payload: Vec<u8> = (0..256).map(|i| i as u8).collect();
    let mut wire = vec![0x82, 0x7E, 0x01, 0x00];
    wire.extend_from_slice(&payload);
    let (events, err) = feed(&mut client(), &wire);
    assert_eq!((events, err), (vec![OwnedEvent::Binary(payload)], None));
}

#[test]
fn binary_64k_64_bit_length() {
    let payload: Vec<u8> = (0..65536).map(|i| (i * 31) as u8).collect();
    let mut wire = vec![0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00];
    wire.extend_from_slice(&payload);
    let (events, err) = feed(&mut client(), &wire);
    assert_eq!((events, err), (vec![OwnedEvent::Binary(payload)], None));
}

#[test]
fn every_example_byte_at_a_time() {
    for (wire, is_server, expected) in [
        (&UNMASKED_HELLO[..], false, text("Hello")),
        (&MASKED_HELLO[..], true, text("Hello")),
        (&FRAGMENTED_HEL_LO[..], false, text("Hello")),
        (
            &UNMASKED_PING[..],
            false,
            OwnedEvent::Ping(b"Hello".to_vec()),
        ),
        (&MASKED_PONG[..], true, OwnedEvent::Pong(b"Hello".to_vec())),
    ] {
        let mut conn = if is_server { server() } else { client() };
        let (events, err) = feed_bytewise(&mut conn, wire);
        assert_eq!((events, err), (vec![expected], None), "{wire:02x?}");
    }
}

#[test]
fn all_examples_in_one_buffer_with_ping_between_fragments() {
    let mut wire = Vec::new();
    wire.extend_from_slice(&FRAGMENTED_HEL_LO[..5]); // "Hel", FIN = 0
    wire.extend_from_slice(&UNMASKED_PING); // control frame in the middle of a message
    wire.extend_from_slice(&FRAGMENTED_HEL_LO[5..]); // "lo", FIN = 1
    wire.extend_from_slice(&UNMASKED_HELLO);
    let (events, err) = feed(&mut client(), &wire);
    assert_eq!(err, None);
    assert_eq!(
        events,
        vec![
            OwnedEvent::Ping(b"Hello".to_vec()),
            text("Hello"),
            text("Hello")
        ]
    );
}

#[test]
fn zero_copy_read_delivers_from_the_input() {
    let mut s = server();
    let mut buf = MASKED_HELLO.to_vec();
    let base = buf.as_ptr() as usize;
    let (used, event) = s.read(&mut buf).unwrap();
    assert_eq!(used, 11);
    match event {
        Some(wslens::Event::Text(t)) => {
            assert_eq!(t, "Hello");
            // Delivered from the input buffer itself (unmasked in place), not a copy.
            assert_eq!(t.as_ptr() as usize, base + 6);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(&buf[6..], b"Hello");
}

#[test]
fn close_handshake_initiated_by_us() {
    let mut c = client();
    c.close(wslens::CloseCode::NORMAL, "bye").unwrap();
    assert_eq!(c.state(), State::Closing);
    assert!(c.send_text("late").is_err(), "nothing may follow a close");
    let out = c.take_output();
    assert_eq!(&out[..2], &[0x88, 0x85]);
    let (events, err) = feed(&mut c, &server_frame(true, OpCode::Close, &[0x03, 0xE8]));
    assert_eq!(err, None);
    assert_eq!(
        events,
        vec![OwnedEvent::Close {
            code: Some(wslens::CloseCode::NORMAL),
            reason: "".into()
        }]
    );
    assert_eq!(c.state(), State::Closed);
    assert!(c.take_output().is_empty(), "no second close frame");
}

#[test]
fn read_with_answers_a_message_while_it_is_borrowed() {
    let mut s = server();
    let mut buf = MASKED_HELLO.to_vec();
    let (used, result) = s
        .read_with(&mut buf, |event, tx| match event {
            wslens::Event::Text(t) => tx.send_text(t),
            other => panic!("{other:?}"),
        })
        .unwrap();
    assert_eq!(used, 11);
    assert_eq!(result, Some(Ok(())));
    assert_eq!(
        s.take_output(),
        UNMASKED_HELLO,
        "the echo is the RFC's unmasked Hello"
    );
}

#[test]
fn outgoing_messages_are_fragmented_at_the_configured_size() {
    let cfg = wslens::Config {
        fragment_size: Some(3),
        ..wslens::Config::default()
    };
    let mut s = wslens::Connection::accepted(cfg);
    s.send_text("Hello").unwrap();
    // RFC 6455 §5.7's fragmented "Hel" + "lo", exactly.
    assert_eq!(s.take_output(), FRAGMENTED_HEL_LO);
    // One name, one meaning: the Sender (what handlers get) fragments the same way, and
    // `send` with an opcode is the same message again; `send_frame` is the one-frame primitive.
    s.sender().send_text("Hello").unwrap();
    assert_eq!(s.take_output(), FRAGMENTED_HEL_LO);
    s.sender().send(wslens::OpCode::Text, b"Hello").unwrap();
    assert_eq!(s.take_output(), FRAGMENTED_HEL_LO);
    s.send_frame(wslens::OpCode::Text, b"Hello", true).unwrap();
    assert_eq!(s.take_output(), [0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
    s.send_binary(&[1, 2, 3]).unwrap();
    assert_eq!(
        s.take_output(),
        [0x82, 0x03, 1, 2, 3],
        "a message that fits is one frame"
    );
    // And the other end reassembles what a fragmenting client sends.
    let mut c = wslens::Connection::connected(
        wslens::Config {
            fragment_size: Some(2),
            ..wslens::Config::default()
        },
        || KEY,
    );
    c.send_text("héllo").unwrap();
    let wire = c.take_output();
    let (events, err) = feed(&mut server(), &wire);
    assert_eq!((events, err), (vec![text("héllo")], None));
}
