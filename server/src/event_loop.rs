//! One event loop per thread on the `polling` crate (epoll on Linux, kqueue on macOS, IOCP
//! on Windows): a non-blocking listener shared by all loops, connections in a slab keyed by
//! `usize`, write interest only while output is queued, timers from a deadline heap that
//! feeds `wait`'s timeout, and an inbox for frames published on other loops.

use crate::handler::{Action, ConnInfo, Ctx, Handler, Message};
use crate::hub::{lock, Cmd, Member};
use crate::metrics::Metrics;
use crate::{http, Shared};
use polling::{Event, Events, PollMode, Poller};
use slab::Slab;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};
use wslens::handshake::{negotiate_protocol, reject_response, AcceptOptions, HeadScanner};
use wslens::{CloseCode, Connection, Event as WsEvent, Sender, State};

/// Poller key of the listener; connections use their slab key.
const LISTENER: usize = usize::MAX - 1;
/// Size of the read buffer shared by all connections of a loop.
const READ_BUF: usize = 64 * 1024;
/// Reads per readiness event before giving other connections a turn.
const READS_PER_EVENT: usize = 4;

/// Bytes waiting to be written.
enum Out {
    Owned(Vec<u8>),
    /// A frame shared with other receivers (broadcast).
    Shared(Arc<[u8]>),
}

impl Out {
    fn bytes(&self) -> &[u8] {
        match self {
            Out::Owned(v) => v,
            Out::Shared(a) => a,
        }
    }
}

enum Phase {
    /// Reading the HTTP request head.
    Head { buf: Vec<u8>, scanner: HeadScanner },
    /// An open (or closing) WebSocket.
    Ws(Box<Ws>),
    /// Writing an HTTP response; the connection closes once it is out.
    Respond,
}

impl Ws {
    /// Calls the handler's `on_close` once; returns what it asked for, or `None` if it was
    /// already told.
    fn report_close(&mut self, code: CloseCode) -> Option<Vec<Action>> {
        if self.close_reported {
            return None;
        }
        self.close_reported = true;
        let mut actions = Vec::new();
        let Ws {
            conn,
            handler,
            info,
            ..
        } = self;
        let mut ctx = Ctx {
            sender: conn.sender(),
            info,
            actions: &mut actions,
            sent: 0,
        };
        handler.on_close(&mut ctx, code);
        Some(actions)
    }
}

struct Ws {
    conn: Connection,
    handler: Arc<dyn Handler>,
    info: ConnInfo,
    /// The `wslens.wire` tap, when the client asked for it.
    wire: Option<Box<WireTap>>,
    rooms: Vec<String>,
    /// `on_close` has been called.
    close_reported: bool,
}

/// The `wslens.wire` tap: after each message's reply, one text message
/// `{"wire":{"in":"<hex>","out":"<hex>"}}` with the exact bytes the server read for the
/// message (all its frames, still masked, and any control frames between them) and the bytes
/// it wrote in reply.
#[derive(Default)]
struct WireTap {
    read: Vec<u8>,
}

impl WireTap {
    fn record(&mut self, written: &[u8]) -> String {
        let mut json = String::with_capacity(24 + 2 * (self.read.len() + written.len()));
        json.push_str(r#"{"wire":{"in":""#);
        hex_into(&mut json, &self.read);
        json.push_str(r#"","out":""#);
        hex_into(&mut json, written);
        json.push_str(r#""}}"#);
        self.read.clear();
        json
    }
}

fn hex_into(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
}

struct Conn {
    stream: TcpStream,
    id: u64,
    peer: SocketAddr,
    phase: Phase,
    queue: VecDeque<Out>,
    /// Bytes of the queue's front item already written.
    front_written: usize,
    queued: usize,
    /// Registered interest: (readable, writable).
    interest: (bool, bool),
    /// Whether we read from the peer (false under backpressure or while responding).
    reading: bool,
    created: Instant,
    last_read: Instant,
    last_message: Instant,
    ping_sent: Option<Instant>,
    closing_since: Option<Instant>,
}

impl Conn {
    fn ws_output(&self) -> &[u8] {
        match &self.phase {
            Phase::Ws(ws) => ws.conn.pending_output(),
            _ => &[],
        }
    }

    /// Bytes waiting in total: the queue and the protocol's own output buffer.
    fn backlog(&self) -> usize {
        self.queued + self.ws_output().len()
    }

    /// Moves the protocol's pending output to the end of the queue, so that whatever is
    /// queued next goes after it.
    fn spill_ws_output(&mut self) {
        if let Phase::Ws(ws) = &mut self.phase {
            if ws.conn.has_output() {
                let bytes = ws.conn.take_output();
                self.queued += bytes.len();
                self.queue.push_back(Out::Owned(bytes));
            }
        }
    }

    fn push(&mut self, out: Out) {
        self.spill_ws_output();
        self.queued += out.bytes().len();
        self.queue.push_back(out);
    }
}

/// One loop's state.
pub(crate) struct EventLoop {
    id: usize,
    shared: Arc<Shared>,
    poller: Arc<Poller>,
    listener: Arc<TcpListener>,
    conns: Slab<Conn>,
    timers: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    read_buf: Vec<u8>,
    actions: Vec<(usize, Action)>,
    accepting: bool,
    accept_resume: Option<Instant>,
    shutdown_deadline: Option<Instant>,
}

impl EventLoop {
    pub(crate) fn new(
        id: usize,
        shared: Arc<Shared>,
        listener: Arc<TcpListener>,
    ) -> io::Result<Self> {
        let poller = shared.hub.loops[id].poller.clone();
        // SAFETY: `polling` requires a registered source to be deleted before it is dropped.
        // The listener lives in an `Arc` held by this loop for its whole life, and
        // `EventLoop::drop` deletes it from the poller before the loop's reference goes away.
        unsafe { poller.add_with_mode(&*listener, Event::readable(LISTENER), PollMode::Level)? };
        Ok(EventLoop {
            id,
            shared,
            poller,
            listener,
            conns: Slab::new(),
            timers: BinaryHeap::new(),
            read_buf: vec![0; READ_BUF],
            actions: Vec::new(),
            accepting: true,
            accept_resume: None,
            shutdown_deadline: None,
        })
    }

    /// Runs until shutdown completes.
    pub(crate) fn run(&mut self) -> io::Result<()> {
        let mut events = Events::new();
        loop {
            let now = Instant::now();
            let timeout = self.next_timeout(now);
            events.clear();
            match self.poller.wait(&mut events, timeout) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            let now = Instant::now();
            for ev in events.iter() {
                if ev.key == LISTENER {
                    self.accept(now);
                } else {
                    self.on_ready(ev.key, ev.readable, ev.writable, now);
                }
            }
            self.drain_inbox();
            self.fire_timers(now);
            if self.shared.shutdown.load(Ordering::Acquire) && self.shutdown_deadline.is_none() {
                self.begin_shutdown(now);
            }
            if let Some(deadline) = self.shutdown_deadline {
                if self.conns.is_empty() || now >= deadline {
                    let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
                    for key in keys {
                        self.finish(key, CloseCode::ABNORMAL);
                    }
                    return Ok(());
                }
            }
        }
    }

    fn next_timeout(&self, now: Instant) -> Option<Duration> {
        let mut next = self.timers.peek().map(|Reverse((t, _, _))| *t);
        for t in [self.accept_resume, self.shutdown_deadline]
            .into_iter()
            .flatten()
        {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        next.map(|t| t.saturating_duration_since(now))
    }

    // ---- Accepting ---------------------------------------------------------------------

    fn accept(&mut self, now: Instant) {
        if !self.accepting {
            return;
        }
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => self.admit(stream, peer, now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE/ENFILE and friends: stop accepting for a moment instead of
                    // spinning on a listener that stays readable.
                    warn!(error = %e, "accept failed; pausing accepts for 100 ms");
                    self.pause_accepting(now + Duration::from_millis(100));
                    return;
                }
            }
        }
    }

    fn pause_accepting(&mut self, until: Instant) {
        if self
            .poller
            .modify_with_mode(&*self.listener, Event::none(LISTENER), PollMode::Level)
            .is_ok()
        {
            self.accepting = false;
            self.accept_resume = Some(until);
        }
    }

    fn admit(&mut self, stream: TcpStream, peer: SocketAddr, now: Instant) {
        let metrics = &self.shared.metrics;
        if stream.set_nonblocking(true).is_err() {
            return;
        }
        let _ = stream.set_nodelay(true);
        let open = metrics.open_connections.load(Ordering::Relaxed) as usize;
        let over_limit = open >= self.shared.config.max_connections;
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let entry = self.conns.vacant_entry();
        let key = entry.key();
        // SAFETY: the stream is stored in the slab right below and is deleted from the
        // poller in `finish`, the only place a connection leaves the slab, before it drops.
        if unsafe {
            self.poller
                .add_with_mode(&stream, Event::readable(key), PollMode::Level)
        }
        .is_err()
        {
            return;
        }
        entry.insert(Conn {
            stream,
            id,
            peer,
            phase: Phase::Head {
                buf: Vec::new(),
                scanner: HeadScanner::new(self.shared.config.max_header_bytes),
            },
            queue: VecDeque::new(),
            front_written: 0,
            queued: 0,
            interest: (true, false),
            reading: true,
            created: now,
            last_read: now,
            last_message: now,
            ping_sent: None,
            closing_since: None,
        });
        Metrics::inc(&metrics.open_connections);
        debug!(conn = id, %peer, "accepted");
        self.schedule(key, now + self.shared.config.handshake_timeout);
        if over_limit {
            Metrics::inc(&self.shared.metrics.rejected_connections);
            self.respond(key, reject_response(503, "too many connections"));
            self.flush(key);
        }
    }

    // ---- Readiness ---------------------------------------------------------------------

    fn on_ready(&mut self, key: usize, readable: bool, writable: bool, now: Instant) {
        // One span per connection (id and peer) around everything done for it; `debug` level,
        // so it costs nothing unless RUST_LOG asks for it.
        let span = self
            .conns
            .get(key)
            .map(|c| tracing::debug_span!("conn", id = c.id, peer = %c.peer));
        let _entered = span.as_ref().map(tracing::Span::enter);
        if readable {
            self.on_readable(key, now);
        }
        if writable || readable {
            self.flush(key);
        }
        self.run_actions();
    }

    fn on_readable(&mut self, key: usize, now: Instant) {
        for _ in 0..READS_PER_EVENT {
            let Some(conn) = self.conns.get_mut(key) else {
                return;
            };
            if !conn.reading {
                return;
            }
            match conn.stream.read(&mut self.read_buf) {
                Ok(0) => {
                    self.on_eof(key);
                    return;
                }
                Ok(n) => {
                    Metrics::add(&self.shared.metrics.bytes_in, n as u64);
                    conn.last_read = now;
                    conn.ping_sent = None;
                    let mut input = std::mem::take(&mut self.read_buf);
                    self.on_bytes(key, &mut input[..n], now);
                    self.read_buf = input;
                    if n < READ_BUF {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    debug!(conn = conn.id, error = %e, "read failed");
                    self.finish(key, CloseCode::ABNORMAL);
                    return;
                }
            }
        }
    }

    fn on_eof(&mut self, key: usize) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if let Phase::Ws(ws) = &mut conn.phase {
            let code = ws.conn.receive_eof().unwrap_or(CloseCode::NORMAL);
            self.finish(key, code);
        } else {
            self.finish(key, CloseCode::ABNORMAL);
        }
    }

    fn on_bytes(&mut self, key: usize, input: &mut [u8], now: Instant) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        match &mut conn.phase {
            Phase::Respond => {}
            Phase::Ws(_) => self.on_ws_bytes(key, input, now),
            Phase::Head { buf, scanner } => {
                let room = self
                    .shared
                    .config
                    .max_header_bytes
                    .saturating_add(1)
                    .saturating_sub(buf.len());
                let take = input.len().min(room.max(1));
                buf.extend_from_slice(&input[..take]);
                match scanner.scan(buf) {
                    Ok(None) => {}
                    Err(e) => {
                        Metrics::inc(&self.shared.metrics.handshakes_failed);
                        self.respond(key, e.response());
                    }
                    Ok(Some(end)) => {
                        let mut head = std::mem::take(buf);
                        let mut rest = head.split_off(end);
                        rest.extend_from_slice(&input[take..]);
                        self.on_head(key, &head, &mut rest, now);
                    }
                }
            }
        }
    }

    /// A complete request head: a WebSocket upgrade or a plain HTTP request.
    fn on_head(&mut self, key: usize, head: &[u8], rest: &mut [u8], now: Instant) {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        let (method, target, upgrade) = match req.parse(head) {
            Ok(httparse::Status::Complete(_)) => (
                req.method.unwrap_or("").to_owned(),
                req.path.unwrap_or("").to_owned(),
                req.headers
                    .iter()
                    .any(|h| h.name.eq_ignore_ascii_case("upgrade")),
            ),
            _ => {
                self.respond(key, reject_response(400, "malformed HTTP request"));
                return;
            }
        };
        let path = target.split('?').next().unwrap_or("").to_owned();
        let route = self.shared.route(&path);
        if upgrade {
            match route {
                Some((handler, param)) => self.upgrade(key, head, rest, handler, param, now),
                None => {
                    Metrics::inc(&self.shared.metrics.handshakes_failed);
                    self.respond(
                        key,
                        reject_response(404, &format!("no WebSocket route at {path}")),
                    );
                }
            }
            return;
        }
        Metrics::inc(&self.shared.metrics.http_requests);
        let head_only = method == "HEAD";
        let response = match (method.as_str(), path.as_str()) {
            ("GET" | "HEAD", "/metrics") => http::response(
                200,
                "text/plain; version=0.0.4",
                self.shared.metrics.render().as_bytes(),
                head_only,
            ),
            ("GET" | "HEAD", "/healthz") => http::text(200, "ok\n", head_only),
            ("GET" | "HEAD", _) if route.is_some() => reject_response(
                426,
                "this is a WebSocket endpoint: send an Upgrade: websocket request",
            ),
            ("GET" | "HEAD", _) => match &self.shared.config.www {
                Some(root) => http::static_file(root, &path, head_only).1,
                None => http::text(404, "not found\n", head_only),
            },
            _ => reject_response(405, "only GET and HEAD are served"),
        };
        self.respond(key, response);
    }

    /// The opening handshake (RFC 6455 §4.2), checked by the core; then origin, token and
    /// subprotocol, then the 101.
    fn upgrade(
        &mut self,
        key: usize,
        head: &[u8],
        rest: &mut [u8],
        handler: Arc<dyn Handler>,
        param: String,
        now: Instant,
    ) {
        let config = &self.shared.config;
        let mut ws = Connection::server(config.connection_config());
        let mut head_buf = head.to_vec();
        let decision = match ws.read(&mut head_buf) {
            Ok((_, Some(WsEvent::Request(req)))) => match self.shared.authorizer.authorize(req) {
                Err(rejection) => Err((rejection.status, rejection.reason)),
                Ok(()) => {
                    let protocol =
                        negotiate_protocol(&req.protocols, handler.protocols()).map(String::from);
                    Ok((req.path.clone(), protocol))
                }
            },
            Ok(_) => Err((400, "incomplete handshake".to_owned())),
            Err(e) => {
                debug!(error = %e, "handshake refused");
                Err((0, String::new()))
            }
        };
        let metrics = &self.shared.metrics;
        let (path, protocol) = match decision {
            Ok(d) => d,
            Err((status, why)) => {
                Metrics::inc(&metrics.handshakes_failed);
                if status != 0 {
                    let _ = ws.reject(status, &why);
                }
                let response = ws.take_output();
                self.respond(key, response);
                return;
            }
        };
        let accepted = ws.accept(&AcceptOptions {
            protocol: protocol.as_deref(),
            deflate: self.shared.config.deflate.as_ref(),
            ..AcceptOptions::default()
        });
        if accepted.is_err() {
            self.respond(key, reject_response(500, "handshake state error"));
            return;
        }
        Metrics::inc(&metrics.handshakes_ok);
        Metrics::inc(&metrics.open_websockets);
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        info!(conn = conn.id, peer = %conn.peer, %path, protocol = protocol.as_deref().unwrap_or(""), "websocket open");
        let info = ConnInfo {
            id: conn.id,
            peer: conn.peer,
            path,
            param,
            protocol,
        };
        let wire = (info.protocol.as_deref() == Some(crate::WIRE_PROTOCOL)).then(Box::default);
        let mut state = Box::new(Ws {
            conn: ws,
            handler,
            info,
            wire,
            rooms: Vec::new(),
            close_reported: false,
        });
        {
            let Ws {
                conn: ws,
                handler,
                info,
                ..
            } = &mut *state;
            let mut actions = Vec::new();
            handler.on_open(&mut Ctx {
                sender: ws.sender(),
                info,
                actions: &mut actions,
                sent: 0,
            });
            self.actions.extend(actions.into_iter().map(|a| (key, a)));
        }
        // The 101 response leaves the protocol's buffer for the queue, so an idle connection
        // keeps no output capacity.
        let response = state.conn.take_output();
        conn.phase = Phase::Ws(state);
        conn.push(Out::Owned(response));
        conn.last_message = now;
        // The handshake-deadline timer is still pending and will apply the keepalive rules
        // when it fires; schedule earlier only if one of them is due before it.
        let config = &self.shared.config;
        let handshake_end = conn.created + config.handshake_timeout;
        let keepalive = [config.ping_interval, config.idle_timeout]
            .into_iter()
            .flatten()
            .min();
        if let Some(first) = keepalive.map(|d| now + d).filter(|t| *t < handshake_end) {
            self.schedule(key, first);
        }
        if !rest.is_empty() {
            self.on_ws_bytes(key, rest, now);
        }
    }

    /// Frames from an open WebSocket: dispatch each event to the route's handler.
    fn on_ws_bytes(&mut self, key: usize, input: &mut [u8], now: Instant) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let Phase::Ws(ws) = &mut conn.phase else {
            return;
        };
        let metrics = &self.shared.metrics;
        let mut actions = Vec::new();
        let mut pos = 0;
        let mut closed_by_peer = None;
        while pos < input.len() {
            let Ws {
                conn: proto,
                handler,
                info,
                wire,
                ..
            } = &mut **ws;
            // The wire tap needs the bytes as they arrived, before unmasking in place.
            let raw = wire.as_ref().map(|_| input[pos..].to_vec());
            let out_before = proto.pending_output().len();
            let result = proto.read_with(&mut input[pos..], |event, sender| {
                dispatch(event, sender, handler.as_ref(), info, &mut actions, metrics)
            });
            match result {
                Ok((used, outcome)) => {
                    if let (Some(tap), Some(raw)) = (wire.as_mut(), raw) {
                        tap.read.extend_from_slice(&raw[..used]);
                    }
                    pos += used;
                    match outcome {
                        None => break,
                        Some(Dispatched::Message) => {
                            conn.last_message = now;
                            if let Some(tap) = wire.as_mut() {
                                let written =
                                    proto.pending_output().get(out_before..).unwrap_or(&[]);
                                let record = tap.record(written);
                                let _ = proto.send_text(&record);
                            }
                        }
                        Some(Dispatched::Close(code)) => closed_by_peer = Some(code),
                        Some(Dispatched::Other) => {}
                    }
                }
                Err(e) => {
                    debug!(conn = conn.id, error = %e, "protocol error");
                    closed_by_peer = e.close_code();
                    break;
                }
            }
        }
        if let Some(code) = closed_by_peer {
            if let Some(more) = ws.report_close(code) {
                actions.extend(more);
            }
        }
        self.actions.extend(actions.into_iter().map(|a| (key, a)));
        // Backpressure: stop reading from a peer that does not read what it is sent.
        if conn.backlog() > self.shared.config.max_backpressure && conn.reading {
            Metrics::inc(&metrics.backpressure_events);
            conn.reading = false;
        }
    }

    /// Queues an HTTP response; the connection closes when it has been written.
    fn respond(&mut self, key: usize, response: Vec<u8>) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        conn.phase = Phase::Respond;
        conn.reading = false;
        conn.push(Out::Owned(response));
    }

    // ---- Writing -----------------------------------------------------------------------

    /// Writes as much as the socket takes, with one vectored write per round (queued items,
    /// then the protocol's own output), and sets write interest to match what is left.
    fn flush(&mut self, key: usize) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let mut written_total = 0u64;
        let result = loop {
            let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(conn.queue.len().min(64) + 1);
            for (i, item) in conn.queue.iter().take(64).enumerate() {
                let bytes = item.bytes();
                slices.push(IoSlice::new(if i == 0 {
                    &bytes[conn.front_written..]
                } else {
                    bytes
                }));
            }
            let tail = conn.ws_output();
            if !tail.is_empty() {
                slices.push(IoSlice::new(tail));
            }
            if slices.is_empty() {
                break Ok(());
            }
            match (&conn.stream).write_vectored(&slices) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    written_total += n as u64;
                    advance(conn, n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(e),
            }
        };
        Metrics::add(&self.shared.metrics.bytes_out, written_total);
        if let Err(e) = result {
            debug!(conn = conn.id, error = %e, "write failed");
            self.finish(key, CloseCode::ABNORMAL);
            return;
        }
        let pending = conn.backlog();
        if pending == 0 && matches!(conn.phase, Phase::Respond) && conn.closing_since.is_none() {
            // Lingering close: send FIN, then read and discard until the peer closes too, so
            // unread request bytes do not turn our close into a reset that eats the response.
            let _ = conn.stream.shutdown(std::net::Shutdown::Write);
            conn.closing_since = Some(Instant::now());
            conn.reading = true;
            let at = Instant::now() + self.shared.config.close_timeout;
            self.schedule(key, at);
            let Some(conn) = self.conns.get_mut(key) else {
                return;
            };
            let _ =
                self.poller
                    .modify_with_mode(&conn.stream, Event::readable(key), PollMode::Level);
            conn.interest = (true, false);
            return;
        }
        let done = pending == 0
            && match &conn.phase {
                Phase::Ws(ws) => ws.conn.should_close_transport(),
                Phase::Respond | Phase::Head { .. } => false,
            };
        if done {
            // RFC 6455 §7.1.1: after the close handshake the server closes the TCP connection.
            let code = match &conn.phase {
                Phase::Ws(_) => CloseCode::NORMAL,
                _ => CloseCode::NO_STATUS,
            };
            self.finish(key, code);
            return;
        }
        if !conn.reading
            && matches!(conn.phase, Phase::Ws(_))
            && pending <= self.shared.config.max_backpressure / 2
        {
            conn.reading = true;
        }
        let interest = (conn.reading, pending > 0);
        if interest != conn.interest {
            conn.interest = interest;
            let event = Event::new(key, interest.0, interest.1);
            let _ = self
                .poller
                .modify_with_mode(&conn.stream, event, PollMode::Level);
        }
    }

    // ---- Hub actions and inbox ---------------------------------------------------------

    fn run_actions(&mut self) {
        while !self.actions.is_empty() {
            let actions = std::mem::take(&mut self.actions);
            for (key, action) in actions {
                // A publication outlives its sender (a leave notice is sent as it goes).
                let member = self.conns.get(key).map(|c| Member {
                    loop_id: self.id,
                    key,
                    id: c.id,
                });
                match action {
                    Action::Publish {
                        room,
                        frame,
                        skip_self,
                    } => {
                        let skip = member.filter(|_| skip_self);
                        let local = self.shared.hub.publish(&room, &frame, self.id, skip);
                        self.deliver(&frame, &local);
                    }
                    Action::Join(room) => {
                        let Some(member) = member else { continue };
                        if let Some(Phase::Ws(ws)) = self.conns.get_mut(key).map(|c| &mut c.phase) {
                            if !ws.rooms.contains(&room) {
                                self.shared.hub.join(&room, member);
                                ws.rooms.push(room);
                            }
                        }
                    }
                    Action::Leave(room) => {
                        let Some(member) = member else { continue };
                        if let Some(Phase::Ws(ws)) = self.conns.get_mut(key).map(|c| &mut c.phase) {
                            ws.rooms.retain(|r| *r != room);
                        }
                        self.shared.hub.leave(&room, member);
                    }
                }
            }
        }
    }

    fn drain_inbox(&mut self) {
        let cmds = std::mem::take(&mut *lock(&self.shared.hub.loops[self.id].inbox));
        for cmd in cmds {
            match cmd {
                Cmd::Deliver { frame, to } => self.deliver(&frame, &to),
            }
        }
        self.run_actions();
    }

    /// Queues a shared frame on each open connection of `to`; a receiver past its
    /// backpressure cap misses it (`--drop-on-backpressure`) or is closed with 1008.
    fn deliver(&mut self, frame: &Arc<[u8]>, to: &[(usize, u64)]) {
        let config = &self.shared.config;
        let metrics = &self.shared.metrics;
        for &(key, id) in to {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            if conn.id != id {
                continue;
            }
            let Phase::Ws(ws) = &mut conn.phase else {
                continue;
            };
            if ws.conn.state() != State::Open {
                continue;
            }
            if conn.queued + ws.conn.pending_output().len() + frame.len() > config.max_backpressure
            {
                Metrics::inc(&metrics.backpressure_events);
                if !config.drop_on_backpressure {
                    let _ = ws
                        .conn
                        .close(CloseCode::POLICY_VIOLATION, "receiver too slow");
                    conn.closing_since = Some(Instant::now());
                }
                continue;
            }
            conn.push(Out::Shared(frame.clone()));
            Metrics::inc(&metrics.messages_out);
        }
        let keys: Vec<usize> = to.iter().map(|(k, _)| *k).collect();
        for key in keys {
            self.flush(key);
        }
    }

    // ---- Timers ------------------------------------------------------------------------

    fn schedule(&mut self, key: usize, at: Instant) {
        if let Some(conn) = self.conns.get(key) {
            self.timers.push(Reverse((at, key, conn.id)));
        }
    }

    fn fire_timers(&mut self, now: Instant) {
        if let Some(t) = self.accept_resume {
            if now >= t && self.shutdown_deadline.is_none() {
                self.accept_resume = None;
                if self
                    .poller
                    .modify_with_mode(&*self.listener, Event::readable(LISTENER), PollMode::Level)
                    .is_ok()
                {
                    self.accepting = true;
                }
            }
        }
        while let Some(Reverse((at, key, id))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            if self.conns.get(key).is_some_and(|c| c.id == id) {
                if let Some(next) = self.check_deadlines(key, now) {
                    self.schedule(key, next);
                }
            }
        }
        self.run_actions();
    }

    /// Applies the connection's timeouts; returns when to look again.
    fn check_deadlines(&mut self, key: usize, now: Instant) -> Option<Instant> {
        let config = self.shared.config.clone();
        let conn = self.conns.get_mut(key)?;
        let handshake_end = conn.created + config.handshake_timeout;
        match &mut conn.phase {
            Phase::Respond if conn.closing_since.is_some() => {
                let end = conn.closing_since.map_or(now, |t| t + config.close_timeout);
                if now >= end {
                    self.finish(key, CloseCode::NO_STATUS);
                    return None;
                }
                Some(end)
            }
            Phase::Head { .. } | Phase::Respond => {
                if now >= handshake_end {
                    debug!(conn = conn.id, "handshake timeout");
                    Metrics::inc(&self.shared.metrics.handshakes_failed);
                    self.finish(key, CloseCode::ABNORMAL);
                    return None;
                }
                Some(handshake_end)
            }
            Phase::Ws(ws) => {
                // Idle compaction: a connection with nothing queued gives back its buffers'
                // capacity, so an idle connection costs only its state.
                if conn.queued == 0 && !ws.conn.has_output() {
                    conn.queue = VecDeque::new();
                    ws.conn.shrink_buffers();
                }
                if let Some(since) = conn
                    .closing_since
                    .or((ws.conn.state() == State::Closing).then_some(now))
                {
                    conn.closing_since = Some(since);
                    let end = since + config.close_timeout;
                    if now >= end {
                        self.finish(key, CloseCode::ABNORMAL);
                        return None;
                    }
                    return Some(end);
                }
                let mut next = now + Duration::from_secs(3600);
                if let Some(idle) = config.idle_timeout {
                    let end = conn.last_message + idle;
                    if now >= end {
                        let _ = ws.conn.close(CloseCode::GOING_AWAY, "idle timeout");
                        conn.closing_since = Some(now);
                        self.flush(key);
                        return Some(now + config.close_timeout);
                    }
                    next = next.min(end);
                }
                if let Some(interval) = config.ping_interval {
                    match conn.ping_sent {
                        Some(sent) if now >= sent + config.ping_timeout => {
                            debug!(conn = conn.id, "no pong: closing");
                            let _ = ws.conn.close(CloseCode::GOING_AWAY, "ping timeout");
                            conn.closing_since = Some(now);
                            self.flush(key);
                            return Some(now + config.close_timeout);
                        }
                        Some(sent) => next = next.min(sent + config.ping_timeout),
                        None if now >= conn.last_read + interval => {
                            let _ = ws.conn.ping(b"wslens");
                            conn.ping_sent = Some(now);
                            next = next.min(now + config.ping_timeout);
                            self.flush(key);
                        }
                        None => next = next.min(conn.last_read + interval),
                    }
                }
                Some(next)
            }
        }
    }

    // ---- Shutdown and teardown ----------------------------------------------------------

    fn begin_shutdown(&mut self, now: Instant) {
        info!(
            loop_id = self.id,
            connections = self.conns.len(),
            "shutting down"
        );
        let _ = self.poller.delete(&*self.listener);
        self.accepting = false;
        self.shutdown_deadline = Some(now + self.shared.config.shutdown_timeout);
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            match &mut conn.phase {
                Phase::Ws(ws) => {
                    let _ = ws.conn.close(CloseCode::GOING_AWAY, "server shutting down");
                    conn.closing_since = Some(now);
                    self.flush(key);
                }
                _ => self.finish(key, CloseCode::ABNORMAL),
            }
        }
    }

    /// Removes a connection: deletes it from the poller, leaves its rooms, reports the close
    /// to its handler if that has not happened, and closes the socket.
    fn finish(&mut self, key: usize, code: CloseCode) {
        if !self.conns.contains(key) {
            return;
        }
        let mut conn = self.conns.remove(key);
        let _ = self.poller.delete(&conn.stream);
        let metrics = &self.shared.metrics;
        Metrics::dec(&metrics.open_connections);
        if let Phase::Ws(ws) = &mut conn.phase {
            Metrics::dec(&metrics.open_websockets);
            metrics.closed(code.0);
            let member = Member {
                loop_id: self.id,
                key,
                id: conn.id,
            };
            for room in ws.rooms.drain(..) {
                self.shared.hub.leave(&room, member);
            }
            if let Some(actions) = ws.report_close(code) {
                // The connection is gone: only its publications still matter.
                for action in actions {
                    if let Action::Publish { room, frame, .. } = action {
                        let local = self.shared.hub.publish(&room, &frame, self.id, None);
                        self.deliver(&frame, &local);
                    }
                }
            }
            info!(conn = conn.id, peer = %conn.peer, code = code.0, "websocket closed");
        }
        let _ = conn.stream.shutdown(std::net::Shutdown::Both);
    }
}

impl Drop for EventLoop {
    fn drop(&mut self) {
        // Keeps the promise made when the listener was added (see `EventLoop::new`).
        let _ = self.poller.delete(&*self.listener);
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            let conn = self.conns.remove(key);
            let _ = self.poller.delete(&conn.stream);
        }
    }
}

/// Marks `n` written bytes: whole queue items first, then the protocol's output.
fn advance(conn: &mut Conn, mut n: usize) {
    while n > 0 {
        let Some(front) = conn.queue.front() else {
            break;
        };
        let left = front.bytes().len() - conn.front_written;
        if n >= left {
            n -= left;
            conn.queued -= left;
            conn.front_written = 0;
            conn.queue.pop_front();
        } else {
            conn.front_written += n;
            conn.queued -= n;
            return;
        }
    }
    if n > 0 {
        if let Phase::Ws(ws) = &mut conn.phase {
            ws.conn.consume_output(n);
        }
    }
}

enum Dispatched {
    Message,
    Close(CloseCode),
    Other,
}

fn dispatch(
    event: WsEvent<'_>,
    sender: &mut Sender,
    handler: &dyn Handler,
    info: &ConnInfo,
    actions: &mut Vec<Action>,
    metrics: &Metrics,
) -> Dispatched {
    let mut ctx = Ctx {
        sender,
        info,
        actions,
        sent: 0,
    };
    let message = match event {
        WsEvent::Text(t) => Message::Text(t),
        WsEvent::Binary(b) => Message::Binary(b),
        WsEvent::Close { code, .. } => {
            return Dispatched::Close(code.unwrap_or(CloseCode::NO_STATUS))
        }
        _ => return Dispatched::Other,
    };
    Metrics::inc(&metrics.messages_in);
    handler.on_message(&mut ctx, message);
    Metrics::add(&metrics.messages_out, ctx.sent);
    Dispatched::Message
}

#[cfg(test)]
mod size_tests {
    /// Per-connection state is what an idle connection costs; these caps catch growth (the
    /// goal is 300 bytes per idle connection in all; see the README's "Not yet").
    #[test]
    fn per_connection_state_does_not_grow() {
        use std::mem::size_of;
        assert!(
            size_of::<super::Conn>() <= 224,
            "Conn is {} bytes",
            size_of::<super::Conn>()
        );
        assert!(
            size_of::<super::Ws>() <= 480, // +8: the permessage-deflate box pointer
            "Ws is {} bytes",
            size_of::<super::Ws>()
        );
        assert!(
            size_of::<wslens::Connection>() <= 312, // +16: Config::deflate, the deflate box
            "Connection is {}",
            size_of::<wslens::Connection>()
        );
    }
}
