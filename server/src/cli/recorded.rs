//! `wslens inspect --pcap` and `inspect --har`: the WebSocket sessions of a capture or a HAR,
//! each direction read by the core's session inspector, printed as they are found.

use std::io::Write as _;
use std::path::Path;
use wslens::inspect::session::SessionEvent;
use wslens::Config;
use wslens_capture::har::{inspect_session, read_har};
use wslens_capture::sessions::{read_sessions, Found};
use wslens_capture::show;

/// Payload bytes listed per frame (unmasked, in the JSON's `payload`): kept small, since a
/// capture can be large.
const DETAIL: usize = 64;

/// Prints one event of session `id` at `time` (seconds since its first packet).
fn print_event(
    out: &mut impl std::io::Write,
    json: bool,
    id: usize,
    time: f64,
    event: &SessionEvent,
    reconstructed: bool,
) -> std::io::Result<()> {
    if json {
        writeln!(
            out,
            "{}",
            show::session_event_json(id, time, event, reconstructed)
        )
    } else {
        let t = if time.is_finite() {
            format!("{time:>9.6}")
        } else {
            format!("{:>9}", "end")
        };
        writeln!(out, "#{id} {t} {}", show::text(event))
    }
}

/// `inspect --pcap FILE`: exit 0, or 1 when the file cannot be read or a session broke the
/// protocol.
pub(crate) fn inspect_pcap(path: &Path, json: bool, only: Option<usize>) -> i32 {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return super::fail(&format!("{}: {e}", path.display())),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut broken = false;
    let mut starts = std::collections::HashMap::new();
    let mut write_failed = false;
    let result = read_sessions(
        std::io::BufReader::new(file),
        Config::default(),
        DETAIL,
        |found| {
            if write_failed {
                return;
            }
            let r = match found {
                Found::Session(s) => {
                    if only.is_some_and(|n| n != s.id) {
                        return;
                    }
                    if json {
                        writeln!(out, "{}", show::session_json(s))
                    } else {
                        writeln!(
                            out,
                            "session {}: client {} → server {}",
                            s.id, s.client, s.server
                        )
                    }
                }
                Found::Bytes { .. } => return,
                Found::Event {
                    session,
                    time,
                    event,
                } => {
                    if only.is_some_and(|n| n != session.id) {
                        return;
                    }
                    broken |= matches!(event, SessionEvent::Error { .. });
                    let start = *starts.entry(session.id).or_insert(time);
                    print_event(&mut out, json, session.id, time - start, event, false)
                }
            };
            write_failed = r.is_err();
        },
    );
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = out.flush();
            return super::fail(&format!("{}: {e}", path.display()));
        }
    };
    let truncated = if report.file.truncated {
        "; the file ends in the middle of a packet (cut short): what came before was read"
    } else {
        ""
    };
    let summary = format!(
        "{}: {} packets ({}), {} WebSocket session(s), {} other TCP connection(s), {} still open at the end{truncated}",
        path.display(),
        report.file.packets,
        report.file.format,
        report.sessions,
        report.other_connections,
        report.unfinished
    );
    if json {
        let _ = writeln!(out, "{}", show::summary_json(&report));
    } else {
        let _ = writeln!(out, "{summary}");
    }
    let _ = out.flush();
    i32::from(broken)
}

/// `inspect --har FILE`: the same, from a HAR; every frame is marked reconstructed.
pub(crate) fn inspect_har(path: &Path, json: bool, only: Option<usize>) -> i32 {
    let sessions = match read_har(path) {
        Ok(s) => s,
        Err(e) => return super::fail(&e),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut broken = false;
    for s in &sessions {
        if only.is_some_and(|n| n != s.id) {
            continue;
        }
        if json {
            let _ = writeln!(out, "{}", show::har_session_json(s));
        } else {
            let _ = writeln!(
                out,
                "session {}: {} ({} messages; reconstructed from a HAR, which keeps payloads, not frames: masking keys, FIN, RSV bits, fragments and compression are not known)",
                s.id,
                s.url,
                s.messages.len()
            );
        }
        inspect_session(s, DETAIL, |time, event, _| {
            if let Some(e) = event {
                broken |= matches!(e, SessionEvent::Error { .. });
                let _ = print_event(&mut out, json, s.id, time, e, true);
            }
        });
    }
    if !json {
        let _ = writeln!(
            out,
            "{}: {} WebSocket session(s)",
            path.display(),
            sessions.len()
        );
    }
    let _ = out.flush();
    i32::from(broken)
}
