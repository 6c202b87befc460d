//! `wslens inspect`: print the core's annotated trace of frames or a handshake — one row per
//! field with byte offsets, bits, value, meaning and RFC section, the unmasking of each payload
//! byte, and errors pinned to their byte with the close code. Nothing is parsed here: the rows
//! come from `wslens::inspect`, which runs the real decoder with a recorder.

use super::args::{ColorArg, InspectArgs};
use anstyle::{AnsiColor, Style};
use std::fmt::Write as _;
use wslens::inspect::{
    decode_input, guess_role, inspect_frames_with, inspect_handshake, FrameView, InputError,
    InputFormat, Inspection,
};
use wslens::trace::Field;
use wslens::Role;

/// Colours, or none.
#[derive(Clone, Copy)]
pub struct Palette {
    on: bool,
}

impl Palette {
    /// Colour when `on`.
    pub fn new(on: bool) -> Self {
        Palette { on }
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if self.on {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_owned()
        }
    }

    fn field(&self, field: Field, text: &str) -> String {
        let color = match field {
            Field::Fin | Field::Rsv1 | Field::Rsv2 | Field::Rsv3 => AnsiColor::Magenta,
            Field::Opcode => AnsiColor::Blue,
            Field::Mask | Field::PayloadLen | Field::ExtendedLen16 | Field::ExtendedLen64 => {
                AnsiColor::Cyan
            }
            Field::MaskingKey(_) => AnsiColor::Yellow,
        };
        self.paint(Style::new().fg_color(Some(color.into())), text)
    }

    fn dim(&self, text: &str) -> String {
        self.paint(Style::new().dimmed(), text)
    }

    fn bold(&self, text: &str) -> String {
        self.paint(Style::new().bold(), text)
    }

    fn error(&self, text: &str) -> String {
        self.paint(
            Style::new().fg_color(Some(AnsiColor::Red.into())).bold(),
            text,
        )
    }

    fn ok(&self, text: &str) -> String {
        self.paint(Style::new().fg_color(Some(AnsiColor::Green.into())), text)
    }
}

/// Which end received the bytes: given, or guessed from the first frame's mask bit.
pub fn role_for(bytes: &[u8], role: Option<Role>) -> Role {
    role.unwrap_or_else(|| guess_role(bytes))
}

/// The whole report for `bytes`. Returns the text and whether the bytes broke the protocol.
pub fn report(bytes: &[u8], role: Option<Role>, palette: Palette) -> (String, bool) {
    report_with(bytes, role, palette, false)
}

/// [`report`], reading the frames as if permessage-deflate (RFC 7692) had been negotiated
/// when `deflate` is set: RSV1 means "compressed" and compressed messages are shown inflated.
pub fn report_with(
    bytes: &[u8],
    role: Option<Role>,
    palette: Palette,
    deflate: bool,
) -> (String, bool) {
    if bytes.starts_with(b"GET ") || bytes.starts_with(b"HTTP/") {
        return handshake_report(bytes, palette);
    }
    let role = role_for(bytes, role);
    let config = wslens::Config {
        deflate: deflate.then(wslens::deflate::DeflateParams::default),
        ..wslens::Config::default()
    };
    let ins = inspect_frames_with(bytes, role, config);
    (frames_report(bytes, &ins, palette), ins.error.is_some())
}

fn printable(b: u8) -> String {
    if b.is_ascii_graphic() || b == b' ' {
        format!("'{}'", b as char)
    } else {
        String::new()
    }
}

fn frames_report(bytes: &[u8], ins: &Inspection, p: Palette) -> String {
    let mut out = String::new();
    let who = match ins.role {
        Role::Server => "read by a server: client frames, which must be masked",
        Role::Client => "read by a client: server frames, which must not be masked",
    };
    let _ = writeln!(
        out,
        "{} {} bytes, {who}",
        p.bold("wslens inspect:"),
        bytes.len()
    );
    for (i, frame) in ins.frames.iter().enumerate() {
        frame_report(&mut out, i, frame, p);
    }
    if !ins.messages.is_empty() {
        let _ = writeln!(out, "\n{}", p.bold("messages"));
        for m in &ins.messages {
            let frames: Vec<String> = m.frames.iter().map(|f| f.to_string()).collect();
            let wire = m.wire_len;
            let event = m.event.as_ref().map_or_else(String::new, said);
            let compressed = if m.compressed {
                format!(
                    " (inflated from {wire} compressed bytes, permessage-deflate, RFC 7692 §7.2.2)"
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "  {} of {} bytes{compressed} from frame{} {}: {event}",
                m.opcode.meaning(),
                m.len,
                if frames.len() > 1 { "s" } else { "" },
                frames.join(", ")
            );
        }
    }
    if let Some(err) = &ins.error {
        let _ = writeln!(
            out,
            "\n{} at byte {} (0x{:02x}): {} — {}; a server closes with {} ({})",
            p.error("error"),
            err.offset,
            bytes.get(err.offset as usize).copied().unwrap_or(0),
            err.kind.description(),
            err.kind.rfc_section(),
            err.close_code.0,
            err.close_code.meaning()
        );
        let _ = write!(out, "{}", pin(bytes, err.offset as usize, p));
    } else if let Some(more) = ins.need_more {
        let _ = writeln!(
            out,
            "\n{} at least {more} more byte(s) needed: waiting for {}",
            p.dim("incomplete:"),
            ins.waiting_for
        );
    } else {
        let _ = writeln!(out, "\n{}", p.ok("valid: every byte read"));
    }
    out
}

/// What a message said, from the event the connection delivered for it.
fn said(event: &wslens::OwnedEvent) -> String {
    use wslens::OwnedEvent;
    match event {
        OwnedEvent::Text(t) => format!("{t:?}"),
        OwnedEvent::Binary(b) => format!("{} binary bytes", b.len()),
        OwnedEvent::Ping(b) => format!("ping {:?}", String::from_utf8_lossy(b)),
        OwnedEvent::Pong(b) => format!("pong {:?}", String::from_utf8_lossy(b)),
        OwnedEvent::Close { code, reason } => match code {
            Some(c) => format!("close {} ({}) {reason:?}", c.0, c.meaning()),
            None => "close without a status code".into(),
        },
        other => format!("{other:?}"),
    }
}

fn frame_report(out: &mut String, i: usize, frame: &FrameView, p: Palette) {
    let state = if frame.complete { "" } else { " (incomplete)" };
    let _ = writeln!(
        out,
        "\n{} bytes {}..{}{state}",
        p.bold(&format!("frame {i}")),
        frame.start,
        frame.end
    );
    let _ = writeln!(
        out,
        "  {:<7} {:<19} {:<34} {:<10} {:<52} RFC",
        "offset", "bits", "field", "value", "meaning"
    );
    for row in &frame.fields {
        let (name, value) = (row.label(), row.value_text());
        let offset = if row.len > 1 {
            format!("{}-{}", row.offset, row.offset + u64::from(row.len) - 1)
        } else {
            row.offset.to_string()
        };
        let _ = writeln!(
            out,
            "  {:<7} {} {} {:<10} {:<52} {}",
            offset,
            p.field(row.field, &format!("{:<19}", row.bits)),
            p.field(row.field, &format!("{name:<34}")),
            value,
            row.meaning,
            row.rfc
        );
        if let Some(remark) = row.remark {
            let _ = writeln!(out, "          {}", p.dim(&format!("note: {remark}")));
        }
    }
    if frame.payload.is_empty() {
        return;
    }
    let masked = frame.header.and_then(|h| h.mask).is_some();
    if masked {
        let _ = writeln!(out, "  payload, unmasked byte by byte: masked[i] XOR key[i mod 4] = plain[i]  (RFC 6455 §5.3)");
        let _ = writeln!(
            out,
            "  {:<7} {:<5} {:<7} {:<10} plain",
            "offset", "i", "masked", "key"
        );
    } else {
        let _ = writeln!(out, "  payload (not masked)");
        let _ = writeln!(out, "  {:<7} {:<5} byte", "offset", "i");
    }
    for b in &frame.payload {
        if masked {
            let key = p.field(
                Field::MaskingKey(b.key_index),
                &format!("{:02x} [{}]", b.key_byte, b.key_index),
            );
            let _ = writeln!(
                out,
                "  {:<7} {:<5} {:02x}  XOR {key}   = {:02x} {}",
                b.offset,
                b.index,
                b.masked,
                b.plain,
                printable(b.plain)
            );
        } else {
            let _ = writeln!(
                out,
                "  {:<7} {:<5} {:02x} {}",
                b.offset,
                b.index,
                b.plain,
                printable(b.plain)
            );
        }
    }
}

/// A hex dump of the bytes around `at`, with a caret under the offending byte.
fn pin(bytes: &[u8], at: usize, p: Palette) -> String {
    let start = at.saturating_sub(8);
    let end = (at + 8).min(bytes.len());
    let mut line = String::from("  ");
    let mut caret = String::from("  ");
    for (i, b) in bytes.iter().enumerate().take(end).skip(start) {
        let cell = format!("{b:02x} ");
        if i == at {
            line.push_str(&p.error(&cell));
            caret.push_str("^^ ");
        } else {
            line.push_str(&cell);
            caret.push_str("   ");
        }
    }
    format!("{line}\n{}\n", p.error(caret.trim_end()))
}

fn handshake_report(bytes: &[u8], p: Palette) -> (String, bool) {
    let ins = inspect_handshake(bytes);
    let mut out = String::new();
    let kind = if ins.is_response {
        "opening handshake response (RFC 6455 §4.1)"
    } else {
        "opening handshake request (RFC 6455 §4.2.1)"
    };
    let _ = writeln!(
        out,
        "{} {kind}, {} bytes",
        p.bold("wslens inspect:"),
        bytes.len()
    );
    match ins.head_len {
        None => {
            let _ = writeln!(
                out,
                "{} the head has not ended (no blank line yet)",
                p.dim("incomplete:")
            );
            return (out, false);
        }
        Some(n) => {
            let _ = writeln!(
                out,
                "  head: bytes 0..{n}; {} byte(s) after it belong to the WebSocket stream",
                bytes.len() - n
            );
        }
    }
    let _ = writeln!(out, "  {}", ins.start_line);
    for h in &ins.headers {
        let _ = writeln!(
            out,
            "  {:<9} {}: {}",
            format!("{}..{}", h.line.start, h.line.end),
            p.bold(&h.name),
            h.value
        );
    }
    if let Some(req) = &ins.request {
        let _ = writeln!(
            out,
            "\n  path {:?}, query {:?}, origin {:?}",
            req.path, req.query, req.origin
        );
        let _ = writeln!(out, "  subprotocols offered: {:?}", req.protocols);
        let names: Vec<&str> = req.extensions.iter().map(|e| e.name.as_str()).collect();
        let _ = writeln!(out, "  extensions offered: {names:?}");
    }
    if let Some(steps) = &ins.accept {
        let _ = writeln!(
            out,
            "\n{}",
            p.bold("Sec-WebSocket-Accept, step by step (RFC 6455 §1.3, §4.2.2)")
        );
        let _ = writeln!(out, "  1. key:             {}", steps.key);
        let _ = writeln!(out, "  2. key + GUID:      {}", steps.concatenated);
        let _ = writeln!(out, "  3. SHA-1:           {}", steps.sha1_hex);
        let _ = writeln!(out, "  4. base64(SHA-1):   {}", p.ok(&steps.accept));
    }
    match &ins.error {
        Some(e) => {
            let _ = writeln!(
                out,
                "\n{} {} → the server answers HTTP {} {}",
                p.error("refused:"),
                e.reason,
                e.status,
                wslens::handshake::reason_phrase(e.status)
            );
            (out, true)
        }
        None if !ins.is_response => {
            let _ = writeln!(
                out,
                "\n{}",
                p.ok("valid: a server answers 101 Switching Protocols")
            );
            (out, false)
        }
        None => (out, false),
    }
}

/// `wslens inspect`: exit code 0, or 1 when the bytes are broken or unreadable.
pub(crate) fn inspect(args: InspectArgs) -> i32 {
    use std::io::{IsTerminal as _, Read as _};
    if let Some(path) = &args.pcap {
        return super::recorded::inspect_pcap(path, args.json, args.session);
    }
    if let Some(path) = &args.har {
        return super::recorded::inspect_har(path, args.json, args.session);
    }
    let format = if args.raw {
        InputFormat::Text
    } else if args.base64 {
        InputFormat::Base64
    } else {
        InputFormat::Hex
    };
    let text: Vec<u8> = if args.input.is_empty() || args.input == ["-"] || args.raw {
        let mut buf = Vec::new();
        if let Err(e) = std::io::stdin().lock().read_to_end(&mut buf) {
            return super::fail(&format!("reading stdin: {e}"));
        }
        buf
    } else {
        args.input.join(" ").into_bytes()
    };
    let bytes = match decode_input(&text, format) {
        Ok(b) if b.is_empty() => return super::fail("no bytes to inspect"),
        Ok(b) => b,
        Err(e @ InputError::NotHex { .. }) => {
            return super::fail(&format!("{e} (use --base64 or --raw for other input)"))
        }
        Err(e) => return super::fail(&e.to_string()),
    };
    let role = args.role.map(Role::from);
    let color = match args.color {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let (text, broken) = report_with(&bytes, role, Palette::new(color), args.deflate);
    print!("{text}");
    i32::from(broken)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASKED_HELLO: &str = "81 85 37 fa 21 3d 7f 9f 4d 51 58";

    #[test]
    fn explains_the_rfc_masked_hello() {
        let bytes = decode_input(MASKED_HELLO.as_bytes(), InputFormat::Hex).unwrap();
        let (text, failed) = report(&bytes, None, Palette::new(false));
        assert!(!failed);
        for needle in [
            "read by a server",
            "FIN",
            "1.......",
            "0x1: text frame",
            "masking-key[0]",
            "0x37",
            "7f  XOR 37 [0]   = 48 'H'",
            "58  XOR 37 [0]   = 6f 'o'",
            "text frame of 5 bytes from frame 0: \"Hello\"",
            "valid: every byte read",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn pins_errors_with_the_close_code() {
        let bytes = decode_input(b"81 05 48 65 6c 6c 6f", InputFormat::Hex).unwrap();
        let (text, failed) = report(&bytes, Some(Role::Server), Palette::new(false));
        assert!(failed);
        assert!(text.contains("error at byte 1 (0x05): client frame is not masked — RFC 6455 §5.1; a server closes with 1002"), "{text}");
        assert!(text.contains("^^"));
    }

    #[test]
    fn handshake_steps() {
        let req = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        let (text, failed) = report(req, None, Palette::new(false));
        assert!(!failed);
        assert!(
            text.contains("b37a4f2cc0624f1690f64606cf385945b2bec4ea"),
            "{text}"
        );
        assert!(text.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    }

    #[test]
    fn deflate_shows_compressed_messages_inflated() {
        // RFC 7692 §7.2.3.1 and §7.2.3.2: "Hello" twice, the second sharing the window.
        let bytes = decode_input(
            b"c1 07 f2 48 cd c9 c9 07 00 c1 05 f2 00 11 00 00",
            InputFormat::Hex,
        )
        .unwrap();
        let (text, failed) = report_with(&bytes, Some(Role::Client), Palette::new(false), true);
        assert!(!failed, "{text}");
        assert!(
            text.contains("set: compressed (permessage-deflate, RFC 7692 §6)"),
            "{text}"
        );
        assert!(text.contains("text frame of 5 bytes (inflated from 7 compressed bytes, permessage-deflate, RFC 7692 §7.2.2) from frame 0: \"Hello\""), "{text}");
        assert!(text.contains("(inflated from 5 compressed bytes"), "{text}");
        // Without --deflate, RSV1 breaks the rules.
        let (text, failed) = report(&bytes, Some(Role::Client), Palette::new(false));
        assert!(failed);
        assert!(
            text.contains("— RFC 6455 §5.2; a server closes with 1002"),
            "{text}"
        );
    }
}
