//! `inspect::decode_input`: what a person pastes into the CLI or the page becomes the bytes it
//! spells, in every layout a hex dump comes in, and anything else is refused with the position
//! of the character at fault.

use base64::Engine as _;
use proptest::prelude::*;
use wslens::inspect::{decode_input, inspect_handshake, InputError, InputFormat};

fn hex(text: &str) -> Result<Vec<u8>, InputError> {
    decode_input(text.as_bytes(), InputFormat::Hex)
}

#[test]
fn hex_dumps_in_the_usual_layouts() {
    let hello = [0x81, 0x85, 0x37, 0xfa];
    for text in [
        "81 85 37 fa",
        "818537fa",
        "81:85:37:FA",
        "0x81, 0x85, 0x37, 0xfa",
        "0X81 0x85\n37\tfa",
        "81-85-37-fa",
        "  81 85 37 fa  \n",
    ] {
        assert_eq!(hex(text), Ok(hello.to_vec()), "{text:?}");
    }
    assert_eq!(hex(""), Ok(Vec::new()));
}

#[test]
fn hex_errors_say_where() {
    assert_eq!(hex("81 8"), Err(InputError::OddHexDigits { digits: 3 }));
    assert_eq!(hex("81 zz"), Err(InputError::NotHex { at: 3, found: 'z' }));
    // A 0x inside a byte is not a prefix.
    assert_eq!(hex("80x1"), Err(InputError::NotHex { at: 2, found: 'x' }));
    assert_eq!(hex("81 é"), Err(InputError::NotHex { at: 3, found: 'é' }));
    let message = hex("81 zz").unwrap_err().to_string();
    assert_eq!(message, "not a hex digit: 'z' at position 3");
    assert_eq!(
        hex("abc").unwrap_err().to_string(),
        "odd number of hex digits (3)"
    );
}

#[test]
fn base64_with_and_without_padding() {
    let b64 = |t: &str| decode_input(t.as_bytes(), InputFormat::Base64);
    // RFC 4648 §10's test vectors.
    for (text, want) in [
        ("Zg==", "f"),
        ("Zm8=", "fo"),
        ("Zm9v", "foo"),
        ("Zm9vYg", "foob"),
    ] {
        assert_eq!(b64(text), Ok(want.as_bytes().to_vec()), "{text}");
    }
    assert_eq!(b64("gYU3\n+g=="), Ok(vec![0x81, 0x85, 0x37, 0xfa]));
    assert_eq!(b64("gY!U"), Err(InputError::NotBase64 { at: Some(2) }));
    // The position is in the input as typed, whitespace included.
    assert_eq!(b64("gY U3 !"), Err(InputError::NotBase64 { at: Some(6) }));
    assert_eq!(b64("Z"), Err(InputError::NotBase64 { at: None }));
}

#[test]
fn text_is_its_utf8() {
    assert_eq!(
        decode_input("héllo".as_bytes(), InputFormat::Text),
        Ok("héllo".as_bytes().to_vec())
    );
}

#[test]
fn a_typed_head_gets_crlf_and_one_blank_line() {
    let typed = "GET /chat HTTP/1.1\nHost: server.example.com\nUpgrade: websocket\r\nConnection: Upgrade\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\n\n";
    let head = decode_input(typed.as_bytes(), InputFormat::Head).unwrap();
    assert_eq!(
        head,
        b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    let ins = inspect_handshake(&head);
    assert_eq!(ins.error, None);
    assert_eq!(
        ins.accept.map(|a| a.accept).as_deref(),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    assert_eq!(decode_input(b"\n\n", InputFormat::Head), Ok(Vec::new()));
}

#[test]
fn formats_by_name() {
    for (name, format) in [
        ("hex", InputFormat::Hex),
        ("base64", InputFormat::Base64),
        ("text", InputFormat::Text),
        ("head", InputFormat::Head),
    ] {
        assert_eq!(InputFormat::from_name(name), Some(format));
    }
    assert_eq!(InputFormat::from_name("HEX"), None);
}

/// A separator between two bytes of a dump.
fn separator() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", " ", "  ", "\n", ", ", ":", "-", "\t"])
}

proptest! {
    /// Any bytes, written as a hex dump with any separators, prefixes and case, read back.
    #[test]
    fn hex_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..64),
                       seps in prop::collection::vec(separator(), 64),
                       prefixed in any::<bool>(), upper in any::<bool>()) {
        let mut text = String::new();
        for (i, b) in bytes.iter().enumerate() {
            text.push_str(seps[i]);
            // A `0x` begins a byte only after a separator (or at the start).
            if prefixed && (i == 0 || !seps[i].is_empty()) {
                text.push_str("0x");
            }
            if upper { text.push_str(&format!("{b:02X}")) } else { text.push_str(&format!("{b:02x}")) }
        }
        prop_assert_eq!(hex(&text), Ok(bytes));
    }

    /// Any bytes in base64, padded or not, wrapped anywhere, read back.
    #[test]
    fn base64_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..64),
                          wrap in 1usize..20, padded in any::<bool>()) {
        let mut text = base64::engine::general_purpose::STANDARD.encode(&bytes);
        if !padded {
            text = text.trim_end_matches('=').to_string();
        }
        let wrapped: Vec<String> = text.as_bytes().chunks(wrap).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
        prop_assert_eq!(decode_input(wrapped.join("\n").as_bytes(), InputFormat::Base64), Ok(bytes));
    }

    /// Never a panic, whatever is pasted, in any format.
    #[test]
    fn any_input_is_read_or_refused(input in prop::collection::vec(any::<u8>(), 0..64)) {
        for format in [InputFormat::Hex, InputFormat::Base64, InputFormat::Text, InputFormat::Head] {
            let _ = decode_input(&input, format);
        }
    }
}
