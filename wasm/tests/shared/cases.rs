// The wasm tests, shared by `node.rs` (`wasm-pack test --node`) and `browser.rs`
// (`wasm-pack test --headless --chrome`).

use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;
use wslens_wasm::{
    accept_key_js, build_frame, decode_input_js, explain_deflate, inspect_frames_js,
    inspect_handshake_js,
};

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap()
}

fn num(obj: &JsValue, key: &str) -> f64 {
    get(obj, key).as_f64().unwrap()
}

fn string(obj: &JsValue, key: &str) -> String {
    get(obj, key).as_string().unwrap()
}

fn at(arr: &JsValue, i: u32) -> JsValue {
    Array::from(arr).get(i)
}

const MASKED_HELLO: [u8; 11] = [
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];

#[wasm_bindgen_test]
fn masked_hello_fields_and_unmasking() {
    let ins: JsValue = inspect_frames_js(&MASKED_HELLO, "auto", None).unwrap().into();
    assert_eq!(string(&ins, "role"), "server");
    assert!(get(&ins, "error").is_null());
    let frame = at(&get(&ins, "frames"), 0);
    let fields = get(&frame, "fields");
    assert_eq!(Array::from(&fields).length(), 11);
    let opcode = at(&fields, 4);
    assert_eq!(string(&opcode, "field"), "opcode");
    assert_eq!(string(&opcode, "bits"), "....0001");
    assert_eq!(string(&opcode, "meaning"), "0x1: text frame");
    assert_eq!(string(&opcode, "rfc"), "§5.2");
    let payload = get(&frame, "payload");
    let first = at(&payload, 0);
    assert_eq!(
        (
            num(&first, "masked"),
            num(&first, "keyByte"),
            num(&first, "plain")
        ),
        (127.0, 55.0, 72.0)
    );
    let message = at(&get(&ins, "messages"), 0);
    assert_eq!(string(&message, "text"), "Hello");
}

#[wasm_bindgen_test]
fn rfc_examples_fragmented_ping_and_long_headers() {
    let fragmented = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
    let ins: JsValue = inspect_frames_js(&fragmented, "client", None).unwrap().into();
    assert_eq!(Array::from(&get(&ins, "frames")).length(), 2);
    assert_eq!(string(&at(&get(&ins, "messages"), 0), "text"), "Hello");
    let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let ins: JsValue = inspect_frames_js(&ping, "client", None).unwrap().into();
    assert_eq!(string(&at(&get(&ins, "messages"), 0), "type"), "ping");
    let ins: JsValue = inspect_frames_js(&[0x82, 0x7E, 0x01, 0x00], "client", None)
        .unwrap()
        .into();
    assert_eq!(num(&ins, "needMore"), 256.0);
}

#[wasm_bindgen_test]
fn malformed_frames_pin_the_error_and_close_code() {
    let ins: JsValue = inspect_frames_js(&[0x83, 0x80, 0, 0, 0, 0], "server", None)
        .unwrap()
        .into();
    let err = get(&ins, "error");
    assert_eq!((num(&err, "offset"), num(&err, "closeCode")), (0.0, 1002.0));
    assert_eq!(string(&err, "rule"), "reserved opcode");
    let ins: JsValue = inspect_frames_js(&[0x81, 0x82, 0, 0, 0, 0, 0xff, 0xfe], "server", None)
        .unwrap()
        .into();
    assert_eq!(num(&get(&ins, "error"), "closeCode"), 1007.0);
    assert!(inspect_frames_js(&MASKED_HELLO, "nobody", None).is_err());
}

/// RFC 7692 §7.2.3.1: "Hello" compressed; with permessage-deflate the inspector reads RSV1
/// as "compressed" and shows the inflated payload; without it, RSV1 is an error (1002).
#[wasm_bindgen_test]
fn permessage_deflate_inflates_and_explains_rsv1() {
    let hello = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let ins: JsValue = inspect_frames_js(&hello, "client", Some(true)).unwrap().into();
    assert!(get(&ins, "error").is_null());
    let msg = at(&get(&ins, "messages"), 0);
    assert_eq!(get(&msg, "compressed").as_bool(), Some(true));
    assert_eq!(string(&msg, "text"), "Hello");
    let inflated: Uint8Array = get(&msg, "inflated").into();
    assert_eq!(inflated.to_vec(), b"Hello");
    assert_eq!(num(&msg, "length"), 5.0);
    let rsv1 = at(&get(&at(&get(&ins, "frames"), 0), "fields"), 1);
    assert_eq!(
        string(&rsv1, "meaning"),
        "set: compressed (permessage-deflate, RFC 7692 §6)"
    );
    let ins: JsValue = inspect_frames_js(&hello, "client", None).unwrap().into();
    assert_eq!(num(&get(&ins, "error"), "closeCode"), 1002.0);
    // Corrupt compressed data: 1007, cited from RFC 7692.
    let ins: JsValue = inspect_frames_js(&[0xc2, 0x01, 0xff], "client", Some(true))
        .unwrap()
        .into();
    let err = get(&ins, "error");
    assert_eq!(num(&err, "closeCode"), 1007.0);
    assert_eq!(string(&err, "rfc"), "RFC 7692 §7.2.2");
}

#[wasm_bindgen_test]
fn builder_and_accept_key() {
    let frame: Uint8Array =
        build_frame(true, 0, 1, Some(vec![0x37, 0xfa, 0x21, 0x3d]), b"Hello").unwrap();
    assert_eq!(frame.to_vec(), MASKED_HELLO);
    assert!(build_frame(true, 0, 3, None, b"").is_err());
    assert!(build_frame(true, 0, 1, Some(vec![1, 2]), b"").is_err());
    let steps: JsValue = accept_key_js("dGhlIHNhbXBsZSBub25jZQ==").into();
    assert_eq!(
        string(&steps, "sha1Hex"),
        "b37a4f2cc0624f1690f64606cf385945b2bec4ea"
    );
    assert_eq!(string(&steps, "accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    let req = b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n";
    let hs: JsValue = inspect_handshake_js(req).into();
    assert_eq!(num(&get(&hs, "error"), "status"), 426.0);
    let _ = Object::new();
}

#[wasm_bindgen_test]
fn decode_input_reads_every_format_and_says_what_is_wrong() {
    let hex = decode_input_js("0x81, 0x85 37:fa", "hex").unwrap();
    assert_eq!(hex.to_vec(), [0x81, 0x85, 0x37, 0xfa]);
    assert_eq!(
        decode_input_js("gYU3+g", "base64").unwrap().to_vec(),
        [0x81, 0x85, 0x37, 0xfa]
    );
    assert_eq!(decode_input_js("hé", "text").unwrap().to_vec(), "hé".as_bytes());
    assert_eq!(
        decode_input_js("GET / HTTP/1.1\nHost: a\n", "head")
            .unwrap()
            .to_vec(),
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
    );
    let err: js_sys::Error = decode_input_js("81 zz", "hex").unwrap_err().into();
    assert_eq!(
        String::from(err.message()),
        "not a hex digit: 'z' at position 3"
    );
    let err: js_sys::Error = decode_input_js("81", "octal").unwrap_err().into();
    assert!(String::from(err.message()).contains("format must be"));
}

#[wasm_bindgen_test]
fn frames_carry_their_bit_cells_and_value_texts() {
    let ins: JsValue = inspect_frames_js(&MASKED_HELLO, "auto", None).unwrap().into();
    let frame = at(&get(&ins, "frames"), 0);
    let cells = Array::from(&get(&frame, "headerBits"));
    assert_eq!(cells.length(), 16);
    let row: Vec<(String, f64, f64)> = cells
        .iter()
        .map(|c| (string(&c, "label"), num(&c, "bit"), num(&c, "offset")))
        .collect();
    assert_eq!(row[0], ("FIN".into(), 1.0, 0.0));
    assert_eq!(row[7], ("op".into(), 1.0, 0.0));
    assert_eq!(row[8], ("MASK".into(), 1.0, 1.0));
    assert_eq!(string(&cells.get(9), "kind"), "payloadLen");
    let fields = get(&frame, "fields");
    assert_eq!(string(&at(&fields, 4), "valueText"), "0x1");
    assert_eq!(string(&at(&fields, 6), "valueText"), "5");
    assert_eq!(string(&at(&fields, 7), "field"), "masking-key[0]");
    // A header cut after its first byte: byte 1's cells have no bit yet.
    let ins: JsValue = inspect_frames_js(&MASKED_HELLO[..1], "server", None)
        .unwrap()
        .into();
    let cells = Array::from(&get(&at(&get(&ins, "frames"), 0), "headerBits"));
    assert!(get(&cells.get(8), "bit").is_null());
}

#[wasm_bindgen_test]
fn messages_carry_their_wire_length_and_close_details() {
    // "Hello" compressed (RFC 7692 §7.2.3.1): 5 bytes from 7 on the wire.
    let hello = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let ins: JsValue = inspect_frames_js(&hello, "client", Some(true)).unwrap().into();
    let msg = at(&get(&ins, "messages"), 0);
    assert_eq!((num(&msg, "length"), num(&msg, "wireLength")), (5.0, 7.0));
    // A close frame with code 1000 and reason "bye".
    let close = [0x88, 0x05, 0x03, 0xe8, b'b', b'y', b'e'];
    let ins: JsValue = inspect_frames_js(&close, "client", None).unwrap().into();
    let msg = at(&get(&ins, "messages"), 0);
    assert_eq!(num(&msg, "closeCode"), 1000.0);
    assert_eq!(string(&msg, "text"), "bye");
}

#[wasm_bindgen_test]
fn every_field_row_and_handshake_line_carries_its_lesson() {
    let ins: JsValue = inspect_frames_js(&MASKED_HELLO, "auto", None).unwrap().into();
    let fields = Array::from(&get(&at(&get(&ins, "frames"), 0), "fields"));
    for row in fields.iter() {
        let lesson = get(&row, "lesson");
        assert!(string(&lesson, "why").len() > 60, "{}", string(&row, "field"));
        assert!(string(&lesson, "url").starts_with("https://www.rfc-editor.org/rfc/rfc6455#section-5."));
    }
    let mask = get(&fields.get(5), "lesson");
    assert_eq!(string(&mask, "quote"), "All frames sent from client to server have this bit set to 1.");
    let request = b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nUser-Agent: x\r\n\r\n";
    let hs: JsValue = inspect_handshake_js(request).into();
    assert_eq!(num(&hs, "startLineEnd"), 18.0);
    assert!(string(&get(&hs, "startLineLesson"), "quote").contains("MUST be GET"));
    let headers = Array::from(&get(&hs, "headers"));
    let key = get(&headers.get(3), "lesson");
    assert!(string(&key, "quote").contains("randomly selected 16-byte value"));
    let agent = get(&headers.get(5), "lesson");
    assert!(string(&agent, "quote").contains("any other header fields"));
}

#[wasm_bindgen_test]
fn explain_deflate_reads_the_first_block_and_puts_the_tail_back() {
    // RFC 7692 §7.2.3.1: "Hello" compressed.
    let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let d = explain_deflate(&hello);
    assert_eq!(get(&d, "bfinal").as_bool(), Some(false));
    assert_eq!(num(&d, "btype"), 1.0);
    assert!(string(&d, "btypeMeaning").contains("fixed Huffman"));
    let with_tail = Uint8Array::new(&get(&d, "withTail")).to_vec();
    assert_eq!(with_tail, [&hello[..], &[0x00, 0x00, 0xff, 0xff]].concat());
    assert!(explain_deflate(&[]).is_null());
}
