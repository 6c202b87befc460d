//! A blocking WebSocket client over `std::net::TcpStream` (`ws://`) or TLS over it (`wss://`,
//! rustls), on the same sans-IO core as the server: what `wslens send` and `wslens listen` use.

use crate::transport::Transport;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wslens::handshake::{ClientRequest, Response};
use wslens::{CloseCode, Config, Connection, OwnedEvent, State};

/// How to connect.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// Subprotocols to offer.
    pub protocols: Vec<String>,
    /// An `Origin` header.
    pub origin: Option<String>,
    /// Timeout for connecting and for the handshake.
    pub timeout: Duration,
    /// Offer permessage-deflate (RFC 7692) with these settings.
    pub deflate: Option<wslens::deflate::DeflateConfig>,
    /// TLS settings for `wss://` (see [`crate::tls::client_config`]); `None`: verify the
    /// server against Mozilla's roots (`webpki-roots`).
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            headers: Vec::new(),
            protocols: Vec::new(),
            origin: None,
            timeout: Duration::from_secs(10),
            deflate: None,
            tls: None,
        }
    }
}

/// Why the client gave up.
#[derive(Debug)]
pub enum ClientError {
    /// The URL is not a `ws://` URL we can use.
    Url(String),
    /// TCP connect failed.
    Connect(io::Error),
    /// The TLS handshake failed (an untrusted certificate, an alert, not TLS at all).
    Tls(String),
    /// The server refused the upgrade: HTTP status, the reason, and the response body.
    Rejected {
        /// HTTP status (0 if the response was not HTTP).
        status: u16,
        /// What was wrong.
        reason: String,
        /// The response body, if any.
        body: String,
    },
    /// The peer broke the protocol.
    Protocol(wslens::Error),
    /// Reading or writing failed.
    Io(io::Error),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Url(e) => write!(f, "bad URL: {e}"),
            ClientError::Connect(e) => write!(f, "cannot connect: {e}"),
            ClientError::Tls(e) => write!(f, "TLS handshake failed: {e}"),
            ClientError::Rejected {
                status,
                reason,
                body,
            } => {
                write!(f, "handshake rejected: HTTP {status}: {reason}")?;
                if !body.trim().is_empty() {
                    write!(f, ": {}", body.trim())?;
                }
                Ok(())
            }
            ClientError::Protocol(e) => write!(f, "protocol error: {e}"),
            ClientError::Io(e) => write!(f, "connection failed: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// A parsed `ws://` or `wss://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Host name or address.
    pub host: String,
    /// Port (default 80, or 443 for `wss://`).
    pub port: u16,
    /// Path and query.
    pub path: String,
    /// `wss://`.
    pub tls: bool,
}

impl Target {
    /// Parses `ws://host[:port]/path?query` or `wss://…`.
    pub fn parse(url: &str) -> Result<Target, ClientError> {
        let parsed = url::Url::parse(url).map_err(|e| ClientError::Url(format!("{url}: {e}")))?;
        let tls = match parsed.scheme() {
            "ws" => false,
            "wss" => true,
            other => {
                return Err(ClientError::Url(format!(
                    "scheme {other}:// is not ws:// or wss://"
                )))
            }
        };
        let host = parsed
            .host_str()
            .ok_or_else(|| ClientError::Url(format!("{url}: no host")))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = parsed.port().unwrap_or(if tls { 443 } else { 80 });
        let mut path = parsed.path().to_owned();
        if let Some(q) = parsed.query() {
            path.push('?');
            path.push_str(q);
        }
        Ok(Target {
            host,
            port,
            path,
            tls,
        })
    }

    fn default_port(&self) -> u16 {
        if self.tls {
            443
        } else {
            80
        }
    }

    fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// Fresh, unpredictable masking keys (RFC 6455 §5.3), from the thread's CSPRNG.
pub fn mask_keys() -> impl FnMut() -> [u8; 4] + Send + 'static {
    || rand::random()
}

/// A connected client. Events are decoded one at a time, as the caller asks for them, so the
/// caller has handled each message before a later frame in the same read is even looked at
/// (a protocol error after a valid message fails the connection only after that message).
pub struct Client {
    stream: Transport,
    conn: Connection,
    input: Vec<u8>,
    start: usize,
    end: usize,
}

/// What one decoding step gave.
enum Step {
    Event(OwnedEvent),
    NeedInput,
    Failed(wslens::Error),
}

impl Client {
    /// Connects to `url` and completes the opening handshake.
    pub fn connect(url: &str, opts: &ClientOptions) -> Result<(Client, Response), ClientError> {
        let target = Target::parse(url)?;
        let addr = (target.host.as_str(), target.port)
            .to_socket_addrs()
            .map_err(ClientError::Connect)?
            .next()
            .ok_or_else(|| ClientError::Url(format!("{}: no address", target.host)))?;
        let started = Instant::now();
        let tcp = TcpStream::connect_timeout(&addr, opts.timeout).map_err(ClientError::Connect)?;
        let _ = tcp.set_nodelay(true);
        let stream = if target.tls {
            let config = match &opts.tls {
                Some(c) => c.clone(),
                None => crate::tls::client_config(None, false).map_err(ClientError::Tls)?,
            };
            let mut tls = crate::tls::TlsStream::client(tcp, config, &target.host)
                .map_err(|e| ClientError::Url(format!("{}: {e}", target.host)))?;
            let left = opts.timeout.saturating_sub(started.elapsed());
            tls.complete_handshake(left).map_err(tls_error)?;
            Transport::Tls(Box::new(tls))
        } else {
            Transport::Plain(tcp)
        };
        let host = target.host_header();
        let protocols: Vec<&str> = opts.protocols.iter().map(String::as_str).collect();
        let headers: Vec<(&str, &str)> = opts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let request = ClientRequest {
            host: &host,
            path: &target.path,
            nonce: rand::random(),
            protocols: &protocols,
            extensions: None,
            origin: opts.origin.as_deref(),
            extra_headers: &headers,
            deflate: opts.deflate.as_ref(),
        };
        let conn = Connection::client(Config::default(), &request, mask_keys());
        let mut client = Client {
            stream,
            conn,
            input: vec![0; 64 * 1024],
            start: 0,
            end: 0,
        };
        client.flush()?;
        let deadline = Instant::now() + opts.timeout;
        let mut head = Vec::new();
        loop {
            match client.step() {
                Step::Event(OwnedEvent::Connected(resp)) => return Ok((client, *resp)),
                Step::Event(_) => {}
                Step::Failed(wslens::Error::Handshake(e)) => {
                    head.extend_from_slice(&client.input[..client.end]);
                    let body = client.read_body(&head, deadline);
                    return Err(ClientError::Rejected {
                        status: e.status,
                        reason: e.reason.into(),
                        body,
                    });
                }
                Step::Failed(e) => return Err(ClientError::Protocol(e)),
                Step::NeedInput => {
                    head.extend_from_slice(&client.input[..client.end]);
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(ClientError::Io(io::ErrorKind::TimedOut.into()));
                    }
                    if !client.fill(Some(left))? {
                        // A TLS record (an alert: 0x15, or a handshake: 0x16) in answer to an
                        // HTTP request: the port speaks TLS.
                        if !target.tls && matches!(head.first(), Some(0x15 | 0x16)) {
                            return Err(ClientError::Url(format!(
                                "{url}: the server answered in TLS: use wss:// for this port"
                            )));
                        }
                        return Err(ClientError::Io(io::ErrorKind::UnexpectedEof.into()));
                    }
                }
            }
        }
    }

    /// Decodes the next event from buffered input, and sends what the protocol queued
    /// (automatic pongs, close replies).
    fn step(&mut self) -> Step {
        let step = if self.start < self.end {
            match self.conn.read(&mut self.input[self.start..self.end]) {
                Ok((used, event)) => {
                    self.start += used;
                    event.map_or(Step::NeedInput, |e| Step::Event(e.to_owned()))
                }
                Err(e) => {
                    self.start = self.end;
                    Step::Failed(e)
                }
            }
        } else {
            Step::NeedInput
        };
        if let Err(e) = self.flush() {
            return Step::Failed(wslens::Error::InvalidState(match e {
                ClientError::Io(_) => "write failed",
                _ => "flush failed",
            }));
        }
        step
    }

    /// Reads more input, waiting at most `timeout`. `Ok(false)` at end of stream or timeout.
    fn fill(&mut self, timeout: Option<Duration>) -> Result<bool, ClientError> {
        let _ = self.stream.set_read_timeout(timeout);
        loop {
            return match self.stream.read(&mut self.input) {
                Ok(0) => Ok(false),
                Ok(n) => {
                    self.start = 0;
                    self.end = n;
                    Ok(true)
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    Ok(false)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(ClientError::Io(e)),
            };
        }
    }

    /// After a refused handshake: the response body (what follows the head), read until the
    /// server closes or the deadline.
    fn read_body(&mut self, raw: &[u8], deadline: Instant) -> String {
        let mut data = raw.to_vec();
        let mut buf = [0u8; 16 * 1024];
        while Instant::now() < deadline && data.len() < 64 * 1024 {
            let _ = self
                .stream
                .set_read_timeout(Some(Duration::from_millis(300)));
            match self.stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
        }
        let start = data
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(data.len(), |p| p + 4);
        String::from_utf8_lossy(&data[start..]).into_owned()
    }

    fn flush(&mut self) -> Result<(), ClientError> {
        if !self.conn.has_output() {
            return Ok(());
        }
        let out = self.conn.take_output();
        self.stream.write_all(&out).map_err(ClientError::Io)?;
        self.stream.flush().map_err(ClientError::Io)
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), ClientError> {
        self.conn.send_text(text).map_err(ClientError::Protocol)?;
        self.flush()
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), ClientError> {
        self.conn.send_binary(data).map_err(ClientError::Protocol)?;
        self.flush()
    }

    /// Sends a ping.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), ClientError> {
        self.conn.ping(payload).map_err(ClientError::Protocol)?;
        self.flush()
    }

    /// Starts the closing handshake.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), ClientError> {
        self.conn
            .close(code, reason)
            .map_err(ClientError::Protocol)?;
        self.flush()
    }

    /// The socket and the protocol state machine, for callers that run their own I/O loop
    /// (`wslens bench`). Input read but not yet decoded is dropped.
    pub fn into_parts(self) -> (Transport, Connection) {
        (self.stream, self.conn)
    }

    /// The protocol state.
    pub fn state(&self) -> State {
        self.conn.state()
    }

    /// The next event, waiting at most `timeout` (`None`: forever). `Ok(None)` on timeout or
    /// after a clean end of stream. A connection that ends without a close frame yields a
    /// close event with code 1006.
    pub fn next_event(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Option<OwnedEvent>, ClientError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            match self.step() {
                Step::Event(e) => return Ok(Some(e)),
                Step::Failed(e) => return Err(ClientError::Protocol(e)),
                Step::NeedInput => {}
            }
            let left = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(None);
                    }
                    Some(left)
                }
                None => None,
            };
            let _ = self.stream.set_read_timeout(left);
            match self.stream.read(&mut self.input) {
                Ok(0) => {
                    let code = self.conn.receive_eof();
                    return Ok(code.map(|code| OwnedEvent::Close {
                        code: Some(code),
                        reason: String::new(),
                    }));
                }
                Ok(n) => {
                    self.start = 0;
                    self.end = n;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ClientError::Io(e)),
            }
        }
    }
}

/// A failed TLS handshake, said plainly (with what to do about an untrusted certificate).
fn tls_error(e: io::Error) -> ClientError {
    let rustls_error = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(rustls::Error::InvalidCertificate(why)) => ClientError::Tls(format!(
            "the server's certificate is not trusted ({why:?}): pass --ca FILE with the \
             certificate or the CA that issued it (or --insecure, for development only)"
        )),
        Some(other) => ClientError::Tls(other.to_string()),
        None if e.kind() == io::ErrorKind::TimedOut => ClientError::Tls(e.to_string()),
        None => ClientError::Io(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            Target::parse("ws://localhost:8765/echo?x=1").unwrap(),
            Target {
                host: "localhost".into(),
                port: 8765,
                path: "/echo?x=1".into(),
                tls: false,
            }
        );
        assert_eq!(Target::parse("ws://example.com").unwrap().path, "/");
        assert_eq!(Target::parse("ws://example.com").unwrap().port, 80);
        let wss = Target::parse("wss://example.com/x").unwrap();
        assert!(wss.tls);
        assert_eq!(wss.port, 443);
        assert_eq!(wss.host_header(), "example.com");
        assert_eq!(
            Target::parse("wss://example.com:8766/")
                .unwrap()
                .host_header(),
            "example.com:8766"
        );
        assert_eq!(
            Target::parse("ws://example.com:443/")
                .unwrap()
                .host_header(),
            "example.com:443"
        );
        assert!(matches!(
            Target::parse("http://x/"),
            Err(ClientError::Url(_))
        ));
        assert!(matches!(
            Target::parse("not a url"),
            Err(ClientError::Url(_))
        ));
        assert_eq!(
            Target::parse("ws://[::1]:9/").unwrap().host_header(),
            "[::1]:9"
        );
    }
}
