//! The deadline heap: handshake, keepalive, close and shutdown timeouts.

use super::deadline::{self, Due, Stage, Times};
use super::*;

impl EventLoop {
    /// Makes sure the connection's timer fires no later than `at`. One live timer per
    /// connection: when it fires, `check_deadlines` works out the next one from the state.
    pub(super) fn schedule(&mut self, key: usize, at: Ms) {
        if let Some(conn) = self.conns.get_mut(key) {
            if at < conn.timer_at {
                conn.timer_at = at;
                self.timers
                    .push(Reverse((at, key as u32, conn.info.id as u32)));
            }
        }
    }

    pub(super) fn fire_timers(&mut self, now: Ms) {
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

    /// Applies the connection's timeouts (the policy is [`deadline::due`]); returns when to
    /// look again.
    pub(super) fn check_deadlines(&mut self, key: usize, now: Ms) -> Option<Ms> {
        let to = self.timeouts;
        let conn = self.conns.get_mut(key)?;
        let stage = match &conn.phase {
            Phase::Respond if conn.closing_since.is_some() => Stage::Lingering {
                since: conn.closing_since.get().unwrap_or(now),
            },
            Phase::Head(_) | Phase::Respond => Stage::Handshake,
            Phase::Ws(ws) => {
                let closing = conn
                    .closing_since
                    .get()
                    .or((ws.state() == State::Closing).then_some(now));
                match closing {
                    Some(since) => {
                        conn.closing_since = Since(since);
                        Stage::Closing { since }
                    }
                    None => Stage::Open,
                }
            }
        };
        let times = Times::new(
            conn.created,
            conn.last_read,
            conn.last_message,
            conn.ping_sent.get(),
        );
        match deadline::due(stage, times, to, now) {
            Due::At(next) => Some(next),
            Due::Drop(code) => {
                if stage == Stage::Handshake {
                    debug!(conn = conn.info.id, "handshake timeout");
                    Metrics::inc(&self.shared.metrics.handshakes_failed);
                }
                self.finish(key, code);
                None
            }
            Due::Close(code, reason) => {
                debug!(conn = conn.info.id, reason, "closing");
                self.begin_close(key, code, reason, now);
                Some(now + to.close)
            }
            Due::Ping { next } => {
                if let Phase::Ws(ws) = &mut conn.phase {
                    let _ = self.spares.proto(ws).ping(b"wslens");
                }
                conn.ping_sent = Since(now);
                self.flush(key, now);
                Some(next)
            }
        }
    }

    /// Begins the closing handshake of an open WebSocket (RFC 6455 §7.1.2): queues our close
    /// frame, starts the close timeout, and flushes at the end of this loop iteration.
    pub(super) fn begin_close(&mut self, key: usize, code: CloseCode, reason: &str, now: Ms) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let Phase::Ws(ws) = &mut conn.phase else {
            return;
        };
        let proto = self.spares.proto(ws);
        let before = proto.pending_output().len();
        let _ = proto.close(code, reason);
        if let (Some(tap), Some(proto)) = (wire_of(&mut ws.extra), ws.proto.as_mut()) {
            // The tap's transcript gets the server's close frame (the socket no longer can).
            tap.record(proto, before, &self.shared.transcripts, now);
        }
        conn.closing_since = Since(now);
        if !conn.dirty {
            conn.dirty = true;
            self.dirty.push(key);
        }
        self.schedule(key, now + self.timeouts.close);
    }

    // ---- Shutdown and teardown ----------------------------------------------------------

    /// SIGTERM: accepts what is already queued on the listeners (a listening socket that
    /// closes resets the connections still in its queue), then deletes and drops them, so the
    /// port's other servers (`--reuse-port`) get everything new.
    pub(super) fn stop_accepting(&mut self, now: Ms) {
        self.accepting = true;
        for key in Listeners::KEYS {
            self.accept(key, now);
        }
        self.listeners.deregister(&self.poller);
        self.listeners = Listeners::none();
        self.accepting = false;
        info!(
            loop_id = self.id,
            connections = self.conns.len(),
            drain_ms = self.timeouts.drain,
            "stopped accepting; draining"
        );
    }

    pub(super) fn begin_shutdown(&mut self, now: Ms) {
        info!(
            loop_id = self.id,
            connections = self.conns.len(),
            "shutting down"
        );
        self.accepting = false;
        self.shutdown_deadline = Some(now + self.timeouts.shutdown);
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            match self.conns.get(key).map(|c| matches!(c.phase, Phase::Ws(_))) {
                Some(true) => {
                    self.begin_close(key, CloseCode::GOING_AWAY, "server shutting down", now)
                }
                Some(false) => self.finish(key, CloseCode::ABNORMAL),
                None => {}
            }
        }
    }
}
