//! Faults a production server meets: its open-file limit reached (and recovery when clients
//! leave), a client that sends its close and half-closes its socket, a reset in the middle
//! of a 16 MiB frame, and writes that return `EAGAIN` for seconds.
#![cfg(target_os = "linux")]

use std::io::Write;
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wslens::{CloseCode, OwnedEvent};
use wslens_e2e::{Client, Server};

#[test]
fn at_the_open_file_limit_new_clients_wait_and_get_in_when_others_leave() {
    let server = Server::start(&["--threads", "1"]);
    let limit = server.open_fds() + 100;
    let set = Command::new("prlimit")
        .args([
            &format!("--nofile={limit}:{limit}"),
            "--pid",
            &server.pid().to_string(),
        ])
        .status()
        .expect("prlimit");
    assert!(set.success());
    let mut first: Vec<Client> = (0..90).map(|_| server.connect("/echo")).collect();
    // 60 more, each kept open once in: about 10 descriptors are left, so the rest wait in
    // the listen queue while the server pauses its accepts (EMFILE).
    let done = Arc::new(AtomicUsize::new(0));
    let waiting: Vec<_> = (0..60)
        .map(|i| {
            let (port, done) = (server.port, done.clone());
            std::thread::spawn(move || {
                let (mut c, _) = Client::connect(port, "/echo", &[]).expect("admitted in the end");
                c.send_text(&format!("late {i}"));
                assert_eq!(c.recv().unwrap(), OwnedEvent::Text(format!("late {i}")));
                done.fetch_add(1, Ordering::Relaxed);
                c
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let early = done.load(Ordering::Relaxed);
    assert!(
        (1..30).contains(&early),
        "{early} of 60 got in before any left"
    );
    // The server still serves the ones it has.
    first[0].send_text("still serving");
    assert_eq!(
        first[0].recv().unwrap(),
        OwnedEvent::Text("still serving".into())
    );
    // 80 leave: every waiting client gets in and is echoed.
    for mut c in first.drain(10..) {
        c.close(CloseCode::NORMAL);
        let _ = c.recv();
    }
    let late: Vec<Client> = waiting
        .into_iter()
        .map(|t| t.join().expect("a waiting client failed"))
        .collect();
    assert_eq!((late.len(), done.load(Ordering::Relaxed)), (60, 60));
}

#[test]
fn a_close_then_a_half_closed_socket_gets_the_close_reply_and_the_end() {
    let server = Server::start(&["--threads", "1"]);
    let mut c = server.connect("/echo");
    c.close(CloseCode::NORMAL);
    c.shutdown_write();
    assert_eq!(
        c.recv().unwrap(),
        OwnedEvent::Close {
            code: Some(CloseCode::NORMAL),
            reason: "".into()
        }
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !c.server_closed_tcp() {
        assert!(
            Instant::now() < deadline,
            "the server never closed the TCP connection"
        );
    }
}

#[test]
fn a_reset_in_the_middle_of_a_16_mib_frame_frees_the_connection() {
    let server = Server::start(&["--threads", "1"]);
    let baseline = server.settled_fds();
    for _ in 0..3 {
        let mut c = server.connect("/echo");
        // A masked binary frame of exactly 16 MiB (the default --max-frame), 1 MiB of it sent.
        let mut head = vec![0x82, 0xFF];
        head.extend_from_slice(&(16u64 << 20).to_be_bytes());
        head.extend_from_slice(&[1, 2, 3, 4]);
        let stream: &mut TcpStream = c.stream();
        stream.write_all(&head).unwrap();
        stream.write_all(&vec![0x55; 1 << 20]).unwrap();
        // A reset, not a FIN: linger with a zero timeout, then close.
        let socket = socket2::SockRef::from(&*stream);
        socket.set_linger(Some(Duration::ZERO)).unwrap();
        drop(c);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.open_fds() > baseline {
        assert!(
            Instant::now() < deadline,
            "the reset connections were not freed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut c = server.connect("/echo");
    c.send_text("after the resets");
    assert_eq!(
        c.recv().unwrap(),
        OwnedEvent::Text("after the resets".into())
    );
}

#[test]
fn writes_that_would_block_for_seconds_finish_intact_and_block_no_one_else() {
    let server = Server::start(&["--threads", "1"]);
    let mut slow = server.connect("/echo");
    // A small receive buffer: the 8 MiB echo cannot fit in the kernel's buffers (this one and
    // the server's send buffer, a few MiB at most), so the server's writes return EAGAIN for
    // as long as this client does not read.
    socket2::SockRef::from(&*slow.stream())
        .set_recv_buffer_size(64 << 10)
        .unwrap();
    let big: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8).collect();
    slow.send_binary(&big);
    // Three seconds of EAGAIN; the one loop thread keeps serving another client meanwhile.
    let mut other = server.connect("/echo");
    let until = Instant::now() + Duration::from_secs(3);
    let mut echoes = 0;
    while Instant::now() < until {
        other.send_text(&format!("m{echoes}"));
        assert_eq!(
            other.recv().unwrap(),
            OwnedEvent::Text(format!("m{echoes}"))
        );
        echoes += 1;
    }
    assert!(
        echoes > 100,
        "only {echoes} echoes while the other client's writes were blocked"
    );
    assert!(
        server.metric("wslens_backpressure_events_total") >= 1,
        "the server saw the slow client's backlog"
    );
    // Now it reads: the whole message, byte for byte, and the connection still works.
    assert_eq!(slow.recv().unwrap(), OwnedEvent::Binary(big));
    slow.send_text("still here");
    assert_eq!(slow.recv().unwrap(), OwnedEvent::Text("still here".into()));
}
