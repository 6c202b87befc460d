//! The deadline heap: handshake, keepalive, close and shutdown timeouts.

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

    /// Applies the connection's timeouts; returns when to look again.
    pub(super) fn check_deadlines(&mut self, key: usize, now: Ms) -> Option<Ms> {
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

    pub(super) fn begin_shutdown(&mut self, now: Ms) {
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
}
