//! Helpers for the end-to-end tests: start the real `wslens` binary on a free port of
//! 127.0.0.1, talk to it over real sockets with a client built on the wslens core, read its
//! process state from /proc.
//!
//! The binary is `target/<profile>/wslens`, built by `cargo build -p wslens-server` (the
//! README's test command does that first).

pub mod redis;
pub mod tls;

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use wslens::handshake::{ClientRequest, Response};
use wslens::{CloseCode, Config, Connection, Error, OwnedEvent, State};

/// Path of the `wslens` binary next to this test's build directory.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test> -> target/<profile>/wslens
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join(format!("wslens{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p wslens-server` first",
        bin.display()
    );
    bin
}

/// A number field of a one-line JSON report (`wslens bench --json`): panics, naming the field
/// and showing the report, if it is missing or not a number.
pub fn json_number(json: &str, name: &str) -> f64 {
    let at = json
        .find(&format!("\"{name}\":"))
        .unwrap_or_else(|| panic!("{name} in {json}"))
        + name.len()
        + 3;
    json[at..]
        .split([',', '}'])
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} is not a number in {json}"))
}

/// The value of a Prometheus metric (a name with its labels, if any) in `/metrics` text.
pub fn metric(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// The `www` directory of the repository.
pub fn www_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../www")
}

/// A running `wslens serve`, killed on drop.
pub struct Server {
    child: Child,
    /// Its port.
    pub port: u16,
}

impl Server {
    /// Starts `wslens serve --port <free> <args>` and waits until it answers `/healthz`.
    /// A port taken by another process between [`free_port`] and the server's bind (tests
    /// run side by side) makes the server exit at once: then it starts again on another.
    pub fn start(args: &[&str]) -> Server {
        for _ in 0..3 {
            if let Some(server) = Server::try_start_on(free_port(), args) {
                return server;
            }
        }
        panic!("wslens serve exited at start three times (see its stderr above)");
    }

    /// [`Server::start`] on a given port (a second server beside one already there, with
    /// `--reuse-port`): ready once the port answers `/healthz`, whichever server answers.
    pub fn start_on(port: u16, args: &[&str]) -> Server {
        Server::try_start_on(port, args).expect("wslens serve exited at start")
    }

    /// `None` if the server exits before it answers (its port was taken, say).
    fn try_start_on(port: u16, args: &[&str]) -> Option<Server> {
        let mut cmd = Command::new(binary());
        cmd.arg("serve").arg("--port").arg(port.to_string());
        if !args.contains(&"--www") {
            cmd.arg("--www").arg(www_dir());
        }
        cmd.args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = cmd.spawn().expect("spawn wslens");
        let mut server = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let up = matches!(server.try_get("/healthz"), Ok((200, _, _)));
            // (A 200 from another server holding the port does not count: ours has exited.)
            if let Ok(Some(_)) = server.child.try_wait() {
                return None;
            }
            if up {
                return Some(server);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("wslens serve did not come up on port {port} in 30 s");
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (e.g. "TERM") to the server process (by the PID we started).
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status();
        assert!(ok.is_ok_and(|s| s.success()), "kill -{signal} failed");
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// A plain HTTP GET of `path`: (status, head, body).
    pub fn get(&self, path: &str) -> (u16, String, Vec<u8>) {
        self.try_get(path).expect("GET")
    }

    /// One metric of the server's `/metrics` (0 when it is not there yet).
    pub fn metric(&self, name: &str) -> u64 {
        metric(&String::from_utf8_lossy(&self.get("/metrics").2), name).unwrap_or(0)
    }

    fn try_get(&self, path: &str) -> io::Result<(u16, String, Vec<u8>)> {
        http(
            self.port,
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes(),
        )
    }

    /// Open file descriptors of the server process (Linux).
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid())).map_or(0, |d| d.count())
    }

    /// Open file descriptors once the count has stopped changing (the probe connections of
    /// `start` may still be closing).
    pub fn settled_fds(&self) -> usize {
        let mut last = self.open_fds();
        for _ in 0..50 {
            std::thread::sleep(Duration::from_millis(50));
            let now = self.open_fds();
            if now == last {
                return now;
            }
            last = now;
        }
        last
    }

    /// Resident memory of the server process in KiB (Linux).
    pub fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// A WebSocket client connected to `path`.
    pub fn connect(&self, path: &str) -> Client {
        Client::connect(self.port, path, &[]).expect("connect").0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (20 s at most) until a server started outside [`Server`] answers `/healthz` on `port`.
pub fn wait_healthz(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !matches!(
        http(port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        Ok((200, _, _))
    ) {
        assert!(
            Instant::now() < deadline,
            "no /healthz on port {port} in 20 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A TCP connection to 127.0.0.1:`port` from `source` (any 127.0.0.0/8 address).
pub fn connect_from(source: Ipv4Addr, port: u16) -> io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.bind(&SocketAddr::from((source, 0)).into())?;
    socket.connect(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)).into())?;
    Ok(socket.into())
}

/// Sends raw bytes as an HTTP request and reads the response until the server closes.
pub fn http(port: u16, request: &[u8]) -> io::Result<(u16, String, Vec<u8>)> {
    http_over(TcpStream::connect(("127.0.0.1", port))?, request)
}

/// [`http`] over a connection already made (from [`connect_from`], say).
pub fn http_over(mut s: TcpStream, request: &[u8]) -> io::Result<(u16, String, Vec<u8>)> {
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(request)?;
    let mut data = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
        // A 101 keeps the connection open: the head is all there is to read.
        if data.starts_with(b"HTTP/1.1 101 ") && data.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
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

/// A blocking WebSocket client on the wslens core (client role), for tests.
pub struct Client {
    stream: TcpStream,
    conn: Connection,
    pending: Vec<OwnedEvent>,
    /// Write nothing the protocol queues by itself (pongs, close replies): a peer that
    /// reads but never answers.
    silent: bool,
}

fn mask_source() -> impl FnMut() -> [u8; 4] + Send + 'static {
    let mut x = (Instant::now().elapsed().as_nanos() as u32) ^ 0x9E37_79B9 ^ std::process::id();
    move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x.to_le_bytes()
    }
}

impl Client {
    /// Connects and completes the opening handshake.
    pub fn connect(port: u16, path: &str, protocols: &[&str]) -> Result<(Client, Response), Error> {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .map_err(|_| Error::InvalidState("connect failed"))?;
        Client::handshake(stream, port, path, protocols)
    }

    /// [`Client::connect`] from another loopback source address (127.0.0.2, say), so that
    /// per-address limits count it apart from the tests' other connections.
    pub fn connect_from(source: Ipv4Addr, port: u16, path: &str) -> Result<Client, Error> {
        let stream =
            connect_from(source, port).map_err(|_| Error::InvalidState("connect failed"))?;
        Client::handshake(stream, port, path, &[]).map(|(c, _)| c)
    }

    fn handshake(
        stream: TcpStream,
        port: u16,
        path: &str,
        protocols: &[&str],
    ) -> Result<(Client, Response), Error> {
        stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
        stream.set_nodelay(true).ok();
        let host = format!("127.0.0.1:{port}");
        let request = ClientRequest {
            host: &host,
            path,
            nonce: *b"e2e-test-nonce!!",
            protocols,
            extensions: None,
            origin: None,
            extra_headers: &[],
            deflate: None,
        };
        let conn = Connection::client(Config::default(), &request, mask_source());
        let mut client = Client {
            stream,
            conn,
            pending: Vec::new(),
            silent: false,
        };
        client.flush();
        loop {
            for (i, e) in client.pending.iter().enumerate() {
                if let OwnedEvent::Connected(r) = e {
                    let r = (**r).clone();
                    client.pending.remove(i);
                    return Ok((client, r));
                }
            }
            client.read_more()?;
        }
    }

    fn flush(&mut self) {
        let out = self.conn.take_output();
        if !self.silent {
            let _ = self.stream.write_all(&out);
        }
    }

    /// From now on, answer nothing: pongs and close replies are dropped unsent (for tests
    /// of a peer that ignores pings or never completes the closing handshake).
    pub fn go_silent(&mut self) {
        self.silent = true;
    }

    fn read_more(&mut self) -> Result<(), Error> {
        let mut buf = vec![0u8; 256 * 1024];
        let n = match self.stream.read(&mut buf) {
            Ok(n) => n,
            Err(_) => return Err(Error::InvalidState("read failed or timed out")),
        };
        if n == 0 {
            if let Some(code) = self.conn.receive_eof() {
                self.pending.push(OwnedEvent::Close {
                    code: Some(code),
                    reason: "eof".into(),
                });
                return Ok(());
            }
            return Err(Error::InvalidState("eof"));
        }
        let result = self.conn.receive(&buf[..n], &mut self.pending);
        self.flush();
        result
    }

    /// Sends text.
    pub fn send_text(&mut self, text: &str) {
        self.conn.send_text(text).expect("send");
        self.flush();
    }

    /// Sends binary.
    pub fn send_binary(&mut self, data: &[u8]) {
        self.conn.send_binary(data).expect("send");
        self.flush();
    }

    /// Sends a ping.
    pub fn ping(&mut self, payload: &[u8]) {
        self.conn.ping(payload).expect("ping");
        self.flush();
    }

    /// Starts the close handshake.
    pub fn close(&mut self, code: CloseCode) {
        self.conn.close(code, "bye").expect("close");
        self.flush();
    }

    /// The next event (blocking, 10 s timeout).
    pub fn recv(&mut self) -> Result<OwnedEvent, Error> {
        while self.pending.is_empty() {
            self.read_more()?;
        }
        Ok(self.pending.remove(0))
    }

    /// The protocol state.
    pub fn state(&self) -> State {
        self.conn.state()
    }

    /// Whether the server closed the TCP connection (reads EOF).
    pub fn server_closed_tcp(&mut self) -> bool {
        let mut b = [0u8; 64];
        matches!(self.stream.read(&mut b), Ok(0))
    }

    /// The raw socket (for tests that misbehave on purpose).
    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Half-closes the write side.
    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}
