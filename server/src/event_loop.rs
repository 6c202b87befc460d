//! One event loop per thread on the `polling` crate (epoll on Linux, kqueue on macOS, IOCP
//! on Windows): a non-blocking listener shared by all loops, connections in a slab keyed by
//! `usize`, write interest only while output is queued, timers from a deadline heap that
//! feeds `wait`'s timeout, and an inbox for frames published on other loops.
//!
//! Memory per connection is kept small (the goal is 300 bytes for an idle WebSocket): the
//! read buffer is shared by the loop; output lives in a boxed queue only while some is
//! pending; the protocol state ([`Connection`]) is *parked* whenever it is idle (see
//! [`Connection::is_idle`]) and picked up again, from a small per-loop pool, when bytes
//! arrive; times are milliseconds on the loop's clock; each connection has at most one live
//! timer.

use crate::handler::{Action, ConnInfo, Ctx, Handler, Message};
use crate::hub::{lock, Cmd, Member};
use crate::metrics::Metrics;
use crate::transport::{Listeners, TlsAcceptor, Transport};
use crate::{http, RouteMatch, Shared};
use polling::{Event, Events, PollMode, Poller};
use slab::Slab;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};
use wslens::handshake::{negotiate_protocol, reject_response, AcceptOptions, HeadScanner};
use wslens::{CloseCode, Connection, Event as WsEvent, State};

/// Size of the read buffer shared by all connections of a loop.
const READ_BUF: usize = 64 * 1024;
/// Reads per readiness event before giving other connections a turn.
const READS_PER_EVENT: usize = 4;
/// Parked protocol states and empty output queues kept for reuse, per loop.
const SPARES: usize = 16;
/// Empty output queues kept for reuse: enough for a broadcast to a large room.
const SPARE_QUEUES: usize = 1024;
/// Slab keys must fit the timer heap's `u32`.
const MAX_KEY: usize = u32::MAX as usize;

/// Milliseconds on the loop's clock (since the loop started).
type Ms = u64;

fn ms(d: Duration) -> Ms {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A moment on the loop's clock, or none: an `Option<Ms>` in 8 bytes instead of 16.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Since(Ms);

impl Since {
    const NONE: Since = Since(Ms::MAX);

    fn get(self) -> Option<Ms> {
        (self != Since::NONE).then_some(self.0)
    }

    fn is_some(self) -> bool {
        self != Since::NONE
    }

    fn is_none(self) -> bool {
        self == Since::NONE
    }
}

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

/// Output queued ahead of the protocol's own buffer (HTTP responses, broadcast frames). Boxed
/// and present only while non-empty.
#[derive(Default)]
struct OutQueue {
    items: VecDeque<Out>,
    /// Bytes of the front item already written.
    front_written: usize,
    /// Bytes not yet written, in all.
    queued: usize,
}

/// Reading the HTTP request head.
struct Head {
    buf: Vec<u8>,
    scanner: HeadScanner,
}

enum Phase {
    /// Reading the HTTP request head.
    Head(Box<Head>),
    /// An open (or closing) WebSocket.
    Ws(Ws),
    /// Writing an HTTP response; the connection closes once it is out.
    Respond,
}

struct Ws {
    /// The protocol state; `None` while parked (it was idle, and any idle server connection
    /// with the loop's configuration is as good as another).
    proto: Option<Box<Connection>>,
    handler: Arc<dyn Handler>,
    /// The `wslens.wire` tap, when the client asked for it.
    wire: Option<Box<WireTap>>,
    rooms: Vec<Box<str>>,
    /// `on_close` has been called.
    close_reported: bool,
}

/// Where parked protocol states come from and go back to. The boxes are kept as boxes: they
/// move between a connection and the pool without being reallocated.
#[allow(clippy::vec_box)]
struct Spares {
    protos: Vec<Box<Connection>>,
    queues: Vec<Box<OutQueue>>,
    config: wslens::Config,
}

impl Spares {
    /// The protocol state of an open connection: a parked one is replaced by a spare (or a
    /// new one) in the same state.
    fn proto<'w>(&mut self, ws: &'w mut Ws) -> &'w mut Connection {
        ws.proto.get_or_insert_with(|| {
            self.protos
                .pop()
                .unwrap_or_else(|| Box::new(Connection::accepted(self.config.clone())))
        })
    }

    /// Parks the protocol state if it is idle.
    fn park(&mut self, ws: &mut Ws) {
        if ws.proto.as_ref().is_some_and(|p| p.is_idle()) {
            if let Some(mut proto) = ws.proto.take() {
                if self.protos.len() < SPARES && proto.recycle() {
                    self.protos.push(proto);
                }
            }
        }
    }

    fn queue(&mut self) -> Box<OutQueue> {
        self.queues.pop().unwrap_or_default()
    }

    fn return_queue(&mut self, mut queue: Box<OutQueue>) {
        if self.queues.len() < SPARE_QUEUES {
            // Only drained queues come back: nothing to reset but a burst's capacity.
            debug_assert!(queue.items.is_empty() && queue.queued == 0 && queue.front_written == 0);
            if queue.items.capacity() > 64 {
                queue.items = VecDeque::new();
            }
            self.queues.push(queue);
        }
    }
}

impl Ws {
    /// The protocol's state (a parked connection is open).
    fn state(&self) -> State {
        self.proto.as_ref().map_or(State::Open, |p| p.state())
    }

    fn output(&self) -> &[u8] {
        self.proto.as_ref().map_or(&[], |p| p.pending_output())
    }

    /// Calls the handler's `on_close` once; returns what it asked for, or `None` if it was
    /// already told.
    fn report_close(
        &mut self,
        spares: &mut Spares,
        info: &ConnInfo,
        code: CloseCode,
    ) -> Option<Vec<Action>> {
        if self.close_reported {
            return None;
        }
        self.close_reported = true;
        let mut actions = Vec::new();
        let handler = self.handler.clone();
        let mut ctx = Ctx::new(spares.proto(self).sender(), info, &mut actions);
        handler.on_close(&mut ctx, code);
        Some(actions)
    }
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
    stream: Transport,
    /// Registered interest: (readable, writable).
    interest: (bool, bool),
    /// Whether we read from the peer (false under backpressure or while responding).
    reading: bool,
    /// Listed in the loop's `dirty`: output was queued by a delivery, to be flushed at the end
    /// of this loop iteration.
    dirty: bool,
    info: ConnInfo,
    phase: Phase,
    out: Option<Box<OutQueue>>,
    created: Ms,
    last_read: Ms,
    last_message: Ms,
    /// When the last ping went unanswered ([`Since::NONE`]: no ping out).
    ping_sent: Since,
    /// When the close handshake (or the lingering close of a response) began.
    closing_since: Since,
    /// The deadline of this connection's live timer (`Ms::MAX`: none).
    timer_at: Ms,
}

impl Conn {
    fn ws_output(&self) -> &[u8] {
        phase_output(&self.phase)
    }

    fn queued(&self) -> usize {
        self.out.as_ref().map_or(0, |q| q.queued)
    }

    /// Bytes waiting in total: the queue and the protocol's own output buffer.
    fn backlog(&self) -> usize {
        self.queued() + self.ws_output().len()
    }

    /// Queues `out` after everything already pending (the protocol's output first).
    fn push(&mut self, spares: &mut Spares, out: Out) {
        let queue = self.out.get_or_insert_with(|| spares.queue());
        if let Phase::Ws(ws) = &mut self.phase {
            if let Some(proto) = ws.proto.as_mut().filter(|p| p.has_output()) {
                let bytes = proto.take_output();
                queue.queued += bytes.len();
                queue.items.push_back(Out::Owned(bytes));
            }
        }
        queue.queued += out.bytes().len();
        queue.items.push_back(out);
    }
}

/// One loop's state.
pub(crate) struct EventLoop {
    id: usize,
    shared: Arc<Shared>,
    poller: Arc<Poller>,
    listeners: Listeners,
    conns: Slab<Conn>,
    /// Deadlines: (when, slab key, low bits of the connection id). Stale entries (for a
    /// connection that is gone or has an earlier timer) are skipped when they come up.
    timers: BinaryHeap<Reverse<(Ms, u32, u32)>>,
    spares: Spares,
    read_buf: Vec<u8>,
    actions: Vec<(usize, Action)>,
    /// Connections with delivered frames to flush at the end of this iteration: frames
    /// published in one iteration go out in one vectored write per receiver.
    dirty: Vec<usize>,
    accepting: bool,
    accept_resume: Option<Ms>,
    shutdown_deadline: Option<Ms>,
    /// The loop's clock starts here.
    epoch: Instant,
    /// The path of a connection still reading its request head.
    no_path: Arc<str>,
}

impl EventLoop {
    pub(crate) fn new(id: usize, shared: Arc<Shared>, listeners: Listeners) -> io::Result<Self> {
        let poller = shared.hub.loops[id].poller.clone();
        // SAFETY: `polling` requires a registered source to be deleted before it is dropped.
        // The listeners live in `Arc`s held by this loop for its whole life, and
        // `EventLoop::drop` deletes them from the poller before the loop's references go away.
        unsafe { listeners.register(&poller)? };
        let config = shared.config.connection_config();
        Ok(EventLoop {
            id,
            shared,
            poller,
            listeners,
            conns: Slab::new(),
            timers: BinaryHeap::new(),
            spares: Spares {
                protos: Vec::new(),
                queues: Vec::new(),
                config,
            },
            read_buf: vec![0; READ_BUF],
            actions: Vec::new(),
            dirty: Vec::new(),
            accepting: true,
            accept_resume: None,
            shutdown_deadline: None,
            epoch: Instant::now(),
            no_path: Arc::from(""),
        })
    }

    /// Now, on the loop's clock.
    fn now(&self) -> Ms {
        ms(self.epoch.elapsed())
    }

    /// Runs until shutdown completes.
    pub(crate) fn run(&mut self) -> io::Result<()> {
        let mut events = Events::new();
        loop {
            let timeout = self.next_timeout(self.now());
            events.clear();
            match self.poller.wait(&mut events, timeout) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            let now = self.now();
            for ev in events.iter() {
                if Listeners::is_listener(ev.key) {
                    self.accept(ev.key, now);
                } else {
                    self.on_ready(ev.key, ev.readable, ev.writable, now);
                }
            }
            self.drain_inbox(now);
            self.fire_timers(now);
            if self.shared.shutdown.load(Ordering::Acquire) && self.shutdown_deadline.is_none() {
                self.begin_shutdown(now);
            }
            self.flush_dirty(now);
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

    fn next_timeout(&self, now: Ms) -> Option<Duration> {
        let mut next = self.timers.peek().map(|Reverse((t, _, _))| *t);
        for t in [self.accept_resume, self.shutdown_deadline]
            .into_iter()
            .flatten()
        {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        next.map(|t| Duration::from_millis(t.saturating_sub(now)))
    }

    // ---- Accepting ---------------------------------------------------------------------

    fn accept(&mut self, key: usize, now: Ms) {
        if !self.accepting {
            return;
        }
        loop {
            match self.listeners.accept(key) {
                Ok((stream, peer, tls)) => {
                    let tls = tls.cloned();
                    self.admit(stream, peer, tls, now)
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE/ENFILE and friends: stop accepting for a moment instead of
                    // spinning on a listener that stays readable.
                    warn!(error = %e, "accept failed; pausing accepts for 100 ms");
                    self.pause_accepting(now + 100);
                    return;
                }
            }
        }
    }

    fn pause_accepting(&mut self, until: Ms) {
        if self.listeners.set_accepting(&self.poller, false).is_ok() {
            self.accepting = false;
            self.accept_resume = Some(until);
        }
    }

    fn admit(&mut self, stream: TcpStream, peer: SocketAddr, tls: Option<TlsAcceptor>, now: Ms) {
        let metrics = &self.shared.metrics;
        if stream.set_nonblocking(true).is_err() {
            return;
        }
        let _ = stream.set_nodelay(true);
        let open = metrics.open_connections.load(Ordering::Relaxed) as usize;
        let over_limit = open >= self.shared.config.max_connections;
        let stream = match tls {
            None => Transport::Plain(stream),
            // Past the limit a TLS client is closed before its handshake: a 503 would first
            // cost the full handshake the limit is there to spare.
            Some(_) if over_limit => {
                Metrics::inc(&metrics.rejected_connections);
                return;
            }
            Some(acceptor) => match acceptor.wrap(stream) {
                Ok(t) => t,
                Err(_) => return,
            },
        };
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let entry = self.conns.vacant_entry();
        let key = entry.key();
        if key >= MAX_KEY {
            return;
        }
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
            interest: (true, false),
            reading: true,
            dirty: false,
            info: ConnInfo {
                id,
                peer,
                path: self.no_path.clone(),
                param: Box::default(),
                protocol: None,
            },
            phase: Phase::Head(Box::new(Head {
                buf: Vec::new(),
                scanner: HeadScanner::new(self.shared.config.max_header_bytes),
            })),
            out: None,
            created: now,
            last_read: now,
            last_message: now,
            ping_sent: Since::NONE,
            closing_since: Since::NONE,
            timer_at: Ms::MAX,
        });
        Metrics::inc(&metrics.open_connections);
        debug!(conn = id, %peer, "accepted");
        self.schedule(key, now + ms(self.shared.config.handshake_timeout));
        if over_limit {
            Metrics::inc(&self.shared.metrics.rejected_connections);
            self.respond(key, reject_response(503, "too many connections"));
            self.flush(key, now);
        }
    }

    // ---- Readiness ---------------------------------------------------------------------

    fn on_ready(&mut self, key: usize, readable: bool, writable: bool, now: Ms) {
        // One span per connection (id and peer) around everything done for it; `debug` level,
        // so it costs nothing unless RUST_LOG asks for it.
        let span = self
            .conns
            .get(key)
            .map(|c| tracing::debug_span!("conn", id = c.info.id, peer = %c.info.peer));
        let _entered = span.as_ref().map(tracing::Span::enter);
        if readable {
            self.on_readable(key, now);
        }
        // The handler's actions first: a room joined in `on_open` is joined before the 101
        // leaves, so a client that has its 101 also gets everything published after it.
        self.run_actions(now);
        if writable || readable {
            self.flush(key, now);
        }
    }

    fn on_readable(&mut self, key: usize, now: Ms) {
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
                    conn.ping_sent = Since::NONE;
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
                    debug!(conn = conn.info.id, error = %e, "read failed");
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
            let code = self
                .spares
                .proto(ws)
                .receive_eof()
                .unwrap_or(CloseCode::NORMAL);
            self.finish(key, code);
        } else {
            self.finish(key, CloseCode::ABNORMAL);
        }
    }

    fn on_bytes(&mut self, key: usize, input: &mut [u8], now: Ms) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        match &mut conn.phase {
            Phase::Respond => {}
            Phase::Ws(_) => self.on_ws_bytes(key, input, now),
            Phase::Head(head) => {
                let room = self
                    .shared
                    .config
                    .max_header_bytes
                    .saturating_add(1)
                    .saturating_sub(head.buf.len());
                let take = input.len().min(room.max(1));
                head.buf.extend_from_slice(&input[..take]);
                match head.scanner.scan(&head.buf) {
                    Ok(None) => {}
                    Err(e) => {
                        Metrics::inc(&self.shared.metrics.handshakes_failed);
                        self.respond(key, e.response());
                    }
                    Ok(Some(end)) => {
                        let mut bytes = std::mem::take(&mut head.buf);
                        let mut rest = bytes.split_off(end);
                        rest.extend_from_slice(&input[take..]);
                        self.on_head(key, &bytes, &mut rest, now);
                    }
                }
            }
        }
    }

    /// A complete request head: a WebSocket upgrade or a plain HTTP request.
    fn on_head(&mut self, key: usize, head: &[u8], rest: &mut [u8], now: Ms) {
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
                Some(route) => self.upgrade(key, head, rest, route, now),
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
    fn upgrade(&mut self, key: usize, head: &[u8], rest: &mut [u8], route: RouteMatch, now: Ms) {
        let RouteMatch {
            handler,
            param,
            path,
        } = route;
        let mut ws = Connection::server(self.spares.config.clone());
        let mut head_buf = head.to_vec();
        let decision = match ws.read(&mut head_buf) {
            Ok((_, Some(WsEvent::Request(req)))) => match self.shared.authorizer.authorize(req) {
                Err(rejection) => Err((rejection.status, rejection.reason)),
                Ok(()) => {
                    let chosen = negotiate_protocol(&req.protocols, handler.protocols());
                    // The handler's own `&'static str`, so the connection keeps no copy.
                    Ok(chosen.and_then(|c| handler.protocols().iter().copied().find(|p| *p == c)))
                }
            },
            Ok(_) => Err((400, "incomplete handshake".to_owned())),
            Err(e) => {
                debug!(error = %e, "handshake refused");
                Err((0, String::new()))
            }
        };
        let metrics = &self.shared.metrics;
        let protocol = match decision {
            Ok(p) => p,
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
            protocol,
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
        info!(conn = conn.info.id, peer = %conn.info.peer, path = &*path, protocol = protocol.unwrap_or(""), "websocket open");
        conn.info.path = path;
        conn.info.param = param;
        conn.info.protocol = protocol;
        let wire = (protocol == Some(crate::WIRE_PROTOCOL)).then(Box::default);
        // The 101 response stays in the protocol's output, ahead of anything `on_open` sends.
        let mut state = Ws {
            proto: Some(Box::new(ws)),
            handler,
            wire,
            rooms: Vec::new(),
            close_reported: false,
        };
        let mut actions = Vec::new();
        let handler = state.handler.clone();
        handler.on_open(&mut Ctx::new(
            self.spares.proto(&mut state).sender(),
            &conn.info,
            &mut actions,
        ));
        self.actions.extend(actions.into_iter().map(|a| (key, a)));
        conn.phase = Phase::Ws(state);
        conn.last_message = now;
        // The handshake-deadline timer is still pending; schedule earlier if a keepalive
        // rule is due before it (the timer applies the keepalive rules when it fires).
        let config = &self.shared.config;
        let keepalive = [config.ping_interval, config.idle_timeout]
            .into_iter()
            .flatten()
            .min();
        if let Some(first) = keepalive {
            self.schedule(key, now + ms(first));
        }
        if !rest.is_empty() {
            self.on_ws_bytes(key, rest, now);
        }
    }

    /// Frames from an open WebSocket: dispatch each event to the route's handler.
    fn on_ws_bytes(&mut self, key: usize, input: &mut [u8], now: Ms) {
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
        let info = &conn.info;
        // Large messages may go straight to a plain socket when nothing is queued ahead.
        let direct = match (&conn.stream, &conn.out) {
            (Transport::Plain(tcp), None) => Some(tcp),
            _ => None,
        };
        self.spares.proto(ws);
        while pos < input.len() {
            let Ws {
                proto: Some(proto),
                handler,
                wire,
                ..
            } = ws
            else {
                break;
            };
            // The wire tap needs the bytes as they arrived, before unmasking in place.
            let raw = wire.as_ref().map(|_| input[pos..].to_vec());
            let out_before = proto.pending_output().len();
            // Only for the first message of this input (later ones queue and leave together)
            // and never under the wire tap, which records what the protocol queued.
            let direct = direct.filter(|_| pos == 0 && wire.is_none());
            let result = proto.read_with(&mut input[pos..], |event, sender| {
                let mut ctx = Ctx::new(sender, info, &mut actions);
                ctx.direct = direct;
                dispatch(event, ctx, handler.as_ref(), metrics)
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
                    debug!(conn = info.id, error = %e, "protocol error");
                    closed_by_peer = e.close_code();
                    break;
                }
            }
        }
        if let Some(code) = closed_by_peer {
            if let Some(more) = ws.report_close(&mut self.spares, info, code) {
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
        conn.push(&mut self.spares, Out::Owned(response));
    }

    // ---- Writing -----------------------------------------------------------------------

    /// Writes as much as the socket takes, with one vectored write per round (queued items,
    /// then the protocol's own output), and sets write interest to match what is left. Parks
    /// the protocol state and gives back the queue once everything is out.
    fn flush(&mut self, key: usize, now: Ms) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let mut written_total = 0u64;
        let result = loop {
            if conn.backlog() == 0 {
                // TLS records may still wait for the socket (plain TCP: nothing to do).
                break conn.stream.write_pending();
            }
            let write = match &conn.out {
                // The common case: only the protocol's own output.
                None => conn.stream.write(phase_output(&conn.phase)),
                Some(_) => flush_vectored(conn),
            };
            match write {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    written_total += n as u64;
                    advance(conn, n);
                    if conn.backlog() == 0 {
                        break Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(e),
            }
        };
        Metrics::add(&self.shared.metrics.bytes_out, written_total);
        if let Err(e) = result {
            debug!(conn = conn.info.id, error = %e, "write failed");
            self.finish(key, CloseCode::ABNORMAL);
            return;
        }
        if conn.queued() == 0 {
            if let Some(queue) = conn.out.take() {
                self.spares.return_queue(queue);
            }
        }
        // Queued bytes, plus TLS records not yet on the wire.
        let pending = conn.backlog() + usize::from(conn.stream.wants_write());
        if pending == 0 && matches!(conn.phase, Phase::Respond) && conn.closing_since.is_none() {
            // Lingering close: send FIN, then read and discard until the peer closes too, so
            // unread request bytes do not turn our close into a reset that eats the response.
            let _ = conn.stream.shutdown(std::net::Shutdown::Write);
            conn.closing_since = Since(now);
            conn.reading = true;
            let _ =
                self.poller
                    .modify_with_mode(&conn.stream, Event::readable(key), PollMode::Level);
            conn.interest = (true, false);
            self.schedule(key, now + ms(self.shared.config.close_timeout));
            return;
        }
        let done = pending == 0
            && match &conn.phase {
                Phase::Ws(ws) => ws
                    .proto
                    .as_ref()
                    .is_some_and(|p| p.should_close_transport()),
                Phase::Respond | Phase::Head(_) => false,
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
        if let Phase::Ws(ws) = &mut conn.phase {
            if pending == 0 {
                self.spares.park(ws);
            }
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

    fn run_actions(&mut self, now: Ms) {
        while !self.actions.is_empty() {
            let actions = std::mem::take(&mut self.actions);
            for (key, action) in actions {
                // A publication outlives its sender (a leave notice is sent as it goes).
                let member = self.conns.get(key).map(|c| Member {
                    loop_id: self.id,
                    key,
                    id: c.info.id,
                });
                match action {
                    Action::Publish {
                        room,
                        frame,
                        skip_self,
                    } => {
                        let skip = member.filter(|_| skip_self);
                        let local = self.shared.hub.publish(&room, &frame, self.id, skip);
                        self.deliver(&frame, &local, now);
                    }
                    Action::Join(room) => {
                        let Some(member) = member else { continue };
                        if let Some(Phase::Ws(ws)) = self.conns.get_mut(key).map(|c| &mut c.phase) {
                            if !ws.rooms.iter().any(|r| **r == *room) {
                                self.shared.hub.join(&room, member);
                                ws.rooms.push(room.into());
                            }
                        }
                    }
                    Action::Leave(room) => {
                        let Some(member) = member else { continue };
                        if let Some(Phase::Ws(ws)) = self.conns.get_mut(key).map(|c| &mut c.phase) {
                            ws.rooms.retain(|r| **r != *room);
                        }
                        self.shared.hub.leave(&room, member);
                    }
                }
            }
        }
    }

    fn drain_inbox(&mut self, now: Ms) {
        let cmds = std::mem::take(&mut *lock(&self.shared.hub.loops[self.id].inbox));
        for cmd in cmds {
            match cmd {
                Cmd::Deliver { frame, to } => self.deliver(&frame, &to, now),
            }
        }
        self.run_actions(now);
    }

    /// Queues a shared frame on each open connection of `to`; a receiver past its
    /// backpressure cap misses it (`--drop-on-backpressure`) or is closed with 1008.
    fn deliver(&mut self, frame: &Arc<[u8]>, to: &[(usize, u64)], now: Ms) {
        let config = &self.shared.config;
        let metrics = &self.shared.metrics;
        let close_timeout = ms(config.close_timeout);
        for &(key, id) in to {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            if conn.info.id != id {
                continue;
            }
            let backlog = conn.backlog();
            let Phase::Ws(ws) = &mut conn.phase else {
                continue;
            };
            if ws.state() != State::Open {
                continue;
            }
            if backlog + frame.len() > config.max_backpressure {
                Metrics::inc(&metrics.backpressure_events);
                if !config.drop_on_backpressure {
                    let _ = self
                        .spares
                        .proto(ws)
                        .close(CloseCode::POLICY_VIOLATION, "receiver too slow");
                    conn.closing_since = Since(now);
                    if now + close_timeout < conn.timer_at {
                        conn.timer_at = now + close_timeout;
                        self.timers
                            .push(Reverse((conn.timer_at, key as u32, id as u32)));
                    }
                    if !conn.dirty {
                        conn.dirty = true;
                        self.dirty.push(key);
                    }
                }
                continue;
            }
            conn.push(&mut self.spares, Out::Shared(frame.clone()));
            Metrics::inc(&metrics.messages_out);
            if !conn.dirty {
                conn.dirty = true;
                self.dirty.push(key);
            }
        }
    }

    /// Flushes the connections that deliveries queued output on.
    fn flush_dirty(&mut self, now: Ms) {
        while !self.dirty.is_empty() {
            let dirty = std::mem::take(&mut self.dirty);
            for &key in &dirty {
                // A key whose connection went away (and maybe came back as another one) has
                // `dirty` unset.
                if let Some(conn) = self.conns.get_mut(key).filter(|c| c.dirty) {
                    conn.dirty = false;
                    self.flush(key, now);
                }
            }
            self.run_actions(now);
            if self.dirty.is_empty() {
                // Keep the allocation for the next iteration.
                self.dirty = dirty;
                self.dirty.clear();
            }
        }
    }

    // ---- Timers ------------------------------------------------------------------------

    /// Makes sure the connection's timer fires no later than `at`. One live timer per
    /// connection: when it fires, `check_deadlines` works out the next one from the state.
    fn schedule(&mut self, key: usize, at: Ms) {
        if let Some(conn) = self.conns.get_mut(key) {
            if at < conn.timer_at {
                conn.timer_at = at;
                self.timers
                    .push(Reverse((at, key as u32, conn.info.id as u32)));
            }
        }
    }

    fn fire_timers(&mut self, now: Ms) {
        if let Some(t) = self.accept_resume {
            if now >= t && self.shutdown_deadline.is_none() {
                self.accept_resume = None;
                if self.listeners.set_accepting(&self.poller, true).is_ok() {
                    self.accepting = true;
                }
            }
        }
        while let Some(Reverse((at, key, id))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            let key = key as usize;
            let live = self
                .conns
                .get_mut(key)
                .filter(|c| c.info.id as u32 == id && c.timer_at == at);
            if let Some(conn) = live {
                conn.timer_at = Ms::MAX;
                if let Some(next) = self.check_deadlines(key, now) {
                    self.schedule(key, next);
                }
            }
        }
        self.run_actions(now);
    }

    /// Applies the connection's timeouts; returns when to look again.
    fn check_deadlines(&mut self, key: usize, now: Ms) -> Option<Ms> {
        let config = self.shared.config.clone();
        let close_timeout = ms(config.close_timeout);
        let conn = self.conns.get_mut(key)?;
        let handshake_end = conn.created + ms(config.handshake_timeout);
        match &mut conn.phase {
            Phase::Respond if conn.closing_since.is_some() => {
                let end = conn.closing_since.get().map_or(now, |t| t + close_timeout);
                if now >= end {
                    self.finish(key, CloseCode::NO_STATUS);
                    return None;
                }
                Some(end)
            }
            Phase::Head(_) | Phase::Respond => {
                if now >= handshake_end {
                    debug!(conn = conn.info.id, "handshake timeout");
                    Metrics::inc(&self.shared.metrics.handshakes_failed);
                    self.finish(key, CloseCode::ABNORMAL);
                    return None;
                }
                Some(handshake_end)
            }
            Phase::Ws(ws) => {
                if let Some(since) = conn
                    .closing_since
                    .get()
                    .or((ws.state() == State::Closing).then_some(now))
                {
                    conn.closing_since = Since(since);
                    let end = since + close_timeout;
                    if now >= end {
                        self.finish(key, CloseCode::ABNORMAL);
                        return None;
                    }
                    return Some(end);
                }
                let mut next = now + 3_600_000;
                if let Some(idle) = config.idle_timeout.map(ms) {
                    let end = conn.last_message + idle;
                    if now >= end {
                        let _ = self
                            .spares
                            .proto(ws)
                            .close(CloseCode::GOING_AWAY, "idle timeout");
                        conn.closing_since = Since(now);
                        self.flush(key, now);
                        return Some(now + close_timeout);
                    }
                    next = next.min(end);
                }
                if let Some(interval) = config.ping_interval.map(ms) {
                    let ping_timeout = ms(config.ping_timeout);
                    match conn.ping_sent.get() {
                        Some(sent) if now >= sent + ping_timeout => {
                            debug!(conn = conn.info.id, "no pong: closing");
                            let _ = self
                                .spares
                                .proto(ws)
                                .close(CloseCode::GOING_AWAY, "ping timeout");
                            conn.closing_since = Since(now);
                            self.flush(key, now);
                            return Some(now + close_timeout);
                        }
                        Some(sent) => next = next.min(sent + ping_timeout),
                        None if now >= conn.last_read + interval => {
                            let _ = self.spares.proto(ws).ping(b"wslens");
                            conn.ping_sent = Since(now);
                            next = next.min(now + ping_timeout);
                            self.flush(key, now);
                        }
                        None => next = next.min(conn.last_read + interval),
                    }
                }
                Some(next)
            }
        }
    }

    // ---- Shutdown and teardown ----------------------------------------------------------

    fn begin_shutdown(&mut self, now: Ms) {
        info!(
            loop_id = self.id,
            connections = self.conns.len(),
            "shutting down"
        );
        self.listeners.deregister(&self.poller);
        self.accepting = false;
        self.shutdown_deadline = Some(now + ms(self.shared.config.shutdown_timeout));
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            match &mut conn.phase {
                Phase::Ws(ws) => {
                    let _ = self
                        .spares
                        .proto(ws)
                        .close(CloseCode::GOING_AWAY, "server shutting down");
                    conn.closing_since = Since(now);
                    self.flush(key, now);
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
                id: conn.info.id,
            };
            for room in ws.rooms.drain(..) {
                self.shared.hub.leave(&room, member);
            }
            if let Some(actions) = ws.report_close(&mut self.spares, &conn.info, code) {
                // The connection is gone: only its publications still matter.
                let now = self.now();
                for action in actions {
                    if let Action::Publish { room, frame, .. } = action {
                        let local = self.shared.hub.publish(&room, &frame, self.id, None);
                        self.deliver(&frame, &local, now);
                    }
                }
            }
            info!(conn = conn.info.id, peer = %conn.info.peer, code = code.0, "websocket closed");
        }
        let _ = conn.stream.shutdown(std::net::Shutdown::Both);
    }
}

impl Drop for EventLoop {
    fn drop(&mut self) {
        // Keeps the promise made when the listeners were added (see `EventLoop::new`).
        self.listeners.deregister(&self.poller);
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            let conn = self.conns.remove(key);
            let _ = self.poller.delete(&conn.stream);
        }
    }
}

/// One vectored write of up to 64 queued items and then the protocol's output (no
/// allocation: the slices live on the stack).
fn flush_vectored(conn: &mut Conn) -> io::Result<usize> {
    let mut slices = [IoSlice::new(&[]); 65];
    let mut count = 0;
    if let Some(queue) = &conn.out {
        for item in queue.items.iter().take(64) {
            let bytes = item.bytes();
            slices[count] = IoSlice::new(if count == 0 {
                &bytes[queue.front_written..]
            } else {
                bytes
            });
            count += 1;
        }
    }
    let tail = phase_output(&conn.phase);
    if !tail.is_empty() {
        slices[count] = IoSlice::new(tail);
        count += 1;
    }
    conn.stream.write_vectored(&slices[..count])
}

/// The protocol's own pending output (the 101 response, frames, pongs, close replies).
fn phase_output(phase: &Phase) -> &[u8] {
    match phase {
        Phase::Ws(ws) => ws.output(),
        _ => &[],
    }
}

/// Marks `n` written bytes: whole queue items first, then the protocol's output.
fn advance(conn: &mut Conn, mut n: usize) {
    if let Some(queue) = &mut conn.out {
        while n > 0 {
            let Some(front) = queue.items.front() else {
                break;
            };
            let left = front.bytes().len() - queue.front_written;
            if n >= left {
                n -= left;
                queue.queued -= left;
                queue.front_written = 0;
                queue.items.pop_front();
            } else {
                queue.front_written += n;
                queue.queued -= n;
                return;
            }
        }
    }
    if n > 0 {
        if let Phase::Ws(Ws {
            proto: Some(proto), ..
        }) = &mut conn.phase
        {
            proto.consume_output(n);
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
    mut ctx: Ctx<'_>,
    handler: &dyn Handler,
    metrics: &Metrics,
) -> Dispatched {
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
    Metrics::add(&metrics.bytes_out, ctx.written);
    Dispatched::Message
}

#[cfg(test)]
mod size_tests {
    /// Per-connection state is what an idle connection costs (the goal is 300 bytes per idle
    /// WebSocket in all, measured by `tests/tests/memory.rs`); these caps catch growth.
    #[test]
    fn per_connection_state_does_not_grow() {
        use std::mem::size_of;
        let conn = size_of::<super::Conn>();
        // 216 with a bare TcpStream; the Transport enum (TcpStream or Box<TlsStream>) is 16.
        assert!(conn <= 232, "Conn is {conn} bytes");
        // The timer heap holds one live entry per connection.
        assert_eq!(size_of::<std::cmp::Reverse<(super::Ms, u32, u32)>>(), 16);
    }
}
