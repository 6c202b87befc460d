//! Header helpers shared by both sides of the handshake: token lists, tokens, extension
//! offers (RFC 6455 §9.1), percent-decoding.

use alloc::string::String;
use alloc::vec::Vec;

/// Whether `list`, a comma-separated list of tokens (RFC 7230 §7), contains `token`,
/// compared case-insensitively. `"keep-alive, Upgrade"` contains `upgrade`.
pub fn list_contains(list: &str, token: &str) -> bool {
    list.split(',')
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}

/// RFC 7230 §3.2.6 `tchar`.
pub const fn is_token_char(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`'
        | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// Whether `s` is a non-empty RFC 7230 token.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// One extension offered or accepted in `Sec-WebSocket-Extensions` (RFC 6455 §9.1), e.g.
/// `permessage-deflate; client_max_window_bits`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionOffer {
    /// The extension token.
    pub name: String,
    /// Its parameters, in order; quoted values are unquoted.
    pub params: Vec<(String, Option<String>)>,
}

impl ExtensionOffer {
    /// The value of parameter `name`: `None` if absent, `Some(None)` if present without one.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }
}

/// Parses a `Sec-WebSocket-Extensions` value into offers; `None` if it does not follow the
/// grammar of RFC 6455 §9.1.
pub fn parse_extensions(value: &str) -> Option<Vec<ExtensionOffer>> {
    let mut offers = Vec::new();
    for item in split_outside_quotes(value, ',') {
        let item = item.trim();
        if item.is_empty() {
            continue; // RFC 7230 §7: empty list elements are ignored
        }
        let mut parts = split_outside_quotes(item, ';').into_iter();
        let name = parts.next()?.trim();
        if !is_token(name) {
            return None;
        }
        let mut params = Vec::new();
        for param in parts {
            let (key, val) = match param.split_once('=') {
                Some((k, v)) => (k.trim(), Some(unquote(v.trim())?)),
                None => (param.trim(), None),
            };
            if !is_token(key) {
                return None;
            }
            params.push((key.into(), val));
        }
        offers.push(ExtensionOffer {
            name: name.into(),
            params,
        });
    }
    Some(offers)
}

fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// A token, or a quoted-string whose content is a token (RFC 6455 §9.1).
fn unquote(v: &str) -> Option<String> {
    let inner = match v.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"')?,
        None => v,
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' { chars.next()? } else { c });
    }
    is_token(&out).then_some(out)
}

/// Decodes `%XX` escapes (and leaves malformed ones as they are); `+` stays `+`.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn token_lists() {
        assert!(list_contains("keep-alive, Upgrade", "upgrade"));
        assert!(list_contains("WebSocket", "websocket"));
        assert!(!list_contains("upgrades", "upgrade"));
        assert!(!list_contains("", "upgrade"));
    }

    #[test]
    fn extensions_with_params_and_quotes() {
        let offers = parse_extensions(
            "permessage-deflate; client_max_window_bits, x-foo; a=\"b\"; c=10, , x-bar",
        )
        .unwrap();
        assert_eq!(
            offers,
            vec![
                ExtensionOffer {
                    name: "permessage-deflate".into(),
                    params: vec![("client_max_window_bits".into(), None)]
                },
                ExtensionOffer {
                    name: "x-foo".into(),
                    params: vec![
                        ("a".into(), Some("b".into())),
                        ("c".into(), Some("10".into()))
                    ]
                },
                ExtensionOffer {
                    name: "x-bar".into(),
                    params: vec![]
                },
            ]
        );
        assert_eq!(offers[1].param("A"), Some(Some("b")));
        assert_eq!(offers[0].param("client_max_window_bits"), Some(None));
        assert_eq!(offers[0].param("nope"), None);
    }

    #[test]
    fn bad_extension_grammar() {
        assert_eq!(parse_extensions("bad name"), None);
        assert_eq!(parse_extensions("x; a=\"b c\""), None);
        assert_eq!(parse_extensions("x; =1"), None);
        assert_eq!(parse_extensions("x; a=\"unterminated"), None);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2Fc"), "a b/c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
