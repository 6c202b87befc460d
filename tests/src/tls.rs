//! TLS helpers: a certificate made for the test (`rcgen`), HTTPS requests over `rustls`, and
//! the arguments that give `wslens serve` a TLS listener.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A certificate for localhost / 127.0.0.1 and its key, as PEM files in a fresh directory.
pub struct Cert {
    /// The certificate (PEM): the server's `--tls-cert`, a client's `--ca`.
    pub cert: PathBuf,
    /// The key (PEM): the server's `--tls-key`.
    pub key: PathBuf,
}

/// A fresh directory under the system's temporary directory, unique to this process.
pub fn temp_dir(what: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "wslens-e2e-{}-{what}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Makes a self-signed certificate for localhost and 127.0.0.1 (a new key each call).
pub fn cert() -> Cert {
    cert_for(&["localhost", "127.0.0.1"])
}

/// Makes a self-signed certificate for exactly `names` (a new key each call).
pub fn cert_for(names: &[&str]) -> Cert {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let made = rcgen::generate_simple_self_signed(names).expect("rcgen");
    let dir = temp_dir("cert");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, made.cert.pem()).expect("write cert");
    std::fs::write(&key, made.signing_key.serialize_pem()).expect("write key");
    Cert { cert, key }
}

impl Cert {
    /// `--tls-cert … --tls-key … --tls-port PORT`.
    pub fn serve_args(&self, tls_port: u16) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            self.cert.display().to_string(),
            "--tls-key".into(),
            self.key.display().to_string(),
            "--tls-port".into(),
            tls_port.to_string(),
        ]
    }
}

/// A client configuration that trusts `ca` only.
pub fn trusting(ca: &Path) -> Arc<rustls::ClientConfig> {
    wslens_server::tls::client_config(Some(ca), false).expect("client config")
}

/// A TLS connection to 127.0.0.1:`port` (blocking, 5 s timeouts), handshake done.
pub fn connect(
    port: u16,
    ca: &Path,
) -> io::Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
    let sock = TcpStream::connect(("127.0.0.1", port))?;
    sock.set_read_timeout(Some(Duration::from_secs(5)))?;
    sock.set_write_timeout(Some(Duration::from_secs(5)))?;
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
    let conn = rustls::ClientConnection::new(trusting(ca), name).map_err(io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(tls)
}

/// Sends `request` over HTTPS and reads the response until the server closes:
/// (status, head, body).
pub fn https(port: u16, ca: &Path, request: &[u8]) -> io::Result<(u16, String, Vec<u8>)> {
    let mut tls = connect(port, ca)?;
    tls.write_all(request)?;
    tls.flush()?;
    let mut data = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match tls.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => data.extend_from_slice(&buf[..n]),
            // The server may close the TCP connection without waiting for our close_notify.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && !data.is_empty() => break,
            Err(e) => return Err(e),
        }
    }
    let end = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(data.len(), |p| p + 4);
    let head = String::from_utf8_lossy(&data[..end]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, head, data[end..].to_vec()))
}

/// An HTTPS GET of `path`.
pub fn https_get(port: u16, ca: &Path, path: &str) -> io::Result<(u16, String, Vec<u8>)> {
    https(
        port,
        ca,
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes(),
    )
}

/// The first bytes a real client sends: a TLS ClientHello.
pub fn client_hello(ca: &Path) -> Vec<u8> {
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut conn = rustls::ClientConnection::new(trusting(ca), name).expect("client");
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).expect("write_tls");
    }
    out
}
