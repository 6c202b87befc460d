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

mod history;
mod resp;

pub(crate) use history::{resume_notice, Offset};

use crate::hub::{Hub, Member};
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
    /// Keep each room's last N publications in a Redis Stream, for clients that resume
    /// (`--history N`; 0: no history).
    pub history: usize,
}

impl BackplaneConfig {
    /// The defaults for `url`: prefix `wslens`, a 16 MiB queue, a 5 s timeout.
    pub fn new(url: RedisUrl) -> Self {
        BackplaneConfig {
            url,
            prefix: "wslens".into(),
            queue_bytes: 16 << 20,
            timeout: Duration::from_secs(5),
            history: 0,
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

/// Work for the publisher, in order.
#[derive(Debug)]
enum Item {
    /// (room, envelope, counted size).
    Publish(Box<str>, Vec<u8>, usize),
    /// Read a room's history (`--history`).
    Query(Query),
}

/// A history read: for the node itself (catching up after its subscriber reconnected) or
/// for one member resuming.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    room: Box<str>,
    /// `None`: where the room's stream ends now (a stream member joining).
    since: Option<Offset>,
    /// For a member: it and the epoch it asked for (`None`: a fresh join, not a resume).
    client: Option<(Member, Option<Box<str>>)>,
}

/// A history read's answer: the room's epoch and its entries from `since` on.
type Answer = io::Result<(String, Vec<(Offset, Vec<u8>)>)>;

/// Publications waiting for the publisher.
#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Item>,
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
    /// A member asked for what it missed since an offset of an epoch.
    Resume {
        room: Box<str>,
        member: Member,
        epoch: Option<Box<str>>,
        since: Offset,
    },
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
    /// History reads answered by the publisher, for the subscriber.
    answers: Mutex<Vec<(Query, Answer)>>,
    /// Set when the server's loops have stopped: the publisher sends what is queued, then
    /// both threads end.
    stop: AtomicBool,
    publisher_up: AtomicBool,
    subscriber_up: AtomicBool,
    /// New epochs: this node's id and a count.
    epochs: std::sync::atomic::AtomicU64,
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
            answers: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            publisher_up: AtomicBool::new(false),
            subscriber_up: AtomicBool::new(false),
            epochs: std::sync::atomic::AtomicU64::new(0),
            metrics,
        }
    }

    /// Rooms keep their last N publications (`--history N`; 0: none).
    pub(crate) fn history(&self) -> usize {
        self.config.history
    }

    fn channel(&self, room: &str) -> Vec<u8> {
        format!("{}:room:{room}", self.config.prefix).into_bytes()
    }

    fn key(&self, kind: &str, room: &str) -> Vec<u8> {
        format!("{}:{kind}:{room}", self.config.prefix).into_bytes()
    }

    fn new_epoch(&self) -> String {
        let n = self.epochs.fetch_add(1, Ordering::Relaxed);
        format!("{}{n:x}", &self.node[..8])
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
        // (With history a sequence number must never go back: Redis uses it to recognise a
        // publication sent twice.)
        if self.config.history == 0 && q.seqs.len() >= MAX_SEQ_ROOMS && !q.seqs.contains_key(room) {
            q.seqs.clear();
        }
        let seq = q.seqs.entry(room.into()).or_insert(0);
        *seq += 1;
        let seq = *seq;
        let mut envelope = format!("wslens1 {} {seq}\n", self.node).into_bytes();
        envelope.extend_from_slice(frame);
        q.items
            .push_back(Item::Publish(room.into(), envelope, size));
        q.bytes += size;
        Metrics::add(&self.metrics.backplane_queue_bytes, size as u64);
        drop(q);
        self.queued.notify_one();
    }

    fn query(&self, query: Query) {
        crate::hub::lock(&self.queue)
            .items
            .push_back(Item::Query(query));
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

    /// `member` joined `room` asking for what it missed after `since` of `epoch`: once the
    /// room's subscription is live, its history is read and handed to the member's loop.
    pub(crate) fn resume(&self, room: &str, member: Member, epoch: &str, since: Offset) {
        crate::hub::lock(&self.changes).push(Change::Resume {
            room: room.into(),
            member,
            epoch: Some(epoch.into()),
            since,
        });
    }

    /// A stream member joined `room` afresh. The room's subscription on this node may not be
    /// live yet, so where the stream ends is read now, in order with this node's
    /// publications (its own join notice comes after), and once the subscription is live the
    /// member gets everything after that point, then the live messages.
    pub(crate) fn joined(&self, room: &str, member: Member) {
        self.query(Query {
            room: room.into(),
            since: None,
            client: Some((member, None)),
        });
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
        info!(url = %self.config.url, node = %self.node, prefix = %self.config.prefix, history = self.config.history, "backplane started");
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

    /// Loads the history scripts on a new publisher connection: their SHA1s.
    fn load_scripts(&self, conn: &mut (TcpStream, resp::Replies)) -> io::Result<[Vec<u8>; 2]> {
        let mut out = Vec::new();
        for script in [history::PUBLISH_SCRIPT, history::RANGE_SCRIPT] {
            resp::command(&mut out, &[b"SCRIPT", b"LOAD", script.as_bytes()]);
        }
        resp::send(&mut conn.0, &out)?;
        let mut sha = || -> io::Result<Vec<u8>> {
            let reply = resp::check(conn.1.wait(&mut conn.0, 1)?)?;
            resp::bytes(&reply)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "SCRIPT LOAD: no SHA1"))
        };
        Ok([sha()?, sha()?])
    }

    fn run_publisher(&self) {
        let mut backoff = Backoff::default();
        let mut conn: Option<(TcpStream, resp::Replies)> = None;
        let mut shas: [Vec<u8>; 2] = Default::default();
        let mut batch: Vec<Item> = Vec::new();
        let mut out = Vec::new();
        let mut ever_up = false;
        let mut last_sent = Instant::now();
        loop {
            if conn.is_none() {
                if self.stopping() && self.queue_is_empty() {
                    return;
                }
                let connected = self
                    .connect("pub", true, self.config.timeout)
                    .and_then(|mut c| {
                        if self.config.history > 0 {
                            shas = self.load_scripts(&mut c)?;
                        }
                        Ok(c)
                    });
                match connected {
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
                            self.take_batch(&mut batch, usize::MAX, Duration::ZERO);
                            self.give_up(std::mem::take(&mut batch), &e);
                            return;
                        }
                        self.sleep(backoff.delay());
                        continue;
                    }
                }
            }
            let n = self.take_batch(&mut batch, 512, Duration::from_millis(200));
            // A connection Redis closed while it was idle is found before it is written to:
            // otherwise the first batch after a restart would be sent into a dead socket.
            if let Some((stream, replies)) = conn.as_mut() {
                let idle = last_sent.elapsed();
                let alive = if n == 0 && idle >= PING_AFTER {
                    last_sent = Instant::now();
                    ping(stream, replies)
                } else if n > 0 && idle >= Duration::from_millis(100) {
                    resp::closed_by_peer(stream).map(|closed| !closed)
                } else {
                    Ok(true)
                };
                if !matches!(alive, Ok(true)) {
                    warn!("backplane publisher: Redis closed the connection");
                    self.set_up(&self.publisher_up, false);
                    conn = None;
                    // The batch taken (if any) goes back to the front, untouched.
                    self.requeue(std::mem::take(&mut batch));
                    continue;
                }
            }
            if n == 0 {
                if self.stopping() {
                    return;
                }
                continue;
            }
            last_sent = Instant::now();
            out.clear();
            let maxlen = self.config.history.to_string();
            for item in &batch {
                match item {
                    Item::Publish(room, envelope, _) if self.config.history > 0 => {
                        let (stream, epoch_key) =
                            (self.key("history", room), self.key("epoch", room));
                        let seqs = self.key("pubseq", room);
                        let epoch = self.new_epoch();
                        let seq = Envelope::seq_of(envelope).unwrap_or(0).to_string();
                        resp::command(
                            &mut out,
                            &[
                                b"EVALSHA",
                                &shas[0],
                                b"4",
                                &stream,
                                &epoch_key,
                                &self.channel(room),
                                &seqs,
                                maxlen.as_bytes(),
                                epoch.as_bytes(),
                                envelope,
                                self.node.as_bytes(),
                                seq.as_bytes(),
                            ],
                        );
                    }
                    Item::Publish(room, envelope, _) => {
                        resp::command(&mut out, &[b"PUBLISH", &self.channel(room), envelope]);
                    }
                    Item::Query(q) => {
                        let (stream, epoch_key) =
                            (self.key("history", &q.room), self.key("epoch", &q.room));
                        let since = q.since.map(|o| o.to_string()).unwrap_or_default();
                        let epoch = self.new_epoch();
                        resp::command(
                            &mut out,
                            &[
                                b"EVALSHA",
                                &shas[1],
                                b"2",
                                &stream,
                                &epoch_key,
                                since.as_bytes(),
                                epoch.as_bytes(),
                            ],
                        );
                    }
                }
            }
            let Some((stream, replies)) = conn.as_mut() else {
                continue;
            };
            let mut done = 0;
            let result = resp::send(stream, &out).and_then(|()| {
                for item in &batch {
                    let reply = resp::check(replies.wait(stream, 1)?);
                    match item {
                        Item::Publish(..) => {
                            reply?;
                            Metrics::inc(&self.metrics.backplane_published);
                        }
                        Item::Query(q) => {
                            let answer = reply.and_then(parse_range);
                            crate::hub::lock(&self.answers).push((q.clone(), answer));
                        }
                    }
                    done += 1;
                }
                Ok(())
            });
            if let Err(e) = result {
                warn!(error = %e, "backplane publisher lost its connection to Redis");
                let unconfirmed: Vec<Item> = batch.drain(done..).collect();
                if self.config.history > 0 {
                    // Sent again on the next connection: the script adds each one once.
                    self.requeue(unconfirmed);
                } else {
                    self.give_up(unconfirmed, &e);
                }
                self.set_up(&self.publisher_up, false);
                conn = None;
            }
        }
    }

    /// Items whose answer will never come: publications counted lost (at most once: not
    /// sent twice), history reads answered with the error.
    fn give_up(&self, items: Vec<Item>, e: &io::Error) {
        for item in items {
            match item {
                Item::Publish(..) => Metrics::inc(&self.metrics.backplane_lost),
                Item::Query(q) => crate::hub::lock(&self.answers)
                    .push((q, Err(io::Error::new(e.kind(), e.to_string())))),
            }
        }
    }

    /// Puts `items` back at the front of the queue, in order.
    fn requeue(&self, items: Vec<Item>) {
        let mut q = crate::hub::lock(&self.queue);
        for item in items.into_iter().rev() {
            if let Item::Publish(_, _, size) = &item {
                q.bytes += size;
            }
            q.items.push_front(item);
        }
    }

    fn queue_is_empty(&self) -> bool {
        crate::hub::lock(&self.queue).items.is_empty()
    }

    /// Moves up to `max` items into `batch`, waiting up to `wait` for the first.
    fn take_batch(&self, batch: &mut Vec<Item>, max: usize, wait: Duration) -> usize {
        batch.clear();
        let mut q = crate::hub::lock(&self.queue);
        if q.items.is_empty() && !wait.is_zero() && !self.stopping() {
            q = self
                .queued
                .wait_timeout(q, wait)
                .map_or_else(|e| e.into_inner().0, |(g, _)| g);
        }
        while batch.len() < max {
            let Some(item) = q.items.pop_front() else {
                break;
            };
            if let Item::Publish(_, _, size) = &item {
                q.bytes -= size;
            }
            batch.push(item);
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
        let mut sub = SubState::default();
        let mut ever_up = false;
        let prefix = format!("{}:room:", self.config.prefix);
        while !self.stopping() {
            // Not connected: the changes only update the state (sent when subscribing).
            let _ = self.apply_changes(&mut sub, None, hub);
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
            info!(url = %self.config.url, rooms = sub.wanted.len(), "backplane subscriber connected{again}; subscribing");
            ever_up = true;
            backoff.reset();
            // With history, the rooms this node has seen offsets in catch up from there once
            // they are subscribed again; what arrives live meanwhile waits behind.
            sub.confirmed.clear();
            for (room, last) in &sub.last {
                sub.catching.entry(room.clone()).or_default();
                sub.pending_node.insert(room.clone(), *last);
            }
            let result = self.subscribed(&mut stream, &mut replies, &mut sub, &prefix, hub);
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

    /// Applies queued subscription changes, and sends them when connected.
    fn apply_changes(
        &self,
        sub: &mut SubState,
        stream: Option<&mut TcpStream>,
        hub: &Hub,
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
                    sub.wanted.insert(room);
                }
                Change::Unsubscribe(room) => {
                    resp::command(&mut out, &[b"UNSUBSCRIBE", &self.channel(&room)]);
                    sub.seen.forget_room(&room);
                    sub.wanted.remove(&room);
                    sub.confirmed.remove(&room);
                    sub.last.remove(&room);
                    sub.catching.remove(&room);
                    sub.pending_node.remove(&room);
                    if let Some(waiting) = sub.resumes.remove(&room) {
                        for (member, epoch, _) in waiting {
                            let epoch = epoch.unwrap_or_default();
                            hub.resumed(member, &room, Err("unavailable"), &epoch, Vec::new());
                        }
                    }
                }
                Change::Resume {
                    room,
                    member,
                    epoch,
                    since,
                } => {
                    self.resume_when_subscribed(sub, room, member, epoch, since);
                }
            }
        }
        match stream {
            Some(s) if !out.is_empty() => resp::send(s, &out),
            _ => Ok(()),
        }
    }

    /// Reads `room`'s history after `since` for `member` once the room's subscription is live.
    fn resume_when_subscribed(
        &self,
        sub: &mut SubState,
        room: Box<str>,
        member: Member,
        epoch: Option<Box<str>>,
        since: Offset,
    ) {
        if sub.confirmed.contains(&room) {
            self.query(Query {
                room,
                since: Some(since),
                client: Some((member, epoch)),
            });
        } else {
            sub.resumes
                .entry(room)
                .or_default()
                .push((member, epoch, since));
        }
    }

    /// The subscription of `room` is live: the history reads waiting for it go out.
    fn on_confirmed(&self, room: &str, sub: &mut SubState) {
        sub.confirmed.insert(room.into());
        if let Some(since) = sub.pending_node.remove(room) {
            self.query(Query {
                room: room.into(),
                since: Some(since),
                client: None,
            });
        }
        for (member, epoch, since) in sub.resumes.remove(room).unwrap_or_default() {
            self.query(Query {
                room: room.into(),
                since: Some(since),
                client: Some((member, epoch)),
            });
        }
    }

    /// History reads the publisher answered.
    fn on_answers(&self, sub: &mut SubState, hub: &Hub) {
        let answers = std::mem::take(&mut *crate::hub::lock(&self.answers));
        for (query, answer) in answers {
            let room = &*query.room;
            match query.client {
                None => {
                    // The node's own catch-up: what it missed, then what waited behind.
                    let held = sub.catching.remove(room).unwrap_or_default();
                    match answer {
                        Ok((epoch, entries)) => {
                            for (offset, inner) in entries {
                                if let Some(env) = Envelope::parse(&inner) {
                                    let msg = StreamMsg {
                                        epoch: epoch.clone(),
                                        offset,
                                        own: env.node == self.node.as_bytes(),
                                        frame: env.frame.to_vec(),
                                    };
                                    self.deliver_stream(room, msg, sub, hub);
                                }
                            }
                        }
                        Err(e) if held.len() < MAX_HELD && sub.confirmed.contains(room) => {
                            // Tried again (the publisher reconnects first); live messages
                            // keep waiting behind, up to MAX_HELD.
                            warn!(room, error = %e, "backplane: reading the room's history after reconnecting failed; trying again");
                            sub.catching.insert(room.into(), held);
                            self.query(Query {
                                room: room.into(),
                                since: query.since,
                                client: None,
                            });
                            continue;
                        }
                        Err(e) => {
                            warn!(room, error = %e, held = held.len(), "backplane: could not read the room's history after reconnecting; going on without")
                        }
                    }
                    for msg in held {
                        self.deliver_stream(room, msg, sub, hub);
                    }
                }
                Some((member, None)) if query.since.is_none() => match answer {
                    // A fresh join: from where the stream ended, once subscribed.
                    Ok((_, top)) => {
                        let since = top.first().map_or(Offset::default(), |(o, _)| *o);
                        let room = query.room.clone();
                        self.resume_when_subscribed(sub, room, member, None, since);
                    }
                    Err(e) => {
                        warn!(room, error = %e, "backplane: could not read where the room's history ends");
                        hub.resumed(member, room, Err("unavailable"), "", Vec::new());
                    }
                },
                Some((member, asked_epoch)) => match answer {
                    Err(e) => {
                        warn!(room, error = %e, "backplane: a resume could not read the history");
                        let epoch = asked_epoch.unwrap_or_default();
                        hub.resumed(member, room, Err("unavailable"), &epoch, Vec::new());
                    }
                    Ok((epoch, _)) if asked_epoch.as_deref().is_some_and(|a| a != epoch) => {
                        hub.resumed(member, room, Err("epoch"), &epoch, Vec::new());
                    }
                    Ok((epoch, entries))
                        if asked_epoch.is_some()
                            && entries.first().map(|(o, _)| *o) != query.since =>
                    {
                        // The offset is gone from the history (trimmed), or never was in it.
                        hub.resumed(member, room, Err("trimmed"), &epoch, Vec::new());
                    }
                    Ok((epoch, entries)) if asked_epoch.is_none() => {
                        // A fresh join: what came after the stream's end at join time, with
                        // no notice.
                        let since = query.since.unwrap_or_default();
                        let frames = entries
                            .into_iter()
                            .filter(|(o, _)| *o > since)
                            .filter_map(|(offset, inner)| {
                                Envelope::parse(&inner).map(|env| (offset, env.frame.to_vec()))
                            })
                            .collect();
                        hub.joined(member, room, since, &epoch, frames);
                    }
                    Ok((epoch, entries)) => {
                        let frames = entries
                            .into_iter()
                            .skip(1)
                            .filter_map(|(offset, inner)| {
                                Envelope::parse(&inner).map(|env| (offset, env.frame.to_vec()))
                            })
                            .collect();
                        hub.resumed(member, room, Ok(()), &epoch, frames);
                    }
                },
            }
        }
    }

    /// A message with an offset: in order, once, to the local members.
    fn deliver_stream(&self, room: &str, msg: StreamMsg, sub: &mut SubState, hub: &Hub) {
        if let Some(held) = sub.catching.get_mut(room) {
            held.push(msg);
            return;
        }
        let last = sub.last.entry(room.into()).or_default();
        if msg.offset <= *last {
            return;
        }
        *last = msg.offset;
        hub.deliver_stream(room, &msg.frame, msg.offset, &msg.epoch, msg.own);
    }

    fn subscribed(
        &self,
        stream: &mut TcpStream,
        replies: &mut resp::Replies,
        sub: &mut SubState,
        prefix: &str,
        hub: &Hub,
    ) -> io::Result<()> {
        // Every room wanted so far, in one command, with the node's own channel (so that the
        // command is never empty).
        let own = format!("{}:node:{}", self.config.prefix, self.node);
        let mut args: Vec<Vec<u8>> = vec![b"SUBSCRIBE".to_vec(), own.into_bytes()];
        args.extend(sub.wanted.iter().map(|r| self.channel(r)));
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
            self.apply_changes(sub, Some(stream), hub)?;
            self.on_answers(sub, hub);
            match replies.read(stream)? {
                Some(frame) => {
                    last_heard = Instant::now();
                    ping_sent = None;
                    self.on_push(frame, prefix, sub, hub)?;
                    // Everything already buffered, without waiting for the socket.
                    while let Some(frame) = replies.next_buffered()? {
                        self.on_push(frame, prefix, sub, hub)?;
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
        sub: &mut SubState,
        hub: &Hub,
    ) -> io::Result<()> {
        let OwnedFrame::Array(parts) = resp::check(frame)? else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a push that is not an array",
            ));
        };
        let kind = parts.first().and_then(resp::bytes).unwrap_or_default();
        let room = |i: usize| {
            parts
                .get(i)
                .and_then(resp::bytes)
                .and_then(|c| c.strip_prefix(prefix.as_bytes()))
                .and_then(|r| std::str::from_utf8(r).ok())
        };
        match kind {
            b"message" if parts.len() == 3 => {
                let Some(payload) = resp::bytes(&parts[2]) else {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a message without a payload",
                    ));
                };
                let Some(room) = room(1) else {
                    return Ok(());
                };
                let (stamp, inner) = match payload.strip_prefix(b"h ") {
                    Some(rest) => {
                        match split_stamp(rest) {
                            Some((epoch, offset, inner)) => (Some((epoch, offset)), inner),
                            None => {
                                warn!(room, "backplane: a history message without epoch and offset, ignored");
                                return Ok(());
                            }
                        }
                    }
                    None => (None, payload),
                };
                let Some(env) = Envelope::parse(inner) else {
                    warn!(
                        room,
                        bytes = payload.len(),
                        "backplane: a message that is not a wslens frame, ignored"
                    );
                    return Ok(());
                };
                let own = env.node == self.node.as_bytes();
                if !own {
                    let lost = sub.seen.next(env.node, room, env.seq);
                    if lost > 0 {
                        Metrics::add(&self.metrics.backplane_lost, lost);
                        warn!(
                            room,
                            lost, "backplane: a gap in another node's publications"
                        );
                    }
                    Metrics::inc(&self.metrics.backplane_received);
                }
                match stamp {
                    Some((epoch, offset)) => {
                        let msg = StreamMsg {
                            epoch,
                            offset,
                            own,
                            frame: env.frame.to_vec(),
                        };
                        self.deliver_stream(room, msg, sub, hub);
                    }
                    None if !own => hub.deliver_remote(room, Arc::from(env.frame)),
                    None => {}
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
                if kind == b"subscribe" {
                    if let Some(room) = room(1) {
                        if sub.wanted.contains(room) {
                            self.on_confirmed(room, sub);
                        }
                    }
                }
            }
            b"pong" => {}
            other => debug!(kind = %String::from_utf8_lossy(other), "backplane: push ignored"),
        }
        Ok(())
    }
}

/// The subscriber's state.
#[derive(Debug, Default)]
struct SubState {
    wanted: HashSet<Box<str>>,
    /// Rooms whose subscription Redis has confirmed on this connection.
    confirmed: HashSet<Box<str>>,
    seen: Seen,
    /// The last offset delivered per room (`--history`).
    last: HashMap<Box<str>, Offset>,
    /// Rooms catching up after a reconnection: messages held until the history read answers.
    catching: HashMap<Box<str>, Vec<StreamMsg>>,
    /// Catch-up reads to send once the room's subscription is confirmed.
    pending_node: HashMap<Box<str>, Offset>,
    /// Resumes (and fresh stream joins: no epoch) waiting for the room's subscription.
    resumes: HashMap<Box<str>, Vec<WaitingResume>>,
}

/// A member waiting for its room's subscription: the epoch it asked for (none: a fresh
/// join) and the offset after which it wants everything.
type WaitingResume = (Member, Option<Box<str>>, Offset);

/// A message from a room's stream.
#[derive(Debug)]
struct StreamMsg {
    epoch: String,
    offset: Offset,
    /// Published by this node (its plain members already have it).
    own: bool,
    frame: Vec<u8>,
}

/// `<epoch> <offset>\n<rest>`.
fn split_stamp(b: &[u8]) -> Option<(String, Offset, &[u8])> {
    let nl = b.iter().position(|&c| c == b'\n')?;
    let line = std::str::from_utf8(&b[..nl]).ok()?;
    let (epoch, offset) = line.split_once(' ')?;
    Some((epoch.to_owned(), Offset::parse(offset)?, &b[nl + 1..]))
}

/// The range script's reply: `[epoch, [[id, [field, value, ...]], ...]]`.
fn parse_range(reply: OwnedFrame) -> Answer {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "an unexpected history reply");
    let OwnedFrame::Array(mut parts) = reply else {
        return Err(bad());
    };
    if parts.len() != 2 {
        return Err(bad());
    }
    let entries = parts.pop().ok_or_else(bad)?;
    let epoch = resp::bytes(&parts[0])
        .and_then(|e| std::str::from_utf8(e).ok())
        .ok_or_else(bad)?
        .to_owned();
    let OwnedFrame::Array(entries) = entries else {
        return Err(bad());
    };
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let OwnedFrame::Array(mut pair) = entry else {
            return Err(bad());
        };
        if pair.len() != 2 {
            return Err(bad());
        }
        let OwnedFrame::Array(fields) = pair.pop().ok_or_else(bad)? else {
            return Err(bad());
        };
        let id = resp::bytes(&pair[0])
            .and_then(|i| std::str::from_utf8(i).ok())
            .and_then(Offset::parse)
            .ok_or_else(bad)?;
        let value = fields.get(1).and_then(resp::bytes).ok_or_else(bad)?;
        out.push((id, value.to_vec()));
    }
    Ok((epoch, out))
}

/// Live messages a room holds while it catches up after a reconnection, at most.
const MAX_HELD: usize = 100_000;

/// Sends PING and waits for the answer.
fn ping(stream: &mut TcpStream, replies: &mut resp::Replies) -> io::Result<bool> {
    let mut out = Vec::new();
    resp::command(&mut out, &[b"PING"]);
    resp::send(stream, &out)?;
    resp::check(replies.wait(stream, 1)?).map(|_| true)
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
    /// The sequence number of an envelope this node made.
    fn seq_of(envelope: &[u8]) -> Option<u64> {
        let nl = envelope.iter().position(|&b| b == b'\n')?;
        std::str::from_utf8(&envelope[..nl])
            .ok()?
            .rsplit(' ')
            .next()?
            .parse()
            .ok()
    }

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
        server_frame(frame).map(|_| Envelope { node, seq, frame })
    }
}

/// The opcode and payload of `frame` if it is one whole unmasked text (valid UTF-8) or binary
/// frame with FIN set, its length field matching: the only thing a node publishes, checked
/// before it reaches a socket (RFC 6455 §5.2). Also how the hub finds the payload it stamps.
pub(crate) fn server_frame(frame: &[u8]) -> Option<(wslens::OpCode, &[u8])> {
    let [b0, b1, rest @ ..] = frame else {
        return None;
    };
    if !matches!(b0, 0x81 | 0x82) || b1 & 0x80 != 0 {
        return None;
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
        126 | 127 => return None,
        n => (u64::from(n), rest),
    };
    let op = if *b0 == 0x81 {
        wslens::OpCode::Text
    } else {
        wslens::OpCode::Binary
    };
    let whole = len == payload.len() as u64
        && (op == wslens::OpCode::Binary || std::str::from_utf8(payload).is_ok());
    whole.then_some((op, payload))
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
        let Some(Item::Publish(_, envelope, _)) = batch.last() else {
            panic!("a publication")
        };
        let last = Envelope::parse(&[&envelope[..], &[0u8; 100]].concat()).map(|e| e.seq);
        assert_eq!(last, Some(kept));
        assert_eq!(metrics.backplane_queue_bytes.load(Ordering::Relaxed), 0);
    }

    /// A server frame as `Hub::publish` encodes it.
    fn frame(text: bool, payload: &[u8]) -> Vec<u8> {
        let op = if text {
            wslens::OpCode::Text
        } else {
            wslens::OpCode::Binary
        };
        let header = wslens::FrameHeader::new(op, payload.len() as u64);
        let mut f = Vec::new();
        header.encode_into(&mut f);
        f.extend_from_slice(payload);
        f
    }

    proptest::proptest! {
        /// Every envelope a node makes parses back to its parts (7-, 16- and 64-bit lengths).
        #[test]
        fn envelopes_round_trip(
            node in "[0-9a-f]{16}",
            seq in 1u64..u64::MAX,
            text in proptest::bool::ANY,
            len in proptest::prop_oneof![0usize..126, 126usize..70_000],
        ) {
            let payload: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let f = frame(text, &payload);
            let mut env = format!("wslens1 {node} {seq}\n").into_bytes();
            env.extend_from_slice(&f);
            let parsed = Envelope::parse(&env).expect("parses");
            proptest::prop_assert_eq!(parsed.node, node.as_bytes());
            proptest::prop_assert_eq!(parsed.seq, seq);
            proptest::prop_assert_eq!(parsed.frame, &f[..]);
            proptest::prop_assert_eq!(Envelope::seq_of(&env), Some(seq));
        }

        /// Anything from Redis is parsed without panicking; what passes is one whole frame.
        #[test]
        fn arbitrary_payloads_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            if let Some(env) = Envelope::parse(&data) {
                proptest::prop_assert!(server_frame(env.frame).is_some());
            }
            let _ = split_stamp(&data);
            let _ = Envelope::seq_of(&data);
        }

        /// Stamps (`<epoch> <offset>`) parse back.
        #[test]
        fn stamps_round_trip(epoch in "[0-9a-f]{1,20}", ms in proptest::num::u64::ANY, n in proptest::num::u64::ANY) {
            let line = format!("{epoch} {ms}-{n}\nrest");
            let (e, o, rest) = split_stamp(line.as_bytes()).expect("parses");
            proptest::prop_assert_eq!(e, epoch);
            proptest::prop_assert_eq!(o, Offset(ms, n));
            proptest::prop_assert_eq!(rest, b"rest");
        }
    }
}
