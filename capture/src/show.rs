//! Session events for people (one line each) and for programs (one JSON object each): what
//! `inspect --pcap`, `inspect --har` and `proxy` print.

use base64::Engine as _;
use serde_json::{json, Value};
use wslens::inspect::session::{Direction, SessionEvent};
use wslens::inspect::{FrameView, MessageView};
use wslens::OwnedEvent;

/// Most characters of a text message shown on one line.
const TEXT_SHOWN: usize = 120;

fn side(d: Direction) -> &'static str {
    match d {
        Direction::ClientToServer => "client",
        Direction::ServerToClient => "server",
    }
}

/// `client` or `server`: who sent the bytes (the JSON's `from`).
pub fn sender(d: Direction) -> &'static str {
    side(d)
}

fn frame_line(number: usize, f: &FrameView) -> String {
    let Some(h) = f.header else {
        return format!(
            "frame {number}  bytes {}..{}  cut short inside its header",
            f.start, f.end
        );
    };
    let mut flags = Vec::new();
    if h.fin {
        flags.push("FIN".to_string());
    }
    for (bit, name) in [(4u8, "RSV1"), (2, "RSV2"), (1, "RSV3")] {
        if h.rsv & bit != 0 {
            flags.push(name.into());
        }
    }
    let mask = match h.mask {
        Some(k) => format!(
            "masked key {:02x}{:02x}{:02x}{:02x}",
            k[0], k[1], k[2], k[3]
        ),
        None => "unmasked".into(),
    };
    let cut = if f.complete { "" } else { "  (cut short)" };
    format!(
        "frame {number}  bytes {}..{}  {} {}  {mask}  payload {} B{cut}",
        f.start,
        f.end,
        flags.join(" "),
        h.opcode.meaning(),
        h.payload_len,
    )
}

fn shown(event: &OwnedEvent) -> String {
    match event {
        OwnedEvent::Text(t) => {
            let mut s: String = t.chars().take(TEXT_SHOWN).collect();
            if s.len() < t.len() {
                s.push('…');
            }
            format!("{s:?}")
        }
        OwnedEvent::Binary(b) => {
            let hex: Vec<String> = b.iter().take(24).map(|x| format!("{x:02x}")).collect();
            let more = if b.len() > 24 { " …" } else { "" };
            format!("{} bytes: {}{more}", b.len(), hex.join(" "))
        }
        OwnedEvent::Ping(b) => format!("ping {:?}", String::from_utf8_lossy(b)),
        OwnedEvent::Pong(b) => format!("pong {:?}", String::from_utf8_lossy(b)),
        OwnedEvent::Close { code, reason } => match code {
            Some(c) => format!("close {} ({}) {reason:?}", c.0, c.meaning()),
            None => "close without a status code".into(),
        },
        other => format!("{other:?}"),
    }
}

fn message_line(m: &MessageView) -> String {
    let frames: Vec<String> = m.frames.iter().map(ToString::to_string).collect();
    let said = m
        .event
        .as_ref()
        .map_or_else(|| "(not delivered: it broke a rule)".into(), shown);
    if m.opcode.is_control() {
        return format!(
            "{} (frame {}): {said}",
            m.opcode.meaning(),
            frames.join(", ")
        );
    }
    let compressed = if m.compressed {
        format!(", inflated from {} compressed bytes", m.wire_len)
    } else {
        String::new()
    };
    format!(
        "{} message, {} B{compressed}, from frame{} {}: {said}",
        m.opcode.meaning().trim_end_matches(" frame"),
        m.len,
        if frames.len() > 1 { "s" } else { "" },
        frames.join(", "),
    )
}

/// One line for `event` (without the session prefix).
pub fn text(event: &SessionEvent) -> String {
    match event {
        SessionEvent::Head {
            direction,
            inspection,
            len,
        } => {
            let what = if inspection.is_response {
                "response"
            } else {
                "request"
            };
            let mut line = format!(
                "{} {what}  {}  ({len} bytes, {} headers)",
                direction.arrow(),
                inspection.start_line,
                inspection.headers.len()
            );
            if let Some(e) = &inspection.error {
                line.push_str(&format!("  refused: {} ({})", e.reason, e.status));
            }
            line
        }
        SessionEvent::Upgraded { deflate, protocol } => {
            let mut line = "  upgraded to WebSocket".to_string();
            if let Some(d) = deflate {
                line.push_str(&format!(
                    ", permessage-deflate (client window {} bits{}, server window {} bits{})",
                    d.client_max_window_bits,
                    if d.client_no_context_takeover { ", no context takeover" } else { "" },
                    d.server_max_window_bits,
                    if d.server_no_context_takeover { ", no context takeover" } else { "" },
                ));
            }
            if let Some(p) = protocol {
                line.push_str(&format!(", subprotocol {p}"));
            }
            line
        }
        SessionEvent::NotWebSocket { reason } => format!("  not WebSocket: {reason}"),
        SessionEvent::Frame {
            direction,
            number,
            frame,
        } => format!("{} {}", direction.arrow(), frame_line(*number, frame)),
        SessionEvent::Message { direction, message } => {
            format!("{} {}", direction.arrow(), message_line(message))
        }
        SessionEvent::Error { direction, error } => format!(
            "{} error at byte {}: {} ({}); the {} fails the connection with {} ({})",
            direction.arrow(),
            error.offset,
            error.kind.description(),
            error.kind.rfc_section(),
            match direction {
                Direction::ClientToServer => "server",
                Direction::ServerToClient => "client",
            },
            error.close_code.0,
            error.close_code.meaning()
        ),
        SessionEvent::Gap {
            direction,
            offset,
            len,
        } => format!(
            "{} gap: {len} bytes missing at byte {offset} (never captured); the rest of this direction is not read, since a frame boundary cannot be found again without guessing",
            direction.arrow()
        ),
        SessionEvent::Incomplete {
            direction,
            offset,
            waiting_for,
        } => format!(
            "{} incomplete: the bytes end at byte {offset}, waiting for {waiting_for}",
            direction.arrow()
        ),
    }
}

fn event_json(event: &OwnedEvent) -> Value {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    match event {
        OwnedEvent::Text(t) => json!({"text": t}),
        OwnedEvent::Binary(b) => json!({"base64": b64(b)}),
        OwnedEvent::Ping(b) | OwnedEvent::Pong(b) => json!({"base64": b64(b)}),
        OwnedEvent::Close { code, reason } => {
            json!({"code": code.map(|c| c.0), "reason": reason})
        }
        other => json!({"other": format!("{other:?}")}),
    }
}

/// `event` as one JSON object (without the session fields).
pub fn json(event: &SessionEvent) -> Value {
    match event {
        SessionEvent::Head {
            direction,
            inspection,
            len,
        } => json!({
            "event": if inspection.is_response { "response" } else { "request" },
            "from": side(*direction),
            "start_line": inspection.start_line,
            "headers": inspection.headers.iter().map(|h| json!([h.name, h.value])).collect::<Vec<_>>(),
            "len": len,
            "refused": inspection.error.as_ref().map(|e| json!({"status": e.status, "reason": e.reason})),
        }),
        SessionEvent::Upgraded { deflate, protocol } => json!({
            "event": "upgraded",
            "deflate": deflate.as_ref().map(|d| json!({
                "client_max_window_bits": d.client_max_window_bits,
                "server_max_window_bits": d.server_max_window_bits,
                "client_no_context_takeover": d.client_no_context_takeover,
                "server_no_context_takeover": d.server_no_context_takeover,
            })),
            "protocol": protocol,
        }),
        SessionEvent::NotWebSocket { reason } => {
            json!({"event": "not_websocket", "reason": reason})
        }
        SessionEvent::Frame {
            direction,
            number,
            frame,
        } => {
            let h = frame.header;
            json!({
                "event": "frame",
                "from": side(*direction),
                "number": number,
                "start": frame.start,
                "end": frame.end,
                "complete": frame.complete,
                "fin": h.map(|h| h.fin),
                "rsv": h.map(|h| h.rsv),
                "opcode": h.map(|h| h.opcode as u8),
                "opcode_name": h.map(|h| h.opcode.meaning()),
                "mask": h.and_then(|h| h.mask).map(|k| format!("{:02x}{:02x}{:02x}{:02x}", k[0], k[1], k[2], k[3])),
                "payload_len": h.map(|h| h.payload_len),
                // The first payload bytes, unmasked, in hex (as many as the inspector lists).
                "payload": frame.payload.iter().map(|b| format!("{:02x}", b.plain)).collect::<String>(),
            })
        }
        SessionEvent::Message { direction, message } => {
            let mut v = json!({
                "event": "message",
                "from": side(*direction),
                "opcode": message.opcode as u8,
                "len": message.len,
                "frames": message.frames,
                "compressed": message.compressed,
                "wire_len": message.wire_len,
            });
            if let (Some(e), Some(obj)) = (&message.event, v.as_object_mut()) {
                if let Some(fields) = event_json(e).as_object() {
                    for (k, val) in fields {
                        obj.insert(k.clone(), val.clone());
                    }
                }
            }
            v
        }
        SessionEvent::Error { direction, error } => json!({
            "event": "error",
            "from": side(*direction),
            "offset": error.offset,
            "reason": error.kind.description(),
            "rfc": error.kind.rfc_section(),
            "close_code": error.close_code.0,
        }),
        SessionEvent::Gap {
            direction,
            offset,
            len,
        } => json!({"event": "gap", "from": side(*direction), "offset": offset, "len": len}),
        SessionEvent::Incomplete {
            direction,
            offset,
            waiting_for,
        } => {
            json!({"event": "incomplete", "from": side(*direction), "offset": offset, "waiting_for": waiting_for})
        }
    }
}

/// `event` of session `session` as one JSON object, as `inspect --pcap --json` prints it and
/// the page reads it: [`json`] plus `session`, `time` (seconds since the session's first
/// packet; left out when not known) and, for a HAR's sessions, `reconstructed`.
pub fn session_event_json(
    session: usize,
    time: f64,
    event: &SessionEvent,
    reconstructed: bool,
) -> Value {
    let mut v = json(event);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("session".into(), session.into());
        if time.is_finite() {
            obj.insert("time".into(), serde_json::json!(time));
        }
        if reconstructed {
            obj.insert("reconstructed".into(), true.into());
        }
    }
    v
}

/// A capture's session, as its first JSON object.
pub fn session_json(info: &crate::SessionInfo) -> Value {
    json!({"session": info.id, "event": "session", "client": info.client.to_string(), "server": info.server.to_string()})
}

/// A HAR's session, as its first JSON object.
pub fn har_session_json(s: &crate::har::HarSession) -> Value {
    json!({"session": s.id, "event": "session", "url": s.url, "reconstructed": true, "messages": s.messages.len()})
}

/// A capture's last JSON object: its counts.
pub fn summary_json(report: &crate::Report) -> Value {
    json!({"event": "summary", "packets": report.file.packets, "format": report.file.format,
        "sessions": report.sessions, "other_connections": report.other_connections,
        "unfinished": report.unfinished, "truncated": report.file.truncated})
}
