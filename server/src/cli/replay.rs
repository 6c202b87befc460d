//! `wslens replay FILE --to URL`: the client side of a recorded session (from a capture or a
//! HAR) sent again to a server with its original timing (scaled by `--speed`), and the
//! server's replies compared, message by message, with the recorded ones.

use super::args::ReplayArgs;
use super::client::{Client, ClientOptions};
use std::path::Path;
use std::time::{Duration, Instant};
use wslens::inspect::session::{Direction, SessionEvent};
use wslens::{CloseCode, Config, OwnedEvent};
use wslens_capture::har::read_har;
use wslens_capture::sessions::{read_sessions, Found};

/// One recorded message.
#[derive(Clone, Debug, PartialEq)]
struct Recorded {
    send: bool,
    /// Seconds since the epoch.
    time: f64,
    event: OwnedEvent,
}

/// What was recorded of a session.
#[derive(Debug, Default)]
struct Session {
    messages: Vec<Recorded>,
    protocols: Vec<String>,
    deflate: bool,
}

fn offered(headers: &[(String, String)], session: &mut Session) {
    for (n, v) in headers {
        if n.eq_ignore_ascii_case("sec-websocket-protocol") {
            session.protocols.extend(
                v.split(',')
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty()),
            );
        }
        if n.eq_ignore_ascii_case("sec-websocket-extensions") && v.contains("permessage-deflate") {
            session.deflate = true;
        }
    }
}

fn load(path: &Path, wanted: usize) -> Result<Session, String> {
    let mut first = [0u8; 1];
    let is_har = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("har"))
        || std::fs::File::open(path)
            .and_then(|mut f| std::io::Read::read(&mut f, &mut first))
            .is_ok_and(|n| n == 1 && first[0] == b'{');
    let mut session = Session::default();
    if is_har {
        let sessions = read_har(path)?;
        let s = sessions
            .into_iter()
            .find(|s| s.id == wanted)
            .ok_or_else(|| format!("{}: no WebSocket session {wanted}", path.display()))?;
        offered(&s.request_headers, &mut session);
        for m in s.messages {
            let event = match m.opcode {
                1 => OwnedEvent::Text(String::from_utf8_lossy(&m.data).into_owned()),
                2 => OwnedEvent::Binary(m.data),
                _ => continue,
            };
            session.messages.push(Recorded {
                send: m.send,
                time: m.time,
                event,
            });
        }
        return Ok(session);
    }
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut found = false;
    let report = read_sessions(std::io::BufReader::new(file), Config::default(), 0, |f| {
        let Found::Event {
            session: info,
            time,
            event,
        } = f
        else {
            return;
        };
        if info.id != wanted {
            return;
        }
        found = true;
        match event {
            SessionEvent::Head {
                direction: Direction::ClientToServer,
                inspection,
                ..
            } => {
                let headers: Vec<(String, String)> = inspection
                    .headers
                    .iter()
                    .map(|h| (h.name.clone(), h.value.clone()))
                    .collect();
                offered(&headers, &mut session);
            }
            SessionEvent::Message { direction, message } => {
                if let Some(e) = &message.event {
                    session.messages.push(Recorded {
                        send: *direction == Direction::ClientToServer,
                        time,
                        event: e.clone(),
                    });
                }
            }
            _ => {}
        }
    })
    .map_err(|e| format!("{}: {e}", path.display()))?;
    if !found {
        return Err(format!(
            "{}: no WebSocket session {wanted} (the capture holds {})",
            path.display(),
            report.sessions
        ));
    }
    Ok(session)
}

fn describe(e: &OwnedEvent) -> String {
    match e {
        OwnedEvent::Text(t) => {
            let s: String = t.chars().take(60).collect();
            format!(
                "text {} B {s:?}{}",
                t.len(),
                if s.len() < t.len() { "…" } else { "" }
            )
        }
        OwnedEvent::Binary(b) => format!("binary {} B", b.len()),
        other => format!("{other:?}"),
    }
}

fn payload(e: &OwnedEvent) -> Option<(&'static str, &[u8])> {
    match e {
        OwnedEvent::Text(t) => Some(("text", t.as_bytes())),
        OwnedEvent::Binary(b) => Some(("binary", b)),
        _ => None,
    }
}

/// `wslens replay`: exit 0 when every reply matched the recording, 1 otherwise.
pub(crate) fn replay(args: ReplayArgs) -> i32 {
    match run(&args) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => super::fail(&e),
    }
}

fn run(args: &ReplayArgs) -> Result<bool, String> {
    if !(args.speed >= 0.0 && args.speed.is_finite()) {
        return Err("--speed must be a finite number ≥ 0".into());
    }
    let session = load(&args.file, args.session)?;
    let sends: Vec<&Recorded> = session.messages.iter().filter(|m| m.send).collect();
    let expected: Vec<&OwnedEvent> = session
        .messages
        .iter()
        .filter(|m| !m.send && payload(&m.event).is_some())
        .map(|m| &m.event)
        .collect();
    let opts = ClientOptions {
        protocols: session.protocols.clone(),
        deflate: session
            .deflate
            .then(wslens::deflate::DeflateConfig::default),
        tls: args.tls.config(&args.to)?,
        ..ClientOptions::default()
    };
    let (mut client, _) = Client::connect(&args.to, &opts).map_err(|e| e.to_string())?;
    let t0 = sends.first().map_or(0.0, |m| m.time);
    let started = Instant::now();
    let mut received: Vec<OwnedEvent> = Vec::new();
    let mut closed = false;
    let pump = |client: &mut Client,
                until: Instant,
                received: &mut Vec<OwnedEvent>,
                closed: &mut bool|
     -> Result<(), String> {
        while !*closed {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match client.next_event(Some(left)).map_err(|e| e.to_string())? {
                Some(OwnedEvent::Close { .. }) => *closed = true,
                Some(e) if payload(&e).is_some() => received.push(e),
                Some(_) => {}
                None => break,
            }
        }
        Ok(())
    };
    for m in &sends {
        let at = if args.speed == 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(((m.time - t0) / args.speed).max(0.0))
        };
        pump(&mut client, started + at, &mut received, &mut closed)?;
        if closed {
            break;
        }
        let sent = match &m.event {
            OwnedEvent::Text(t) => client.send_text(t),
            OwnedEvent::Binary(b) => client.send_binary(b),
            OwnedEvent::Ping(p) => client.ping(p),
            OwnedEvent::Close { code, reason } => {
                client.close(code.unwrap_or(CloseCode(1000)), reason)
            }
            _ => Ok(()),
        };
        sent.map_err(|e| format!("sending: {e}"))?;
    }
    // The replies still to come: until as many as recorded, or --wait passes quietly.
    let mut quiet_until = Instant::now() + args.wait;
    while !closed && received.len() < expected.len() && Instant::now() < quiet_until {
        let before = received.len();
        pump(&mut client, quiet_until, &mut received, &mut closed)?;
        if received.len() > before {
            quiet_until = Instant::now() + args.wait;
        }
    }
    if !closed {
        let _ = client.close(CloseCode(1000), "replay done");
        let _ = client.next_event(Some(Duration::from_millis(500)));
    }
    Ok(compare(args, &sends, &expected, &received))
}

fn compare(
    args: &ReplayArgs,
    sends: &[&Recorded],
    expected: &[&OwnedEvent],
    received: &[OwnedEvent],
) -> bool {
    let mut first_difference = None;
    let mut same = 0;
    for i in 0..expected.len().max(received.len()) {
        let (want, got) = (expected.get(i).copied(), received.get(i));
        let verdict = match (want, got) {
            (Some(w), Some(g)) if payload(w) == payload(g) => {
                same += 1;
                None
            }
            (Some(w), Some(g)) => {
                let (a, b) = (
                    payload(w).map_or(&[][..], |p| p.1),
                    payload(g).map_or(&[][..], |p| p.1),
                );
                let at = a
                    .iter()
                    .zip(b)
                    .position(|(x, y)| x != y)
                    .unwrap_or(a.len().min(b.len()));
                Some(format!(
                    "recorded {}, received {} (first difference at byte {at})",
                    describe(w),
                    describe(g)
                ))
            }
            (Some(w), None) => Some(format!("recorded {}, received nothing", describe(w))),
            (None, Some(g)) => Some(format!("not recorded, received {}", describe(g))),
            (None, None) => None,
        };
        if let Some(why) = verdict {
            first_difference.get_or_insert(i);
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"event": "difference", "reply": i, "why": why})
                );
            } else {
                println!("reply {i}: differs: {why}");
            }
        }
    }
    let ok = first_difference.is_none();
    if args.json {
        println!(
            "{}",
            serde_json::json!({"event": "summary", "sent": sends.len(), "recorded_replies": expected.len(),
                "received_replies": received.len(), "same": same, "first_difference": first_difference, "ok": ok})
        );
    } else {
        println!(
            "replayed {} message(s) to {}: {} repl{} recorded, {} received, {same} identical{}",
            sends.len(),
            args.to,
            expected.len(),
            if expected.len() == 1 { "y" } else { "ies" },
            received.len(),
            first_difference.map_or_else(
                || "; every reply matches".to_string(),
                |i| format!("; first difference at reply {i}")
            )
        );
    }
    ok
}
