//! # wslens-wasm
//!
//! The *same* `wslens` core, compiled to WebAssembly for the browser inspector. This crate has
//! no protocol logic of its own: it runs the core (`wslens::inspect`, `FrameHeader::encode`,
//! `handshake::accept_key_steps`) and converts what comes back into plain JavaScript objects.
//! Errors become JavaScript `Error`s with a clear message. The page (`www/app.js`) parses
//! nothing either: its input goes through [`decode_input_js`], and every bit, label, value
//! and message it draws is one of the fields set here.

#[cfg(feature = "capture")]
mod capture;
#[cfg(feature = "capture")]
pub use capture::{read_capture, read_har};

use js_sys::{Array, Error, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wslens::frame::{FrameHeader, OpCode};
use wslens::inspect::{
    compressed, decode_input, field_lesson, guess_role, header_lesson, inspect_frames_with,
    inspect_handshake, start_line_lesson, InputFormat, Inspection, Lesson,
};
use wslens::trace::Field;
use wslens::{OwnedEvent, Role};

/// Reads what a person pasted: `format` is "hex" (two digits a byte; whitespace, `,`, `:`,
/// `-` and `0x` prefixes ignored), "base64", "text" (its UTF-8) or "head" (an HTTP head typed
/// with bare newlines: CRLF line ends and one blank line at the end). A JavaScript `Error`
/// says what is wrong and where.
#[wasm_bindgen(js_name = decodeInput)]
pub fn decode_input_js(text: &str, format: &str) -> Result<Uint8Array, JsValue> {
    let Some(format) = InputFormat::from_name(format) else {
        return Err(Error::new(&format!(
            "format must be \"hex\", \"base64\", \"text\" or \"head\", not {format:?}"
        ))
        .into());
    };
    match decode_input(text.as_bytes(), format) {
        Ok(data) => Ok(bytes(&data)),
        Err(e) => Err(Error::new(&e.to_string()).into()),
    }
}

/// Sets `obj[key] = value`.
fn set(obj: &Object, key: &str, value: impl Into<JsValue>) {
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(obj, &JsValue::from_str(key), &value.into());
}

/// A JS array of one fresh object per item, each filled in by `fill`.
fn objects<I>(items: impl IntoIterator<Item = I>, fill: impl Fn(&Object, I)) -> Array {
    let out = Array::new();
    for item in items {
        let obj = Object::new();
        fill(&obj, item);
        out.push(&obj);
    }
    out
}

fn bytes(data: &[u8]) -> Uint8Array {
    Uint8Array::from(data)
}

fn parse_role(role: &str, input: &[u8]) -> Result<Role, JsValue> {
    match role {
        "server" => Ok(Role::Server),
        "client" => Ok(Role::Client),
        "" | "auto" => Ok(guess_role(input)),
        other => Err(Error::new(&format!(
            "role must be \"server\", \"client\" or \"auto\", not {other:?}"
        ))
        .into()),
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Server => "server",
        Role::Client => "client",
    }
}

/// A stable identifier for a field, for colouring: "fin", "rsv1", …, "maskingKey".
fn field_kind(field: Field) -> &'static str {
    match field {
        Field::Fin => "fin",
        Field::Rsv1 => "rsv1",
        Field::Rsv2 => "rsv2",
        Field::Rsv3 => "rsv3",
        Field::Opcode => "opcode",
        Field::Mask => "mask",
        Field::PayloadLen => "payloadLen",
        Field::ExtendedLen16 | Field::ExtendedLen64 => "extendedLen",
        Field::MaskingKey(_) => "maskingKey",
    }
}

fn inspection_to_js(ins: &Inspection) -> Object {
    let out = Object::new();
    set(&out, "role", role_name(ins.role));
    let frames = Array::new();
    for f in &ins.frames {
        let frame = Object::new();
        set(&frame, "start", f.start as f64);
        set(&frame, "end", f.end as f64);
        set(&frame, "complete", f.complete);
        match f.header {
            Some(h) => {
                let header = Object::new();
                set(&header, "fin", h.fin);
                set(&header, "rsv", h.rsv);
                set(&header, "opcode", h.opcode as u8);
                set(&header, "opcodeName", h.opcode.meaning());
                set(&header, "masked", h.mask.is_some());
                if let Some(key) = h.mask {
                    set(&header, "key", bytes(&key));
                }
                set(&header, "payloadLength", h.payload_len as f64);
                set(&frame, "header", header);
            }
            None => set(&frame, "header", JsValue::NULL),
        }
        let fields = Array::new();
        for r in &f.fields {
            let row = Object::new();
            set(&row, "field", r.label());
            set(&row, "kind", field_kind(r.field));
            set(&row, "offset", r.offset as f64);
            set(&row, "length", r.len);
            set(&row, "bitMask", r.field.bit_mask());
            set(&row, "bits", r.bits.as_str());
            set(&row, "value", r.value as f64);
            set(&row, "valueText", r.value_text());
            set(&row, "meaning", r.meaning.as_str());
            set(&row, "rfc", r.rfc);
            set(
                &row,
                "remark",
                r.remark.map_or(JsValue::NULL, JsValue::from_str),
            );
            set(&row, "lesson", lesson_to_js(&field_lesson(r.field)));
            fields.push(&row);
        }
        set(&frame, "fields", fields);
        let cells = objects(f.header_bits(), |cell, b| {
            set(cell, "offset", b.offset as f64);
            set(cell, "kind", field_kind(b.field));
            set(cell, "label", b.label);
            set(cell, "bit", b.bit.map_or(JsValue::NULL, JsValue::from));
        });
        set(&frame, "headerBits", cells);
        let payload = objects(&f.payload, |byte, b| {
            set(byte, "offset", b.offset as f64);
            set(byte, "index", b.index as f64);
            set(byte, "masked", b.masked);
            set(byte, "keyIndex", b.key_index);
            set(byte, "keyByte", b.key_byte);
            set(byte, "plain", b.plain);
        });
        set(&frame, "payload", payload);
        frames.push(&frame);
    }
    set(&out, "frames", frames);
    let messages = Array::new();
    for m in &ins.messages {
        let msg = Object::new();
        set(&msg, "opcode", m.opcode as u8);
        set(&msg, "type", m.opcode.meaning());
        set(&msg, "length", m.len as f64);
        set(&msg, "wireLength", m.wire_len as f64);
        set(&msg, "compressed", m.compressed);
        if let Some(inflated) = &m.inflated {
            set(&msg, "inflated", bytes(inflated));
        }
        let frames = Array::new();
        for i in &m.frames {
            frames.push(&JsValue::from(*i as u32));
        }
        set(&msg, "frames", frames);
        match &m.event {
            Some(OwnedEvent::Text(t)) => set(&msg, "text", t.as_str()),
            Some(OwnedEvent::Binary(b) | OwnedEvent::Ping(b) | OwnedEvent::Pong(b)) => {
                set(&msg, "data", bytes(b))
            }
            Some(OwnedEvent::Close { code, reason }) => {
                set(
                    &msg,
                    "closeCode",
                    code.map_or(JsValue::NULL, |c| JsValue::from(c.0)),
                );
                set(
                    &msg,
                    "closeMeaning",
                    code.map_or(JsValue::NULL, |c| JsValue::from_str(c.meaning())),
                );
                set(&msg, "text", reason.as_str());
            }
            _ => {}
        }
        messages.push(&msg);
    }
    set(&out, "messages", messages);
    match &ins.error {
        Some(e) => {
            let err = Object::new();
            set(&err, "offset", e.offset as f64);
            set(&err, "rule", e.kind.description());
            set(&err, "rfc", e.kind.rfc_section());
            set(&err, "closeCode", e.close_code.0);
            set(&err, "closeMeaning", e.close_code.meaning());
            set(&out, "error", err);
        }
        None => set(&out, "error", JsValue::NULL),
    }
    set(
        &out,
        "needMore",
        ins.need_more
            .map_or(JsValue::NULL, |n| JsValue::from(n as f64)),
    );
    set(&out, "waitingFor", ins.waiting_for);
    set(&out, "reply", bytes(&ins.reply));
    out
}

/// Runs `input` through the real decoder and returns its trace: frames with their fields
/// (offset, bits, value, meaning, RFC section) and payload bytes (masked, key byte, plain),
/// messages, the error pinned to its byte with the close code, and how many more bytes a
/// partial input needs. `role` is "server" (frames must be masked), "client", or "auto".
///
/// With `deflate` true, the bytes are read as if permessage-deflate (RFC 7692) had been
/// negotiated (context takeover, 15-bit windows): RSV1 on a message's first frame means
/// "compressed", and each compressed message has `compressed: true` and its `inflated`
/// payload (text messages' `text` is the inflated text).
#[wasm_bindgen(js_name = inspectFrames)]
pub fn inspect_frames_js(
    input: &[u8],
    role: &str,
    deflate: Option<bool>,
) -> Result<Object, JsValue> {
    let role = parse_role(role, input)?;
    let config = wslens::Config {
        deflate: deflate
            .unwrap_or(false)
            .then(wslens::deflate::DeflateParams::default),
        ..wslens::Config::default()
    };
    if config.deflate.is_some() && !cfg!(feature = "deflate") {
        return Err(Error::new("built without permessage-deflate (feature `deflate`)").into());
    }
    Ok(inspection_to_js(&inspect_frames_with(input, role, config)))
}

/// Parses an opening-handshake request (or response) as the server (or client) does: its
/// lines with byte ranges, the validation result with the HTTP status a server would answer,
/// and the accept-key steps.
#[wasm_bindgen(js_name = inspectHandshake)]
pub fn inspect_handshake_js(input: &[u8]) -> Object {
    let ins = inspect_handshake(input);
    let out = Object::new();
    set(&out, "isResponse", ins.is_response);
    set(
        &out,
        "headLength",
        ins.head_len
            .map_or(JsValue::NULL, |n| JsValue::from(n as f64)),
    );
    set(&out, "startLine", ins.start_line.as_str());
    // The start line is the head's first bytes: it ends where its CRLF begins.
    set(&out, "startLineEnd", ins.start_line.len() as f64);
    set(
        &out,
        "startLineLesson",
        lesson_to_js(&start_line_lesson(ins.is_response)),
    );
    let headers = Array::new();
    for h in &ins.headers {
        let header = Object::new();
        set(&header, "name", h.name.as_str());
        set(&header, "value", h.value.as_str());
        set(&header, "start", h.line.start as f64);
        set(&header, "end", h.line.end as f64);
        set(
            &header,
            "lesson",
            lesson_to_js(&header_lesson(&h.name, ins.is_response)),
        );
        headers.push(&header);
    }
    set(&out, "headers", headers);
    match &ins.error {
        Some(e) => {
            let err = Object::new();
            set(&err, "status", e.status);
            set(&err, "reason", e.reason);
            set(&out, "error", err);
        }
        None => set(&out, "error", JsValue::NULL),
    }
    match &ins.accept {
        Some(steps) => set(&out, "accept", accept_steps_to_js(steps)),
        None => set(&out, "accept", JsValue::NULL),
    }
    if let Some(req) = &ins.request {
        set(&out, "path", req.path.as_str());
        let protocols = Array::new();
        for p in &req.protocols {
            protocols.push(&JsValue::from_str(p));
        }
        set(&out, "protocols", protocols);
    }
    out
}

/// `{why, quote, rfc, url}`: a field or header line explained (`wslens::inspect::Lesson`).
fn lesson_to_js(lesson: &Lesson) -> Object {
    let out = Object::new();
    set(&out, "why", lesson.why);
    set(&out, "quote", lesson.quote);
    set(&out, "rfc", lesson.rfc);
    set(&out, "url", lesson.url());
    out
}

/// A compressed message's payload as received (permessage-deflate, RFC 7692 §7.2), opened
/// up: `{bfinal, btype, btypeMeaning, tail, withTail}`, the first DEFLATE block's header
/// bits (RFC 1951 §3.2.3) and the payload with the `00 00 ff ff` the sender stripped
/// (§7.2.1) appended again, as the receiver inflates it. `null` for an empty payload.
#[wasm_bindgen(js_name = explainDeflate)]
pub fn explain_deflate(payload: &[u8]) -> JsValue {
    let Some(block) = compressed::first_block(payload) else {
        return JsValue::NULL;
    };
    let out = Object::new();
    set(&out, "bfinal", block.bfinal);
    set(&out, "btype", block.btype);
    set(&out, "btypeMeaning", block.btype_meaning());
    set(&out, "tail", bytes(&compressed::SYNC_TAIL));
    let mut with_tail = payload.to_vec();
    with_tail.extend_from_slice(&compressed::SYNC_TAIL);
    set(&out, "withTail", bytes(&with_tail));
    out.into()
}

fn accept_steps_to_js(steps: &wslens::handshake::AcceptKeySteps) -> Object {
    let out = Object::new();
    set(&out, "key", steps.key.as_str());
    set(&out, "concatenated", steps.concatenated.as_str());
    set(&out, "sha1Hex", steps.sha1_hex.as_str());
    set(&out, "accept", steps.accept.as_str());
    out
}

/// The accept key for a `Sec-WebSocket-Key`, step by step: key, key + GUID, SHA-1 (hex),
/// base64 (RFC 6455 §1.3).
#[wasm_bindgen(js_name = acceptKey)]
pub fn accept_key_js(key: &str) -> Object {
    accept_steps_to_js(&wslens::handshake::accept_key_steps(key))
}

/// Encodes one frame (RFC 6455 §5.2) with the core's encoder: `opcode` 0x0-0x2 or 0x8-0xA,
/// `rsv` bits as a number 0-7 (RSV1 = 4), `key` (4 bytes) masks the payload when given.
#[wasm_bindgen(js_name = buildFrame)]
pub fn build_frame(
    fin: bool,
    rsv: u8,
    opcode: u8,
    key: Option<Vec<u8>>,
    payload: &[u8],
) -> Result<Uint8Array, JsValue> {
    let Some(opcode) = OpCode::from_u8(opcode) else {
        return Err(Error::new(&format!("opcode 0x{opcode:X} is reserved (RFC 6455 §5.2)")).into());
    };
    if rsv > 7 {
        return Err(Error::new("rsv must be 0-7 (RSV1 = 4, RSV2 = 2, RSV3 = 1)").into());
    }
    let mask = match key.as_deref() {
        None => None,
        Some([a, b, c, d]) => Some([*a, *b, *c, *d]),
        Some(other) => {
            return Err(
                Error::new(&format!("a masking key has 4 bytes, not {}", other.len())).into(),
            )
        }
    };
    let header = FrameHeader {
        fin,
        rsv,
        opcode,
        mask,
        payload_len: payload.len() as u64,
    };
    let mut out = Vec::with_capacity(header.encoded_len() + payload.len());
    wslens::frame::encode_frame(&mut out, &header, payload);
    Ok(bytes(&out))
}
