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

mod accept;
mod conn;
mod deadline;
mod http;
mod rooms;
mod timers;
mod write;
mod ws;

use conn::*;
use write::*;
use ws::*;

use crate::backplane::Offset;
use crate::handler::{Action, ConnInfo, Ctx, Handler, Message};
use crate::hub::{lock, Cmd, Member};
use crate::limits::{MessageRate, Refusal};
use crate::metrics::Metrics;
use crate::poll::{Event, Events, PollMode, Poller};
use crate::transport::{Listeners, TlsAcceptor, Transport};
use crate::{RouteMatch, Shared};
use slab::Slab;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};
use wslens::handshake::{self, negotiate_protocol, reject_response, AcceptOptions, HeadScanner};
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
    /// Draining after SIGTERM (`--drain-timeout`): no listener any more, open connections
    /// served until then.
    drain_until: Option<Ms>,
    /// The loop's clock starts here.
    epoch: Instant,
    /// The path of a connection still reading its request head.
    no_path: Arc<str>,
    /// The server's timeouts, in loop milliseconds.
    timeouts: deadline::Timeouts,
}

impl EventLoop {
    pub(crate) fn new(id: usize, shared: Arc<Shared>, listeners: Listeners) -> io::Result<Self> {
        let poller = shared.hub.loops[id].poller.clone();
        // SAFETY: `polling` requires a registered source to be deleted before it is dropped.
        // The listeners live in `Arc`s held by this loop for its whole life, and
        // `EventLoop::drop` deletes them from the poller before the loop's references go away.
        unsafe { listeners.register(&poller)? };
        let config = shared.config.connection_config();
        let timeouts = deadline::Timeouts::new(&shared.config);
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
            drain_until: None,
            epoch: Instant::now(),
            no_path: Arc::from(""),
            timeouts,
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
            let stopping = self.shared.shutdown.load(Ordering::Acquire);
            if stopping && self.drain_until.is_none() && self.shutdown_deadline.is_none() {
                self.stop_accepting(now);
                self.drain_until = Some(now + self.timeouts.drain);
            }
            if let Some(until) = self.drain_until {
                if self.shutdown_deadline.is_none() && (now >= until || self.conns.is_empty()) {
                    self.begin_shutdown(now);
                }
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
        let draining = self
            .drain_until
            .filter(|_| self.shutdown_deadline.is_none());
        for t in [self.accept_resume, self.shutdown_deadline, draining]
            .into_iter()
            .flatten()
        {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        next.map(|t| Duration::from_millis(t.saturating_sub(now)))
    }

    // ---- Accepting ---------------------------------------------------------------------

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
