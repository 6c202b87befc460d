//! Property tests: whatever one end encodes, the other decodes to the same messages, however
//! the bytes are split into chunks, in both roles.

mod common;
use common::KEY;
use proptest::prelude::*;
use wslens::decoder::{Decoded, FrameDecoder};
use wslens::frame::{encode_frame, FrameHeader, OpCode};
use wslens::trace::NoTrace;
use wslens::{Config, Connection, OwnedEvent, Role};

#[derive(Clone, Debug)]
enum Message {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        "\\PC{0,300}".prop_map(Message::Text),
        proptest::collection::vec(any::<u8>(), 0..700).prop_map(Message::Binary),
        proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Message::Ping),
    ]
}

/// Splits `data` at the given cut points (taken modulo its length).
fn chunks(data: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.extend([0, data.len()]);
    points.sort_unstable();
    points
        .windows(2)
        .map(|w| data[w[0]..w[1]].to_vec())
        .collect()
}

/// Encodes `messages` as `sender_role` would send them, fragmenting data messages at
/// `fragment` bytes and putting each ping in the middle of the next data message when possible.
fn encode(sender_role: Role, messages: &[Message], fragment: usize) -> Vec<u8> {
    let mut keys = 0u32;
    let cfg = Config::default();
    let mut sender = match sender_role {
        Role::Server => Connection::accepted(cfg),
        Role::Client => Connection::connected(cfg, move || {
            keys = keys.wrapping_mul(2_654_435_761).wrapping_add(0x9E37_79B9);
            keys.to_le_bytes()
        }),
    };
    let mut pending_ping: Option<&[u8]> = None;
    for m in messages {
        let (op, data) = match m {
            Message::Ping(p) => {
                if let Some(prev) = pending_ping.replace(p) {
                    sender.ping(prev).unwrap();
                }
                continue;
            }
            Message::Text(s) => (OpCode::Text, s.as_bytes()),
            Message::Binary(b) => (OpCode::Binary, &b[..]),
        };
        let pieces: Vec<&[u8]> = if data.is_empty() {
            vec![data]
        } else {
            data.chunks(fragment).collect()
        };
        let mut opcode = op;
        for (i, piece) in pieces.iter().enumerate() {
            sender
                .send_frame(opcode, piece, i + 1 == pieces.len())
                .unwrap();
            opcode = OpCode::Continuation;
            if let Some(p) = pending_ping.take() {
                sender.ping(p).unwrap();
            }
        }
    }
    if let Some(p) = pending_ping {
        sender.ping(p).unwrap();
    }
    sender.take_output()
}

/// The events a receiver must report for `messages`, in order (pings may move earlier, into
/// the message they were sent in the middle of, but keep their order among themselves).
fn expected(messages: &[Message]) -> (Vec<OwnedEvent>, Vec<OwnedEvent>) {
    let mut data = Vec::new();
    let mut pings = Vec::new();
    for m in messages {
        match m {
            Message::Text(s) => data.push(OwnedEvent::Text(s.clone())),
            Message::Binary(b) => data.push(OwnedEvent::Binary(b.clone())),
            Message::Ping(p) => pings.push(OwnedEvent::Ping(p.clone())),
        }
    }
    (data, pings)
}

fn receive_all(receiver: &mut Connection, pieces: &[Vec<u8>]) -> Vec<OwnedEvent> {
    let mut events = Vec::new();
    for piece in pieces {
        receiver.receive(piece, &mut events).expect("valid stream");
    }
    events
}

fn receiver(role: Role, cfg: Config) -> Connection {
    match role {
        Role::Server => Connection::accepted(cfg),
        Role::Client => Connection::connected(cfg, || KEY),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn messages_survive_any_chunking(
        messages in proptest::collection::vec(message(), 0..8),
        fragment in 1usize..400,
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        server_receives in any::<bool>(),
    ) {
        let (recv_role, send_role) =
            if server_receives { (Role::Server, Role::Client) } else { (Role::Client, Role::Server) };
        let wire = encode(send_role, &messages, fragment);
        let (data, pings) = expected(&messages);

        let mut whole = receiver(recv_role, Config::default());
        let reference = receive_all(&mut whole, std::slice::from_ref(&wire));
        let mut split = receiver(recv_role, Config::default());
        let got = receive_all(&mut split, &chunks(&wire, &cuts));
        prop_assert_eq!(&got, &reference);

        let got_data: Vec<_> = got.iter().filter(|e| !matches!(e, OwnedEvent::Ping(_))).cloned().collect();
        let got_pings: Vec<_> = got.iter().filter(|e| matches!(e, OwnedEvent::Ping(_))).cloned().collect();
        prop_assert_eq!(got_data, data);
        prop_assert_eq!(got_pings, pings);
    }

    #[test]
    fn byte_at_a_time_equals_whole(
        messages in proptest::collection::vec(message(), 0..4),
        fragment in 1usize..50,
        server_receives in any::<bool>(),
    ) {
        let (recv_role, send_role) =
            if server_receives { (Role::Server, Role::Client) } else { (Role::Client, Role::Server) };
        let wire = encode(send_role, &messages, fragment);
        let bytes: Vec<Vec<u8>> = wire.iter().map(|b| vec![*b]).collect();
        let mut a = receiver(recv_role, Config::default());
        let mut b = receiver(recv_role, Config::default());
        prop_assert_eq!(receive_all(&mut a, &bytes), receive_all(&mut b, &[wire]));
    }

    #[test]
    fn fragment_delivery_concatenates_to_the_messages(
        messages in proptest::collection::vec(message(), 0..6),
        fragment in 1usize..300,
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        let wire = encode(Role::Client, &messages, fragment);
        let cfg = Config { deliver_fragments: true, ..Config::default() };
        let mut conn = receiver(Role::Server, cfg);
        let events = receive_all(&mut conn, &chunks(&wire, &cuts));
        let mut rebuilt = Vec::new();
        let mut current: Vec<u8> = Vec::new();
        for e in events {
            if let OwnedEvent::Fragment { data, text, fin } = e {
                current.extend_from_slice(&data);
                if fin {
                    let bytes = core::mem::take(&mut current);
                    rebuilt.push(if text {
                        OwnedEvent::Text(String::from_utf8(bytes).unwrap())
                    } else {
                        OwnedEvent::Binary(bytes)
                    });
                }
            }
        }
        prop_assert!(current.is_empty());
        prop_assert_eq!(rebuilt, expected(&messages).0);
    }

    #[test]
    fn decoder_reads_back_any_frame_in_any_chunking(
        fin in any::<bool>(),
        op in prop_oneof![Just(OpCode::Text), Just(OpCode::Binary), Just(OpCode::Continuation)],
        key in any::<[u8; 4]>(),
        payload in proptest::collection::vec(any::<u8>(), 0..70_000),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        server in any::<bool>(),
    ) {
        let (role, mask) = if server { (Role::Server, Some(key)) } else { (Role::Client, None) };
        let header = FrameHeader { fin, rsv: 0, opcode: op, mask, payload_len: payload.len() as u64 };
        let mut wire = Vec::new();
        encode_frame(&mut wire, &header, &payload);
        let mut decoder = FrameDecoder::new(role, u64::MAX >> 1, 0);
        let mut got_header = None;
        let mut got_payload = Vec::new();
        let mut frame_done = false;
        for mut piece in chunks(&wire, &cuts) {
            let mut pos = 0;
            loop {
                let (used, d) = decoder.decode(&mut piece[pos..], &mut NoTrace).unwrap();
                pos += used;
                match d {
                    Decoded::NeedMore(n) => { prop_assert!(n > 0); break; }
                    Decoded::Header(h) => got_header = Some(h),
                    Decoded::Payload { len, last } => {
                        got_payload.extend_from_slice(&piece[pos - len..pos]);
                        if last { frame_done = true; }
                        if pos == piece.len() { break; }
                    }
                }
            }
        }
        prop_assert_eq!(got_header, Some(header));
        prop_assert!(frame_done || !payload.is_empty() && got_payload.len() < payload.len());
        prop_assert_eq!(got_payload, payload);
        prop_assert_eq!(decoder.offset(), wire.len() as u64);
    }
}
