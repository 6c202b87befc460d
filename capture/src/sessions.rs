//! WebSocket sessions in a capture: each TCP connection reassembled both ways, its HTTP
//! upgrade found, and each direction run through the core's [`SessionInspector`].

use crate::read::{for_each_packet, Summary};
use crate::tcp::{segment, Piece, Reassembler, Segment};
use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use wslens::inspect::session::{Direction, SessionEvent, SessionInspector};
use wslens::Config;

/// A session's ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// Its number in the capture, from 1, in the order sessions began.
    pub id: usize,
    /// The client (who sent the upgrade request).
    pub client: SocketAddr,
    /// The server.
    pub server: SocketAddr,
}

/// What [`read_sessions`] reports, in capture order.
pub enum Found<'a> {
    /// A new WebSocket session (or a refused upgrade): its first events follow.
    Session(&'a SessionInfo),
    /// Something in a session, at `time` (seconds since the epoch: the packet that
    /// completed it).
    Event {
        /// Which session.
        session: &'a SessionInfo,
        /// When.
        time: f64,
        /// What.
        event: &'a SessionEvent,
    },
    /// Bytes of a session's direction as reassembled, from `offset` of the direction (its
    /// first byte, the head's, is 0), after the events they completed: for a viewer that
    /// keeps what it wants of them (the page, to open a frame in the byte inspector).
    Bytes {
        /// Which session.
        session: &'a SessionInfo,
        /// Which way.
        direction: Direction,
        /// Where in the direction they start.
        offset: u64,
        /// The bytes.
        bytes: &'a [u8],
    },
}

/// The whole capture's counts.
#[derive(Debug, Default)]
pub struct Report {
    /// What the file reader found.
    pub file: Summary,
    /// WebSocket sessions (upgrades, accepted or refused).
    pub sessions: usize,
    /// TCP connections that carried no WebSocket upgrade (plain HTTP, other protocols, or
    /// connections whose start the capture missed).
    pub other_connections: usize,
    /// TCP connections still open when the capture ended.
    pub unfinished: usize,
}

/// Most TCP connections followed at once; beyond, new ones are counted, not read.
pub const MAX_FLOWS: usize = 100_000;

/// Reads every packet of `input` and calls `f` with the sessions found and their events.
pub fn read_sessions(
    input: impl Read,
    config: Config,
    payload_detail: usize,
    mut f: impl FnMut(Found<'_>),
) -> Result<Report, String> {
    let mut flows: HashMap<(SocketAddr, SocketAddr), Flow> = HashMap::new();
    let mut report = Report::default();
    let mut next_id = 1;
    let mut events = Vec::new();
    let mut pieces = Vec::new();
    // Connections in the order they were first seen (the unfinished are reported so).
    let mut flows_seen = 0u64;
    let summary = for_each_packet(input, |packet| {
        let Some(seg) = segment(packet.linktype, packet.data) else {
            return;
        };
        let key = if seg.src <= seg.dst {
            (seg.src, seg.dst)
        } else {
            (seg.dst, seg.src)
        };
        if !flows.contains_key(&key) {
            if flows.len() >= MAX_FLOWS {
                report.other_connections += 1;
                return;
            }
            flows.insert(key, Flow::new(key, flows_seen));
            flows_seen += 1;
        }
        let flow = flows.get_mut(&key).expect("inserted above");
        let side = usize::from(seg.src != key.0);
        flow.segment(side, &seg, &mut pieces);
        let time = packet.time;
        flow.feed(
            side,
            &mut pieces,
            &mut events,
            &config,
            payload_detail,
            &mut next_id,
            &mut report,
            time,
            &mut f,
        );
        if flow.closed() {
            let mut flow = flows.remove(&key).expect("present");
            flow.finish(
                &mut pieces,
                &mut events,
                &config,
                payload_detail,
                &mut next_id,
                &mut report,
                time,
                &mut f,
            );
        }
    })?;
    report.file = summary;
    let mut rest: Vec<Flow> = flows.into_values().collect();
    rest.sort_by_key(|fl| fl.first_seen);
    for mut flow in rest {
        if flow.session.is_some() {
            report.unfinished += 1;
        }
        flow.finish(
            &mut pieces,
            &mut events,
            &config,
            payload_detail,
            &mut next_id,
            &mut report,
            f64::NAN,
            &mut f,
        );
    }
    Ok(report)
}

/// One TCP connection.
struct Flow {
    ends: (SocketAddr, SocketAddr),
    streams: [Reassembler; 2],
    /// Which side sent a bare SYN.
    syn_from: Option<usize>,
    /// Which side is the client, once known.
    client: Option<usize>,
    inspector: Option<SessionInspector>,
    session: Option<SessionInfo>,
    /// Events before the session is known to be a WebSocket one (the request head).
    early: Vec<(f64, SessionEvent)>,
    /// Whether the client's first bytes ask for a WebSocket upgrade (an `Upgrade: websocket`
    /// line in what was captured of the head, even when the head itself is cut short).
    asks_upgrade: bool,
    fin: [bool; 2],
    rst: bool,
    /// Not a WebSocket session: packets are read no further.
    dead: bool,
    first_seen: u64,
}

impl Flow {
    fn new(ends: (SocketAddr, SocketAddr), first_seen: u64) -> Flow {
        Flow {
            ends,
            streams: [Reassembler::default(), Reassembler::default()],
            syn_from: None,
            client: None,
            inspector: None,
            session: None,
            early: Vec::new(),
            asks_upgrade: false,
            fin: [false; 2],
            rst: false,
            dead: false,
            first_seen,
        }
    }

    fn segment(&mut self, side: usize, seg: &Segment<'_>, pieces: &mut Vec<Piece>) {
        if seg.syn && !seg.ack {
            self.syn_from = Some(side);
        }
        self.fin[side] |= seg.fin;
        self.rst |= seg.rst;
        if !self.dead {
            self.streams[side].push(seg, pieces);
        }
    }

    fn closed(&self) -> bool {
        self.rst || (self.fin[0] && self.fin[1])
    }

    #[allow(clippy::too_many_arguments)]
    fn feed(
        &mut self,
        side: usize,
        pieces: &mut Vec<Piece>,
        events: &mut Vec<SessionEvent>,
        config: &Config,
        detail: usize,
        next_id: &mut usize,
        report: &mut Report,
        time: f64,
        f: &mut impl FnMut(Found<'_>),
    ) {
        for piece in pieces.drain(..) {
            if self.dead {
                continue;
            }
            if self.client.is_none() {
                let Piece::Bytes(bytes) = &piece else {
                    self.dead = true;
                    report.other_connections += 1;
                    continue;
                };
                let client = if bytes.starts_with(b"GET ") {
                    side
                } else if bytes.starts_with(b"HTTP/") {
                    1 - side
                } else {
                    self.dead = true;
                    report.other_connections += 1;
                    continue;
                };
                self.client = Some(client);
                if client == side {
                    let head = &bytes[..bytes.len().min(8192)];
                    let lower = String::from_utf8_lossy(head).to_ascii_lowercase();
                    self.asks_upgrade = lower.contains("\nupgrade:") && lower.contains("websocket");
                }
                let mut ins = SessionInspector::new(config.clone());
                ins.payload_detail = detail;
                self.inspector = Some(ins);
            }
            let client = self.client.expect("set above");
            let direction = if side == client {
                Direction::ClientToServer
            } else {
                Direction::ServerToClient
            };
            let ins = self.inspector.as_mut().expect("made with the client");
            let offset = ins.offset(direction);
            match &piece {
                Piece::Bytes(b) => ins.feed(direction, b, events),
                Piece::Gap(n) => ins.gap(direction, *n, events),
            }
            self.hand_on(events, next_id, report, time, f);
            if let (Some(session), Piece::Bytes(bytes)) = (&self.session, &piece) {
                if !self.dead {
                    f(Found::Bytes {
                        session,
                        direction,
                        offset,
                        bytes,
                    });
                }
            }
        }
    }

    /// Hands on what the inspector found, once the session is known to be a WebSocket one.
    fn hand_on(
        &mut self,
        events: &mut Vec<SessionEvent>,
        next_id: &mut usize,
        report: &mut Report,
        time: f64,
        f: &mut impl FnMut(Found<'_>),
    ) {
        for event in events.drain(..) {
            if self.session.is_none() {
                let upgrade_asked = self.asks_upgrade
                    || self.early.iter().any(|(_, e)| {
                        matches!(e, SessionEvent::Head { direction: Direction::ClientToServer, inspection, .. }
                            if inspection.headers.iter().any(|h| h.name.eq_ignore_ascii_case("upgrade")))
                    });
                let decided = match &event {
                    SessionEvent::Upgraded { .. } => true,
                    SessionEvent::NotWebSocket { .. } => upgrade_asked,
                    SessionEvent::Head { .. } => {
                        self.early.push((time, event));
                        continue;
                    }
                    _ => upgrade_asked,
                };
                if !decided {
                    self.dead = true;
                    self.early.clear();
                    report.other_connections += 1;
                    return;
                }
                let client = self.client.unwrap_or(0);
                let (c, s) = if client == 0 {
                    (self.ends.0, self.ends.1)
                } else {
                    (self.ends.1, self.ends.0)
                };
                let info = SessionInfo {
                    id: *next_id,
                    client: c,
                    server: s,
                };
                *next_id += 1;
                report.sessions += 1;
                f(Found::Session(&info));
                for (t, e) in self.early.drain(..) {
                    f(Found::Event {
                        session: &info,
                        time: t,
                        event: &e,
                    });
                }
                self.session = Some(info);
            }
            let session = self.session.as_ref().expect("set above");
            let stop = matches!(event, SessionEvent::NotWebSocket { .. });
            f(Found::Event {
                session,
                time,
                event: &event,
            });
            if stop {
                self.dead = true;
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &mut self,
        pieces: &mut Vec<Piece>,
        events: &mut Vec<SessionEvent>,
        config: &Config,
        detail: usize,
        next_id: &mut usize,
        report: &mut Report,
        time: f64,
        f: &mut impl FnMut(Found<'_>),
    ) {
        for side in 0..2 {
            if self.dead {
                break;
            }
            self.streams[side].finish(pieces);
            self.feed(
                side, pieces, events, config, detail, next_id, report, time, f,
            );
        }
        if self.dead {
            return;
        }
        // A connection that carried no bytes at all (or only the last ACKs of one already
        // read) is not counted.
        if let Some(ins) = &mut self.inspector {
            ins.finish(events);
            self.hand_on(events, next_id, report, time, f);
        }
    }
}
