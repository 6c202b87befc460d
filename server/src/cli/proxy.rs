//! `wslens proxy`: a logging man-in-the-middle for WebSocket sessions. Each client that
//! connects to `--listen` is relayed to the upstream (`ws://` or `wss://`) byte for byte;
//! only the request head changes on the way (its `Host`, and its target when the upstream
//! URL names a path). Both legs are read by the core's session inspector and printed, one
//! line per frame per leg (`--json`: one object each), and recorded: `--record` (pcapng of
//! both legs as synthesised TCP/IP packets with the real bytes and times), `--har` (Chrome
//! DevTools' shape) and `--keylog` (the NSS key log of the TLS legs). Memory is bounded per
//! connection (a relay buffer each way, the inspectors' limits) and connections are capped;
//! the recordings are valid at every moment, and complete after Ctrl-C.

use super::args::ProxyArgs;
use crate::tls::TlsStream;
use crate::transport::Transport;
use polling::{Event, Events, PollMode, Poller};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use wslens::handshake::{Head, HeadScanner};
use wslens::inspect::session::{Direction, SessionEvent, SessionInspector};
use wslens::{Config, OwnedEvent};
use wslens_capture::har::HarLog;
use wslens_capture::show;
use wslens_capture::write::{PcapngWriter, TcpLeg};

/// Most bytes waiting to be written to one side before the other side is read no more.
const RELAY_BUFFER: usize = 1 << 20;
/// The largest request head taken from a client.
const MAX_HEAD: usize = 64 * 1024;

/// An NSS key log (what Wireshark reads to decrypt TLS): one line per secret.
struct KeyLogFile(Mutex<std::fs::File>);

impl std::fmt::Debug for KeyLogFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyLogFile")
    }
}

impl rustls::KeyLog for KeyLogFile {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        if let Ok(mut f) = self.0.lock() {
            let _ = writeln!(f, "{label} {} {}", hex(client_random), hex(secret));
            let _ = f.flush();
        }
    }
}

/// What every connection shares.
struct Shared {
    upstream: super::client::Target,
    /// `ws://host[:port]` or `wss://…` of the upstream, for HAR URLs.
    origin: String,
    upstream_tls: Option<Arc<rustls::ClientConfig>>,
    listen_tls: Option<Arc<rustls::ServerConfig>>,
    pcap: Option<Mutex<PcapngWriter>>,
    har: Option<Mutex<HarLog>>,
    json: bool,
    timeout: Duration,
    out: Mutex<io::Stdout>,
    active: AtomicUsize,
    next_id: AtomicU64,
}

impl Shared {
    fn line(&self, text: &str) {
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
    }

    fn record(&self, f: impl FnOnce(&mut PcapngWriter) -> io::Result<()>) {
        if let Some(p) = &self.pcap {
            if let Ok(mut w) = p.lock() {
                if let Err(e) = f(&mut w) {
                    tracing::warn!(error = %e, "writing the pcapng recording");
                }
            }
        }
    }

    fn har(&self, f: impl FnOnce(&mut HarLog) -> io::Result<()>) {
        if let Some(h) = &self.har {
            if let Ok(mut log) = h.lock() {
                if let Err(e) = f(&mut log) {
                    tracing::warn!(error = %e, "writing the HAR recording");
                }
            }
        }
    }
}

fn with_keylog<T: Clone>(
    config: Arc<T>,
    keylog: &Option<Arc<KeyLogFile>>,
    set: impl FnOnce(&mut T, Arc<KeyLogFile>),
) -> Arc<T> {
    match keylog {
        Some(k) => {
            let mut c = (*config).clone();
            set(&mut c, k.clone());
            Arc::new(c)
        }
        None => config,
    }
}

/// `wslens proxy`.
pub(crate) fn proxy(args: ProxyArgs) -> Result<(), String> {
    let upstream = super::client::Target::parse(&args.upstream).map_err(|e| e.to_string())?;
    let keylog = match &args.keylog {
        Some(path) => Some(Arc::new(KeyLogFile(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("--keylog {}: {e}", path.display()))?,
        )))),
        None => None,
    };
    let upstream_tls = args
        .tls
        .config(&args.upstream)?
        .map(|c| with_keylog(c, &keylog, |c, k| c.key_log = k));
    let listener =
        TcpListener::bind(&args.listen).map_err(|e| format!("--listen {}: {e}", args.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let listen_tls = match (&args.tls_cert, &args.tls_key, args.tls_self_signed) {
        (Some(cert), Some(key), _) => Some(crate::tls::server_config_from_pem(cert, key)?),
        (_, _, true) => {
            let dev = crate::tls::self_signed()?;
            let path = args.tls_cert_out.clone().unwrap_or_else(|| {
                std::env::temp_dir().join(format!("wslens-proxy-cert-{}.pem", local.port()))
            });
            std::fs::write(&path, &dev.cert_pem)
                .map_err(|e| format!("writing the certificate to {}: {e}", path.display()))?;
            eprintln!(
                "wslens proxy: self-signed certificate for {}, SHA-256 {}; PEM for clients' --ca: {}",
                crate::tls::SELF_SIGNED_NAMES.join(", "),
                dev.fingerprint,
                path.display()
            );
            Some(dev.config)
        }
        _ => None,
    }
    .map(|c| with_keylog(c, &keylog, |c, k| c.key_log = k));
    let pcap = match &args.record {
        Some(path) => Some(Mutex::new(
            PcapngWriter::create(path).map_err(|e| format!("--record {}: {e}", path.display()))?,
        )),
        None => None,
    };
    let har = match &args.har {
        Some(path) => Some(Mutex::new(
            HarLog::create(path).map_err(|e| format!("--har {}: {e}", path.display()))?,
        )),
        None => None,
    };
    let scheme = if upstream.tls { "wss" } else { "ws" };
    let host = if upstream.host.contains(':') {
        format!("[{}]", upstream.host)
    } else {
        upstream.host.clone()
    };
    let shared = Arc::new(Shared {
        origin: format!("{scheme}://{host}:{}", upstream.port),
        upstream,
        upstream_tls,
        listen_tls,
        pcap,
        har,
        json: args.json,
        timeout: args.timeout,
        out: Mutex::new(io::stdout()),
        active: AtomicUsize::new(0),
        next_id: AtomicU64::new(1),
    });
    {
        let shared = shared.clone();
        super::on_termination(move || {
            // Hold the recorders so no connection writes half a block, finish the HAR's
            // open sessions, and go.
            let _pcap = shared.pcap.as_ref().map(|p| p.lock());
            if let Some(h) = &shared.har {
                if let Ok(mut log) = h.lock() {
                    let _ = log.finish_all(SystemTime::now());
                }
            }
            if let Ok(mut out) = shared.out.lock() {
                let _ = out.flush();
            }
            std::process::exit(0);
        })
        .map_err(|e| format!("installing the signal handler: {e}"))?;
    }
    let listen_scheme = if shared.listen_tls.is_some() {
        "wss"
    } else {
        "ws"
    };
    eprintln!(
        "wslens proxy: {listen_scheme}://{local} → {}{}",
        shared.origin,
        if shared.upstream.path == "/" {
            String::new()
        } else {
            shared.upstream.path.clone()
        }
    );
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if shared.active.load(Ordering::Relaxed) >= args.max_connections {
            tracing::warn!(
                max = args.max_connections,
                "--max-connections reached: connection refused"
            );
            drop(stream);
            continue;
        }
        shared.active.fetch_add(1, Ordering::Relaxed);
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let shared = shared.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("wslens-proxy-{id}"))
            .spawn(move || {
                let peer = stream.peer_addr().ok();
                if let Err(e) = Relay::run(id, stream, &shared) {
                    let text = format!("connection failed: {e}");
                    if shared.json {
                        shared.line(&serde_json::json!({"connection": id, "event": "failed", "reason": text, "client": peer.map(|p| p.to_string())}).to_string());
                    } else {
                        shared.line(&format!("#{id} {text}"));
                    }
                }
                shared.active.fetch_sub(1, Ordering::Relaxed);
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start a relay thread");
        }
    }
    Ok(())
}

/// One leg of a relayed connection: what it is called, its inspector and its packets.
struct Leg {
    name: &'static str,
    inspector: SessionInspector,
    tcp: TcpLeg,
}

struct Relay<'a> {
    id: u64,
    shared: &'a Shared,
    legs: [Leg; 2],
    events: Vec<SessionEvent>,
    har_started: bool,
    /// The upstream leg's request headers, for the HAR.
    request_headers: Vec<(String, String)>,
    url: String,
}

impl Relay<'_> {
    fn run(id: u64, sock: TcpStream, shared: &Shared) -> Result<(), String> {
        let started = SystemTime::now();
        let client_addr = sock.peer_addr().map_err(|e| e.to_string())?;
        let listen_addr = sock.local_addr().map_err(|e| e.to_string())?;
        let _ = sock.set_nodelay(true);
        sock.set_read_timeout(Some(shared.timeout))
            .map_err(|e| e.to_string())?;
        let mut client = match &shared.listen_tls {
            Some(cfg) => {
                let mut t =
                    TlsStream::server(sock, cfg.clone(), None).map_err(|e| e.to_string())?;
                t.set_nonblocking(false).map_err(|e| e.to_string())?;
                Transport::Tls(Box::new(t))
            }
            None => Transport::Plain(sock),
        };
        // The request head, as the client sent it.
        let mut head = Vec::new();
        let mut scanner = HeadScanner::new(MAX_HEAD);
        let mut buf = vec![0u8; 64 * 1024];
        let head_len = loop {
            let n = match client.read(&mut buf) {
                Ok(0) => return Err("the client closed before sending a request".into()),
                Ok(n) => n,
                Err(e) => return Err(format!("reading the client's request: {e}")),
            };
            head.extend_from_slice(&buf[..n]);
            match scanner.scan(&head) {
                Ok(Some(len)) => break len,
                Ok(None) => {}
                Err(e) => {
                    let _ = client.write_all(&e.response());
                    return Err(format!("the client's request: {}", e.reason));
                }
            }
        };
        let parsed = Head::parse(&head[..head_len]).map_err(|e| {
            let _ = client.write_all(&e.response());
            format!("the client's request: {}", e.reason)
        })?;
        let (upstream_head, target) = rewrite(&parsed, &shared.upstream);
        let request_headers: Vec<(String, String)> = parsed
            .headers
            .iter()
            .map(|h| {
                if h.name.eq_ignore_ascii_case("host") {
                    (h.name.clone(), host_header(&shared.upstream))
                } else {
                    (h.name.clone(), h.value.clone())
                }
            })
            .collect();
        let rest = head.split_off(head_len);
        // The upstream.
        let addr = (shared.upstream.host.as_str(), shared.upstream.port)
            .to_socket_addrs()
            .map_err(|e| format!("resolving {}: {e}", shared.upstream.host))?
            .next()
            .ok_or_else(|| format!("{}: no address", shared.upstream.host))?;
        let tcp = match TcpStream::connect_timeout(&addr, shared.timeout) {
            Ok(t) => t,
            Err(e) => {
                let _ = client.write_all(&wslens::handshake::reject_response(
                    502,
                    "the upstream cannot be reached",
                ));
                return Err(format!("connecting to the upstream {addr}: {e}"));
            }
        };
        let _ = tcp.set_nodelay(true);
        let proxy_addr = tcp.local_addr().map_err(|e| e.to_string())?;
        let mut upstream = match &shared.upstream_tls {
            Some(cfg) => {
                let mut t = TlsStream::client(tcp, cfg.clone(), &shared.upstream.host)
                    .map_err(|e| e.to_string())?;
                t.complete_handshake(shared.timeout)
                    .map_err(|e| format!("TLS to the upstream: {e}"))?;
                Transport::Tls(Box::new(t))
            }
            None => Transport::Plain(tcp),
        };
        let mut relay = Relay {
            id,
            shared,
            legs: [
                Leg {
                    name: "client",
                    inspector: SessionInspector::new(Config::default()),
                    tcp: TcpLeg::new(client_addr, listen_addr),
                },
                Leg {
                    name: "upstream",
                    inspector: SessionInspector::new(Config::default()),
                    tcp: TcpLeg::new(proxy_addr, addr),
                },
            ],
            events: Vec::new(),
            har_started: false,
            request_headers,
            url: format!("{}{target}", shared.origin),
        };
        for leg in &mut relay.legs {
            leg.inspector.payload_detail = 0;
        }
        if shared.json {
            shared.line(&serde_json::json!({"connection": id, "event": "connection", "client": client_addr.to_string(), "upstream": addr.to_string(), "target": target}).to_string());
        } else {
            shared.line(&format!(
                "#{id} {client_addr} → {listen_addr} | {proxy_addr} → {addr} {target}"
            ));
        }
        shared.record(|w| {
            relay.legs[0].tcp.open(w, started)?;
            relay.legs[1].tcp.open(w, started)
        });
        let now = SystemTime::now();
        relay.bytes(0, Direction::ClientToServer, now, &head[..head_len]);
        relay.bytes(1, Direction::ClientToServer, now, &upstream_head);
        upstream
            .write_all(&upstream_head)
            .map_err(|e| format!("writing to the upstream: {e}"))?;
        let result = relay.pump(&mut client, &mut upstream, rest, &mut buf);
        let ended = SystemTime::now();
        shared.record(|w| {
            relay.legs[0].tcp.close(w, ended)?;
            relay.legs[1].tcp.close(w, ended)
        });
        for i in 0..2 {
            relay.legs[i].inspector.finish(&mut relay.events);
            relay.print(i, ended);
        }
        if relay.har_started {
            shared.har(|h| h.end(id, ended));
        }
        if shared.json {
            shared.line(&serde_json::json!({"connection": id, "event": "closed", "error": result.as_ref().err()}).to_string());
        } else {
            shared.line(&format!(
                "#{id} closed{}",
                result
                    .as_ref()
                    .err()
                    .map_or(String::new(), |e| format!(": {e}"))
            ));
        }
        Ok(())
    }

    /// Bytes that went over leg `i` in `direction` at `time`: recorded, inspected, printed.
    fn bytes(&mut self, i: usize, direction: Direction, time: SystemTime, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let leg = &mut self.legs[i];
        let from_client = direction == Direction::ClientToServer;
        self.shared
            .record(|w| leg.tcp.data(w, from_client, time, bytes));
        leg.inspector.feed(direction, bytes, &mut self.events);
        self.print(i, time);
    }

    fn print(&mut self, i: usize, time: SystemTime) {
        let shared = self.shared;
        for event in std::mem::take(&mut self.events) {
            if i == 1 {
                self.har_event(&event, time);
            }
            if shared.json {
                let mut v = show::json(&event);
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("connection".into(), self.id.into());
                    obj.insert("leg".into(), self.legs[i].name.into());
                    obj.insert(
                        "time".into(),
                        serde_json::json!(wslens_capture::har::epoch_seconds(time)),
                    );
                }
                shared.line(&v.to_string());
            } else {
                shared.line(&format!(
                    "#{} {:<8} {}",
                    self.id,
                    self.legs[i].name,
                    show::text(&event)
                ));
            }
        }
    }

    /// The upstream leg's events make the HAR entry.
    fn har_event(&mut self, event: &SessionEvent, time: SystemTime) {
        if self.shared.har.is_none() {
            return;
        }
        match event {
            SessionEvent::Head {
                direction: Direction::ServerToClient,
                inspection,
                ..
            } if !self.har_started => {
                let mut parts = inspection.start_line.splitn(3, ' ');
                let _version = parts.next();
                let status = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
                let reason = parts.next().unwrap_or("").to_string();
                let headers: Vec<(String, String)> = inspection
                    .headers
                    .iter()
                    .map(|h| (h.name.clone(), h.value.clone()))
                    .collect();
                let (id, url, req) = (self.id, self.url.clone(), self.request_headers.clone());
                self.shared
                    .har(|h| h.start(id, time, &url, &req, status, &reason, &headers));
                self.har_started = true;
            }
            SessionEvent::Message { direction, message } if self.har_started => {
                let send = *direction == Direction::ClientToServer;
                let id = self.id;
                match &message.event {
                    Some(OwnedEvent::Text(t)) => self
                        .shared
                        .har(|h| h.message(id, send, time, 1, t.as_bytes())),
                    Some(OwnedEvent::Binary(b)) => {
                        self.shared.har(|h| h.message(id, send, time, 2, b))
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// Relays until both sides are done (or one fails).
    fn pump(
        &mut self,
        client: &mut Transport,
        upstream: &mut Transport,
        rest: Vec<u8>,
        buf: &mut [u8],
    ) -> Result<(), String> {
        fn e(what: &'static str) -> impl Fn(io::Error) -> String {
            move |err| format!("{what}: {err}")
        }
        client.set_nonblocking(true).map_err(e("client socket"))?;
        upstream
            .set_nonblocking(true)
            .map_err(e("upstream socket"))?;
        let _ = client.set_read_timeout(None);
        let poller = Poller::new().map_err(e("poller"))?;
        // SAFETY: both sockets outlive the poller's use of them: they are borrowed for the
        // whole of this function and deleted from the poller before it returns (below).
        unsafe {
            poller
                .add_with_mode(client.tcp(), Event::readable(0), PollMode::Level)
                .map_err(e("poller"))?;
            if let Err(err) =
                poller.add_with_mode(upstream.tcp(), Event::readable(1), PollMode::Level)
            {
                let _ = poller.delete(client.tcp());
                return Err(format!("poller: {err}"));
            }
        }
        let result = self.pump_loop(&poller, client, upstream, rest, buf);
        let _ = poller.delete(client.tcp());
        let _ = poller.delete(upstream.tcp());
        result
    }

    fn pump_loop(
        &mut self,
        poller: &Poller,
        client: &mut Transport,
        upstream: &mut Transport,
        rest: Vec<u8>,
        buf: &mut [u8],
    ) -> Result<(), String> {
        // [to the upstream, to the client]
        let mut pending: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        let mut reading = [true, true];
        let mut shut = [false, false];
        if !rest.is_empty() {
            let now = SystemTime::now();
            self.bytes(0, Direction::ClientToServer, now, &rest);
            self.bytes(1, Direction::ClientToServer, now, &rest);
            pending[0] = rest;
        }
        let mut events = Events::new();
        loop {
            // Write what is waiting, as far as each socket takes it.
            for (i, sock) in [(0usize, &mut *upstream), (1, &mut *client)] {
                flush(sock, &mut pending[i]).map_err(|err| {
                    format!("writing to the {}: {err}", ["upstream", "client"][i])
                })?;
                // The other side has ended and everything is out: pass the end on.
                if !reading[1 - i] && pending[i].is_empty() && !sock.wants_write() && !shut[i] {
                    let _ = sock.shutdown(Shutdown::Write);
                    shut[i] = true;
                }
            }
            if !reading[0] && !reading[1] && pending.iter().all(Vec::is_empty) {
                return Ok(());
            }
            for (key, sock, out) in [(0usize, &*client, 0usize), (1, &*upstream, 1)] {
                let readable = reading[key] && pending[out].len() < RELAY_BUFFER;
                let writable = !pending[1 - out].is_empty() || sock.wants_write();
                poller
                    .modify_with_mode(
                        sock.tcp(),
                        Event::new(key, readable, writable),
                        PollMode::Level,
                    )
                    .map_err(|err| format!("poller: {err}"))?;
            }
            events.clear();
            poller
                .wait(&mut events, None)
                .map_err(|err| format!("poller: {err}"))?;
            for ev in events.iter() {
                if !ev.readable {
                    continue;
                }
                let key = ev.key;
                if !reading[key] {
                    continue;
                }
                let sock: &mut Transport = if key == 0 { client } else { upstream };
                match sock.read(buf) {
                    Ok(0) => reading[key] = false,
                    Ok(n) => {
                        let now = SystemTime::now();
                        let direction = if key == 0 {
                            Direction::ClientToServer
                        } else {
                            Direction::ServerToClient
                        };
                        let chunk = &buf[..n];
                        // Received on one leg, sent on the other.
                        let (first, second) = if key == 0 { (0, 1) } else { (1, 0) };
                        self.bytes(first, direction, now, chunk);
                        self.bytes(second, direction, now, chunk);
                        pending[key].extend_from_slice(chunk);
                    }
                    Err(err)
                        if matches!(
                            err.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                        ) => {}
                    Err(err) => {
                        return Err(format!(
                            "reading from the {}: {err}",
                            ["client", "upstream"][key]
                        ));
                    }
                }
            }
        }
    }
}

/// Writes as much of `pending` as `sock` takes now (and any TLS records it holds).
fn flush(sock: &mut Transport, pending: &mut Vec<u8>) -> io::Result<()> {
    sock.write_pending()?;
    while !pending.is_empty() {
        match sock.write(pending) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                pending.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    sock.write_pending()
}

fn host_header(t: &super::client::Target) -> String {
    let host = if t.host.contains(':') {
        format!("[{}]", t.host)
    } else {
        t.host.clone()
    };
    let default = if t.tls { 443 } else { 80 };
    if t.port == default {
        host
    } else {
        format!("{host}:{}", t.port)
    }
}

/// The request head for the upstream: the same method, version and headers, `Host` naming
/// the upstream, and the target the upstream URL names (when it names a path other than
/// `/`) or else the client's (in origin-form). Returns it with the target.
fn rewrite(head: &Head<'_>, upstream: &super::client::Target) -> (Vec<u8>, String) {
    let target = if upstream.path != "/" {
        upstream.path.clone()
    } else {
        match head.request_target() {
            Ok(t) => match t.query {
                Some(q) => format!("{}?{q}", t.path),
                None => t.path.to_string(),
            },
            Err(_) => head.target.to_string(),
        }
    };
    let mut out = format!("{} {target} {}\r\n", head.method, head.version);
    let mut host_done = false;
    for h in &head.headers {
        if h.name.eq_ignore_ascii_case("host") {
            if !host_done {
                out.push_str(&format!("{}: {}\r\n", h.name, host_header(upstream)));
                host_done = true;
            }
        } else {
            out.push_str(&format!("{}: {}\r\n", h.name, h.value));
        }
    }
    if !host_done {
        out.push_str(&format!("Host: {}\r\n", host_header(upstream)));
    }
    out.push_str("\r\n");
    (out.into_bytes(), target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_is_rewritten_for_the_upstream() {
        let raw = b"GET http://127.0.0.1:9000/echo?x=1 HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nUpgrade: websocket\r\nX-A:  b \r\n\r\n";
        let head = Head::parse(raw).unwrap();
        let up = super::super::client::Target::parse("ws://example.com:8765/").unwrap();
        let (bytes, target) = rewrite(&head, &up);
        assert_eq!(target, "/echo?x=1");
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "GET /echo?x=1 HTTP/1.1\r\nHost: example.com:8765\r\nUpgrade: websocket\r\nX-A: b\r\n\r\n"
        );
        let up = super::super::client::Target::parse("wss://example.com/chat/room1").unwrap();
        let (bytes, target) = rewrite(&head, &up);
        assert_eq!(target, "/chat/room1");
        assert!(String::from_utf8(bytes)
            .unwrap()
            .contains("Host: example.com\r\n"));
    }
}
