//! `wslens listen`, and the printing of received messages that `send` shares.

use super::args::ListenArgs;
use super::client::Client;
use std::time::Duration;
use wslens::OwnedEvent;

/// Prints one received message; false for events that end the conversation.
pub(crate) fn print_event(event: &OwnedEvent, json: bool, started: std::time::Instant) -> bool {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let t = started.elapsed().as_secs_f64();
    let _ = match (event, json) {
        (OwnedEvent::Text(s), false) => writeln!(out, "{s}"),
        (OwnedEvent::Binary(b), false) => writeln!(out, "{}", hex(b)),
        (OwnedEvent::Text(s), true) => writeln!(
            out,
            r#"{{"type":"text","opcode":1,"length":{},"time":{t:.6},"data":{}}}"#,
            s.len(),
            serde_json::Value::from(s.as_str())
        ),
        (OwnedEvent::Binary(b), true) => writeln!(
            out,
            r#"{{"type":"binary","opcode":2,"length":{},"time":{t:.6},"hex":"{}"}}"#,
            b.len(),
            hex(b).replace(' ', "")
        ),
        (OwnedEvent::Ping(b), true) => writeln!(
            out,
            r#"{{"type":"ping","opcode":9,"length":{},"time":{t:.6}}}"#,
            b.len()
        ),
        (OwnedEvent::Pong(b), true) => writeln!(
            out,
            r#"{{"type":"pong","opcode":10,"length":{},"time":{t:.6}}}"#,
            b.len()
        ),
        (OwnedEvent::Close { code, reason }, true) => writeln!(
            out,
            r#"{{"type":"close","opcode":8,"code":{},"reason":{},"time":{t:.6}}}"#,
            code.map_or("null".into(), |c| c.0.to_string()),
            serde_json::Value::from(reason.as_str())
        ),
        _ => Ok(()),
    };
    !matches!(event, OwnedEvent::Close { .. })
}

/// Bytes as space-separated lowercase hex pairs.
fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reports how the server closed: Ok for 1000/1001, Err otherwise.
pub(crate) fn closed(code: Option<wslens::CloseCode>, reason: &str) -> Result<(), String> {
    match code {
        Some(c) if c.0 == 1000 || c.0 == 1001 => {
            eprintln!(
                "closed: {} ({}){}",
                c.0,
                c.meaning(),
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(" {reason:?}")
                }
            );
            Ok(())
        }
        Some(c) => Err(format!(
            "closed abnormally: {} ({}) {reason:?}",
            c.0,
            c.meaning()
        )),
        None => Err("closed without a status code".into()),
    }
}

/// `wslens listen`.
pub(crate) fn listen(args: ListenArgs) -> Result<(), String> {
    let opts = args.connect.options()?;
    let (mut client, resp) =
        Client::connect(&args.connect.url, &opts).map_err(|e| e.to_string())?;
    eprintln!(
        "connected to {}{}",
        args.connect.url,
        resp.protocol
            .map(|p| format!(" (subprotocol {p})"))
            .unwrap_or_default()
    );
    let started = std::time::Instant::now();
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = interrupted.clone();
    super::on_termination(move || flag.store(true, std::sync::atomic::Ordering::Release))
        .map_err(|e| e.to_string())?;
    let mut closing = false;
    loop {
        if !closing && interrupted.load(std::sync::atomic::Ordering::Acquire) {
            // Ctrl-C: close cleanly (1000) and wait for the server's reply.
            client
                .close(wslens::CloseCode::NORMAL, "")
                .map_err(|e| e.to_string())?;
            closing = true;
        }
        match client
            .next_event(Some(Duration::from_millis(200)))
            .map_err(|e| e.to_string())?
        {
            Some(OwnedEvent::Close { code, reason }) => {
                let event = OwnedEvent::Close {
                    code,
                    reason: reason.clone(),
                };
                print_event(&event, args.json, started);
                return closed(code, &reason);
            }
            Some(e) => {
                print_event(&e, args.json, started);
            }
            None if closing && client.state() == wslens::State::Closed => return Ok(()),
            None => {}
        }
    }
}
