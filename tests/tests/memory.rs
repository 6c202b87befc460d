//! Server memory per idle WebSocket: RSS growth divided by connections, at several counts
//! (the curve from 1k to 19k). A measurement, not a pass/fail check (speed and size are
//! measured, never asserted in timed tests):
//!
//!     cargo build --release -p wslens-server
//!     cargo test --release -p wslens-e2e --test memory -- --ignored --nocapture
//!
//! `WSLENS_IDLE=1000,5000,10000,19000` sets the counts (the default). Each count needs as many
//! open files in this process and in the server: the hard limit here is 20,000, so the tests
//! of this file take turns (one lock) rather than run side by side.
//!
//! One bound is asserted on every run (not ignored): 4,000 idle WebSockets cost under 600 bytes
//! each: about 290 here (debug build), and 719 with parking switched off (every connection
//! keeping its protocol state and buffers), the design this bound guards against.

use std::sync::Mutex;
use std::time::Duration;
use wslens_e2e::Server;

/// The tests here each hold thousands of sockets: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Idle connections and the bytes each one added to the server's RSS.
fn idle_cost(server: &Server, clients: &mut Vec<wslens_e2e::Client>, n: usize, before: u64) -> f64 {
    while clients.len() < n {
        clients.push(server.connect("/echo"));
    }
    // Let the server finish writing the last 101s (idle state is reached after a flush).
    std::thread::sleep(Duration::from_millis(300));
    let after = server.rss_kib();
    let per_conn = (after.saturating_sub(before) * 1024) as f64 / n as f64;
    println!(
        "{n:>6} idle connections: RSS {before} KiB -> {after} KiB, {per_conn:.0} bytes per connection"
    );
    per_conn
}

#[test]
fn idle_websockets_cost_under_600_bytes_each() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let server = Server::start(&["--threads", "1", "--ping-interval", "0"]);
    let before = server.rss_kib();
    let mut clients = Vec::new();
    let per_conn = idle_cost(&server, &mut clients, 4000, before);
    assert!(
        per_conn < 600.0,
        "{per_conn:.0} bytes per idle WebSocket (bound 600; parked connections cost ~290)"
    );
    // All of them are still served.
    for c in clients.iter_mut().step_by(500) {
        c.send_text("awake");
        assert_eq!(
            c.recv().expect("echo"),
            wslens::OwnedEvent::Text("awake".into())
        );
    }
}

#[test]
#[ignore = "measurement; run by hand (see the file's doc)"]
fn idle_connection_memory() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let counts: Vec<usize> = std::env::var("WSLENS_IDLE")
        .unwrap_or_else(|_| "1000,5000,10000,19000".into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let server = Server::start(&["--threads", "1", "--ping-interval", "0"]);
    let before = server.rss_kib();
    let mut clients = Vec::new();
    for n in counts {
        idle_cost(&server, &mut clients, n, before);
    }
    // They are all still served: the last one echoes.
    let last = clients.last_mut().expect("at least one connection");
    last.send_text("still here");
    assert_eq!(
        last.recv().expect("echo"),
        wslens::OwnedEvent::Text("still here".into())
    );
}

/// The same over TLS: each connection completes a TLS handshake and a WebSocket upgrade on
/// `/echo`, then stays idle. `WSLENS_IDLE_TLS` sets the counts (default 1000,5000,10000).
#[test]
#[ignore = "measurement; run by hand (see the file's doc)"]
fn idle_tls_connection_memory() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    use std::io::{Read, Write};
    let counts: Vec<usize> = std::env::var("WSLENS_IDLE_TLS")
        .unwrap_or_else(|_| "1000,5000,10000".into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let cert = wslens_e2e::tls::cert();
    let tls_port = wslens_e2e::free_port();
    let mut args = cert.serve_args(tls_port);
    args.extend(["--threads", "1", "--ping-interval", "0"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(&args);
    let before = server.rss_kib();
    let upgrade = b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";
    let mut clients = Vec::new();
    for n in counts {
        while clients.len() < n {
            let mut tls = wslens_e2e::tls::connect(tls_port, &cert.cert).expect("TLS");
            tls.write_all(upgrade).unwrap();
            let mut head = Vec::new();
            let mut b = [0u8; 512];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let k = tls.read(&mut b).unwrap();
                assert!(k > 0, "closed during the upgrade");
                head.extend_from_slice(&b[..k]);
            }
            assert!(head.starts_with(b"HTTP/1.1 101 "));
            clients.push(tls);
        }
        std::thread::sleep(Duration::from_millis(300));
        let after = server.rss_kib();
        let per_conn = (after.saturating_sub(before) * 1024) as f64 / n as f64;
        println!(
            "{n:>6} idle TLS WebSockets: RSS {before} KiB -> {after} KiB, {per_conn:.0} bytes per connection"
        );
    }
}
