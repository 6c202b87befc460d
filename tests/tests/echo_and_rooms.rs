//! Echo, rooms and the close handshake with the wslens client over real sockets.

use wslens::{CloseCode, OwnedEvent, State};
use wslens_e2e::Server;

#[test]
fn echo_text_binary_ping_round_trips_and_close() {
    let server = Server::start(&["--threads", "2"]);
    let mut c = server.connect("/echo");
    c.send_text("héllo");
    assert_eq!(c.recv().unwrap(), OwnedEvent::Text("héllo".into()));
    let big: Vec<u8> = (0..1 << 20).map(|i| (i * 7) as u8).collect();
    c.send_binary(&big);
    assert_eq!(c.recv().unwrap(), OwnedEvent::Binary(big));
    c.ping(b"are you there");
    assert_eq!(
        c.recv().unwrap(),
        OwnedEvent::Pong(b"are you there".to_vec())
    );
    for i in 0..1000 {
        let m = format!("message {i}");
        c.send_text(&m);
        assert_eq!(c.recv().unwrap(), OwnedEvent::Text(m));
    }
    c.close(CloseCode::NORMAL);
    assert_eq!(
        c.recv().unwrap(),
        OwnedEvent::Close {
            code: Some(CloseCode::NORMAL),
            reason: String::new()
        }
    );
    assert_eq!(c.state(), State::Closed);
    assert!(
        c.server_closed_tcp(),
        "the server closes TCP after the close handshake"
    );
}

#[test]
fn protocol_errors_get_their_close_codes() {
    let server = Server::start(&["--threads", "1", "--max-message", "1000"]);
    // Invalid UTF-8 in a text frame -> 1007.
    let mut c = server.connect("/echo");
    use std::io::Write;
    let mut frame = vec![0x81, 0x82, 1, 2, 3, 4];
    frame.extend([0xFF ^ 1, 0xFE ^ 2]);
    c.stream().write_all(&frame).unwrap();
    assert!(matches!(
        c.recv().unwrap(),
        OwnedEvent::Close {
            code: Some(CloseCode(1007)),
            ..
        }
    ));
    // Too big -> 1009.
    let mut c = server.connect("/echo");
    c.send_binary(&[0u8; 2000]);
    assert!(matches!(
        c.recv().unwrap(),
        OwnedEvent::Close {
            code: Some(CloseCode(1009)),
            ..
        }
    ));
    // Unmasked frame from a client -> 1002.
    let mut c = server.connect("/echo");
    c.stream().write_all(&[0x81, 0x02, b'h', b'i']).unwrap();
    assert!(matches!(
        c.recv().unwrap(),
        OwnedEvent::Close {
            code: Some(CloseCode(1002)),
            ..
        }
    ));
    // The server is fine.
    let mut c = server.connect("/echo");
    c.send_text("still here");
    assert_eq!(c.recv().unwrap(), OwnedEvent::Text("still here".into()));
}

#[test]
fn a_room_of_three_sees_each_others_messages() {
    let server = Server::start(&["--threads", "2"]);
    let mut clients: Vec<_> = (0..3).map(|_| server.connect("/chat/e2e")).collect();
    // Everyone sees the joins that happened after they joined (their own included).
    for (i, c) in clients.iter_mut().enumerate() {
        for _ in i..3 {
            let OwnedEvent::Text(t) = c.recv().unwrap() else {
                panic!()
            };
            assert!(t.contains(r#""event":"join""#), "{t}");
        }
    }
    for i in 0..3 {
        clients[i].send_text(&format!("from {i}"));
        for c in clients.iter_mut() {
            assert_eq!(c.recv().unwrap(), OwnedEvent::Text(format!("from {i}")));
        }
    }
    clients[0].close(CloseCode::NORMAL);
    for c in clients[1..].iter_mut() {
        let OwnedEvent::Text(t) = c.recv().unwrap() else {
            panic!()
        };
        assert!(t.contains(r#""event":"leave""#), "{t}");
    }
    // Another room hears nothing of this one, and this one nothing of it.
    let mut other = server.connect("/chat/elsewhere");
    let OwnedEvent::Text(t) = other.recv().unwrap() else {
        panic!()
    };
    assert!(
        t.contains("elsewhere") && t.contains(r#""event":"join""#),
        "{t}"
    );
    clients[1].send_text("only for e2e");
    for c in clients[1..].iter_mut() {
        assert_eq!(c.recv().unwrap(), OwnedEvent::Text("only for e2e".into()));
    }
    other.send_text("only for elsewhere");
    assert_eq!(
        other.recv().unwrap(),
        OwnedEvent::Text("only for elsewhere".into())
    );
    // A marker sent after both: had either message crossed rooms, it would come first.
    clients[2].send_text("marker");
    for c in clients[1..].iter_mut() {
        assert_eq!(c.recv().unwrap(), OwnedEvent::Text("marker".into()));
    }
    other.send_text("marker elsewhere");
    assert_eq!(
        other.recv().unwrap(),
        OwnedEvent::Text("marker elsewhere".into())
    );
}

#[test]
fn broadcast_reaches_every_client_across_loops() {
    let server = Server::start(&["--threads", "2"]);
    let mut clients: Vec<_> = (0..20).map(|_| server.connect("/broadcast")).collect();
    clients[0].send_binary(b"to all");
    for c in clients.iter_mut() {
        assert_eq!(c.recv().unwrap(), OwnedEvent::Binary(b"to all".to_vec()));
    }
}

/// Large echoes leave straight from the read buffer (`writev` of header and payload) when
/// nothing is queued ahead of them, and queue behind anything that is. A client that writes
/// messages of many sizes around the threshold without reading for a while makes the
/// server's socket fill mid-message, so direct writes end part-way and the rest queues; every
/// echo must still arrive whole and in order, and the metrics must count every byte.
#[test]
fn large_echoes_written_directly_arrive_whole_and_in_order_under_backpressure() {
    use std::io::Write;
    use wslens::frame::{encode_frame, FrameHeader, OpCode};
    let server = Server::start(&["--threads", "1", "--ping-interval", "0"]);
    let mut c = server.connect("/echo");
    let sizes = [
        10usize, 4095, 4096, 4097, 70_000, 300_000, 1, 16_384, 65_536,
    ];
    let messages: Vec<Vec<u8>> = (0..120)
        .map(|i| {
            let n = sizes[i % sizes.len()];
            (0..n).map(|j| (i * 131 + j * 7) as u8).collect()
        })
        .collect();
    let mut wire = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let mut header = FrameHeader::new(OpCode::Binary, m.len() as u64);
        header.mask = Some((i as u32).wrapping_mul(0x9E37_79B9).to_le_bytes());
        encode_frame(&mut wire, &header, m);
    }
    let mut writer = c.stream().try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        // In pieces of every size, some ending mid-header.
        for piece in wire.chunks(50_001) {
            writer.write_all(piece).unwrap();
        }
    });
    // Let the server's socket and queue fill before reading anything.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut echoed = 0u64;
    for (i, m) in messages.iter().enumerate() {
        match c.recv().unwrap() {
            OwnedEvent::Binary(b) => {
                assert_eq!(b.len(), m.len(), "echo {i}: length");
                assert!(b == *m, "echo {i}: content");
            }
            other => panic!("echo {i}: {other:?}"),
        }
        echoed += (FrameHeader::new(OpCode::Binary, m.len() as u64).encoded_len() + m.len()) as u64;
    }
    sending.join().unwrap();
    let out = server.metric("wslens_bytes_out_total");
    // The 101 response comes on top of the echoes.
    assert!(out > echoed, "bytes out {out} < echoed {echoed}");
    assert!(
        out < echoed + 1024,
        "bytes out {out} counts more than was sent ({echoed})"
    );
}
