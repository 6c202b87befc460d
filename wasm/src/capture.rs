//! Captures and HARs for the page: the same `wslens-capture` readers the CLI's
//! `inspect --pcap` and `--har` use, with their output as the same JSON objects. A capture is
//! read through a callback, slice by slice (the page's worker reads the dropped file with
//! `FileReaderSync`), so it is never held whole.

use js_sys::{Function, Uint8Array};
use std::io::Read;
use wasm_bindgen::prelude::*;
use wslens::inspect::session::Direction;
use wslens_capture::{har, read_sessions, show, Found};

/// Payload bytes listed per frame in the JSON (as the CLI does).
const DETAIL: usize = 64;

/// The file, read through `read(offset, length) -> Uint8Array`.
struct JsSource<'a> {
    read: &'a Function,
    offset: f64,
}

impl Read for JsSource<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let len = buf.len().min(1 << 20);
        let got = self
            .read
            .call2(
                &JsValue::NULL,
                &JsValue::from(self.offset),
                &JsValue::from(len as f64),
            )
            .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        let bytes = Uint8Array::new(&got);
        let n = (bytes.length() as usize).min(len);
        bytes.subarray(0, n as u32).copy_to(&mut buf[..n]);
        self.offset += n as f64;
        Ok(n)
    }
}

fn call(f: &Function, args: &[JsValue]) {
    let array = js_sys::Array::new();
    for a in args {
        array.push(a);
    }
    let _ = f.apply(&JsValue::NULL, &array);
}

/// Hands `keep` a session direction's bytes: `keep(session, fromClient, offset, bytes)`.
fn kept(keep: &Function, session: usize, direction: Direction, offset: u64, bytes: &[u8]) {
    call(
        keep,
        &[
            (session as f64).into(),
            (direction == Direction::ClientToServer).into(),
            (offset as f64).into(),
            Uint8Array::from(bytes).into(),
        ],
    );
}

/// Reads a pcap or pcapng capture: `read(offset, length)` returns the file's bytes there (fewer
/// at its end, none past it); `emit(json)` gets each event as one JSON object in text, the
/// objects `wslens inspect --pcap --json` prints (`session`, `request`, `response`,
/// `upgraded`, `frame`, `message`, `error`, `gap`, `incomplete`); `keep(session, fromClient,
/// offset, bytes)` gets each session direction's reassembled bytes (offset 0 is the
/// direction's first byte, its head's). Returns the summary object's JSON; an unreadable file
/// is a JavaScript `Error` saying why.
#[wasm_bindgen(js_name = readCapture)]
pub fn read_capture(read: &Function, emit: &Function, keep: &Function) -> Result<String, JsValue> {
    let source = JsSource { read, offset: 0.0 };
    // Times as the CLI prints them: seconds since the session's first event.
    let mut starts = std::collections::HashMap::new();
    let report = read_sessions(
        source,
        wslens::Config::default(),
        DETAIL,
        |found| match found {
            Found::Session(info) => call(emit, &[show::session_json(info).to_string().into()]),
            Found::Event {
                session,
                time,
                event,
            } => call(
                emit,
                &[show::session_event_json(
                    session.id,
                    time - *starts.entry(session.id).or_insert(time),
                    event,
                    false,
                )
                .to_string()
                .into()],
            ),
            Found::Bytes {
                session,
                direction,
                offset,
                bytes,
            } => kept(keep, session.id, direction, offset, bytes),
        },
    )
    .map_err(|e| JsValue::from(js_sys::Error::new(&e)))?;
    Ok(show::summary_json(&report).to_string())
}

/// Reads a HAR's WebSocket sessions (the file's text): the same `emit` and `keep` as
/// [`read_capture`], every event marked `reconstructed` (a HAR keeps payloads, not frames).
/// Returns how many sessions it held.
#[wasm_bindgen(js_name = readHar)]
pub fn read_har(text: &str, emit: &Function, keep: &Function) -> Result<u32, JsValue> {
    let error = |e: String| JsValue::from(js_sys::Error::new(&e));
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| error(format!("not a HAR (JSON): {e}")))?;
    let sessions = har::parse_har(&value).map_err(error)?;
    for s in &sessions {
        call(emit, &[show::har_session_json(s).to_string().into()]);
        har::inspect_session(s, DETAIL, |time, event, bytes| {
            if let Some(e) = event {
                call(
                    emit,
                    &[show::session_event_json(s.id, time, e, true)
                        .to_string()
                        .into()],
                );
            }
            if let Some((direction, offset, data)) = bytes {
                kept(keep, s.id, direction, offset, data);
            }
        });
    }
    Ok(sessions.len() as u32)
}
