//! `Connection::is_idle` and `Connection::recycle`: when a connection's state may be dropped
//! or lent to another socket, and that a recycled connection behaves exactly like a new one.

mod common;
use common::*;
use proptest::prelude::*;
use wslens::frame::OpCode;
use wslens::{CloseCode, Config, Connection, OwnedEvent};

/// Feeds `bytes` and reports everything observable: events, error, output.
fn run(conn: &mut Connection, bytes: &[u8]) -> (Vec<OwnedEvent>, Option<wslens::Error>, Vec<u8>) {
    let (events, err) = feed(conn, bytes);
    (events, err, conn.take_output())
}

/// A connection that has echoed a message and written everything: idle, with used buffers.
fn used_server() -> Connection {
    let mut conn = server();
    let (events, err) = feed(&mut conn, &client_frame(true, OpCode::Text, b"hello"));
    assert!(err.is_none());
    assert_eq!(events, vec![OwnedEvent::Text("hello".into())]);
    conn.send_text("hello").unwrap();
    let n = conn.pending_output().len();
    conn.consume_output(n);
    conn
}

#[test]
fn open_connections_between_messages_are_idle() {
    assert!(server().is_idle());
    assert!(client().is_idle());
    assert!(used_server().is_idle());
}

#[test]
fn a_connection_mid_anything_is_not_idle() {
    // Handshake in progress.
    assert!(!Connection::server(Config::default()).is_idle());
    // One byte of a frame header.
    let wire = client_frame(true, OpCode::Binary, b"abc");
    let mut conn = server();
    feed(&mut conn, &wire[..1]);
    assert!(!conn.is_idle());
    // Header read, payload not all here.
    let mut conn = server();
    feed(&mut conn, &wire[..wire.len() - 1]);
    assert!(!conn.is_idle());
    feed(&mut conn, &wire[wire.len() - 1..]);
    assert!(conn.is_idle(), "the frame completed");
    // First fragment of a message: at a frame boundary, but a message is in progress.
    let mut conn = server();
    feed(&mut conn, &client_frame(false, OpCode::Text, b"Hel"));
    assert!(!conn.is_idle());
    feed(&mut conn, &client_frame(true, OpCode::Continuation, b"lo"));
    assert!(conn.is_idle());
    // Output waiting (an automatic pong).
    let mut conn = server();
    feed(&mut conn, &client_frame(true, OpCode::Ping, b"p"));
    assert!(!conn.is_idle());
    let n = conn.pending_output().len();
    conn.consume_output(n);
    assert!(conn.is_idle());
    // Half of a fragmented message sent.
    let mut conn = server();
    conn.send_frame(OpCode::Binary, b"part", false).unwrap();
    conn.consume_output(conn.pending_output().len());
    assert!(!conn.is_idle());
    // Closing and closed.
    let mut conn = server();
    conn.close(CloseCode::NORMAL, "").unwrap();
    conn.consume_output(conn.pending_output().len());
    assert!(!conn.is_idle());
    let mut conn = server();
    feed(
        &mut conn,
        &client_frame(true, OpCode::Close, &1000u16.to_be_bytes()),
    );
    conn.consume_output(conn.pending_output().len());
    assert!(!conn.is_idle());
}

#[test]
fn recycle_refuses_a_busy_connection_and_leaves_it_alone() {
    let mut conn = server();
    feed(&mut conn, &client_frame(false, OpCode::Text, b"Hel"));
    assert!(!conn.recycle());
    let (events, err) = feed(&mut conn, &client_frame(true, OpCode::Continuation, b"lo"));
    assert!(err.is_none());
    assert_eq!(events, vec![OwnedEvent::Text("Hello".into())]);
}

#[test]
fn recycle_keeps_small_buffers_and_drops_big_ones() {
    // Small: a 1 KiB echo leaves buffers that recycle keeps, so the next one allocates nothing.
    let mut conn = server();
    let small = vec![3u8; 1024];
    feed(
        &mut conn,
        &client_frame(false, OpCode::Binary, &small[..512]),
    );
    feed(
        &mut conn,
        &client_frame(true, OpCode::Continuation, &small[512..]),
    );
    conn.send_binary(&small).unwrap();
    conn.consume_output(conn.pending_output().len());
    let kept = conn.buffer_capacity();
    assert!(
        kept >= 1024,
        "the small message left {kept} bytes of buffers"
    );
    assert!(conn.recycle());
    assert_eq!(conn.buffer_capacity(), kept, "small buffers are kept");

    // Big: buffers past RECYCLE_KEEP are given back.
    let mut conn = server();
    let big = vec![7u8; 4 * Connection::RECYCLE_KEEP];
    feed(&mut conn, &client_frame(false, OpCode::Binary, &big[..100]));
    feed(
        &mut conn,
        &client_frame(true, OpCode::Continuation, &big[100..]),
    );
    conn.send_binary(&big).unwrap();
    conn.consume_output(conn.pending_output().len());
    let before = conn.buffer_capacity();
    assert!(
        before >= 2 * big.len(),
        "reassembly and output both held the message: {before}"
    );
    assert!(conn.recycle());
    let after = conn.buffer_capacity();
    assert!(
        after <= 3 * Connection::RECYCLE_KEEP,
        "big buffers were kept: {after} bytes (was {before})"
    );
    // The next small echo still works.
    conn.send_binary(b"x").unwrap();
    assert_eq!(conn.take_output(), server_frame(true, OpCode::Binary, b"x"));
}

/// Input a client might send next: whole frames, errors, a close, split anywhere.
fn next_input() -> impl Strategy<Value = Vec<u8>> {
    let frame = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(|p| client_frame(
            true,
            OpCode::Binary,
            &p
        )),
        "[a-zé€]{0,40}".prop_map(|s| client_frame(true, OpCode::Text, s.as_bytes())),
        Just(client_frame(false, OpCode::Text, b"ab")),
        Just(client_frame(true, OpCode::Continuation, b"cd")),
        Just(client_frame(true, OpCode::Ping, b"ping")),
        Just(client_frame(true, OpCode::Text, &[0xff])),
        Just(client_frame(true, OpCode::Close, &1001u16.to_be_bytes())),
        proptest::collection::vec(any::<u8>(), 1..8),
    ];
    proptest::collection::vec(frame, 1..6).prop_map(|v| v.concat())
}

proptest! {
    /// A recycled connection and a new one are indistinguishable on any input: same events,
    /// same errors (offsets included), same output.
    #[test]
    fn recycled_behaves_like_new(history in next_input(), input in next_input()) {
        let mut used = server();
        let _ = run(&mut used, &history);
        if used.is_idle() {
            prop_assert!(used.recycle());
            let mut fresh = server();
            prop_assert_eq!(run(&mut used, &input), run(&mut fresh, &input));
        } else {
            prop_assert!(!used.recycle());
        }
    }
}
