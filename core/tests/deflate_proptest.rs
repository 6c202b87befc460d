//! Property tests for permessage-deflate (RFC 7692): messages compressed by one end decode to
//! the same messages at the other, in both roles, with and without context takeover, whether
//! sent whole, split by `fragment_size` or streamed with `send_frame`, and however the bytes
//! are cut into chunks (pings between fragments included).
#![cfg(feature = "deflate")]

use proptest::prelude::*;
use wslens::deflate::DeflateParams;
use wslens::{Config, Connection, OpCode, OwnedEvent, Role};

#[derive(Clone, Debug)]
enum Message {
    Text(String),
    Binary(Vec<u8>),
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        // Repetitive text compresses and exercises back-references across messages.
        ("\\PC{0,40}", 0usize..40).prop_map(|(s, n)| Message::Text(s.repeat(n))),
        proptest::collection::vec(any::<u8>(), 0..2000).prop_map(Message::Binary),
        proptest::collection::vec(0u8..4, 0..3000).prop_map(Message::Binary),
    ]
}

fn params() -> impl Strategy<Value = DeflateParams> {
    (
        any::<bool>(),
        any::<bool>(),
        8u8..=15,
        8u8..=15,
        0u8..=9,
        1u8..=9,
    )
        .prop_map(
            |(snct, cnct, sbits, cbits, level, mem_level)| DeflateParams {
                server_no_context_takeover: snct,
                client_no_context_takeover: cnct,
                server_max_window_bits: sbits,
                client_max_window_bits: cbits,
                level,
                mem_level,
            },
        )
}

fn conn(role: Role, params: DeflateParams, fragment: Option<usize>) -> Connection {
    let cfg = Config {
        deflate: Some(params),
        fragment_size: fragment,
        ..Config::default()
    };
    match role {
        Role::Server => Connection::accepted(cfg),
        Role::Client => {
            let mut k = 1u32;
            Connection::connected(cfg, move || {
                k = k.wrapping_mul(2_654_435_761).wrapping_add(0x9E37_79B9);
                k.to_le_bytes()
            })
        }
    }
}

/// How the sender sends each message.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Whole,
    Fragmented(usize),
    Streamed(usize),
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        Just(Mode::Whole),
        (1usize..300).prop_map(Mode::Fragmented),
        (1usize..700).prop_map(Mode::Streamed),
    ]
}

fn encode(role: Role, params: DeflateParams, messages: &[Message], mode: Mode) -> Vec<u8> {
    let fragment = match mode {
        Mode::Fragmented(n) => Some(n),
        _ => None,
    };
    let mut s = conn(role, params, fragment);
    for (i, m) in messages.iter().enumerate() {
        let (op, data) = match m {
            Message::Text(t) => (OpCode::Text, t.as_bytes()),
            Message::Binary(b) => (OpCode::Binary, &b[..]),
        };
        match mode {
            Mode::Streamed(n) => {
                // Pieces cut anywhere (text too: UTF-8 may straddle pieces), a ping between.
                let pieces: Vec<&[u8]> = data.chunks(n).collect();
                let count = pieces.len().max(1);
                for k in 0..count {
                    let piece = pieces.get(k).copied().unwrap_or(b"");
                    let opk = if k == 0 { op } else { OpCode::Continuation };
                    s.send_frame(opk, piece, k + 1 == count).unwrap();
                    if k == 0 && count > 1 {
                        s.ping(&[i as u8]).unwrap();
                    }
                }
            }
            _ => s.send(op, data).unwrap(),
        }
    }
    s.take_output()
}

fn decode(role: Role, params: DeflateParams, wire: &[u8], cuts: &[usize]) -> Vec<OwnedEvent> {
    let mut r = conn(role, params, None);
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    points.extend([0, wire.len()]);
    points.sort_unstable();
    let mut events = Vec::new();
    for w in points.windows(2) {
        r.receive(&wire[w[0]..w[1]], &mut events).unwrap();
    }
    events.retain(|e| !matches!(e, OwnedEvent::Ping(_)));
    events
}

fn expected(messages: &[Message]) -> Vec<OwnedEvent> {
    messages
        .iter()
        .map(|m| match m {
            Message::Text(t) => OwnedEvent::Text(t.clone()),
            Message::Binary(b) => OwnedEvent::Binary(b.clone()),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn compressed_round_trip_any_chunking(
        messages in proptest::collection::vec(message(), 1..8),
        params in params(),
        mode in mode(),
        sender_is_server in any::<bool>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let (tx, rx) = if sender_is_server {
            (Role::Server, Role::Client)
        } else {
            (Role::Client, Role::Server)
        };
        let wire = encode(tx, params, &messages, mode);
        prop_assert_eq!(decode(rx, params, &wire, &cuts), expected(&messages));
    }

    /// One byte at a time, the slowest path through the inflater.
    #[test]
    fn compressed_round_trip_byte_at_a_time(
        messages in proptest::collection::vec(message(), 1..4),
        params in params(),
    ) {
        let wire = encode(Role::Client, params, &messages, Mode::Whole);
        let cuts: Vec<usize> = (1..wire.len()).collect();
        prop_assert_eq!(decode(Role::Server, params, &wire, &cuts), expected(&messages));
    }
}
