//! A recorded session, inspected as it streams: both directions of one connection (read from
//! a capture, relayed by a proxy, or rebuilt from a HAR), the opening handshake and then every
//! frame, through a real [`Connection`] with a [`Recorder`] attached, exactly as
//! [`inspect_frames`](super::inspect_frames) does for one buffer.
//!
//! Memory stays bounded however long the session: frames and messages are handed out as they
//! complete and forgotten, at most [`SessionInspector::payload_detail`] payload bytes per frame
//! are shown one by one, and a message is held only up to the configuration's
//! `max_message_size` (as the connection itself holds it).
//!
//! Bytes that never arrived (a segment missing from a capture) are not guessed over: a gap
//! ends the reading of that direction, since the next frame boundary cannot be found
//! without guessing.

use super::{inspect_handshake, Arranger, ErrorView, FrameView, HandshakeInspection, Inspection};
use super::{MessageView, TraceItem};
use crate::connection::{Config, Connection, OwnedEvent, Role};
use crate::deflate::{validate_response, DeflateConfig, DeflateParams};
use crate::error::Error;
use crate::handshake::headers::parse_extensions;
use crate::handshake::HeadScanner;
use crate::trace::Recorder;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

/// Which way bytes travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client (the side that sent the upgrade request) to the server.
    ClientToServer,
    /// From the server to the client.
    ServerToClient,
}

impl Direction {
    fn index(self) -> usize {
        match self {
            Direction::ClientToServer => 0,
            Direction::ServerToClient => 1,
        }
    }

    /// An arrow for people: `→` client to server, `←` server to client.
    pub const fn arrow(self) -> &'static str {
        match self {
            Direction::ClientToServer => "→",
            Direction::ServerToClient => "←",
        }
    }

    /// The role of the end that receives these bytes.
    pub const fn receiver(self) -> Role {
        match self {
            Direction::ClientToServer => Role::Server,
            Direction::ServerToClient => Role::Client,
        }
    }
}

/// What the inspector found, in the order the bytes showed it.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // handed out one at a time, never stored in bulk
pub enum SessionEvent {
    /// An opening-handshake head ended: the request (client to server) or the response.
    Head {
        /// Which head.
        direction: Direction,
        /// Its lines, parsed as the server (or client) parses them.
        inspection: HandshakeInspection,
        /// Its length in bytes (offset 0 of the direction).
        len: usize,
    },
    /// The response agreed to the upgrade: frames follow. `deflate` when permessage-deflate
    /// (RFC 7692) was negotiated, with the agreed parameters.
    Upgraded {
        /// The agreed permessage-deflate parameters.
        deflate: Option<DeflateParams>,
        /// The agreed subprotocol.
        protocol: Option<String>,
    },
    /// The session is not (or not any more) a WebSocket one: the response refused the
    /// upgrade, or a head was not HTTP. Nothing after it is read.
    NotWebSocket {
        /// Why.
        reason: String,
    },
    /// A frame read whole, or cut short by the end of the input or a gap.
    Frame {
        /// Which way it went.
        direction: Direction,
        /// Its number in its direction, from 0.
        number: usize,
        /// Its fields and (up to the detail limit) payload bytes; offsets count from the
        /// first byte of the direction, the head included.
        frame: FrameView,
    },
    /// A message assembled from one or more frames (whose numbers it lists).
    Message {
        /// Which way it went.
        direction: Direction,
        /// The message; `event` is what the receiving end delivered.
        message: MessageView,
    },
    /// The bytes broke the protocol at this byte: the receiver fails the connection with
    /// the close code. Nothing after it in this direction is read.
    Error {
        /// Which way.
        direction: Direction,
        /// Where and why.
        error: ErrorView,
    },
    /// Bytes of this direction never arrived (a segment missing from a capture). Nothing
    /// after them is read: a frame boundary cannot be found again without guessing.
    Gap {
        /// Which way.
        direction: Direction,
        /// The direction's offset where the missing bytes start.
        offset: u64,
        /// How many are missing.
        len: u64,
    },
    /// The input of this direction ended in the middle of something.
    Incomplete {
        /// Which way.
        direction: Direction,
        /// The direction's offset where the input ended.
        offset: u64,
        /// What was awaited.
        waiting_for: &'static str,
    },
}

#[allow(clippy::large_enum_variant)] // one per direction
enum SideState {
    /// Reading the opening-handshake head.
    Head { buf: Vec<u8>, scanner: HeadScanner },
    /// The head is read; waiting for the response to say whether frames follow. Bytes that
    /// come meanwhile are held (up to the head limit).
    Waiting { pending: Vec<u8> },
    /// Reading frames.
    Frames(Framing),
    /// Nothing more is read.
    Done,
}

struct Framing {
    conn: Connection<Recorder>,
    arranger: Arranger,
    view: Inspection,
    events: Vec<OwnedEvent>,
    delivered: VecDeque<OwnedEvent>,
    /// The direction's offset of the first frame byte (the head's length).
    base: u64,
    deflate: bool,
}

struct Side {
    direction: Direction,
    state: SideState,
    /// Bytes fed (or skipped over as a gap) so far.
    offset: u64,
}

/// Both directions of one session, fed as they arrive; see the [module](self) docs.
pub struct SessionInspector {
    sides: [Side; 2],
    config: Config,
    /// Most payload bytes per frame shown one by one in [`FrameView::payload`] (default
    /// 256); the rest are read, unmasked and counted, not listed.
    pub payload_detail: usize,
    max_head: usize,
}

impl SessionInspector {
    /// A session that starts with the opening handshake. `config` sets the limits the
    /// receiving ends apply (frame and message sizes); its `deflate` is ignored, since the
    /// handshake says whether permessage-deflate is in force.
    pub fn new(config: Config) -> Self {
        let max_head = config.max_header_bytes;
        let head = |direction| Side {
            direction,
            state: SideState::Head {
                buf: Vec::new(),
                scanner: HeadScanner::new(max_head),
            },
            offset: 0,
        };
        SessionInspector {
            sides: [
                head(Direction::ClientToServer),
                head(Direction::ServerToClient),
            ],
            config: Config {
                deflate: None,
                ..config
            },
            payload_detail: 256,
            max_head,
        }
    }

    /// Bytes fed to `direction` so far (gaps included).
    pub fn offset(&self, direction: Direction) -> u64 {
        self.sides[direction.index()].offset
    }

    /// Whether `direction` is still being read (no error, gap or refusal stopped it).
    pub fn reading(&self, direction: Direction) -> bool {
        !matches!(self.sides[direction.index()].state, SideState::Done)
    }

    /// Feeds the next bytes of `direction`; what they completed is appended to `out`.
    pub fn feed(&mut self, direction: Direction, bytes: &[u8], out: &mut Vec<SessionEvent>) {
        let i = direction.index();
        self.sides[i].offset += bytes.len() as u64;
        let state = core::mem::replace(&mut self.sides[i].state, SideState::Done);
        self.sides[i].state = match state {
            SideState::Head {
                mut buf,
                mut scanner,
            } => {
                buf.extend_from_slice(bytes);
                match scanner.scan(&buf) {
                    Ok(None) => SideState::Head { buf, scanner },
                    Ok(Some(len)) => return self.head_done(direction, buf, len, out),
                    Err(e) => {
                        out.push(SessionEvent::NotWebSocket {
                            reason: alloc::format!("not an HTTP head: {}", e.reason),
                        });
                        self.stop_both();
                        SideState::Done
                    }
                }
            }
            SideState::Waiting { mut pending } => {
                pending.extend_from_slice(bytes);
                if pending.len() > self.max_head {
                    out.push(SessionEvent::NotWebSocket {
                        reason: "the client sent more than a head's worth of bytes before the server answered".into(),
                    });
                    self.stop_both();
                    SideState::Done
                } else {
                    SideState::Waiting { pending }
                }
            }
            SideState::Frames(mut framing) => {
                if framing.feed(direction, bytes, self.payload_detail, out) {
                    SideState::Frames(framing)
                } else {
                    SideState::Done
                }
            }
            SideState::Done => SideState::Done,
        };
    }

    /// `len` bytes of `direction` are missing (never captured): reported, and the direction
    /// is read no further.
    pub fn gap(&mut self, direction: Direction, len: u64, out: &mut Vec<SessionEvent>) {
        let side = &mut self.sides[direction.index()];
        let offset = side.offset;
        side.offset += len;
        if matches!(side.state, SideState::Done) {
            return;
        }
        if let SideState::Frames(framing) = &mut side.state {
            framing.flush_partial(direction, out);
        }
        side.state = SideState::Done;
        out.push(SessionEvent::Gap {
            direction,
            offset,
            len,
        });
    }

    /// The input has ended: reports a direction left in the middle of a head or a frame.
    pub fn finish(&mut self, out: &mut Vec<SessionEvent>) {
        for side in &mut self.sides {
            let direction = side.direction;
            let offset = side.offset;
            let waiting_for = match core::mem::replace(&mut side.state, SideState::Done) {
                SideState::Head { buf, .. } if !buf.is_empty() => "the end of the HTTP head",
                SideState::Waiting { pending } if !pending.is_empty() => "the server's answer",
                SideState::Frames(mut framing) => {
                    let partial = framing.flush_partial(direction, out);
                    if !partial {
                        continue;
                    }
                    framing.conn.decoder().waiting_for()
                }
                _ => continue,
            };
            out.push(SessionEvent::Incomplete {
                direction,
                offset,
                waiting_for,
            });
        }
    }

    fn stop_both(&mut self) {
        for side in &mut self.sides {
            side.state = SideState::Done;
        }
    }

    fn head_done(
        &mut self,
        direction: Direction,
        mut buf: Vec<u8>,
        len: usize,
        out: &mut Vec<SessionEvent>,
    ) {
        let rest = buf.split_off(len);
        let inspection = inspect_handshake(&buf);
        let is_response = inspection.is_response;
        let status = status_of(&inspection);
        let head_error = inspection.error.as_ref().map(|e| e.reason);
        let extensions = header_value(&inspection, "sec-websocket-extensions");
        let protocol = header_value(&inspection, "sec-websocket-protocol");
        out.push(SessionEvent::Head {
            direction,
            inspection,
            len,
        });
        let i = direction.index();
        match (direction, is_response) {
            (Direction::ClientToServer, false) => {
                if let Some(reason) = head_error {
                    out.push(SessionEvent::NotWebSocket {
                        reason: alloc::format!("the request is refused: {reason}"),
                    });
                    self.stop_both();
                    return;
                }
                self.sides[i].state = SideState::Waiting { pending: rest };
            }
            (Direction::ServerToClient, true) if status == Some(101) => {
                let deflate = match extensions.as_deref().map(parse_extensions) {
                    None => Ok(None),
                    Some(None) => Err("a malformed Sec-WebSocket-Extensions header"),
                    Some(Some(exts)) => validate_response(&exts, &DeflateConfig::default()),
                };
                let deflate = match deflate {
                    Ok(d) => d,
                    Err(reason) => {
                        out.push(SessionEvent::NotWebSocket {
                            reason: alloc::format!("the client fails the connection: {reason}"),
                        });
                        self.stop_both();
                        return;
                    }
                };
                out.push(SessionEvent::Upgraded { deflate, protocol });
                let config = Config {
                    deflate,
                    ..self.config.clone()
                };
                let request_len = len_of(&self.sides[0]);
                let pending = match core::mem::replace(&mut self.sides[0].state, SideState::Done) {
                    SideState::Waiting { pending } => Some(pending),
                    _ => None,
                };
                let mut server_side =
                    Framing::new(Direction::ClientToServer, config.clone(), request_len);
                let mut client_side = Framing::new(Direction::ServerToClient, config, len as u64);
                let detail = self.payload_detail;
                let keep_c2s = match pending {
                    Some(p) => server_side.feed(Direction::ClientToServer, &p, detail, out),
                    None => false,
                };
                let keep_s2c = client_side.feed(Direction::ServerToClient, &rest, detail, out);
                if keep_c2s {
                    self.sides[0].state = SideState::Frames(server_side);
                }
                if keep_s2c {
                    self.sides[1].state = SideState::Frames(client_side);
                }
            }
            (Direction::ServerToClient, true) => {
                out.push(SessionEvent::NotWebSocket {
                    reason: alloc::format!(
                        "the server answered {} instead of 101 Switching Protocols",
                        status.map_or_else(
                            || "something unreadable".into(),
                            |s| alloc::format!("{s}")
                        )
                    ),
                });
                self.stop_both();
            }
            _ => {
                out.push(SessionEvent::NotWebSocket {
                    reason: "a head in the wrong direction (a response from the client, or a request from the server)".into(),
                });
                self.stop_both();
            }
        }
    }
}

/// The head length of a side whose head has been read (its offset minus what it holds).
fn len_of(side: &Side) -> u64 {
    match &side.state {
        SideState::Waiting { pending } => side.offset - pending.len() as u64,
        _ => side.offset,
    }
}

fn status_of(inspection: &HandshakeInspection) -> Option<u16> {
    inspection.start_line.split(' ').nth(1)?.parse().ok()
}

fn header_value(inspection: &HandshakeInspection, name: &str) -> Option<String> {
    inspection
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.clone())
}

impl Framing {
    fn new(direction: Direction, config: Config, base: u64) -> Self {
        let deflate = config.deflate.is_some() && cfg!(feature = "deflate");
        let conn = match direction.receiver() {
            Role::Server => Connection::accepted(config),
            Role::Client => Connection::connected(config, || [0; 4]),
        };
        Framing {
            conn: conn.with_tracer(Recorder::new()),
            arranger: Arranger::default(),
            view: Inspection {
                role: direction.receiver(),
                frames: Vec::new(),
                messages: Vec::new(),
                events: Vec::new(),
                error: None,
                need_more: None,
                waiting_for: "",
                reply: Vec::new(),
            },
            events: Vec::new(),
            delivered: VecDeque::new(),
            base,
            deflate,
        }
    }

    /// Feeds frame bytes. `false` when the direction is read no further (an error).
    fn feed(
        &mut self,
        direction: Direction,
        bytes: &[u8],
        detail: usize,
        out: &mut Vec<SessionEvent>,
    ) -> bool {
        if bytes.is_empty() {
            return true;
        }
        self.arranger.payload_detail = detail;
        self.conn.tracer_mut().payload_limit = detail;
        let result = self.conn.receive(bytes, &mut self.events);
        // What the receiver would answer (pongs, close replies) is not part of the recording.
        let _ = self.conn.take_output();
        self.delivered.extend(
            self.events
                .drain(..)
                .filter(|e| !matches!(e, OwnedEvent::Request(_) | OwnedEvent::Connected(_))),
        );
        let items: Vec<TraceItem> = core::mem::take(&mut self.conn.tracer_mut().items);
        self.arranger.arrange(&mut self.view, items, self.deflate);
        self.hand_out(direction, out, false);
        match result {
            Err(Error::Protocol { kind, offset }) => {
                self.hand_out(direction, out, true);
                out.push(SessionEvent::Error {
                    direction,
                    error: ErrorView {
                        offset: self.base + offset,
                        kind,
                        close_code: kind.close_code(),
                    },
                });
                false
            }
            Err(_) => false,
            Ok(()) => true,
        }
    }

    /// Hands out the complete frames and the messages arranged so far; with `all`, an
    /// incomplete last frame too.
    fn hand_out(&mut self, direction: Direction, out: &mut Vec<SessionEvent>, all: bool) {
        let keep = usize::from(!all && self.view.frames.last().is_some_and(|f| !f.complete));
        let give = self.view.frames.len() - keep;
        let mut messages = core::mem::take(&mut self.view.messages).into_iter();
        // Frames first, then the messages they completed, each message after its last frame.
        let mut next_message = messages.next();
        for (k, mut frame) in self.view.frames.drain(..give).enumerate() {
            let number = self.arranger.base + k;
            frame.start += self.base;
            frame.end += self.base;
            for row in &mut frame.fields {
                row.offset += self.base;
            }
            for byte in &mut frame.payload {
                byte.offset += self.base;
            }
            out.push(SessionEvent::Frame {
                direction,
                number,
                frame,
            });
            while let Some(m) = next_message.take() {
                if m.frames.last().is_some_and(|&last| last > number) {
                    next_message = Some(m);
                    break;
                }
                let mut message = m;
                message.event = self.delivered.pop_front();
                out.push(SessionEvent::Message { direction, message });
                next_message = messages.next();
            }
        }
        self.arranger.base += give;
        // Messages whose frames are all handed out but that came after (none in practice).
        for m in next_message.into_iter().chain(messages) {
            let mut message = m;
            message.event = self.delivered.pop_front();
            out.push(SessionEvent::Message { direction, message });
        }
    }

    /// Hands out an incomplete last frame; `true` if there was one (or a need for more).
    fn flush_partial(&mut self, direction: Direction, out: &mut Vec<SessionEvent>) -> bool {
        let partial = !self.view.frames.is_empty() || self.view.need_more.is_some();
        self.hand_out(direction, out, true);
        partial
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    /// RFC 6455 §5.7: a single-frame masked text message "Hello".
    const MASKED_HELLO: [u8; 11] = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    /// RFC 6455 §5.7: "Hel" + "lo", unmasked, from the server.
    const FRAGMENTED: [u8; 10] = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f, 0x00];

    fn run(chunks: &[(Direction, &[u8])]) -> Vec<SessionEvent> {
        let mut ins = SessionInspector::new(Config::default());
        let mut out = Vec::new();
        for (d, bytes) in chunks {
            ins.feed(*d, bytes, &mut out);
        }
        ins.finish(&mut out);
        out
    }

    fn messages(events: &[SessionEvent]) -> Vec<(Direction, Option<OwnedEvent>, Vec<usize>)> {
        events
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Message { direction, message } => {
                    Some((*direction, message.event.clone(), message.frames.clone()))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_whole_session_byte_by_byte_and_at_once() {
        use Direction::*;
        let whole = run(&[
            (ClientToServer, REQUEST),
            (ServerToClient, RESPONSE),
            (ClientToServer, &MASKED_HELLO),
            (ServerToClient, &FRAGMENTED[..9]),
        ]);
        let mut chunks: Vec<(Direction, &[u8])> = Vec::new();
        for (d, bytes) in [
            (ClientToServer, REQUEST),
            (ServerToClient, RESPONSE),
            (ClientToServer, &MASKED_HELLO[..]),
            (ServerToClient, &FRAGMENTED[..9]),
        ] {
            for b in bytes.chunks(1) {
                chunks.push((d, b));
            }
        }
        assert_eq!(run(&chunks), whole);
        assert!(
            matches!(&whole[0], SessionEvent::Head { direction: ClientToServer, len, .. } if *len == REQUEST.len())
        );
        assert!(matches!(
            &whole[2],
            SessionEvent::Upgraded {
                deflate: None,
                protocol: None
            }
        ));
        assert_eq!(
            messages(&whole),
            [
                (
                    ClientToServer,
                    Some(OwnedEvent::Text("Hello".into())),
                    alloc::vec![0]
                ),
                (
                    ServerToClient,
                    Some(OwnedEvent::Text("Hello".into())),
                    alloc::vec![0, 1]
                ),
            ]
        );
        // Offsets count from the direction's first byte, the head included.
        let first = whole
            .iter()
            .find_map(|e| match e {
                SessionEvent::Frame {
                    direction: ClientToServer,
                    frame,
                    ..
                } => Some(frame),
                _ => None,
            })
            .unwrap();
        assert_eq!(first.start, REQUEST.len() as u64);
        assert_eq!(first.fields[0].offset, REQUEST.len() as u64);
        assert_eq!(first.payload[0].offset, REQUEST.len() as u64 + 6);
        assert!(!whole
            .iter()
            .any(|e| matches!(e, SessionEvent::Incomplete { .. })));
    }

    #[test]
    fn a_cut_frame_is_reported_incomplete() {
        use Direction::*;
        let out = run(&[
            (ClientToServer, REQUEST),
            (ServerToClient, RESPONSE),
            (ClientToServer, &MASKED_HELLO[..8]),
        ]);
        let last_two = &out[out.len() - 2..];
        assert!(
            matches!(&last_two[0], SessionEvent::Frame { frame, .. } if !frame.complete && frame.payload.len() == 2)
        );
        assert!(matches!(
            &last_two[1],
            SessionEvent::Incomplete { direction: ClientToServer, waiting_for, .. } if !waiting_for.is_empty()
        ));
    }

    #[test]
    fn errors_are_pinned_to_the_direction_offset() {
        use Direction::*;
        // An unmasked client frame: 1002 at its second byte.
        let out = run(&[
            (ClientToServer, REQUEST),
            (ServerToClient, RESPONSE),
            (ClientToServer, &[0x81, 0x00]),
            (ClientToServer, &MASKED_HELLO),
        ]);
        let err = out
            .iter()
            .find_map(|e| match e {
                SessionEvent::Error { error, .. } => Some(*error),
                _ => None,
            })
            .unwrap();
        assert_eq!(err.offset, REQUEST.len() as u64 + 1);
        assert_eq!(err.close_code.0, 1002);
        assert!(messages(&out).is_empty(), "nothing is read after the error");
    }

    #[test]
    fn a_gap_stops_the_direction_without_guessing() {
        use Direction::*;
        let mut ins = SessionInspector::new(Config::default());
        let mut out = Vec::new();
        ins.feed(ClientToServer, REQUEST, &mut out);
        ins.feed(ServerToClient, RESPONSE, &mut out);
        ins.feed(ClientToServer, &MASKED_HELLO[..3], &mut out);
        ins.gap(ClientToServer, 5, &mut out);
        ins.feed(ClientToServer, &MASKED_HELLO[8..], &mut out);
        ins.feed(ClientToServer, &MASKED_HELLO, &mut out);
        assert!(ins.reading(ServerToClient), "the other direction goes on");
        ins.finish(&mut out);
        assert!(out.contains(&SessionEvent::Gap {
            direction: ClientToServer,
            offset: REQUEST.len() as u64 + 3,
            len: 5
        }));
        assert!(messages(&out).is_empty());
        assert!(!ins.reading(ClientToServer));
    }

    #[test]
    fn a_refused_upgrade_is_not_read_as_frames() {
        use Direction::*;
        let out = run(&[
            (ClientToServer, REQUEST),
            (
                ServerToClient,
                b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
            ),
            (ServerToClient, &FRAGMENTED),
        ]);
        assert!(out
            .iter()
            .any(|e| matches!(e, SessionEvent::NotWebSocket { reason } if reason.contains("403"))));
        assert!(messages(&out).is_empty());
    }

    #[cfg(feature = "deflate")]
    #[test]
    fn deflate_is_taken_from_the_response() {
        use Direction::*;
        let response = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
        // RFC 7692 §7.2.3.1 and §7.2.3.2: "Hello" twice, the second sharing the window.
        let frames = [
            0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0xc1, 0x05, 0xf2, 0x00, 0x11,
            0x00, 0x00,
        ];
        let out = run(&[
            (ClientToServer, REQUEST),
            (ServerToClient, response),
            (ServerToClient, &frames[..5]),
            (ServerToClient, &frames[5..]),
        ]);
        assert!(matches!(
            &out[2],
            SessionEvent::Upgraded {
                deflate: Some(_),
                ..
            }
        ));
        let got = messages(&out);
        assert_eq!(got.len(), 2, "{out:?}");
        for (_, event, _) in &got {
            assert_eq!(event, &Some(OwnedEvent::Text("Hello".into())));
        }
        let compressed: Vec<(bool, u64)> = out
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Message { message, .. } => {
                    Some((message.compressed, message.wire_len))
                }
                _ => None,
            })
            .collect();
        assert_eq!(compressed, [(true, 7), (true, 5)]);
    }

    #[test]
    fn payload_detail_bounds_what_is_listed() {
        use Direction::*;
        let mut frame = alloc::vec![0x82, 0x7e, 0x04, 0x00];
        frame.extend(core::iter::repeat_n(7u8, 1024));
        let mut ins = SessionInspector::new(Config::default());
        ins.payload_detail = 10;
        let mut out = Vec::new();
        ins.feed(ClientToServer, REQUEST, &mut out);
        ins.feed(ServerToClient, RESPONSE, &mut out);
        for c in frame.chunks(100) {
            ins.feed(ServerToClient, c, &mut out);
        }
        let f = out
            .iter()
            .find_map(|e| match e {
                SessionEvent::Frame { frame, .. } => Some(frame.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(f.payload.len(), 10);
        assert!(f.complete);
        let m = messages(&out);
        assert_eq!(m[0].1, Some(OwnedEvent::Binary(alloc::vec![7; 1024])));
    }
}
