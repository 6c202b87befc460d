//! TLS: `wss://` and `https://` from the real binary — the CLI client with `--ca`, `--insecure`
//! and neither; the page and `/healthz` over HTTPS; plain HTTP, garbage, oversized records and
//! stalled handshakes on the TLS port; large messages, limits and shutdown over TLS; the
//! self-signed development certificate; every configuration error.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use wslens::{CloseCode, OwnedEvent};
use wslens_e2e::tls::{cert, client_hello, https_get, temp_dir, trusting, Cert};
use wslens_e2e::{binary, free_port, metric, Server};
use wslens_server::client::{Client, ClientOptions};

fn run(args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run wslens")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A server with both listeners: (server, TLS port, certificate).
fn tls_server(extra: &[&str]) -> (Server, u16, Cert) {
    let cert = cert();
    let tls_port = free_port();
    let mut args: Vec<String> = cert.serve_args(tls_port);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(&args);
    (server, tls_port, cert)
}

fn wss_client(tls_port: u16, ca: &Path, path: &str) -> Client {
    let opts = ClientOptions {
        tls: Some(trusting(ca)),
        ..ClientOptions::default()
    };
    let url = format!("wss://127.0.0.1:{tls_port}{path}");
    Client::connect(&url, &opts).expect("wss connect").0
}

/// Reads until the server closes (Ok(0)) or an error (a reset); panics if it stays open
/// past `limit`. Returns the bytes it sent and how long it took.
fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    s.set_read_timeout(Some(limit)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                panic!("the server kept the connection open for {limit:?}")
            }
            Err(_) => break,
        }
        assert!(started.elapsed() < limit, "still open after {limit:?}");
    }
    (got, started.elapsed())
}

fn metrics(server: &Server) -> String {
    text(&server.get("/metrics").2)
}

#[test]
fn wslens_send_over_wss_with_ca_with_insecure_and_refused_without() {
    let (_server, tls_port, cert) = tls_server(&[]);
    let url = format!("wss://127.0.0.1:{tls_port}/echo");
    let ca = cert.cert.display().to_string();
    let out = run(&["send", &url, "--ca", &ca, "hello", "über TLS"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello\nüber TLS\n");

    let out = run(&[
        "send",
        &url.replace("127.0.0.1", "localhost"),
        "--insecure",
        "x",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "x\n");
    assert!(
        text(&out.stderr).contains("WARNING: --insecure"),
        "{}",
        text(&out.stderr)
    );

    // Without --ca the certificate is checked against the built-in roots, and fails.
    let out = run(&["send", &url, "x"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("certificate is not trusted"), "{err}");
    assert!(err.contains("--ca FILE"), "{err}");
    assert!(out.stdout.is_empty());

    // A --ca that is not the server's CA fails the same way.
    let other = wslens_e2e::tls::cert();
    let out = run(&["send", &url, "--ca", &other.cert.display().to_string(), "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not trusted"));

    // A certificate the client trusts but made out for another name: refused for the name.
    let other_name = wslens_e2e::tls::cert_for(&["wslens-other.invalid"]);
    let other_port = free_port();
    let args = other_name.serve_args(other_port);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let _other_server = Server::start(&args);
    let out = run(&[
        "send",
        &format!("wss://127.0.0.1:{other_port}/echo"),
        "--ca",
        &other_name.cert.display().to_string(),
        "x",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("not trusted"), "{err}");
    assert!(
        err.contains("NotValidForName"),
        "not a name mismatch: {err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn the_client_explains_its_tls_mistakes() {
    let (server, tls_port, _cert) = tls_server(&[]);
    // ws:// to the TLS port: the server answers with a TLS alert.
    let out = run(&["send", &format!("ws://127.0.0.1:{tls_port}/echo"), "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("use wss://"),
        "{}",
        text(&out.stderr)
    );
    // wss:// to the plain port: no TLS answer comes, the handshake times out.
    let started = Instant::now();
    let out = run(&[
        "send",
        &format!("wss://127.0.0.1:{}/echo", server.port),
        "--insecure",
        "--timeout",
        "1s",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("TLS handshake"),
        "{}",
        text(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // A --ca that cannot be read.
    let out = run(&[
        "send",
        &format!("wss://127.0.0.1:{tls_port}/echo"),
        "--ca",
        "/nonexistent/ca.pem",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("/nonexistent/ca.pem"),
        "{}",
        text(&out.stderr)
    );
    // --ca and --insecure contradict each other.
    let out = run(&[
        "send",
        "wss://127.0.0.1:1/",
        "--ca",
        "x.pem",
        "--insecure",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2), "clap usage error");
}

#[test]
fn https_serves_the_page_healthz_and_metrics_count_tls_handshakes() {
    let (server, tls_port, cert) = tls_server(&["--threads", "2"]);
    let (status, head, body) = https_get(tls_port, &cert.cert, "/").unwrap();
    assert_eq!(status, 200, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/html"),
        "{head}"
    );
    assert!(text(&body).contains("<html"), "the page");
    let (status, _, body) = https_get(tls_port, &cert.cert, "/healthz").unwrap();
    assert_eq!((status, text(&body).as_str()), (200, "ok\n"));
    let (status, _, body) = https_get(tls_port, &cert.cert, "/metrics").unwrap();
    assert_eq!(status, 200);
    let m = text(&body);
    assert!(
        metric(&m, "wslens_tls_handshakes_ok_total").unwrap() >= 3,
        "{m}"
    );
    // The same counters over plain HTTP; an upgrade-less GET of a WebSocket route is 426.
    let (status, _, _) = https_get(tls_port, &cert.cert, "/echo").unwrap();
    assert_eq!(status, 426);
    assert_eq!(
        metric(&metrics(&server), "wslens_tls_handshakes_failed_total"),
        Some(0)
    );
}

#[test]
fn plain_http_garbage_and_oversized_records_on_the_tls_port_are_closed_cleanly() {
    let (server, tls_port, cert) = tls_server(&["--threads", "1"]);
    let limit = Duration::from_secs(5);

    // Plain HTTP: a TLS alert, then the close.
    let mut s = TcpStream::connect(("127.0.0.1", tls_port)).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let (got, _) = read_until_closed(&mut s, limit);
    assert_eq!(got.first(), Some(&0x15), "an alert record: {got:02x?}");

    // Random bytes.
    let mut x = 0x2545_F491_u32;
    let garbage: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let mut s = TcpStream::connect(("127.0.0.1", tls_port)).unwrap();
    let _ = s.write_all(&garbage);
    read_until_closed(&mut s, limit);

    // A handshake record header claiming 65,535 bytes: refused at once, not buffered.
    let mut s = TcpStream::connect(("127.0.0.1", tls_port)).unwrap();
    s.write_all(&[0x16, 0x03, 0x01, 0xff, 0xff, 0x01, 0x00])
        .unwrap();
    let (_, took) = read_until_closed(&mut s, limit);
    assert!(took < Duration::from_secs(2), "took {took:?}");

    // A peer that connects and leaves at once.
    drop(TcpStream::connect(("127.0.0.1", tls_port)).unwrap());

    // The server is still serving, both ways, and counted the failures.
    let (status, _, _) = https_get(tls_port, &cert.cert, "/healthz").unwrap();
    assert_eq!(status, 200);
    assert_eq!(server.get("/healthz").0, 200);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let failed = metric(&metrics(&server), "wslens_tls_handshakes_failed_total").unwrap();
        if failed >= 4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{failed} failed handshakes counted"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_stalled_tls_handshake_is_dropped_at_the_handshake_timeout() {
    let (server, tls_port, cert) = tls_server(&["--threads", "1", "--handshake-timeout", "1s"]);
    // Half a ClientHello, then silence; and a connection that never sends anything.
    let hello = client_hello(&cert.cert);
    let connected = Instant::now();
    let mut half = TcpStream::connect(("127.0.0.1", tls_port)).unwrap();
    half.write_all(&hello[..hello.len() / 2]).unwrap();
    let mut silent = TcpStream::connect(("127.0.0.1", tls_port)).unwrap();
    // Meanwhile a real client is served.
    let mut c = wss_client(tls_port, &cert.cert, "/echo");
    c.send_text("served").unwrap();
    assert_eq!(
        c.next_event(Some(Duration::from_secs(5))).unwrap(),
        Some(OwnedEvent::Text("served".into()))
    );
    for s in [&mut half, &mut silent] {
        read_until_closed(s, Duration::from_secs(5));
        let took = connected.elapsed();
        assert!(
            took >= Duration::from_millis(900),
            "dropped too early: {took:?}"
        );
    }
    // A full handshake whose HTTP request never comes is dropped too (the same timer).
    let mut idle_tls = wslens_e2e::tls::connect(tls_port, &cert.cert).unwrap();
    idle_tls
        .sock
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let started = Instant::now();
    let mut b = [0u8; 16];
    let r = idle_tls.read(&mut b);
    assert!(
        matches!(r, Ok(0))
            || r.as_ref()
                .is_err_and(|e| e.kind() != std::io::ErrorKind::WouldBlock),
        "{r:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    c.send_text("still").unwrap();
    assert_eq!(
        c.next_event(Some(Duration::from_secs(5))).unwrap(),
        Some(OwnedEvent::Text("still".into()))
    );
    let m = metrics(&server);
    assert!(
        metric(&m, "wslens_tls_handshakes_failed_total").unwrap() >= 2,
        "{m}"
    );
}

#[test]
fn a_mebibyte_ping_and_close_over_wss() {
    let (_server, tls_port, cert) = tls_server(&["--threads", "2"]);
    let mut c = wss_client(tls_port, &cert.cert, "/echo");
    let big: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7) as u8).collect();
    c.send_binary(&big).unwrap();
    assert_eq!(
        c.next_event(Some(Duration::from_secs(10))).unwrap(),
        Some(OwnedEvent::Binary(big))
    );
    c.ping(b"tls ping").unwrap();
    assert_eq!(
        c.next_event(Some(Duration::from_secs(5))).unwrap(),
        Some(OwnedEvent::Pong(b"tls ping".to_vec()))
    );
    for i in 0..200 {
        c.send_text(&format!("m{i}")).unwrap();
        assert_eq!(
            c.next_event(Some(Duration::from_secs(5))).unwrap(),
            Some(OwnedEvent::Text(format!("m{i}")))
        );
    }
    c.close(CloseCode::NORMAL, "done").unwrap();
    match c.next_event(Some(Duration::from_secs(5))).unwrap() {
        Some(OwnedEvent::Close { code, .. }) => assert_eq!(code, Some(CloseCode::NORMAL)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_wss_client_that_does_not_read_cannot_grow_server_memory() {
    let (server, tls_port, cert) = tls_server(&["--threads", "1", "--max-backpressure", "262144"]);
    let c = wss_client(tls_port, &cert.cert, "/echo");
    let before = server.rss_kib();
    let (mut stream, mut ws) = c.into_parts();
    stream
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let payload = vec![0x5Au8; 64 * 1024];
    let mut sent = 0usize;
    // Until the server stops reading (our writes block), or 256 MiB.
    'outer: while sent < 256 << 20 {
        ws.send_binary(&payload).unwrap();
        let frame = ws.take_output();
        let mut rest = &frame[..];
        while !rest.is_empty() {
            match stream.write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(_) => break 'outer,
            }
        }
        sent += frame.len();
    }
    let after = server.rss_kib();
    assert!(sent < 256 << 20, "the server kept reading: {sent} bytes");
    assert!(
        after < before + 32 * 1024,
        "RSS grew from {before} KiB to {after} KiB after {sent} bytes"
    );
}

#[test]
fn past_the_connection_limit_a_tls_client_is_closed_before_its_handshake() {
    let (server, tls_port, cert) = tls_server(&["--threads", "1", "--max-connections", "1"]);
    let mut held = wss_client(tls_port, &cert.cert, "/echo");
    let refused = wslens_e2e::tls::connect(tls_port, &cert.cert);
    assert!(refused.is_err(), "a second TLS connection got through");
    held.send_text("still here").unwrap();
    assert_eq!(
        held.next_event(Some(Duration::from_secs(5))).unwrap(),
        Some(OwnedEvent::Text("still here".into()))
    );
    held.close(CloseCode::NORMAL, "").unwrap();
    let _ = held.next_event(Some(Duration::from_secs(5)));
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _, body) = server.get("/metrics");
        if status == 200 {
            let m = text(&body);
            assert!(
                metric(&m, "wslens_rejected_connections_total").unwrap() >= 1,
                "{m}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "still at the limit");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sigterm_closes_wss_clients_with_1001_and_exits_0() {
    let (mut server, tls_port, cert) = tls_server(&["--threads", "2"]);
    let mut clients: Vec<Client> = (0..5)
        .map(|_| wss_client(tls_port, &cert.cert, "/echo"))
        .collect();
    server.signal("TERM");
    for c in clients.iter_mut() {
        match c.next_event(Some(Duration::from_secs(5))).unwrap() {
            Some(OwnedEvent::Close { code, .. }) => assert_eq!(code, Some(CloseCode::GOING_AWAY)),
            other => panic!("{other:?}"),
        }
    }
    let status = server.wait_exit(Duration::from_secs(10)).expect("exited");
    assert!(status.success(), "{status:?}");
}

#[test]
fn tls_only_has_no_plain_listener() {
    let cert = cert();
    let (port, tls_port) = (free_port(), free_port());
    let mut child = Command::new(binary())
        .args(["serve", "--tls-only", "--port", &port.to_string()])
        .args(cert.serve_args(tls_port))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let served = loop {
        if let Ok((200, _, _)) = https_get(tls_port, &cert.cert, "/healthz") {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let plain = TcpStream::connect(("127.0.0.1", port));
    let _ = child.kill();
    let _ = child.wait();
    assert!(served, "no HTTPS on {tls_port}");
    assert!(plain.is_err(), "something listens on the plain port {port}");
}

#[test]
fn the_self_signed_certificate_is_printed_written_and_trusted_with_ca() {
    let tls_port = free_port();
    let out_path = temp_dir("selfsigned").join("dev.pem");
    let mut child = Command::new(binary())
        .args([
            "serve",
            "--port",
            &free_port().to_string(),
            "--tls-self-signed",
        ])
        .args(["--tls-port", &tls_port.to_string(), "--tls-cert-out"])
        .arg(&out_path)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    for _ in 0..3 {
        printed.push(lines.next().unwrap().unwrap());
    }
    let result = std::panic::catch_unwind(|| {
        let all = printed.join("\n");
        assert!(all.contains("localhost, 127.0.0.1, ::1"), "{all}");
        assert!(all.contains(&out_path.display().to_string()), "{all}");
        let fp = printed[1]
            .split("fingerprint: ")
            .nth(1)
            .unwrap()
            .trim()
            .to_owned();
        let certs = wslens_server::tls::load_certs(&out_path).unwrap();
        assert_eq!(fp, wslens_server::tls::fingerprint(&certs[0]));
        assert_eq!(fp.len(), 32 * 3 - 1);
        // A second server that cannot bind the port leaves the running one's file alone.
        let before = std::fs::read(&out_path).unwrap();
        let second = run(&[
            "serve",
            "--port",
            &free_port().to_string(),
            "--tls-self-signed",
            "--tls-port",
            &tls_port.to_string(),
            "--tls-cert-out",
            &out_path.display().to_string(),
        ]);
        assert_eq!(second.status.code(), Some(1));
        assert!(second.stdout.is_empty(), "{}", text(&second.stdout));
        assert_eq!(std::fs::read(&out_path).unwrap(), before);
        let url = format!("wss://localhost:{tls_port}/echo");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = run(&["send", &url, "--ca", &out_path.display().to_string(), "hi"]);
            if out.status.success() {
                assert_eq!(text(&out.stdout), "hi\n");
                break;
            }
            assert!(Instant::now() < deadline, "{}", text(&out.stderr));
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn bad_tls_configuration_is_refused_with_a_reason() {
    let a = cert();
    let b = cert();
    let port = free_port().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--tls-cert".into(),
                "/nonexistent/c.pem".into(),
                "--tls-key".into(),
                a.key.display().to_string(),
            ],
            "/nonexistent/c.pem",
        ),
        (
            vec![
                "--tls-cert".into(),
                a.cert.display().to_string(),
                "--tls-key".into(),
                "/nonexistent/k.pem".into(),
            ],
            "/nonexistent/k.pem",
        ),
        (
            // A certificate file given as the key: no private key in it.
            vec![
                "--tls-cert".into(),
                a.cert.display().to_string(),
                "--tls-key".into(),
                a.cert.display().to_string(),
            ],
            "no PEM item",
        ),
        (
            // A key file given as the certificate.
            vec![
                "--tls-cert".into(),
                a.key.display().to_string(),
                "--tls-key".into(),
                a.key.display().to_string(),
            ],
            "no PEM certificate",
        ),
        (
            vec![
                "--tls-cert".into(),
                a.cert.display().to_string(),
                "--tls-key".into(),
                b.key.display().to_string(),
            ],
            "certificate and key",
        ),
        (vec!["--tls-only".into()], "--tls-only needs"),
        (
            vec![
                "--tls-self-signed".into(),
                "--tls-port".into(),
                port.clone(),
            ],
            "also the plain --port",
        ),
        (
            vec![
                "--tls-self-signed".into(),
                "--tls-port".into(),
                free_port().to_string(),
                "--tls-cert-out".into(),
                "/nonexistent/dir/cert.pem".into(),
            ],
            "writing the certificate",
        ),
    ];
    for (args, expect) in cases {
        let mut all = vec!["serve".to_string(), "--port".into(), port.clone()];
        all.extend(args.iter().cloned());
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let out = run(&all);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(expect),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // Half a pair is a usage error.
    let out = run(&["serve", "--tls-cert", &a.cert.display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bench_and_listen_over_wss() {
    let (_server, tls_port, cert) = tls_server(&["--threads", "1"]);
    let ca = cert.cert.display().to_string();
    let url = format!("wss://127.0.0.1:{tls_port}/echo");
    // Large messages with several in flight: records split and coalesce in every way.
    for (size, in_flight) in [("300", "4"), ("70000", "3")] {
        let out = run(&[
            "bench",
            &url,
            "--ca",
            &ca,
            "--connections",
            "4",
            "--in-flight",
            in_flight,
            "--size",
            size,
            "--messages",
            "400",
            "--warmup",
            "0",
            "--threads",
            "2",
            "--json",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let json = text(&out.stdout);
        assert!(json.contains("\"mismatches\":0,"), "{json}");
    }
    // Without trust in the certificate, bench fails with the reason.
    let out = run(&["bench", &url, "--messages", "10", "--warmup", "0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not trusted"),
        "{}",
        text(&out.stderr)
    );

    // listen over wss: its own join notice, a message from `send`, then Ctrl-C's clean close.
    let room = format!("wss://127.0.0.1:{tls_port}/chat/tls");
    let mut listener = Command::new(binary())
        .args(["listen", "--ca", &ca, &room])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(listener.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("join"), "{first}");
    let out = run(&["send", &room, "--ca", &ca, "over tls"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut saw = false;
    for line in lines.by_ref().take(4) {
        if line.unwrap() == "over tls" {
            saw = true;
            break;
        }
    }
    assert!(saw, "the listener got the message");
    let kill = Command::new("kill")
        .args(["-INT", &listener.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = listener.wait().unwrap();
    assert!(status.success(), "{status:?}");
}
