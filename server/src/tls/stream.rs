//! [`TlsStream`]: a rustls connection over a `TcpStream`, as `Read` + `Write`, for the event
//! loop (non-blocking) and the clients (blocking, with socket timeouts).

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Handshake {
    Pending,
    Done,
    Failed,
}

/// Most plaintext one `read_tls` + `process_new_packets` round can produce: rustls reads at
/// most one maximum-size record (16 KiB + overhead) plus a 4 KiB read ahead. A non-blocking
/// [`TlsStream::read`] goes back to the socket only while the caller's buffer has this much
/// room left, so everything rustls decrypted fits and none stays behind where a
/// level-triggered poller could not see it.
pub(super) const MAX_PLAINTEXT_PER_ROUND: usize = 32 * 1024;

/// Socket reads one non-blocking [`TlsStream::read`] makes at most. Records that carry no
/// application data (handshake messages, alerts, key updates) are processed in the same call,
/// so a peer sending only those could otherwise hold the loop for as long as it keeps
/// sending; past this, the read says "would block" and a level-triggered poller, seeing the
/// socket still readable, comes back after the other connections had their turn.
pub(super) const MAX_ROUNDS_PER_READ: usize = 8;

/// A rustls connection over a `TcpStream`, as `Read` + `Write`.
///
/// Reads return decrypted bytes (an empty read is the end of the stream, with or without
/// the peer's `close_notify`); the handshake is driven by reading and writing. Writes hand
/// plaintext to rustls (its send buffer is capped at 64 KiB, so output stays bounded: a
/// write returns `WouldBlock` while it is full) and push records to the socket as far as it
/// takes them; [`TlsStream::wants_write`] tells whether records are still waiting.
pub struct TlsStream {
    pub(super) sock: TcpStream,
    pub(super) conn: Connection,
    pub(super) handshake: Handshake,
    pub(super) nonblocking: bool,
    /// Where the server counts handshakes (`None` on the client side).
    pub(super) metrics: Option<Arc<Metrics>>,
}

impl TlsStream {
    /// The server side of an accepted (non-blocking) connection; handshakes are counted in
    /// `metrics`.
    pub fn server(
        sock: TcpStream,
        config: Arc<ServerConfig>,
        metrics: Option<Arc<Metrics>>,
    ) -> io::Result<TlsStream> {
        let conn = ServerConnection::new(config).map_err(io::Error::other)?;
        Ok(TlsStream {
            sock,
            conn: conn.into(),
            handshake: Handshake::Pending,
            nonblocking: true,
            metrics,
        })
    }

    /// The client side, for `host` (a DNS name, or an IP address checked against the
    /// certificate's IP addresses).
    pub fn client(sock: TcpStream, config: Arc<ClientConfig>, host: &str) -> io::Result<TlsStream> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let conn = ClientConnection::new(config, name).map_err(io::Error::other)?;
        Ok(TlsStream {
            sock,
            conn: conn.into(),
            handshake: Handshake::Pending,
            nonblocking: false,
            metrics: None,
        })
    }

    /// The TCP socket.
    pub fn tcp(&self) -> &TcpStream {
        &self.sock
    }

    /// Switches the socket between blocking and non-blocking.
    pub fn set_nonblocking(&mut self, on: bool) -> io::Result<()> {
        self.sock.set_nonblocking(on)?;
        self.nonblocking = on;
        Ok(())
    }

    /// Whether the handshake is still going on.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Whether encrypted records wait to be written to the socket.
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Completes the handshake on a blocking socket within `timeout` (the client's connect).
    pub fn complete_handshake(&mut self, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        while self.conn.is_handshaking() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "TLS handshake timed out",
                ));
            }
            self.sock.set_write_timeout(Some(left))?;
            self.sock.set_read_timeout(Some(left))?;
            self.write_pending()?;
            if !self.conn.is_handshaking() {
                break;
            }
            if self.conn.wants_read() {
                match self.conn.read_tls(&mut self.sock) {
                    Ok(0) => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the server closed the connection during the TLS handshake",
                        ))
                    }
                    Ok(_) => self.process()?,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) =>
                    {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "TLS handshake timed out",
                        ))
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        self.write_pending()?;
        self.sock.set_write_timeout(None)?;
        Ok(())
    }

    /// Decrypts what arrived; counts the handshake's outcome; sends what rustls queued
    /// (handshake messages, alerts) as far as the socket takes it.
    pub(super) fn process(&mut self) -> io::Result<()> {
        match self.conn.process_new_packets() {
            Ok(_) => {
                if self.handshake == Handshake::Pending && !self.conn.is_handshaking() {
                    self.handshake = Handshake::Done;
                    if let Some(m) = &self.metrics {
                        Metrics::inc(&m.tls_handshakes_ok);
                    }
                }
                match self.write_pending() {
                    Err(e) if self.nonblocking => {
                        // The caller's next write reports it.
                        tracing::debug!(error = %e, "TLS write failed");
                        Ok(())
                    }
                    other => other,
                }
            }
            Err(e) => {
                // rustls queued an alert that says why: send it if the socket takes it.
                let _ = self.write_pending();
                self.fail();
                Err(io::Error::new(io::ErrorKind::InvalidData, e))
            }
        }
    }

    pub(super) fn fail(&mut self) {
        if self.handshake == Handshake::Pending {
            if let Some(m) = &self.metrics {
                Metrics::inc(&m.tls_handshakes_failed);
            }
        }
        self.handshake = Handshake::Failed;
    }

    pub(super) fn failed_error() -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, "the TLS connection has failed")
    }

    /// Writes queued records until none are left or the socket would block (not an error).
    pub fn write_pending(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Sends `close_notify` (unless the connection failed) and shuts the socket down.
    pub fn shutdown(&mut self, how: std::net::Shutdown) -> io::Result<()> {
        if self.handshake == Handshake::Done {
            self.conn.send_close_notify();
            let _ = self.write_pending();
        }
        self.sock.shutdown(how)
    }
}

impl Drop for TlsStream {
    fn drop(&mut self) {
        // A connection that goes away mid-handshake (timeout, EOF, server shutdown) failed.
        self.fail();
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.handshake == Handshake::Failed {
            return Err(Self::failed_error());
        }
        let mut filled = 0;
        let mut rounds = 0;
        loop {
            match self.conn.reader().read(&mut buf[filled..]) {
                // The peer's close_notify, once everything before it has been read.
                Ok(0) => return Ok(filled),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // TCP EOF without close_notify: an end of stream like any other here (the
                // WebSocket close handshake, not TLS, says whether it was clean).
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(filled),
                Err(e) => return Err(e),
            }
            let room = buf.len() - filled;
            if filled > 0 && (!self.nonblocking || room < MAX_PLAINTEXT_PER_ROUND) {
                return Ok(filled);
            }
            if self.nonblocking && rounds == MAX_ROUNDS_PER_READ {
                return match filled {
                    0 => Err(io::ErrorKind::WouldBlock.into()),
                    n => Ok(n),
                };
            }
            rounds += 1;
            match self.conn.read_tls(&mut self.sock) {
                // EOF: rustls remembers it and the reader reports it above.
                Ok(0) => {}
                Ok(_) => self.process()?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // WouldBlock (or a socket error, which the next read reports).
                Err(_) if filled > 0 => return Ok(filled),
                Err(e) => return Err(e),
            }
        }
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if self.handshake == Handshake::Failed {
            return Err(Self::failed_error());
        }
        if bufs.iter().all(|b| b.is_empty()) {
            return Ok(0);
        }
        self.write_pending()?;
        let n = self.conn.writer().write_vectored(bufs)?;
        if n == 0 {
            // rustls's send buffer is full and the socket takes nothing: come back later.
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.write_pending()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_pending()?;
        if self.conn.wants_write() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::atomic::Ordering::Relaxed;

    /// A file of its own for each call: tests run side by side in one process, and two
    /// writing the same `ca.pem` made one trust the other's certificate (seen under Wine as
    /// `InvalidCertificate(BadSignature)`).
    fn temp(name: &str, contents: &[u8]) -> std::path::PathBuf {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("wslens-tls-unit-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// A connected pair: (server side, non-blocking; client side, blocking).
    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        s.set_nonblocking(true).unwrap();
        (s, c)
    }

    fn plaintext_left(t: &mut TlsStream) -> usize {
        t.conn
            .process_new_packets()
            .map_or(usize::MAX, |s| s.plaintext_bytes_to_read())
    }

    /// Drives the server side until its handshake is done (the client runs in a thread).
    fn handshake(server: &mut TlsStream) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.is_handshaking() {
            assert!(Instant::now() < deadline, "handshake did not finish");
            let mut b = [0u8; 1];
            match server.read(&mut b) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => panic!("unexpected {other:?}"),
            }
            server.write_pending().unwrap();
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn connected(
        metrics: &Arc<Metrics>,
    ) -> (TlsStream, std::thread::JoinHandle<TlsStream>, SelfSigned) {
        let dev = self_signed().unwrap();
        let ca = temp("ca.pem", dev.cert_pem.as_bytes());
        let (s, c) = pair();
        let mut server = TlsStream::server(s, dev.config.clone(), Some(metrics.clone())).unwrap();
        let config = client_config(Some(&ca), false).unwrap();
        let client = std::thread::spawn(move || {
            let mut t = TlsStream::client(c, config, "127.0.0.1").unwrap();
            t.complete_handshake(Duration::from_secs(10)).unwrap();
            t
        });
        handshake(&mut server);
        (server, client, dev)
    }

    #[test]
    fn fingerprint_is_colon_separated_sha256() {
        let f = fingerprint(b"abc");
        assert_eq!(
            f,
            "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
    }

    #[test]
    fn self_signed_certificate_round_trips_through_pem() {
        let dev = self_signed().unwrap();
        let path = temp("self.pem", dev.cert_pem.as_bytes());
        let certs = load_certs(&path).unwrap();
        assert_eq!(certs.len(), 1);
        assert_eq!(fingerprint(&certs[0]), dev.fingerprint);
        assert_eq!(dev.config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn pem_errors_name_the_file_and_the_problem() {
        let missing = Path::new("/nonexistent/wslens/cert.pem");
        let e = load_certs(missing).unwrap_err();
        assert!(e.contains("/nonexistent/wslens/cert.pem"), "{e}");
        let empty = temp("empty.pem", b"not pem at all\n");
        assert!(load_certs(&empty)
            .unwrap_err()
            .contains("no PEM certificate"));
        assert!(load_key(&empty)
            .unwrap_err()
            .contains("no PEM item of the expected kind"));
        assert!(client_config(Some(&empty), false).is_err());
        assert!(client_config(Some(missing), false).is_err());
    }

    #[test]
    fn a_key_that_does_not_match_the_certificate_is_refused() {
        let a = self_signed().unwrap();
        let other = rcgen::KeyPair::generate().unwrap();
        let certs = load_certs(&temp("a.pem", a.cert_pem.as_bytes())).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(other.serialize_der()));
        let e = server_config(certs, key).unwrap_err();
        assert!(e.contains("certificate and key"), "{e}");
    }

    #[test]
    fn handshake_then_data_both_ways_and_the_handshake_is_counted() {
        let metrics = Arc::new(Metrics::default());
        let (mut server, client, _) = connected(&metrics);
        let mut client = client.join().unwrap();
        assert_eq!(metrics.tls_handshakes_ok.load(Relaxed), 1);
        client.write_all(b"hello over TLS").unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let deadline = Instant::now() + Duration::from_secs(5);
        let n = loop {
            match server.read(&mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline);
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(&buf[..n], b"hello over TLS");
        assert_eq!(server.write(b"back").unwrap(), 4);
        server.flush().unwrap();
        let mut back = [0u8; 4];
        client.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"back");
        // A clean close_notify reads as the end of the stream, on both sides.
        server.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(client.read(&mut back).unwrap(), 0);
        drop(server);
        assert_eq!(metrics.tls_handshakes_failed.load(Relaxed), 0);
    }

    #[test]
    fn a_non_blocking_read_leaves_no_decrypted_bytes_behind() {
        // What a level-triggered loop relies on: once `read` returns, whatever rustls has
        // decrypted has been handed over (the socket, not rustls, holds the rest).
        let metrics = Arc::new(Metrics::default());
        let (mut server, client, _) = connected(&metrics);
        let mut client = client.join().unwrap();
        let total = 4 << 20;
        let writer = std::thread::spawn(move || {
            let chunk: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
            let mut sent = 0;
            while sent < total {
                let n = chunk.len().min(total - sent);
                client.write_all(&chunk[..n]).unwrap();
                sent += n;
            }
            client
        });
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0;
        let deadline = Instant::now() + Duration::from_secs(30);
        while got < total {
            assert!(Instant::now() < deadline, "only {got} bytes arrived");
            match server.read(&mut buf) {
                Ok(0) => panic!("early end of stream"),
                Ok(n) => {
                    got += n;
                    assert_eq!(plaintext_left(&mut server), 0, "after a read of {n}");
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    assert_eq!(plaintext_left(&mut server), 0);
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(got, total);
        drop(writer.join().unwrap());
    }

    #[test]
    fn output_to_a_peer_that_does_not_read_stays_bounded() {
        let metrics = Arc::new(Metrics::default());
        let (mut server, client, _) = connected(&metrics);
        let _client = client.join().unwrap();
        let chunk = vec![0x5Au8; 64 * 1024];
        let mut accepted = 0usize;
        loop {
            match server.write(&chunk) {
                Ok(n) => accepted += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
            assert!(
                accepted < 256 << 20,
                "rustls kept accepting: {accepted} bytes"
            );
        }
        assert!(server.wants_write(), "records wait for the socket");
    }

    #[test]
    fn garbage_gets_an_alert_an_error_and_counts_as_a_failed_handshake() {
        let metrics = Arc::new(Metrics::default());
        let dev = self_signed().unwrap();
        let (s, mut c) = pair();
        let mut server = TlsStream::server(s, dev.config, Some(metrics.clone())).unwrap();
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut buf = [0u8; 1024];
        let deadline = Instant::now() + Duration::from_secs(5);
        let err = loop {
            match server.read(&mut buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline);
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => break e,
                Ok(n) => panic!("read {n} bytes of garbage"),
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(metrics.tls_handshakes_failed.load(Relaxed), 1);
        // Later calls fail at once, and writes too.
        assert!(server.read(&mut buf).is_err());
        assert!(server.write(b"x").is_err());
        // The peer got an alert record (content type 21).
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let n = c.read(&mut buf).unwrap();
        assert!(n >= 7 && buf[0] == 0x15, "{:?}", &buf[..n]);
        drop(server);
        assert_eq!(
            metrics.tls_handshakes_failed.load(Relaxed),
            1,
            "counted once"
        );
    }

    #[test]
    fn a_handshake_abandoned_midway_counts_as_failed() {
        let metrics = Arc::new(Metrics::default());
        let dev = self_signed().unwrap();
        let (s, _c) = pair();
        let server = TlsStream::server(s, dev.config, Some(metrics.clone())).unwrap();
        drop(server);
        assert_eq!(metrics.tls_handshakes_failed.load(Relaxed), 1);
        assert_eq!(metrics.tls_handshakes_ok.load(Relaxed), 0);
    }

    #[test]
    fn the_client_reports_an_untrusted_certificate_and_a_silent_server() {
        let dev = self_signed().unwrap();
        let (s, c) = pair();
        let mut server = TlsStream::server(s, dev.config, None).unwrap();
        let roots_only = client_config(None, false).unwrap();
        let client = std::thread::spawn(move || {
            let mut t = TlsStream::client(c, roots_only, "127.0.0.1").unwrap();
            t.complete_handshake(Duration::from_secs(10))
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while !client.is_finished() && Instant::now() < deadline {
            let mut b = [0u8; 16];
            let _ = server.read(&mut b);
            let _ = server.write_pending();
            std::thread::sleep(Duration::from_millis(1));
        }
        let e = client.join().unwrap().unwrap_err();
        let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
        assert!(
            matches!(inner, Some(rustls::Error::InvalidCertificate(_))),
            "{e:?}"
        );
        // A server that never answers: the handshake times out.
        let (_s, c) = pair();
        let mut t = TlsStream::client(c, client_config(None, true).unwrap(), "localhost").unwrap();
        let started = Instant::now();
        let e = t
            .complete_handshake(Duration::from_millis(300))
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
