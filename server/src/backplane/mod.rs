//! Rooms across processes: the Redis backplane (`--backplane redis://HOST:PORT[/DB]`).
//!
//! ```text
//!   node A                                   Redis                        node B
//!   client ─► loop ─► Hub::publish ─┬─► local members (encoded once, as without a backplane)
//!                                   └─► queue ─► publisher ─ PUBLISH wslens:room:<room> ─┐
//!                                                                                       │
//!   subscriber ◄─ message (A's own: ignored) ◄──────────────────── channel ─────────────┼─► subscriber
//!                                                      B: check, Hub::deliver_remote ◄──┘   (once per node)
//!                                                      ─► each loop's inbox ─► members (one shared frame)
//! ```
//!
//! Each node has one connection pair to Redis, each on its own thread (no async runtime):
//! the **publisher** takes publications from a bounded queue and sends them as pipelined
//! `PUBLISH`es; the **subscriber** subscribes to a room's channel when the room's first local
//! member joins and unsubscribes when its last leaves, and hands what other nodes publish to
//! the hub, which delivers it like a local publication. What travels is the WebSocket frame
//! itself, already encoded, behind a one-line envelope with the node's id and a per-room
//! sequence number (`wslens1 <node> <seq>\n<frame>`): a node skips its own, and a jump in
//! another node's sequence is counted as lost. Redis is never waited for by an event loop;
//! when it is slow or gone the queue fills up to `--backplane-queue` bytes and then drops
//! new publications, counting them (`wslens_backplane_lost_total`).

mod resp;

use crate::hub::Hub;
use crate::metrics::Metrics;
use redis_protocol::resp2::types::OwnedFrame;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

/// Where Redis is and how the backplane uses it.
#[derive(Clone, Debug)]
pub struct BackplaneConfig {
    /// `redis://[:password@]host[:port][/db]`.
    pub url: RedisUrl,
    /// Prefix of the channel names (`<prefix>:room:<room>`); nodes share rooms only when
    /// they share the prefix (`--backplane-prefix`, default `wslens`).
    pub prefix: String,
    /// Bytes of publications held while Redis is slow or away (`--backplane-queue`).
    pub queue_bytes: usize,
    /// How long Redis may take to answer before its connection is dropped and made again
    /// (`--backplane-timeout`).
    pub timeout: Duration,
}

impl BackplaneConfig {
    /// The defaults for `url`: prefix `wslens`, a 16 MiB queue, a 5 s timeout.
    pub fn new(url: RedisUrl) -> Self {
        BackplaneConfig {
            url,
            prefix: "wslens".into(),
            queue_bytes: 16 << 20,
            timeout: Duration::from_secs(5),
        }
    }
}

/// A parsed `redis://` URL.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    /// Host name or address (IPv6 in brackets in the URL).
    pub host: String,
    /// Port (6379 if the URL has none).
    pub port: u16,
    /// Database number (`/DB`; streams and keys only: pub/sub ignores it).
    pub db: u32,
    /// `AUTH` password (`redis://:secret@host`), or user and password (`redis://user:secret@host`).
    pub auth: Option<(Option<String>, String)>,
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the password (the config is logged).
        write!(f, "{self}")
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = if self.auth.is_some() { "***@" } else { "" };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(f, "redis://{auth}{host}:{}/{}", self.port, self.db)
    }
}

impl FromStr for RedisUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let rest = s
            .strip_prefix("redis://")
            .ok_or_else(|| format!("{s}: a backplane URL starts with redis://"))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (auth, hostport) = match authority.rsplit_once('@') {
            Some((a, h)) => {
                let (user, pass) = a.split_once(':').unwrap_or(("", a));
                let user = (!user.is_empty()).then(|| user.to_owned());
                (Some((user, pass.to_owned())), h)
            }
            None => (None, authority),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("{s}: unclosed [ in the host"))?;
            (h, after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(format!("{s}: no host"));
        }
        let port = match port {
            Some(p) => p.parse().map_err(|_| format!("{s}: bad port {p:?}"))?,
            None => 6379,
        };
        let db = match path.trim_end_matches('/') {
            "" => 0,
            d => d.parse().map_err(|_| format!("{s}: bad database {d:?}"))?,
        };
        Ok(RedisUrl {
            host: host.to_owned(),
            port,
            db,
            auth,
        })
    }
}

/// Publications waiting for the publisher.
#[derive(Debug, Default)]
struct Queue {
    /// (channel, envelope, counted size) in publication order.
    items: VecDeque<(Arc<[u8]>, Vec<u8>, usize)>,
    bytes: usize,
    /// The next sequence number per room (cleared when it gets large: receivers take a
    /// number that goes back as a new start, not as a loss).
    seqs: HashMap<Box<str>, u64>,
}

const MAX_SEQ_ROOMS: usize = 100_000;

/// Subscription changes for the subscriber, in order.
#[derive(Debug)]
enum Change {
    Subscribe(Box<str>),
    Unsubscribe(Box<str>),
}

/// One node's backplane, shared by its loops (through the hub) and its two threads.
#[derive(Debug)]
pub(crate) struct Backplane {
    config: BackplaneConfig,
    /// This process's id (64 random bits in hex).
    node: String,
    queue: Mutex<Queue>,
    queued: Condvar,
    changes: Mutex<Vec<Change>>,
    /// Set when the server's loops have stopped: the publisher sends what is queued, then
    /// both threads end.
    stop: AtomicBool,
    publisher_up: AtomicBool,
    subscriber_up: AtomicBool,
    metrics: Arc<Metrics>,
}

impl Backplane {
    pub(crate) fn new(config: BackplaneConfig, metrics: Arc<Metrics>) -> Self {
        let mut id = [0u8; 8];
        // Without OS randomness, the clock still tells two processes apart.
        if getrandom::fill(&mut id).is_err() {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            id = (t ^ u64::from(std::process::id())).to_le_bytes();
        }
        Backplane {
            config,
            node: id.iter().map(|b| format!("{b:02x}")).collect(),
            queue: Mutex::new(Queue::default()),
            queued: Condvar::new(),
            changes: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            publisher_up: AtomicBool::new(false),
            subscriber_up: AtomicBool::new(false),
            metrics,
        }
    }

    fn channel(&self, room: &str) -> Vec<u8> {
        format!("{}:room:{room}", self.config.prefix).into_bytes()
    }

    /// Queues `frame` (an encoded WebSocket frame) for the other nodes' members of `room`.
    /// Never blocks: when the queue is full the publication is dropped and counted.
    pub(crate) fn publish(&self, room: &str, frame: &[u8]) {
        let mut q = crate::hub::lock(&self.queue);
        let size = frame.len() + room.len() + 64;
        if q.bytes + size > self.config.queue_bytes {
            drop(q);
            Metrics::inc(&self.metrics.backplane_lost);
            debug!(room, "backplane queue full: publication dropped");
            return;
        }
        if q.seqs.len() >= MAX_SEQ_ROOMS && !q.seqs.contains_key(room) {
            q.seqs.clear();
        }
        let seq = q.seqs.entry(room.into()).or_insert(0);
        *seq += 1;
        let seq = *seq;
        let mut envelope = format!("wslens1 {} {seq}\n", self.node).into_bytes();
        envelope.extend_from_slice(frame);
        let channel: Arc<[u8]> = self.channel(room).into();
        q.items.push_back((channel, envelope, size));
        q.bytes += size;
        Metrics::add(&self.metrics.backplane_queue_bytes, size as u64);
        drop(q);
        self.queued.notify_one();
    }

    /// The first local member of `room` joined.
    pub(crate) fn subscribe(&self, room: &str) {
        crate::hub::lock(&self.changes).push(Change::Subscribe(room.into()));
    }

    /// The last local member of `room` left.
    pub(crate) fn unsubscribe(&self, room: &str) {
        crate::hub::lock(&self.changes).push(Change::Unsubscribe(room.into()));
    }

    /// Starts the publisher and the subscriber.
    pub(crate) fn start(
        self: &Arc<Self>,
        shared: Arc<crate::Shared>,
    ) -> io::Result<Vec<std::thread::JoinHandle<()>>> {
        let publisher = {
            let bp = self.clone();
            std::thread::Builder::new()
                .name("wslens-backplane-pub".into())
                .spawn(move || bp.run_publisher())?
        };
        let subscriber = {
            let bp = self.clone();
            std::thread::Builder::new()
                .name("wslens-backplane-sub".into())
                .spawn(move || bp.run_subscriber(&shared.hub))?
        };
        info!(url = %self.config.url, node = %self.node, prefix = %self.config.prefix, "backplane started");
        Ok(vec![publisher, subscriber])
    }

    /// Sends what is queued, then lets both threads end.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.queued.notify_all();
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    fn set_up(&self, which: &AtomicBool, up: bool) {
        which.store(up, Ordering::Release);
        let both =
            self.publisher_up.load(Ordering::Acquire) && self.subscriber_up.load(Ordering::Acquire);
        self.metrics
            .backplane_connected
            .store(u64::from(both), Ordering::Relaxed);
    }

    /// Connects, authenticates and (for `select`) chooses the database.
    fn connect(
        &self,
        role: &str,
        select: bool,
        read_timeout: Duration,
    ) -> io::Result<(TcpStream, resp::Replies)> {
        let url = &self.config.url;
        let addrs: Vec<SocketAddr> = (url.host.as_str(), url.port).to_socket_addrs()?.collect();
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address for the Redis host");
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.config.timeout) {
                Ok(mut stream) => {
                    stream.set_nodelay(true)?;
                    stream.set_write_timeout(Some(self.config.timeout))?;
                    stream.set_read_timeout(Some(self.config.timeout))?;
                    let mut replies = resp::Replies::new(self.max_reply());
                    let mut hello = Vec::new();
                    let mut expected = 1;
                    if let Some((user, pass)) = &url.auth {
                        match user {
                            Some(u) => {
                                resp::command(&mut hello, &[b"AUTH", u.as_bytes(), pass.as_bytes()])
                            }
                            None => resp::command(&mut hello, &[b"AUTH", pass.as_bytes()]),
                        }
                        expected += 1;
                    }
                    if select && url.db != 0 {
                        resp::command(&mut hello, &[b"SELECT", url.db.to_string().as_bytes()]);
                        expected += 1;
                    }
                    let name = format!("wslens-{}-{role}", self.node);
                    resp::command(&mut hello, &[b"CLIENT", b"SETNAME", name.as_bytes()]);
                    resp::send(&mut stream, &hello)?;
                    for _ in 0..expected {
                        resp::check(replies.wait(&mut stream, 1)?)?;
                    }
                    stream.set_read_timeout(Some(read_timeout))?;
                    return Ok((stream, replies));
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn max_reply(&self) -> usize {
        // The largest envelope: a frame of the largest message, its header and the envelope line.
        self.config.queue_bytes.max(1 << 20) + 4096
    }

    // ---- The publisher ------------------------------------------------------------------

    fn run_publisher(&self) {
        let mut backoff = Backoff::default();
        let mut conn: Option<(TcpStream, resp::Replies)> = None;
        let mut batch: Vec<(Arc<[u8]>, Vec<u8>)> = Vec::new();
        let mut out = Vec::new();
        let mut ever_up = false;
        loop {
            if conn.is_none() {
                if self.stopping() && self.queue_is_empty() {
                    return;
                }
                match self.connect("pub", true, self.config.timeout) {
                    Ok(c) => {
                        if ever_up || backoff.failures > 0 {
                            Metrics::inc(&self.metrics.backplane_reconnects);
                        }
                        let again = if ever_up { " again" } else { "" };
                        info!(url = %self.config.url, "backplane publisher connected{again}");
                        ever_up = true;
                        backoff.reset();
                        self.set_up(&self.publisher_up, true);
                        conn = Some(c);
                    }
                    Err(e) => {
                        backoff.failed("publisher", &self.config.url, &e);
                        if self.stopping() {
                            // Redis is away at shutdown: what is queued is lost, and counted.
                            let n = self.take_batch(&mut batch, usize::MAX, Duration::ZERO);
                            Metrics::add(&self.metrics.backplane_lost, n as u64);
                            return;
                        }
                        self.sleep(backoff.delay());
                        continue;
                    }
                }
            }
            let n = self.take_batch(&mut batch, 512, Duration::from_millis(200));
            if n == 0 {
                if self.stopping() {
                    return;
                }
                continue;
            }
            out.clear();
            for (channel, envelope) in &batch {
                resp::command(&mut out, &[b"PUBLISH", channel, envelope]);
            }
            let Some((stream, replies)) = conn.as_mut() else {
                continue;
            };
            let result = resp::send(stream, &out).and_then(|()| {
                for _ in 0..n {
                    resp::check(replies.wait(stream, 1)?)?;
                }
                Ok(())
            });
            match result {
                Ok(()) => Metrics::add(&self.metrics.backplane_published, n as u64),
                Err(e) => {
                    // At most once: a publication not confirmed is counted lost, not sent twice.
                    Metrics::add(&self.metrics.backplane_lost, n as u64);
                    warn!(error = %e, lost = n, "backplane publisher lost its connection to Redis");
                    self.set_up(&self.publisher_up, false);
                    conn = None;
                }
            }
        }
    }

    fn queue_is_empty(&self) -> bool {
        crate::hub::lock(&self.queue).items.is_empty()
    }

    /// Moves up to `max` publications into `batch`, waiting up to `wait` for the first.
    fn take_batch(
        &self,
        batch: &mut Vec<(Arc<[u8]>, Vec<u8>)>,
        max: usize,
        wait: Duration,
    ) -> usize {
        batch.clear();
        let mut q = crate::hub::lock(&self.queue);
        if q.items.is_empty() && !wait.is_zero() && !self.stopping() {
            q = self
                .queued
                .wait_timeout(q, wait)
                .map_or_else(|e| e.into_inner().0, |(g, _)| g);
        }
        while batch.len() < max {
            let Some((channel, envelope, size)) = q.items.pop_front() else {
                break;
            };
            q.bytes -= size;
            batch.push((channel, envelope));
        }
        let left = q.bytes as u64;
        drop(q);
        self.metrics
            .backplane_queue_bytes
            .store(left, Ordering::Relaxed);
        batch.len()
    }

    /// Sleeps up to `d`, waking early to stop.
    fn sleep(&self, d: Duration) {
        let until = Instant::now() + d;
        while !self.stopping() {
            let now = Instant::now();
            if now >= until {
                return;
            }
            std::thread::sleep((until - now).min(Duration::from_millis(50)));
        }
    }

    // ---- The subscriber -----------------------------------------------------------------

    fn run_subscriber(&self, hub: &Hub) {
        let mut backoff = Backoff::default();
        let mut wanted: HashSet<Box<str>> = HashSet::new();
        let mut seen = Seen::default();
        let mut ever_up = false;
        let prefix = format!("{}:room:", self.config.prefix);
        while !self.stopping() {
            // Not connected: the changes only update `wanted` (sent when subscribing).
            let _ = self.apply_changes(&mut wanted, None, &mut seen);
            let (mut stream, mut replies) = match self.connect("sub", false, TICK) {
                Ok(c) => c,
                Err(e) => {
                    backoff.failed("subscriber", &self.config.url, &e);
                    self.sleep(backoff.delay());
                    continue;
                }
            };
            if ever_up || backoff.failures > 0 {
                Metrics::inc(&self.metrics.backplane_reconnects);
            }
            let again = if ever_up { " again" } else { "" };
            info!(url = %self.config.url, rooms = wanted.len(), "backplane subscriber connected{again}; subscribing");
            ever_up = true;
            backoff.reset();
            let result = self.subscribed(
                &mut stream,
                &mut replies,
                &mut wanted,
                &mut seen,
                &prefix,
                hub,
            );
            self.set_up(&self.subscriber_up, false);
            self.metrics
                .backplane_subscriptions
                .store(0, Ordering::Relaxed);
            if let Err(e) = result {
                if !self.stopping() {
                    warn!(error = %e, "backplane subscriber lost its connection to Redis");
                }
            }
        }
    }

    /// Applies queued subscription changes to `wanted`, and sends them when connected.
    fn apply_changes(
        &self,
        wanted: &mut HashSet<Box<str>>,
        stream: Option<&mut TcpStream>,
        seen: &mut Seen,
    ) -> io::Result<()> {
        let changes = std::mem::take(&mut *crate::hub::lock(&self.changes));
        if changes.is_empty() {
            return Ok(());
        }
        let mut out = Vec::new();
        for change in changes {
            match change {
                Change::Subscribe(room) => {
                    resp::command(&mut out, &[b"SUBSCRIBE", &self.channel(&room)]);
                    wanted.insert(room);
                }
                Change::Unsubscribe(room) => {
                    resp::command(&mut out, &[b"UNSUBSCRIBE", &self.channel(&room)]);
                    seen.forget_room(&room);
                    wanted.remove(&room);
                }
            }
        }
        match stream {
            Some(s) => resp::send(s, &out),
            None => Ok(()),
        }
    }

    fn subscribed(
        &self,
        stream: &mut TcpStream,
        replies: &mut resp::Replies,
        wanted: &mut HashSet<Box<str>>,
        seen: &mut Seen,
        prefix: &str,
        hub: &Hub,
    ) -> io::Result<()> {
        // Every room wanted so far, in one command (a room must have a subscription to be
        // subscribed: with none, SUBSCRIBE would be an error, so a private channel is added).
        let own = format!("{}:node:{}", self.config.prefix, self.node);
        let mut args: Vec<Vec<u8>> = vec![b"SUBSCRIBE".to_vec(), own.into_bytes()];
        args.extend(wanted.iter().map(|r| self.channel(r)));
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let mut out = Vec::new();
        resp::command(&mut out, &refs);
        resp::send(stream, &out)?;
        self.set_up(&self.subscriber_up, true);
        let mut last_heard = Instant::now();
        let mut ping_sent: Option<Instant> = None;
        loop {
            if self.stopping() {
                return Ok(());
            }
            self.apply_changes(wanted, Some(stream), seen)?;
            match replies.read(stream)? {
                Some(frame) => {
                    last_heard = Instant::now();
                    ping_sent = None;
                    self.on_push(frame, prefix, seen, hub)?;
                    // Everything already buffered, without waiting for the socket.
                    while let Some(frame) = replies.next_buffered()? {
                        self.on_push(frame, prefix, seen, hub)?;
                    }
                }
                None => {
                    let now = Instant::now();
                    match ping_sent {
                        Some(at) if now - at > self.config.timeout => {
                            return Err(io::Error::new(
                                io::ErrorKind::TimedOut,
                                "Redis did not answer a PING",
                            ));
                        }
                        None if now - last_heard > PING_AFTER => {
                            let mut ping = Vec::new();
                            resp::command(&mut ping, &[b"PING"]);
                            resp::send(stream, &ping)?;
                            ping_sent = Some(now);
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    /// One push on the subscribed connection.
    fn on_push(
        &self,
        frame: OwnedFrame,
        prefix: &str,
        seen: &mut Seen,
        hub: &Hub,
    ) -> io::Result<()> {
        let OwnedFrame::Array(parts) = resp::check(frame)? else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a push that is not an array",
            ));
        };
        let kind = parts.first().and_then(resp::bytes).unwrap_or_default();
        match kind {
            b"message" if parts.len() == 3 => {
                let (Some(channel), Some(payload)) =
                    (resp::bytes(&parts[1]), resp::bytes(&parts[2]))
                else {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a message without channel or payload",
                    ));
                };
                let Some(room) = channel
                    .strip_prefix(prefix.as_bytes())
                    .and_then(|r| std::str::from_utf8(r).ok())
                else {
                    return Ok(());
                };
                match Envelope::parse(payload) {
                    Some(env) if env.node == self.node.as_bytes() => {}
                    Some(env) => {
                        let lost = seen.next(env.node, room, env.seq);
                        if lost > 0 {
                            Metrics::add(&self.metrics.backplane_lost, lost);
                            warn!(
                                room,
                                lost, "backplane: a gap in another node's publications"
                            );
                        }
                        Metrics::inc(&self.metrics.backplane_received);
                        hub.deliver_remote(room, Arc::from(env.frame));
                    }
                    None => warn!(
                        room,
                        bytes = payload.len(),
                        "backplane: a message that is not a wslens frame, ignored"
                    ),
                }
            }
            b"subscribe" | b"unsubscribe" => {
                if let Some(OwnedFrame::Integer(n)) = parts.get(2) {
                    // Less the node's own channel.
                    let rooms = u64::try_from(*n).unwrap_or(0).saturating_sub(1);
                    self.metrics
                        .backplane_subscriptions
                        .store(rooms, Ordering::Relaxed);
                }
            }
            b"pong" => {}
            other => debug!(kind = %String::from_utf8_lossy(other), "backplane: push ignored"),
        }
        Ok(())
    }
}

/// The subscriber's read timeout: how soon it sees a subscription change.
const TICK: Duration = Duration::from_millis(20);
/// A quiet subscribed connection is checked with a PING this often.
const PING_AFTER: Duration = Duration::from_secs(1);

/// `wslens1 <node> <seq>\n<frame>`.
#[derive(Debug, PartialEq, Eq)]
struct Envelope<'a> {
    node: &'a [u8],
    seq: u64,
    frame: &'a [u8],
}

impl<'a> Envelope<'a> {
    fn parse(payload: &'a [u8]) -> Option<Self> {
        let nl = payload.iter().position(|&b| b == b'\n')?;
        let line = std::str::from_utf8(&payload[..nl]).ok()?;
        let mut words = line.split(' ');
        if words.next()? != "wslens1" {
            return None;
        }
        let node = words.next()?.as_bytes();
        let seq = words.next()?.parse().ok()?;
        if words.next().is_some() {
            return None;
        }
        let frame = &payload[nl + 1..];
        server_frame_is_whole(frame).then_some(Envelope { node, seq, frame })
    }
}

/// One whole unmasked text or binary frame with FIN set, its length field matching: the only
/// thing a node publishes, checked before it reaches a socket (RFC 6455 §5.2).
fn server_frame_is_whole(frame: &[u8]) -> bool {
    let [b0, b1, rest @ ..] = frame else {
        return false;
    };
    if !matches!(b0, 0x81 | 0x82) || b1 & 0x80 != 0 {
        return false;
    }
    let (len, payload) = match b1 & 0x7f {
        126 if rest.len() >= 2 => (
            u64::from(u16::from_be_bytes([rest[0], rest[1]])),
            &rest[2..],
        ),
        127 if rest.len() >= 8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&rest[..8]);
            (u64::from_be_bytes(b), &rest[8..])
        }
        126 | 127 => return false,
        n => (u64::from(n), rest),
    };
    len == payload.len() as u64 && (*b0 == 0x82 || std::str::from_utf8(payload).is_ok())
}

/// The last sequence number seen per (node, room), to count gaps.
#[derive(Debug, Default)]
struct Seen {
    last: HashMap<(Box<[u8]>, Box<str>), u64>,
}

impl Seen {
    /// Records `seq` and returns how many publications before it were missed.
    fn next(&mut self, node: &[u8], room: &str, seq: u64) -> u64 {
        if self.last.len() >= MAX_SEQ_ROOMS {
            self.last.clear();
        }
        match self.last.insert((node.into(), room.into()), seq) {
            Some(prev) if seq > prev => seq - prev - 1,
            // The first from this node in this room, or its numbering started again.
            _ => 0,
        }
    }

    fn forget_room(&mut self, room: &str) {
        self.last.retain(|(_, r), _| &**r != room);
    }
}

/// Capped exponential backoff between connection attempts: 100 ms doubling to 5 s.
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const CAP: Duration = Duration::from_secs(5);

    fn delay(&self) -> Duration {
        Self::FIRST
            .saturating_mul(1 << self.failures.saturating_sub(1).min(6))
            .min(Self::CAP)
    }

    fn failed(&mut self, role: &str, url: &RedisUrl, e: &io::Error) {
        self.failures = self.failures.saturating_add(1);
        if self.failures == 1 || self.failures.is_multiple_of(20) {
            warn!(%url, error = %e, attempts = self.failures, retry_in = ?self.delay(), "backplane {role}: cannot reach Redis; local rooms go on");
        } else {
            debug!(%url, error = %e, attempts = self.failures, "backplane {role}: cannot reach Redis");
        }
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_urls() {
        let u: RedisUrl = "redis://127.0.0.1:6380/2".parse().unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.db, u.auth.clone()),
            ("127.0.0.1", 6380, 2, None)
        );
        let u: RedisUrl = "redis://localhost".parse().unwrap();
        assert_eq!((u.port, u.db), (6379, 0));
        let u: RedisUrl = "redis://:s3cret@[::1]:7000/".parse().unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 7000));
        assert_eq!(u.auth, Some((None, "s3cret".into())));
        assert_eq!(
            u.to_string(),
            "redis://***@[::1]:7000/0",
            "the password is never shown"
        );
        let u: RedisUrl = "redis://me:pw@h:1".parse().unwrap();
        assert_eq!(u.auth, Some((Some("me".into()), "pw".into())));
        for bad in [
            "http://h:1",
            "redis://",
            "redis://h:x",
            "redis://h:1/db",
            "redis://[::1:1",
        ] {
            assert!(bad.parse::<RedisUrl>().is_err(), "{bad}");
        }
    }

    #[test]
    fn envelopes_carry_whole_server_frames_only() {
        let env = b"wslens1 00ff 7\n\x81\x02hi";
        assert_eq!(
            Envelope::parse(env),
            Some(Envelope {
                node: b"00ff",
                seq: 7,
                frame: b"\x81\x02hi"
            })
        );
        let mut big = b"wslens1 a 1\n\x82\x7e\x01\x00".to_vec();
        big.extend_from_slice(&[0; 256]);
        assert!(Envelope::parse(&big).is_some());
        for bad in [
            &b"wslens1 a 1\n\x81\x03hi"[..], // length says 3, 2 follow
            b"wslens1 a 1\n\x01\x02hi",      // not FIN
            b"wslens1 a 1\n\x89\x00",        // a ping
            b"wslens1 a 1\n\x81\x82abcdhi",  // masked
            b"wslens1 a 1\n\x81\x01\xff",    // text that is not UTF-8
            b"wslens1 a 1\n\x82\x7e\x01",    // cut in the length
            b"wslens2 a 1\n\x81\x00",        // another version
            b"wslens1 a x\n\x81\x00",        // no sequence number
            b"wslens1 a 1 extra\n\x81\x00",
            b"no newline",
        ] {
            assert_eq!(Envelope::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn gaps_in_a_nodes_sequence_are_counted_per_room() {
        let mut seen = Seen::default();
        assert_eq!(
            seen.next(b"a", "r", 5),
            0,
            "the first seen starts the count"
        );
        assert_eq!(seen.next(b"a", "r", 6), 0);
        assert_eq!(seen.next(b"a", "r", 9), 2);
        assert_eq!(seen.next(b"a", "s", 1), 0, "rooms are counted apart");
        assert_eq!(seen.next(b"b", "r", 1), 0, "nodes are counted apart");
        assert_eq!(seen.next(b"a", "r", 1), 0, "a restart is not a loss");
        seen.forget_room("r");
        assert_eq!(
            seen.next(b"a", "r", 40),
            0,
            "after unsubscribing, counting starts again"
        );
    }

    #[test]
    fn backoff_doubles_to_its_cap() {
        let mut b = Backoff::default();
        let url: RedisUrl = "redis://h".parse().unwrap();
        let e = io::Error::other("x");
        let mut delays = Vec::new();
        for _ in 0..10 {
            b.failed("t", &url, &e);
            delays.push(b.delay().as_millis());
        }
        assert_eq!(
            delays,
            [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000]
        );
        b.reset();
        assert_eq!(b.failures, 0);
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_growing() {
        let metrics = Arc::new(Metrics::default());
        let mut config = BackplaneConfig::new("redis://127.0.0.1:1".parse().unwrap());
        config.queue_bytes = 1000;
        let bp = Backplane::new(config, metrics.clone());
        for _ in 0..20 {
            bp.publish("r", &[0x82, 0x7e, 0, 100]);
        }
        let q = crate::hub::lock(&bp.queue);
        assert!(q.bytes <= 1000);
        let kept = q.items.len() as u64;
        drop(q);
        assert!(kept > 0);
        assert_eq!(metrics.backplane_lost.load(Ordering::Relaxed), 20 - kept);
        // Sequence numbers are per room and only for what was queued.
        let mut batch = Vec::new();
        assert_eq!(
            bp.take_batch(&mut batch, usize::MAX, Duration::ZERO) as u64,
            kept
        );
        let last =
            Envelope::parse(&[&batch.last().unwrap().1[..], &[0u8; 100]].concat()).map(|e| e.seq);
        assert_eq!(last, Some(kept));
        assert_eq!(metrics.backplane_queue_bytes.load(Ordering::Relaxed), 0);
    }
}
