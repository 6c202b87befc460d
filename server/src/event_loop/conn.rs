//! A connection's state: its phase (request head, WebSocket, closing), its output queue, and
//! the parked protocol state.

use super::*;

/// A moment on the loop's clock, or none: an `Option<Ms>` in 8 bytes instead of 16.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Since(pub(super) Ms);

impl Since {
    pub(super) const NONE: Since = Since(Ms::MAX);

    pub(super) fn get(self) -> Option<Ms> {
        (self != Since::NONE).then_some(self.0)
    }

    pub(super) fn is_some(self) -> bool {
        self != Since::NONE
    }

    pub(super) fn is_none(self) -> bool {
        self == Since::NONE
    }
}

/// Bytes waiting to be written.
pub(super) enum Out {
    Owned(Vec<u8>),
    /// A frame shared with other receivers (broadcast).
    Shared(Arc<[u8]>),
}

impl Out {
    pub(super) fn bytes(&self) -> &[u8] {
        match self {
            Out::Owned(v) => v,
            Out::Shared(a) => a,
        }
    }
}

/// Output queued ahead of the protocol's own buffer (HTTP responses, broadcast frames). Boxed
/// and present only while non-empty.
#[derive(Default)]
pub(super) struct OutQueue {
    pub(super) items: VecDeque<Out>,
    /// Bytes of the front item already written.
    pub(super) front_written: usize,
    /// Bytes not yet written, in all.
    pub(super) queued: usize,
}

/// Reading the HTTP request head.
pub(super) struct Head {
    pub(super) buf: Vec<u8>,
    pub(super) scanner: HeadScanner,
}

pub(super) enum Phase {
    /// Reading the HTTP request head.
    Head(Box<Head>),
    /// An open (or closing) WebSocket.
    Ws(Ws),
    /// Writing an HTTP response; the connection closes once it is out.
    Respond,
}

pub(super) struct Ws {
    /// The protocol state; `None` while parked (it was idle, and any idle server connection
    /// with the loop's configuration is as good as another).
    pub(super) proto: Option<Box<Connection>>,
    pub(super) handler: Arc<dyn Handler>,
    /// The wire tap, or a place in rooms' streams: rarely either, never both, one box.
    pub(super) extra: Option<Box<Extra>>,
    pub(super) rooms: Vec<Box<str>>,
    /// `on_close` has been called.
    pub(super) close_reported: bool,
    /// Messages received this second (`--max-messages-per-second`).
    pub(super) rate: MessageRate,
}

/// What only some connections need, boxed so that the others pay one pointer.
pub(super) enum Extra {
    /// The `wslens.wire` tap, when the client asked for it.
    Wire(WireTap),
    /// With `--history`, for a client that asked for offsets or resumes: its place in each
    /// room's stream.
    Stream(StreamState),
}

/// The wire tap in `extra`, if that is what it holds.
pub(super) fn wire_of(extra: &mut Option<Box<Extra>>) -> Option<&mut WireTap> {
    match extra.as_deref_mut() {
        Some(Extra::Wire(w)) => Some(w),
        _ => None,
    }
}

/// A stream member's place in its rooms' streams (`--history`).
pub(super) struct StreamState {
    /// Each message stamped with `<offset> <epoch>` (subprotocol `wslens.offsets`).
    pub(super) stamped: bool,
    /// `?since=<offset>&epoch=<epoch>`: what the first room joined replays.
    pub(super) resume: Option<(Offset, Box<str>)>,
    pub(super) cursors: Vec<Cursor>,
}

/// Live messages held while a member resumes (offset, frame), and their bytes.
pub(super) type Held = (Vec<(Offset, Arc<[u8]>)>, usize);

/// One room's stream, for one member.
pub(super) struct Cursor {
    pub(super) room: Box<str>,
    /// The last offset delivered: anything at or before it is a duplicate.
    pub(super) last: Offset,
    /// While resuming: live messages held until the missed ones are out, and their bytes.
    pub(super) held: Option<Held>,
}

impl Ws {
    pub(super) fn wire(&self) -> Option<&WireTap> {
        match self.extra.as_deref() {
            Some(Extra::Wire(w)) => Some(w),
            _ => None,
        }
    }

    pub(super) fn stream(&self) -> Option<&StreamState> {
        match self.extra.as_deref() {
            Some(Extra::Stream(s)) => Some(s),
            _ => None,
        }
    }

    pub(super) fn stream_mut(&mut self) -> Option<&mut StreamState> {
        match self.extra.as_deref_mut() {
            Some(Extra::Stream(s)) => Some(s),
            _ => None,
        }
    }

    /// This connection as a room member.
    pub(super) fn member(&self, loop_id: usize, key: usize, id: u64) -> Member {
        Member {
            loop_id,
            key,
            id,
            stream: self.stream().is_some(),
            stamped: self.stream().is_some_and(|s| s.stamped),
        }
    }
}

/// Where parked protocol states come from and go back to. The boxes are kept as boxes: they
/// move between a connection and the pool without being reallocated.
#[allow(clippy::vec_box)]
pub(super) struct Spares {
    pub(super) protos: Vec<Box<Connection>>,
    pub(super) queues: Vec<Box<OutQueue>>,
    pub(super) config: wslens::Config,
}

impl Spares {
    /// The protocol state of an open connection: a parked one is replaced by a spare (or a
    /// new one) in the same state.
    pub(super) fn proto<'w>(&mut self, ws: &'w mut Ws) -> &'w mut Connection {
        ws.proto.get_or_insert_with(|| {
            self.protos
                .pop()
                .unwrap_or_else(|| Box::new(Connection::accepted(self.config.clone())))
        })
    }

    /// Parks the protocol state if it is idle.
    pub(super) fn park(&mut self, ws: &mut Ws) {
        if ws.proto.as_ref().is_some_and(|p| p.is_idle()) {
            if let Some(mut proto) = ws.proto.take() {
                if self.protos.len() < SPARES && proto.recycle() {
                    self.protos.push(proto);
                }
            }
        }
    }

    pub(super) fn queue(&mut self) -> Box<OutQueue> {
        self.queues.pop().unwrap_or_default()
    }

    pub(super) fn return_queue(&mut self, mut queue: Box<OutQueue>) {
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
    pub(super) fn state(&self) -> State {
        self.proto.as_ref().map_or(State::Open, |p| p.state())
    }

    pub(super) fn output(&self) -> &[u8] {
        self.proto.as_ref().map_or(&[], |p| p.pending_output())
    }

    /// Calls the handler's `on_close` once; returns what it asked for, or `None` if it was
    /// already told.
    pub(super) fn report_close(
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

pub(super) struct Conn {
    pub(super) stream: Transport,
    /// Registered interest: (readable, writable).
    pub(super) interest: (bool, bool),
    /// Whether we read from the peer (false under backpressure or while responding).
    pub(super) reading: bool,
    /// Listed in the loop's `dirty`: output was queued by a delivery, to be flushed at the end
    /// of this loop iteration.
    pub(super) dirty: bool,
    pub(super) info: ConnInfo,
    pub(super) phase: Phase,
    pub(super) out: Option<Box<OutQueue>>,
    pub(super) created: Ms,
    pub(super) last_read: Ms,
    pub(super) last_message: Ms,
    /// When the last ping went unanswered ([`Since::NONE`]: no ping out).
    pub(super) ping_sent: Since,
    /// When the close handshake (or the lingering close of a response) began.
    pub(super) closing_since: Since,
    /// The deadline of this connection's live timer (`Ms::MAX`: none).
    pub(super) timer_at: Ms,
    /// Counted by the per-address limits (released when it closes).
    pub(super) ip_counted: bool,
}

impl Conn {
    pub(super) fn ws_output(&self) -> &[u8] {
        phase_output(&self.phase)
    }

    pub(super) fn queued(&self) -> usize {
        self.out.as_ref().map_or(0, |q| q.queued)
    }

    /// Bytes waiting in total: the queue and the protocol's own output buffer.
    pub(super) fn backlog(&self) -> usize {
        self.queued() + self.ws_output().len()
    }

    /// Queues `out` after everything already pending (the protocol's output first).
    pub(super) fn push(&mut self, spares: &mut Spares, out: Out) {
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

impl EventLoop {
    /// Removes a connection: deletes it from the poller, leaves its rooms, reports the close
    /// to its handler if that has not happened, and closes the socket.
    pub(super) fn finish(&mut self, key: usize, code: CloseCode) {
        if !self.conns.contains(key) {
            return;
        }
        let mut conn = self.conns.remove(key);
        let _ = self.poller.delete(&conn.stream);
        let metrics = &self.shared.metrics;
        Metrics::dec(&metrics.open_connections);
        if conn.ip_counted {
            self.shared
                .ip_limits
                .release(conn.info.peer.ip(), self.now());
        }
        if let Phase::Ws(ws) = &mut conn.phase {
            if let Some(tap) = ws.wire() {
                self.shared.transcripts.close(&tap.session);
            }
            Metrics::dec(&metrics.open_websockets);
            metrics.closed(code.0);
            let member = ws.member(self.id, key, conn.info.id);
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

#[cfg(test)]
mod size_tests {
    /// Per-connection state is what an idle connection costs (the goal is 300 bytes per idle
    /// WebSocket in all, measured by `tests/tests/memory.rs`); these caps catch growth.
    #[test]
    pub(super) fn per_connection_state_does_not_grow() {
        use std::mem::size_of;
        let conn = size_of::<super::Conn>();
        // 216 with a bare TcpStream; the Transport enum (TcpStream or Box<TlsStream>) is 16.
        assert!(conn <= 232, "Conn is {conn} bytes");
        // The timer heap holds one live entry per connection.
        assert_eq!(size_of::<std::cmp::Reverse<(super::Ms, u32, u32)>>(), 16);
    }
}
