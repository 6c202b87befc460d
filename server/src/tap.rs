//! The wire tap (`wslens.wire` on `/echo`): its records, its commands, and the transcripts
//! kept server-side so a page can fetch a whole session (both close frames included) after
//! its socket closed, with `GET /wire/<session>`.
//!
//! **Records** are JSON texts. The first, sent right after the 101, is the handshake exactly
//! as read and written:
//!
//! ```json
//! {"handshake":{"session":"3f…","request":"474554…","response":"485454…","t":0}}
//! ```
//!
//! then one per event the server read (a message, a ping, a pong, a close, a command):
//!
//! ```json
//! {"wire":{"in":"818537fa213d7f9f4d5158","out":"810548656c6c6f","t":12}}
//! ```
//!
//! `in` is the hex of the bytes read since the previous record (all frames of a message, still
//! masked, with any control frames between its fragments), `out` the bytes written in reply,
//! `t` milliseconds since the handshake. Records themselves are not in any `out`: they are the
//! tap's own channel. Once the server has sent its close frame no more records go over the
//! socket; they are still added to the transcript.
//!
//! **Commands**: a text message that is exactly one of these (under `wslens.wire` only) is
//! carried out instead of echoed:
//!
//! | text | the server sends |
//! |---|---|
//! | `/ping [payload]` | a ping (payload at most 125 bytes; default `wslens`); the browser answers with a pong |
//! | `/fragments [N]` | one text message in N frames (2..=16, default 3), a ping between the first two |
//! | `/deflate [text]` | the text as a compressed message twice (RSV1, when permessage-deflate is in use; the second copy shrinks through context takeover) and once uncompressed (RSV1 clear) |
//! | `/close [code [reason]]` | a close frame (default 1000), starting the closing handshake |
//!
//! **Transcripts** are bounded: at most `bytes` of records per session (the oldest go first,
//! counted in `dropped`), kept `ttl` after the session opened, at most `sessions` at once
//! (the oldest go first). `GET /wire/<session>` answers
//! `{"session":"…","open":false,"dropped":0,"records":[…]}` or 404. The session id is 128
//! random bits: the request head it shows may carry the browser's cookies.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use wslens::{CloseCode, OpCode, Sender};

/// The subprotocol that turns the tap on.
pub const WIRE_PROTOCOL: &str = "wslens.wire";

/// Bounds of the transcripts (`--tap-transcript-bytes`, `--tap-transcript-ttl`,
/// `--tap-sessions`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TranscriptLimits {
    /// Record bytes kept per session.
    pub bytes: usize,
    /// How long a session's transcript is kept after it opened.
    pub ttl: Duration,
    /// Sessions kept at once.
    pub sessions: usize,
}

impl Default for TranscriptLimits {
    fn default() -> Self {
        TranscriptLimits {
            bytes: 256 << 10,
            ttl: Duration::from_secs(600),
            sessions: 64,
        }
    }
}

struct Transcript {
    opened: Instant,
    records: VecDeque<Box<str>>,
    bytes: usize,
    dropped: usize,
    open: bool,
}

/// All loops' transcripts (one lock: taps are rare and records small next to the socket
/// work around them).
pub struct Transcripts {
    limits: TranscriptLimits,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<Box<str>, Transcript>,
    /// Session ids, oldest first.
    order: VecDeque<Box<str>>,
}

impl Transcripts {
    /// An empty store with these bounds.
    pub fn new(limits: TranscriptLimits) -> Self {
        Transcripts {
            limits,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a session (evicting expired ones, and the oldest past `sessions`).
    pub fn open(&self, session: &str, now: Instant) {
        let mut inner = self.lock();
        inner.expire(now, self.limits.ttl);
        while inner.order.len() >= self.limits.sessions.max(1) {
            let Some(old) = inner.order.pop_front() else {
                break;
            };
            inner.sessions.remove(&old);
        }
        inner.order.push_back(session.into());
        inner.sessions.insert(
            session.into(),
            Transcript {
                opened: now,
                records: VecDeque::new(),
                bytes: 0,
                dropped: 0,
                open: true,
            },
        );
    }

    /// Adds a record; the oldest records go while the session is over its byte bound. A
    /// record larger than the whole bound is kept as `{"omitted":{"bytes":N}}`.
    pub fn push(&self, session: &str, record: &str) {
        let bound = self.limits.bytes;
        let mut inner = self.lock();
        let Some(t) = inner.sessions.get_mut(session) else {
            return;
        };
        let record: Box<str> = if record.len() > bound {
            format!(r#"{{"omitted":{{"bytes":{}}}}}"#, record.len()).into()
        } else {
            record.into()
        };
        while t.bytes + record.len() > bound {
            let Some(old) = t.records.pop_front() else {
                break;
            };
            t.bytes -= old.len();
            t.dropped += 1;
        }
        t.bytes += record.len();
        t.records.push_back(record);
    }

    /// The session's socket is gone.
    pub fn close(&self, session: &str) {
        if let Some(t) = self.lock().sessions.get_mut(session) {
            t.open = false;
        }
    }

    /// The transcript as JSON, unless unknown or expired.
    pub fn render(&self, session: &str, now: Instant) -> Option<String> {
        let mut inner = self.lock();
        inner.expire(now, self.limits.ttl);
        let t = inner.sessions.get(session)?;
        let mut json = String::with_capacity(t.bytes + 80);
        json.push_str(r#"{"session":""#);
        json.push_str(session);
        json.push_str(&format!(
            r#"","open":{},"dropped":{},"records":["#,
            t.open, t.dropped
        ));
        for (i, r) in t.records.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json.push_str(r);
        }
        json.push_str("]}");
        Some(json)
    }

    /// Record bytes held for `session` (for tests of the bound).
    #[cfg(test)]
    fn held(&self, session: &str) -> Option<usize> {
        self.lock().sessions.get(session).map(|t| t.bytes)
    }
}

impl Inner {
    fn expire(&mut self, now: Instant, ttl: Duration) {
        while let Some(id) = self.order.front() {
            let expired = self
                .sessions
                .get(id)
                .is_none_or(|t| now.saturating_duration_since(t.opened) >= ttl);
            if !expired {
                break;
            }
            if let Some(id) = self.order.pop_front() {
                self.sessions.remove(&id);
            }
        }
    }
}

/// A fresh session id: 128 bits from the operating system's generator, in hex.
pub fn new_session_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: still unique per process, if guessable.
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = n.to_le_bytes();
    }
    let mut id = String::with_capacity(32);
    hex_into(&mut id, &bytes);
    id
}

/// Lower-case hex of `bytes`, appended.
pub fn hex_into(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(2 * bytes.len());
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
}

/// The handshake record.
pub fn handshake_record(session: &str, request: &[u8], response: &[u8]) -> String {
    let mut json = String::with_capacity(80 + 2 * (request.len() + response.len()));
    json.push_str(r#"{"handshake":{"session":""#);
    json.push_str(session);
    json.push_str(r#"","request":""#);
    hex_into(&mut json, request);
    json.push_str(r#"","response":""#);
    hex_into(&mut json, response);
    json.push_str(r#"","t":0}}"#);
    json
}

/// A wire record: bytes read, bytes written, milliseconds since the handshake.
pub fn wire_record(read: &[u8], written: &[u8], t: u64) -> String {
    let mut json = String::with_capacity(40 + 2 * (read.len() + written.len()));
    json.push_str(r#"{"wire":{"in":""#);
    hex_into(&mut json, read);
    json.push_str(r#"","out":""#);
    hex_into(&mut json, written);
    json.push_str(r#"","t":"#);
    json.push_str(&t.to_string());
    json.push_str("}}");
    json
}

/// A tap command (see the module documentation).
#[derive(Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// `/ping [payload]`
    Ping(&'a str),
    /// `/fragments [N]`
    Fragments(usize),
    /// `/deflate [text]`
    Deflate(&'a str),
    /// `/close [code [reason]]`
    Close(u16, &'a str),
}

/// The message the `/fragments` command sends, cut into N frames.
pub const FRAGMENTED_TEXT: &str = "This message was sent in fragments: a Text frame with FIN=0, then Continuation frames, the last with FIN=1 (RFC 6455 §5.4).";

impl<'a> Command<'a> {
    /// The command in `text`, if it is one; `Err` for a command with bad arguments.
    pub fn parse(text: &'a str) -> Option<Result<Self, String>> {
        let (name, rest) = text.split_once(' ').unwrap_or((text, ""));
        Some(match name {
            "/ping" => {
                let payload = if rest.is_empty() { "wslens" } else { rest };
                if payload.len() > 125 {
                    Err("a ping's payload is at most 125 bytes (RFC 6455 §5.5)".into())
                } else {
                    Ok(Command::Ping(payload))
                }
            }
            "/fragments" => match rest.trim() {
                "" => Ok(Command::Fragments(3)),
                n => match n.parse::<usize>() {
                    Ok(n) if (2..=16).contains(&n) => Ok(Command::Fragments(n)),
                    _ => Err(format!("/fragments takes a count from 2 to 16, not {n:?}")),
                },
            },
            "/deflate" => Ok(Command::Deflate(if rest.is_empty() {
                "Hello, Hello, Hello: DEFLATE finds the repeats."
            } else {
                rest
            })),
            "/close" => {
                let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
                match code.trim() {
                    "" => Ok(Command::Close(1000, "")),
                    c => match c.parse::<u16>() {
                        Ok(c) if CloseCode(c).is_allowed_on_wire() => {
                            if reason.len() > 123 {
                                Err("a close reason is at most 123 bytes (RFC 6455 §5.5)".into())
                            } else {
                                Ok(Command::Close(c, reason))
                            }
                        }
                        _ => Err(format!(
                            "{c:?} is not a close code an endpoint may send (RFC 6455 §7.4)"
                        )),
                    },
                }
            }
            _ => return None,
        })
    }

    /// Queues what the command sends.
    pub fn run(&self, sender: &mut Sender) -> Result<(), wslens::Error> {
        match *self {
            Command::Ping(payload) => sender.ping(payload.as_bytes()),
            Command::Fragments(n) => {
                let text = FRAGMENTED_TEXT.as_bytes();
                // N pieces of near-equal length. A cut may fall inside "§" (two bytes in
                // UTF-8): that is legal, text is valid UTF-8 over the whole message (§5.6).
                for i in 0..n {
                    let piece = &text[i * text.len() / n..(i + 1) * text.len() / n];
                    let opcode = if i == 0 {
                        OpCode::Text
                    } else {
                        OpCode::Continuation
                    };
                    // Uncompressed even with permessage-deflate, so each piece reads as text.
                    sender.send_frame_uncompressed(opcode, piece, i + 1 == n)?;
                    if i == 0 {
                        sender.ping(b"between fragments")?;
                    }
                }
                Ok(())
            }
            Command::Deflate(text) => {
                // Twice compressed: with context takeover (RFC 7692 §7.2.3.2) the second
                // copy refers back to the first and shrinks.
                sender.send_text(text)?;
                sender.send_text(text)?;
                sender.send_uncompressed(OpCode::Text, text.as_bytes())
            }
            Command::Close(code, reason) => sender.close(CloseCode(code), reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_their_defaults_and_bounds() {
        assert_eq!(Command::parse("hello"), None);
        assert_eq!(Command::parse("/pingx"), None);
        assert_eq!(Command::parse("/ping"), Some(Ok(Command::Ping("wslens"))));
        assert_eq!(Command::parse("/ping hi"), Some(Ok(Command::Ping("hi"))));
        assert!(matches!(
            Command::parse(&format!("/ping {}", "x".repeat(126))),
            Some(Err(_))
        ));
        assert_eq!(
            Command::parse("/fragments"),
            Some(Ok(Command::Fragments(3)))
        );
        assert_eq!(
            Command::parse("/fragments 16"),
            Some(Ok(Command::Fragments(16)))
        );
        assert!(matches!(Command::parse("/fragments 1"), Some(Err(_))));
        assert!(matches!(Command::parse("/fragments 17"), Some(Err(_))));
        assert!(matches!(Command::parse("/fragments x"), Some(Err(_))));
        assert_eq!(Command::parse("/close"), Some(Ok(Command::Close(1000, ""))));
        assert_eq!(
            Command::parse("/close 4000 see you"),
            Some(Ok(Command::Close(4000, "see you")))
        );
        for bad in [
            "/close 1005",
            "/close 1006",
            "/close 999",
            "/close 5000",
            "/close x",
        ] {
            assert!(matches!(Command::parse(bad), Some(Err(_))), "{bad}");
        }
        assert!(matches!(
            Command::parse(&format!("/close 1000 {}", "r".repeat(124))),
            Some(Err(_))
        ));
        assert!(matches!(
            Command::parse("/deflate"),
            Some(Ok(Command::Deflate(_)))
        ));
    }

    #[test]
    fn fragments_cover_the_text_in_n_frames_with_a_ping_after_the_first() {
        for n in 2..=16 {
            let mut server = wslens::Connection::accepted(wslens::Config::default());
            Command::Fragments(n).run(server.sender()).unwrap();
            let wire = server.take_output();
            let mut client = wslens::Connection::connected(wslens::Config::default(), || [0; 4]);
            let ins = wslens::inspect::inspect_frames(&wire, wslens::Role::Client);
            assert!(ins.error.is_none(), "{n}");
            assert_eq!(ins.frames.len(), n + 1, "{n}: N data frames and a ping");
            let opcodes: Vec<_> = ins
                .frames
                .iter()
                .map(|f| f.header.unwrap().opcode)
                .collect();
            assert_eq!(opcodes[0], OpCode::Text);
            assert_eq!(opcodes[1], OpCode::Ping);
            assert!(opcodes[2..].iter().all(|o| *o == OpCode::Continuation));
            let mut events = Vec::new();
            client.receive(&wire, &mut events).unwrap();
            assert_eq!(
                events.last(),
                Some(&wslens::OwnedEvent::Text(FRAGMENTED_TEXT.into()))
            );
        }
    }

    fn limits(bytes: usize, sessions: usize) -> TranscriptLimits {
        TranscriptLimits {
            bytes,
            ttl: Duration::from_secs(600),
            sessions,
        }
    }

    #[test]
    fn a_transcript_never_holds_more_than_its_bound() {
        let store = Transcripts::new(limits(1000, 4));
        let now = Instant::now();
        store.open("a", now);
        for i in 0..10_000 {
            store.push("a", &wire_record(&[i as u8; 40], &[1; 10], i));
            assert!(store.held("a").unwrap() <= 1000);
        }
        let json = store.render("a", now).unwrap();
        assert!(json.len() < 1100, "{}", json.len());
        assert!(json.contains(r#""dropped":"#));
        assert!(!json.contains(r#""dropped":0,"#));
        // The newest record is kept.
        assert!(json.contains(r#""t":9999}}]}"#));
        // One record over the bound is replaced by a note of its size.
        store.push("a", &"x".repeat(5000));
        assert!(store
            .render("a", now)
            .unwrap()
            .ends_with(r#"{"omitted":{"bytes":5000}}]}"#));
    }

    #[test]
    fn sessions_expire_and_the_oldest_go_past_the_count() {
        let store = Transcripts::new(limits(1000, 2));
        let t0 = Instant::now();
        store.open("a", t0);
        store.open("b", t0);
        store.open("c", t0);
        assert!(
            store.render("a", t0).is_none(),
            "evicted: the oldest past 2"
        );
        assert!(store.render("b", t0).is_some());
        store.push("c", "{}");
        store.close("c");
        let c = store.render("c", t0).unwrap();
        assert_eq!(
            c,
            r#"{"session":"c","open":false,"dropped":0,"records":[{}]}"#
        );
        let later = t0 + Duration::from_secs(600);
        assert!(store.render("c", later).is_none(), "expired after the ttl");
        assert!(store.render("b", later).is_none());
    }

    #[test]
    fn session_ids_are_128_bit_hex_and_differ() {
        let a = new_session_id();
        let b = new_session_id();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
