//! Frames published to rooms: the inbox from other loops and delivery to members.

use super::*;

impl EventLoop {
    pub(super) fn drain_inbox(&mut self, now: Ms) {
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
    pub(super) fn deliver(&mut self, frame: &Arc<[u8]>, to: &[(usize, u64)], now: Ms) {
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
}
