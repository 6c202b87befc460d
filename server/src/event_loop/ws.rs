//! WebSocket bytes in: the protocol core, the route's handler, and the wire tap.

use super::*;

/// The `wslens.wire` tap of one connection (records and commands: see [`crate::tap`]).
pub(super) struct WireTap {
    /// Bytes read since the last record, as they arrived (still masked).
    pub(super) read: Vec<u8>,
    /// The transcript's id.
    pub(super) session: Box<str>,
    /// When the handshake was answered.
    pub(super) opened: Ms,
}

impl WireTap {
    /// The record of what was read since the last one and what was written in reply: kept in
    /// the transcript, and sent to the client while it may still be sent data.
    pub(super) fn record(
        &mut self,
        proto: &mut Connection,
        written_from: usize,
        transcripts: &crate::tap::Transcripts,
        now: Ms,
    ) {
        let written = proto.pending_output().get(written_from..).unwrap_or(&[]);
        let record = crate::tap::wire_record(&self.read, written, now.saturating_sub(self.opened));
        self.read.clear();
        transcripts.push(&self.session, &record);
        if proto.state() == State::Open {
            let _ = proto.send_text(&record);
        }
    }
}

/// A tap command (`/ping`, `/fragments`, `/deflate`, `/close`), carried out; one with bad
/// arguments gets `{"error":"…"}` back.
fn run_tap_command(parsed: Result<crate::tap::Command<'_>, String>, sender: &mut wslens::Sender) {
    let result = match parsed {
        Ok(command) => command.run(sender).map_err(|e| e.to_string()),
        Err(message) => Err(message),
    };
    if let Err(message) = result {
        let json = format!(r#"{{"error":{}}}"#, crate::apps::json_string(&message));
        let _ = sender.send_text(&json);
    }
}

impl EventLoop {
    /// Frames from an open WebSocket: dispatch each event to the route's handler.
    pub(super) fn on_ws_bytes(&mut self, key: usize, input: &mut [u8], now: Ms) {
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
        let mut over_rate = false;
        let max_rate = self.shared.config.max_messages_per_second;
        let drop_over_rate = self.shared.config.drop_over_rate;
        let info = &conn.info;
        // Large messages may go straight to a plain socket when nothing is queued ahead.
        let direct = match (&conn.stream, &conn.out) {
            (Transport::Plain(tcp), None) => Some(tcp),
            _ => None,
        };
        self.spares.proto(ws);
        // The wire tap needs the bytes as they arrived, before `read` unmasks them in place.
        let raw = ws.wire().map(|_| input.to_vec());
        while pos < input.len() {
            let Ws {
                proto: Some(proto),
                handler,
                extra,
                rate,
                ..
            } = ws
            else {
                break;
            };
            let mut wire = wire_of(extra);
            let last_message = conn.last_message;
            let out_before = proto.pending_output().len();
            // Only for the first message of this input (later ones queue and leave together)
            // and never under the wire tap, which records what the protocol queued.
            let direct = direct.filter(|_| pos == 0 && wire.is_none());
            let tapping = wire.is_some();
            let result = proto.read_with(&mut input[pos..], |event, sender| {
                let mut ctx = Ctx::new(sender, info, &mut actions);
                ctx.direct = direct;
                let rate = (&mut *rate, last_message, now, max_rate);
                dispatch(event, ctx, handler.as_ref(), metrics, rate, tapping)
            });
            match result {
                Ok((used, outcome)) => {
                    if let (Some(tap), Some(raw)) = (wire.as_mut(), &raw) {
                        tap.read.extend_from_slice(&raw[pos..pos + used]);
                        // Every event read (a message, a control frame, a command) is a record.
                        if outcome.is_some() {
                            tap.record(proto, out_before, &self.shared.transcripts, now);
                        }
                    }
                    pos += used;
                    match outcome {
                        None => break,
                        Some(Dispatched::Message) => conn.last_message = now,
                        Some(Dispatched::Close(code)) => closed_by_peer = Some(code),
                        Some(Dispatched::OverRate) if !drop_over_rate => {
                            // Nothing more reaches the handler; the peer's close is read.
                            rate.stop();
                            over_rate = true;
                        }
                        // Dropped (`--drop-over-rate`): as if it never came.
                        Some(Dispatched::Other | Dispatched::OverRate) => {}
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
        if over_rate {
            self.begin_close(key, CloseCode::POLICY_VIOLATION, "rate limit", now);
        }
    }

    pub(super) fn run_actions(&mut self, now: Ms) {
        while !self.actions.is_empty() {
            let actions = std::mem::take(&mut self.actions);
            for (key, action) in actions {
                // A publication outlives its sender (a leave notice is sent as it goes).
                let member = self.conns.get(key).and_then(|c| match &c.phase {
                    Phase::Ws(ws) => Some(ws.member(self.id, key, c.info.id)),
                    _ => None,
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
                                let resume = ws.stream_mut().map(|s| {
                                    let resume = s.resume.take();
                                    // Live messages wait until the history read answers.
                                    s.cursors.push(Cursor {
                                        room: room.as_str().into(),
                                        last: resume.as_ref().map_or(Offset::default(), |r| r.0),
                                        held: Some((Vec::new(), 0)),
                                    });
                                    resume
                                });
                                if let (Some(resume), Some(bp)) =
                                    (resume, &self.shared.hub.backplane)
                                {
                                    match resume {
                                        Some((since, epoch)) => {
                                            bp.resume(&room, member, &epoch, since)
                                        }
                                        None => bp.joined(&room, member),
                                    }
                                }
                                self.shared.hub.join(&room, member);
                                ws.rooms.push(room.into());
                            }
                        }
                    }
                    Action::Leave(room) => {
                        let Some(member) = member else { continue };
                        if let Some(Phase::Ws(ws)) = self.conns.get_mut(key).map(|c| &mut c.phase) {
                            ws.rooms.retain(|r| **r != *room);
                            if let Some(s) = ws.stream_mut() {
                                s.cursors.retain(|c| *c.room != *room);
                            }
                        }
                        self.shared.hub.leave(&room, member);
                    }
                }
            }
        }
    }
}

pub(super) enum Dispatched {
    Message,
    /// A data message over `--max-messages-per-second`, not given to the handler.
    OverRate,
    Close(CloseCode),
    Other,
}

pub(super) fn dispatch(
    event: WsEvent<'_>,
    mut ctx: Ctx<'_>,
    handler: &dyn Handler,
    metrics: &Metrics,
    (rate, last, now, max_rate): (&mut MessageRate, Ms, Ms, u16),
    tapping: bool,
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
    if !rate.allow(last, now, max_rate) {
        Metrics::inc(&metrics.rate_limited_messages);
        return Dispatched::OverRate;
    }
    // Under the wire tap, a command is carried out instead of given to the handler.
    if let (true, Message::Text(text)) = (tapping, &message) {
        if let Some(command) = crate::tap::Command::parse(text) {
            run_tap_command(command, ctx.sender);
            return Dispatched::Message;
        }
    }
    handler.on_message(&mut ctx, message);
    Metrics::add(&metrics.messages_out, ctx.sent);
    Metrics::add(&metrics.bytes_out, ctx.written);
    Dispatched::Message
}
