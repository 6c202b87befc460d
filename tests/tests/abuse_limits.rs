//! Abuse limits: open connections and new connections per client address (refused at accept
//! with 503), and messages per second per connection (close 1008, or drop). The tests run on
//! loopback, which is exempt by default, so they pass `--limit-loopback`; the limited client
//! connects from 127.0.0.2, so that the tests' own requests (readiness, `/metrics`, from
//! 127.0.0.1) are counted apart.

use std::net::Ipv4Addr;
use std::time::Duration;
use wslens::{CloseCode, OwnedEvent};
use wslens_e2e::{connect_from, http_over, Client, Server};

const CLIENT: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

fn connect(server: &Server) -> Client {
    Client::connect_from(CLIENT, server.port, "/echo").expect("connect")
}

/// An upgrade from the limited client's address: (status, body).
fn refused(server: &Server) -> (u16, String) {
    let stream = connect_from(CLIENT, server.port).unwrap();
    let (status, _, body) = http_over(stream, UPGRADE).unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

const UPGRADE: &[u8] = b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

#[test]
fn connections_per_address_are_capped_and_come_back_when_one_closes() {
    let server = Server::start(&[
        "--threads",
        "1",
        "--max-connections-per-ip",
        "3",
        "--limit-loopback",
    ]);
    let mut open: Vec<Client> = (0..3).map(|_| connect(&server)).collect();
    let (status, body) = refused(&server);
    assert_eq!(status, 503);
    assert!(
        body.contains("too many connections from your address"),
        "{body}"
    );
    // Another address is not affected.
    server.connect("/echo").send_text("other");
    assert_eq!(server.metric("wslens_rejected_per_ip_connections_total"), 1);
    // The three still work; when one leaves, a new one is let in.
    open[0].send_text("still here");
    assert_eq!(
        open[0].recv().unwrap(),
        OwnedEvent::Text("still here".into())
    );
    let mut gone = open.pop().unwrap();
    gone.close(CloseCode::NORMAL);
    while !gone.server_closed_tcp() {}
    let mut again = wait_for_admission(&server);
    again.send_text("in");
    assert_eq!(again.recv().unwrap(), OwnedEvent::Text("in".into()));
}

/// The server releases a closed connection's count as it removes it: poll briefly for that.
fn wait_for_admission(server: &Server) -> Client {
    for _ in 0..100 {
        if let Ok(client) = Client::connect_from(CLIENT, server.port, "/echo") {
            return client;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("never admitted again");
}

#[test]
fn new_connections_per_second_are_rate_limited() {
    let server = Server::start(&[
        "--threads",
        "1",
        "--handshakes-per-ip-per-second",
        "4",
        "--limit-loopback",
    ]);
    // A burst of 4 is the bucket; the 5th in the same instant is refused.
    let burst: Vec<Client> = (0..4).map(|_| connect(&server)).collect();
    let (status, body) = refused(&server);
    assert_eq!(status, 503);
    assert!(body.contains("slow down"), "{body}");
    assert!(server.metric("wslens_rejected_per_ip_rate_total") >= 1);
    // After a second the bucket is full again (4 a second).
    std::thread::sleep(Duration::from_millis(1100));
    let mut later = connect(&server);
    later.send_text("ok");
    assert_eq!(later.recv().unwrap(), OwnedEvent::Text("ok".into()));
    drop(burst);
}

#[test]
fn loopback_is_exempt_by_default() {
    let server = Server::start(&[
        "--threads",
        "1",
        "--max-connections-per-ip",
        "2",
        "--handshakes-per-ip-per-second",
        "2",
    ]);
    let clients: Vec<Client> = (0..10).map(|_| server.connect("/echo")).collect();
    assert_eq!(clients.len(), 10);
    assert_eq!(server.metric("wslens_rejected_per_ip_connections_total"), 0);
}

/// Sends `n` messages at once and reads until the close: (echoes, the close).
fn burst_until_closed(c: &mut Client, n: usize) -> (usize, OwnedEvent) {
    for i in 0..n {
        c.send_text(&format!("m{i}"));
    }
    let mut echoes = 0;
    loop {
        match c.recv().expect("event") {
            OwnedEvent::Text(_) => echoes += 1,
            close @ OwnedEvent::Close { .. } => return (echoes, close),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn messages_over_the_rate_close_with_1008() {
    let server = Server::start(&["--threads", "1", "--max-messages-per-second", "5"]);
    let mut c = server.connect("/echo");
    let (echoes, close) = burst_until_closed(&mut c, 20);
    // 20 messages in a few microseconds fall in one second, or at most straddle two.
    assert!((5..=10).contains(&echoes), "{echoes} echoes");
    assert_eq!(
        close,
        OwnedEvent::Close {
            code: Some(CloseCode::POLICY_VIOLATION),
            reason: "rate limit".into()
        }
    );
    assert!(server.metric("wslens_rate_limited_messages_total") >= 1);
}

#[test]
fn messages_over_the_rate_are_dropped_with_the_flag() {
    let server = Server::start(&[
        "--threads",
        "1",
        "--max-messages-per-second",
        "5",
        "--drop-over-rate",
    ]);
    let mut c = server.connect("/echo");
    for i in 0..20 {
        c.send_text(&format!("m{i}"));
    }
    // A second later the window is new: "after" is echoed, and nothing was closed; before
    // it come the echoes of the burst that were within the rate.
    std::thread::sleep(Duration::from_millis(1100));
    c.send_text("after");
    let mut echoes = 0;
    loop {
        match c.recv().expect("event") {
            OwnedEvent::Text(t) if t == "after" => break,
            OwnedEvent::Text(_) => echoes += 1,
            other => panic!("{other:?}"),
        }
    }
    assert!((5..=10).contains(&echoes), "{echoes} echoes");
    let dropped = server.metric("wslens_rate_limited_messages_total");
    assert!((10..=15).contains(&dropped), "{dropped} dropped");
}
