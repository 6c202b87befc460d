//! HAR files in the shape Chrome DevTools saves WebSocket sessions: an entry per session with
//! `_resourceType: "websocket"` and `_webSocketMessages` of `{type, time, opcode, data}`
//! (text as is, binary in base64). What `wslens proxy --har` writes and `inspect --har` and
//! `replay` read. A HAR keeps payloads, not frames: masking keys, FIN, RSV bits, fragments and
//! compressed bytes are gone, so whatever is shown from one is reconstructed.
//!
//! Writing keeps memory bounded: each open session's messages go to a spool file beside the
//! HAR, and a session's entry is appended when it ends. The HAR is valid JSON after every
//! entry (its closing brackets are rewritten each time), and [`HarLog::finish_all`] appends
//! the sessions still open (what Ctrl-C calls).

use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The tail that closes the entries array and the log.
const TAIL: &[u8] = b"\n]}}\n";

/// Seconds since the epoch, as HAR message times are.
pub fn epoch_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// An ISO 8601 date-time, UTC, with milliseconds (HAR's `startedDateTime`).
pub fn iso8601(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// One session being recorded.
struct Open {
    spool: BufWriter<File>,
    spool_path: PathBuf,
    messages: u64,
    started: SystemTime,
    request: Value,
    response: Value,
}

/// A HAR file being written, with its sessions still open.
pub struct HarLog {
    file: File,
    path: PathBuf,
    entries: u64,
    open: HashMap<u64, Open>,
}

impl HarLog {
    /// Creates (or truncates) `path` with an empty log.
    pub fn create(path: &Path) -> io::Result<HarLog> {
        let mut file = File::create(path)?;
        let head = json!({
            "version": "1.2",
            "creator": {"name": "wslens", "version": env!("CARGO_PKG_VERSION")},
            "pages": [],
        })
        .to_string();
        // `{"log":{...,"entries":[` then the tail.
        let head = format!("{{\"log\":{},\"entries\":[", &head[..head.len() - 1]);
        file.write_all(head.as_bytes())?;
        file.write_all(TAIL)?;
        file.flush()?;
        Ok(HarLog {
            file,
            path: path.to_owned(),
            entries: 0,
            open: HashMap::new(),
        })
    }

    /// Starts session `id`: its request (`url`, `headers`) and response (`status`, `reason`,
    /// `headers`).
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        &mut self,
        id: u64,
        started: SystemTime,
        url: &str,
        request_headers: &[(String, String)],
        status: u16,
        reason: &str,
        response_headers: &[(String, String)],
    ) -> io::Result<()> {
        let spool_path = self.path.with_extension(format!("har.{id}.part"));
        let spool = BufWriter::new(File::create(&spool_path)?);
        let headers = |h: &[(String, String)]| -> Value {
            h.iter()
                .map(|(n, v)| json!({"name": n, "value": v}))
                .collect()
        };
        let query: Vec<Value> = url::Url::parse(url)
            .map(|u| {
                u.query_pairs()
                    .map(|(n, v)| json!({"name": n, "value": v}))
                    .collect()
            })
            .unwrap_or_default();
        self.open.insert(
            id,
            Open {
                spool,
                spool_path,
                messages: 0,
                started,
                request: json!({
                    "method": "GET",
                    "url": url,
                    "httpVersion": "HTTP/1.1",
                    "headers": headers(request_headers),
                    "queryString": query,
                    "cookies": [],
                    "headersSize": -1,
                    "bodySize": 0,
                }),
                response: json!({
                    "status": status,
                    "statusText": reason,
                    "httpVersion": "HTTP/1.1",
                    "headers": headers(response_headers),
                    "cookies": [],
                    "content": {"size": 0, "mimeType": "x-unknown"},
                    "redirectURL": "",
                    "headersSize": -1,
                    "bodySize": 0,
                }),
            },
        );
        Ok(())
    }

    /// A message of session `id`: `send` from the client, else received from the server.
    pub fn message(
        &mut self,
        id: u64,
        send: bool,
        time: SystemTime,
        opcode: u8,
        data: &[u8],
    ) -> io::Result<()> {
        let Some(open) = self.open.get_mut(&id) else {
            return Ok(());
        };
        let data = if opcode == 1 {
            String::from_utf8_lossy(data).into_owned()
        } else {
            base64::engine::general_purpose::STANDARD.encode(data)
        };
        let m = json!({
            "type": if send { "send" } else { "receive" },
            "time": epoch_seconds(time),
            "opcode": opcode,
            "data": data,
        });
        if open.messages > 0 {
            open.spool.write_all(b",")?;
        }
        open.spool.write_all(b"\n")?;
        serde_json::to_writer(&mut open.spool, &m)?;
        open.messages += 1;
        Ok(())
    }

    /// Ends session `id`: its entry is appended to the file.
    pub fn end(&mut self, id: u64, ended: SystemTime) -> io::Result<()> {
        let Some(open) = self.open.remove(&id) else {
            return Ok(());
        };
        let Open {
            spool,
            spool_path,
            started,
            request,
            response,
            ..
        } = open;
        spool.into_inner().map_err(|e| e.into_error())?;
        let ms = ended
            .duration_since(started)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        let entry = json!({
            "startedDateTime": iso8601(started),
            "time": ms,
            "request": request,
            "response": response,
            "cache": {},
            "timings": {"blocked": -1, "dns": -1, "connect": -1, "send": 0, "wait": 0, "receive": 0, "ssl": -1},
            "_resourceType": "websocket",
        })
        .to_string();
        // The entry without its closing brace, the spooled messages, then `]}`.
        let open_end = entry.len() - "}".len();
        self.file.seek(SeekFrom::End(-(TAIL.len() as i64)))?;
        let mut w = BufWriter::new(&mut self.file);
        if self.entries > 0 {
            w.write_all(b",")?;
        }
        w.write_all(b"\n")?;
        w.write_all(&entry.as_bytes()[..open_end])?;
        w.write_all(b",\"_webSocketMessages\":[")?;
        io::copy(&mut File::open(&spool_path)?, &mut w)?;
        w.write_all(b"]}")?;
        w.write_all(TAIL)?;
        w.flush()?;
        drop(w);
        self.file.flush()?;
        self.entries += 1;
        let _ = std::fs::remove_file(&spool_path);
        Ok(())
    }

    /// Ends every open session (Ctrl-C): the file then holds them all.
    pub fn finish_all(&mut self, ended: SystemTime) -> io::Result<()> {
        let mut ids: Vec<u64> = self.open.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            self.end(id, ended)?;
        }
        Ok(())
    }
}

impl Drop for HarLog {
    fn drop(&mut self) {
        let _ = self.finish_all(SystemTime::now());
    }
}

/// One WebSocket message as a HAR keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct HarMessage {
    /// Sent by the client (`"send"`), else received.
    pub send: bool,
    /// Seconds since the epoch.
    pub time: f64,
    /// 1 text, 2 binary (others as given).
    pub opcode: u8,
    /// The payload (binary decoded from base64).
    pub data: Vec<u8>,
}

/// One WebSocket session from a HAR.
#[derive(Clone, Debug, PartialEq)]
pub struct HarSession {
    /// Its number among the HAR's WebSocket entries, from 1.
    pub id: usize,
    /// The URL.
    pub url: String,
    /// The request headers.
    pub request_headers: Vec<(String, String)>,
    /// The response status.
    pub status: u16,
    /// The response's reason phrase.
    pub status_text: String,
    /// The response headers.
    pub response_headers: Vec<(String, String)>,
    /// The messages, in order.
    pub messages: Vec<HarMessage>,
}

/// The largest HAR read: a HAR is one JSON document and is read whole.
pub const MAX_HAR: u64 = 512 << 20;

/// The WebSocket sessions of a HAR file.
pub fn read_har(path: &Path) -> Result<Vec<HarSession>, String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > MAX_HAR {
        return Err(format!(
            "{}: {len} bytes is more than the {} MiB a HAR is read up to (a HAR is read whole)",
            path.display(),
            MAX_HAR >> 20
        ));
    }
    let value: Value = serde_json::from_reader(BufReader::new(file.take(MAX_HAR)))
        .map_err(|e| format!("{}: not a HAR (JSON): {e}", path.display()))?;
    parse_har(&value).map_err(|e| format!("{}: {e}", path.display()))
}

/// The WebSocket sessions of a parsed HAR.
pub fn parse_har(value: &Value) -> Result<Vec<HarSession>, String> {
    let entries = value
        .pointer("/log/entries")
        .and_then(Value::as_array)
        .ok_or("not a HAR: no log.entries array")?;
    let headers = |v: Option<&Value>| -> Vec<(String, String)> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|h| {
                        Some((
                            h.get("name")?.as_str()?.to_owned(),
                            h.get("value")?.as_str()?.to_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for entry in entries {
        let is_ws = entry.get("_resourceType").and_then(Value::as_str) == Some("websocket")
            || entry.get("_webSocketMessages").is_some();
        if !is_ws {
            continue;
        }
        let mut messages = Vec::new();
        for (i, m) in entry
            .get("_webSocketMessages")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let bad =
                |what: &str| format!("WebSocket entry {}: message {i}: {what}", out.len() + 1);
            let send = match m.get("type").and_then(Value::as_str) {
                Some("send") => true,
                Some("receive") => false,
                _ => return Err(bad("type is neither \"send\" nor \"receive\"")),
            };
            let opcode = m
                .get("opcode")
                .and_then(Value::as_u64)
                .and_then(|o| u8::try_from(o).ok())
                .filter(|o| *o < 16)
                .ok_or_else(|| bad("no opcode 0-15"))?;
            let data = m.get("data").and_then(Value::as_str).unwrap_or("");
            let data = if opcode == 1 {
                data.as_bytes().to_vec()
            } else {
                base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .map_err(|e| bad(&format!("binary data is not base64: {e}")))?
            };
            messages.push(HarMessage {
                send,
                time: m.get("time").and_then(Value::as_f64).unwrap_or(0.0),
                opcode,
                data,
            });
        }
        out.push(HarSession {
            id: out.len() + 1,
            url: entry
                .pointer("/request/url")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            request_headers: headers(entry.pointer("/request/headers")),
            status: entry
                .pointer("/response/status")
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(0),
            status_text: entry
                .pointer("/response/statusText")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            response_headers: headers(entry.pointer("/response/headers")),
            messages,
        });
    }
    Ok(out)
}

/// The masking key of reconstructed client frames: a HAR keeps none.
pub const REBUILT_MASK: [u8; 4] = *b"mask";

/// A HAR session as the bytes it could have been on the wire: the request and response
/// heads from the recorded headers (the ones a WebSocket head needs added when the HAR left
/// them out), and each message as one unfragmented, uncompressed frame encoded by the core
/// (client frames masked with [`REBUILT_MASK`]). Each piece with its direction and time.
pub fn rebuild(session: &HarSession) -> Vec<(wslens::inspect::session::Direction, f64, Vec<u8>)> {
    use wslens::inspect::session::Direction;
    let target = url::Url::parse(&session.url).ok();
    let path = target.as_ref().map_or_else(
        || "/".to_string(),
        |u| match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        },
    );
    let has =
        |h: &[&(String, String)], name: &str| h.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let line_safe = |s: &str| !s.contains(['\r', '\n']);
    let mut request = format!("GET {path} HTTP/1.1\r\n");
    let headers: Vec<&(String, String)> = session
        .request_headers
        .iter()
        .filter(|(n, v)| !n.starts_with(':') && line_safe(n) && line_safe(v))
        .collect();
    if !has(&headers, "host") {
        let host = target
            .as_ref()
            .and_then(|u| {
                Some(match u.port() {
                    Some(p) => format!("{}:{p}", u.host_str()?),
                    None => u.host_str()?.to_string(),
                })
            })
            .unwrap_or_else(|| "unknown".into());
        request.push_str(&format!("Host: {host}\r\n"));
    }
    for (n, v) in &headers {
        request.push_str(&format!("{n}: {v}\r\n"));
    }
    for (name, value) in [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ] {
        if !has(&headers, name) {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    request.push_str("\r\n");
    let status = if session.status == 0 {
        101
    } else {
        session.status
    };
    let reason = if session.status_text.is_empty() || !line_safe(&session.status_text) {
        wslens::handshake::reason_phrase(status).to_string()
    } else {
        session.status_text.clone()
    };
    let mut response = format!("HTTP/1.1 {status} {reason}\r\n");
    for (n, v) in &session.response_headers {
        if !n.starts_with(':') && line_safe(n) && line_safe(v) {
            response.push_str(&format!("{n}: {v}\r\n"));
        }
    }
    response.push_str("\r\n");
    let start = session.messages.first().map_or(0.0, |m| m.time);
    let mut out = vec![
        (Direction::ClientToServer, start, request.into_bytes()),
        (Direction::ServerToClient, start, response.into_bytes()),
    ];
    let mut client = wslens::Connection::connected(wslens::Config::default(), || REBUILT_MASK);
    let mut server = wslens::Connection::accepted(wslens::Config::default());
    for m in &session.messages {
        let Some(op) = wslens::OpCode::from_u8(m.opcode) else {
            continue;
        };
        let (conn, direction) = if m.send {
            (&mut client, Direction::ClientToServer)
        } else {
            (&mut server, Direction::ServerToClient)
        };
        let sent = match op {
            wslens::OpCode::Ping => conn.ping(&m.data),
            wslens::OpCode::Pong => conn.pong(&m.data),
            wslens::OpCode::Close => {
                let (code, reason) = match m.data.as_slice() {
                    [a, b, rest @ ..] => (
                        u16::from_be_bytes([*a, *b]),
                        String::from_utf8_lossy(rest).into_owned(),
                    ),
                    _ => (1000, String::new()),
                };
                conn.close(wslens::CloseCode(code), &reason)
            }
            op => conn.send_uncompressed(op, &m.data),
        };
        if sent.is_ok() {
            out.push((direction, m.time, conn.take_output()));
        }
    }
    out
}

/// Reads a HAR session's reconstructed bytes through a session inspector: `f` gets each
/// event with its time (seconds since the session's first message; NaN at the end) and then,
/// with `None`, each piece of bytes after the events it completed.
pub fn inspect_session(
    session: &HarSession,
    payload_detail: usize,
    mut f: impl FnMut(
        f64,
        Option<&wslens::inspect::session::SessionEvent>,
        Option<(wslens::inspect::session::Direction, u64, &[u8])>,
    ),
) {
    let mut ins = wslens::inspect::session::SessionInspector::new(wslens::Config::default());
    ins.payload_detail = payload_detail;
    let mut events = Vec::new();
    let start = session.messages.first().map_or(0.0, |m| m.time);
    for (direction, time, bytes) in rebuild(session) {
        let offset = ins.offset(direction);
        ins.feed(direction, &bytes, &mut events);
        for e in events.drain(..) {
            f(time - start, Some(&e), None);
        }
        f(time - start, None, Some((direction, offset, &bytes)));
    }
    ins.finish(&mut events);
    for e in events.drain(..) {
        f(f64::NAN, Some(&e), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_sessions_read_back_and_the_file_is_always_valid() {
        let dir = std::env::temp_dir().join(format!("wslens-har-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.har");
        let mut log = HarLog::create(&path).unwrap();
        let valid = |p: &Path| -> Vec<HarSession> {
            read_har(p).unwrap_or_else(|e| panic!("{e}: {}", std::fs::read_to_string(p).unwrap()))
        };
        assert!(valid(&path).is_empty());
        let t = SystemTime::now();
        let h = vec![("Host".to_string(), "example.com".to_string())];
        log.start(
            1,
            t,
            "ws://example.com/echo?x=1",
            &h,
            101,
            "Switching Protocols",
            &[],
        )
        .unwrap();
        log.start(
            2,
            t,
            "ws://example.com/other",
            &h,
            101,
            "Switching Protocols",
            &[],
        )
        .unwrap();
        log.message(1, true, t, 1, b"hello \"quoted\"").unwrap();
        log.message(1, false, t, 2, &[0, 255, 1]).unwrap();
        log.end(1, t).unwrap();
        let one = valid(&path);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].url, "ws://example.com/echo?x=1");
        assert_eq!(
            one[0]
                .messages
                .iter()
                .map(|m| (m.send, m.opcode, m.data.clone()))
                .collect::<Vec<_>>(),
            [
                (true, 1, b"hello \"quoted\"".to_vec()),
                (false, 2, vec![0, 255, 1])
            ]
        );
        log.message(2, true, t, 1, b"x").unwrap();
        log.finish_all(t).unwrap();
        let both = valid(&path);
        assert_eq!(both.len(), 2);
        assert_eq!(both[1].messages.len(), 1);
        let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            raw.pointer("/log/entries/0/_resourceType").unwrap(),
            "websocket"
        );
        assert_eq!(
            raw.pointer("/log/entries/0/request/queryString/0/name")
                .unwrap(),
            "x"
        );
        assert!(std::fs::read_dir(&dir).unwrap().all(|e| !e
            .unwrap()
            .path()
            .to_string_lossy()
            .ends_with(".part")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_hars_say_why() {
        assert!(parse_har(&json!({"x": 1}))
            .unwrap_err()
            .contains("log.entries"));
        let bad = json!({"log": {"entries": [{"_resourceType": "websocket", "_webSocketMessages": [{"type": "sent", "opcode": 1, "data": ""}]}]}});
        assert!(parse_har(&bad).unwrap_err().contains("neither"));
        let bad = json!({"log": {"entries": [{"_webSocketMessages": [{"type": "send", "opcode": 2, "data": "!!"}]}]}});
        assert!(parse_har(&bad).unwrap_err().contains("base64"));
        let plain = json!({"log": {"entries": [{"request": {"url": "http://x/"}}]}});
        assert!(parse_har(&plain).unwrap().is_empty());
    }
}
