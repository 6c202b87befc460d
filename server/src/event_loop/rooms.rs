//! Frames published to rooms: the inbox from other loops and delivery to members.

use super::*;

impl EventLoop {
    pub(super) fn drain_inbox(&mut self, now: Ms) {
        let cmds = std::mem::take(&mut *lock(&self.shared.hub.loops[self.id].inbox));
        for cmd in cmds {
            match cmd {
                Cmd::Deliver { frame, to } => self.deliver(&frame, &to, now),
                Cmd::DeliverStream {
                    room,
                    offset,
                    frame,
                    to,
                } => self.deliver_stream(&room, offset, &frame, &to, now),
                Cmd::Resumed(handover) => self.resumed(handover, now),
            }
        }
        self.run_actions(now);
    }

    /// The stream member's cursor in `room`, if `key` is still connection `id`.
    fn cursor(&mut self, key: usize, id: u64, room: &str) -> Option<&mut Cursor> {
        let conn = self.conns.get_mut(key).filter(|c| c.info.id == id)?;
        let Phase::Ws(ws) = &mut conn.phase else {
            return None;
        };
        ws.stream_mut()?
            .cursors
            .iter_mut()
            .find(|c| *c.room == *room)
    }

    /// A message of a room's stream: each member gets it once, in offset order; one that is
    /// resuming holds it until its missed messages are out.
    fn deliver_stream(
        &mut self,
        room: &str,
        offset: Offset,
        frame: &Arc<[u8]>,
        to: &[(usize, u64)],
        now: Ms,
    ) {
        let cap = self.shared.config.max_backpressure;
        for &(key, id) in to {
            let Some(cursor) = self.cursor(key, id, room) else {
                continue;
            };
            match &mut cursor.held {
                Some((held, bytes)) => {
                    held.push((offset, frame.clone()));
                    *bytes += frame.len();
                    if *bytes > cap {
                        Metrics::inc(&self.shared.metrics.backpressure_events);
                        self.begin_close(
                            key,
                            CloseCode::POLICY_VIOLATION,
                            "receiver too slow",
                            now,
                        );
                    }
                }
                None if offset <= cursor.last => {}
                None => {
                    cursor.last = offset;
                    self.deliver(frame, &[(key, id)], now);
                }
            }
        }
    }

    /// A resuming member's answer: the notice, the missed messages, then those held.
    fn resumed(&mut self, handover: crate::hub::Handover, now: Ms) {
        let crate::hub::Handover {
            key,
            id,
            room,
            notice,
            after,
            frames,
        } = handover;
        let Some(cursor) = self.cursor(key, id, &room) else {
            return;
        };
        cursor.last = cursor.last.max(after);
        let (held, _) = cursor.held.take().unwrap_or_default();
        let mut out = Vec::with_capacity(frames.len() + held.len());
        for (offset, frame) in frames.into_iter().chain(held) {
            if offset > cursor.last {
                cursor.last = offset;
                out.push(frame);
            }
        }
        if let Some(notice) = &notice {
            self.deliver(notice, &[(key, id)], now);
        }
        for frame in &out {
            self.deliver(frame, &[(key, id)], now);
        }
    }

    /// Queues a shared frame on each open connection of `to`; a receiver past its
    /// backpressure cap misses it (`--drop-on-backpressure`) or is closed with 1008.
    pub(super) fn deliver(&mut self, frame: &Arc<[u8]>, to: &[(usize, u64)], now: Ms) {
        let shared = self.shared.clone();
        let (config, metrics) = (&shared.config, &shared.metrics);
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
                    self.begin_close(key, CloseCode::POLICY_VIOLATION, "receiver too slow", now);
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
