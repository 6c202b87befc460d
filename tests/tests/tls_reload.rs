//! SIGHUP reloads the TLS certificate and key: handshakes after it use the new files, open
//! connections keep theirs, and files that do not load leave the old certificate serving.
#![cfg(unix)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use wslens::OwnedEvent;
use wslens_e2e::tls::{cert, connect, temp_dir, trusting};
use wslens_e2e::{free_port, Server};
use wslens_server::client::{Client, ClientOptions};

fn hangup(server: &Server) {
    let status = Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Whether a client trusting only `ca` completes a handshake with the server.
fn trusted(port: u16, ca: &Path) -> bool {
    connect(port, ca).is_ok()
}

#[test]
fn sighup_reloads_the_certificate_for_new_handshakes_and_open_connections_stay() {
    let (a, b) = (cert(), cert());
    let dir = temp_dir("reload");
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    let install = |from: &wslens_e2e::tls::Cert| {
        std::fs::copy(&from.cert, &cert_file).unwrap();
        std::fs::copy(&from.key, &key_file).unwrap();
    };
    install(&a);
    let port = free_port();
    let (c, k, p) = (
        cert_file.display().to_string(),
        key_file.display().to_string(),
        port.to_string(),
    );
    let server = Server::start(&["--tls-cert", &c, "--tls-key", &k, "--tls-port", &p]);
    assert!(trusted(port, &a.cert) && !trusted(port, &b.cert));
    let opts = ClientOptions {
        tls: Some(trusting(&a.cert)),
        ..ClientOptions::default()
    };
    let mut open = Client::connect(&format!("wss://127.0.0.1:{port}/echo"), &opts)
        .expect("wss on the first certificate")
        .0;

    install(&b);
    hangup(&server);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !trusted(port, &b.cert) {
        assert!(
            Instant::now() < deadline,
            "the new certificate never served"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !trusted(port, &a.cert),
        "the old certificate is no longer served"
    );
    // The connection made before the reload is untouched.
    open.send_text("still open").unwrap();
    assert_eq!(
        open.next_event(Some(Duration::from_secs(5))).unwrap(),
        Some(OwnedEvent::Text("still open".into()))
    );

    // A certificate file that does not load: the server logs it and keeps serving B.
    std::fs::write(&cert_file, "not a certificate").unwrap();
    hangup(&server);
    std::thread::sleep(Duration::from_millis(300));
    assert!(trusted(port, &b.cert));
    assert_eq!(server.get("/healthz").0, 200, "still running");
}

#[test]
fn sighup_without_tls_is_harmless() {
    let server = Server::start(&["--threads", "1"]);
    hangup(&server);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        server.get("/healthz").0,
        200,
        "SIGHUP did not stop the server"
    );
}
