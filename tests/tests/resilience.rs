//! Many connections, slowloris, non-reading clients, graceful shutdown.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};
use wslens::frame::{encode_frame, FrameHeader, OpCode};
use wslens::{CloseCode, OwnedEvent};
use wslens_e2e::Server;

#[test]
fn a_thousand_concurrent_clients_echo_and_fds_return_to_baseline() {
    let server = Server::start(&["--threads", "2"]);
    let baseline = server.settled_fds();
    let mut clients: Vec<_> = (0..1000).map(|_| server.connect("/echo")).collect();
    let open = server.open_fds();
    assert!(
        open >= baseline + 1000,
        "{open} fds open, baseline {baseline}"
    );
    for (i, c) in clients.iter_mut().enumerate() {
        c.send_text(&format!("client {i}"));
    }
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(c.recv().unwrap(), OwnedEvent::Text(format!("client {i}")));
    }
    for c in clients.iter_mut() {
        c.close(CloseCode::NORMAL);
    }
    for c in clients.iter_mut() {
        assert!(matches!(c.recv().unwrap(), OwnedEvent::Close { .. }));
    }
    drop(clients);
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.open_fds() > baseline && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(server.open_fds(), baseline, "every socket was closed");
}

#[test]
fn slowloris_is_dropped_at_the_handshake_timeout_while_others_are_served() {
    let timeout = Duration::from_millis(1500);
    let server = Server::start(&["--threads", "1", "--handshake-timeout", "1500ms"]);
    let started = Instant::now();
    let mut slow: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
            s.write_all(b"GET /echo HTTP/1.1\r\nHost: x\r\n").unwrap();
            s
        })
        .collect();
    let mut c = server.connect("/echo");
    c.send_text("served");
    assert_eq!(c.recv().unwrap(), OwnedEvent::Text("served".into()));
    // Before the timeout every slow client is still connected: a read finds nothing yet
    // (not EOF, not a reset).
    std::thread::sleep(timeout / 3);
    for s in slow.iter_mut() {
        s.set_nonblocking(true).unwrap();
        let mut b = [0u8; 16];
        match std::io::Read::read(s, &mut b) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("dropped before the handshake timeout: {other:?}"),
        }
        s.set_nonblocking(false).unwrap();
    }
    assert!(
        started.elapsed() < timeout,
        "the early check came too late to mean anything"
    );
    // Then each is dropped: EOF or a reset, nothing else (a read timeout is a failure).
    for s in slow.iter_mut() {
        s.set_read_timeout(Some(timeout * 3)).unwrap();
        let mut b = [0u8; 16];
        match std::io::Read::read(s, &mut b) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("expected EOF or reset at the handshake timeout, got {other:?}"),
        }
    }
    assert!(
        // (less 2 ms: the loop's clock counts whole milliseconds)
        started.elapsed() >= timeout - Duration::from_millis(2),
        "dropped after {:?}, before the {timeout:?} handshake timeout",
        started.elapsed()
    );
    // The normal client is still open.
    c.send_text("still");
    assert_eq!(c.recv().unwrap(), OwnedEvent::Text("still".into()));
}

#[test]
fn a_client_that_does_not_read_cannot_grow_server_memory() {
    let server = Server::start(&["--threads", "1", "--max-backpressure", "262144"]);
    let mut c = server.connect("/echo");
    let before = server.rss_kib();
    // One masked 64 KiB binary frame, sent over and over without reading any echo.
    let payload = vec![0x5Au8; 64 * 1024];
    let mut frame = Vec::new();
    let header = FrameHeader {
        mask: Some([1, 2, 3, 4]),
        ..FrameHeader::new(OpCode::Binary, payload.len() as u64)
    };
    encode_frame(&mut frame, &header, &payload);
    let stream = c.stream();
    stream
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut sent = 0usize;
    // Until the server stops reading (our writes block), or 256 MiB.
    while sent < 256 << 20 {
        match stream.write_all(&frame) {
            Ok(()) => sent += frame.len(),
            Err(_) => break,
        }
    }
    let after = server.rss_kib();
    assert!(sent < 256 << 20, "the server kept reading: {sent} bytes");
    assert!(
        after < before + 32 * 1024,
        "RSS grew from {before} KiB to {after} KiB after {sent} bytes"
    );
}

#[test]
fn sigterm_closes_every_client_with_1001_and_exits_0() {
    let mut server = Server::start(&["--threads", "2"]);
    let mut clients: Vec<_> = (0..10).map(|_| server.connect("/echo")).collect();
    server.signal("TERM");
    for c in clients.iter_mut() {
        match c.recv().unwrap() {
            OwnedEvent::Close { code, .. } => assert_eq!(code, Some(CloseCode::GOING_AWAY)),
            other => panic!("{other:?}"),
        }
    }
    let status = server.wait_exit(Duration::from_secs(10)).expect("exited");
    assert!(status.success(), "{status:?}");
}
