//! Server side of the opening handshake — RFC 6455 §4.2: read the client's request, validate
//! it, and build the 101 response or a rejection.

use super::accept::accept_key;
use super::head::{any_lists, list_items, single, Head, HeadScanner, Header};
use super::headers::{parse_extensions, percent_decode, ExtensionOffer};
use super::{HandshakeError, Status, DEFAULT_MAX_HEADER_BYTES};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// A validated opening-handshake request (RFC 6455 §4.2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Always `GET`.
    pub method: String,
    /// The request-target as sent (path and query).
    pub target: String,
    /// The path part of the target, as sent (not percent-decoded).
    pub path: String,
    /// The query part, without `?`.
    pub query: Option<String>,
    /// HTTP/1.x minor version (1 or more).
    pub version_minor: u8,
    /// The `Host` header.
    pub host: String,
    /// The `Origin` header (§4.2.1 item 7; browsers always send it).
    pub origin: Option<String>,
    /// The `Sec-WebSocket-Key` value, as sent.
    pub key: String,
    /// Subprotocols offered in `Sec-WebSocket-Protocol`, in the client's order.
    pub protocols: Vec<String>,
    /// Extensions offered in `Sec-WebSocket-Extensions` (§9.1), in order.
    pub extensions: Vec<ExtensionOffer>,
    /// Every header line, in order.
    pub headers: Vec<Header>,
}

impl Request {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        super::head::first(&self.headers, name)
    }

    /// The token of an `Authorization: Bearer <token>` header.
    pub fn bearer_token(&self) -> Option<&str> {
        let value = self.header("authorization")?;
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty())
    }

    /// The percent-decoded value of query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.as_deref()?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k) == name).then(|| percent_decode(v))
        })
    }
}

/// Incremental parser of the client's handshake request.
#[derive(Clone, Debug)]
pub struct RequestParser {
    scanner: HeadScanner,
}

impl Default for RequestParser {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestParser {
    /// A parser with the default 8 KiB cap on the head.
    pub const fn new() -> Self {
        Self::with_max_header_bytes(DEFAULT_MAX_HEADER_BYTES)
    }

    /// A parser refusing heads longer than `max` bytes (431).
    pub const fn with_max_header_bytes(max: usize) -> Self {
        RequestParser {
            scanner: HeadScanner::new(max),
        }
    }

    /// Bytes examined so far (each byte of the input once, however it was delivered).
    pub const fn scanned(&self) -> usize {
        self.scanner.scanned()
    }

    /// `buf` is everything received so far; the caller appends between calls. Returns
    /// `Partial` until the blank line that ends the head has arrived, then the validated
    /// request and the length of the head (bytes after it belong to the WebSocket stream).
    pub fn parse(&mut self, buf: &[u8]) -> Result<Status<Request>, HandshakeError> {
        match self.scanner.scan(buf)? {
            None => Ok(Status::Partial),
            Some(end) => Ok(Status::Complete(
                Request::from_head(Head::parse(&buf[..end])?)?,
                end,
            )),
        }
    }
}

impl Request {
    /// Validates a parsed request head as an opening handshake (RFC 6455 §4.2.1), in the
    /// RFC's order: the error says which rule failed, with the HTTP status to answer.
    pub fn from_head(head: Head<'_>) -> Result<Request, HandshakeError> {
        let bad = |reason| HandshakeError::new(400, reason, None);
        // 2-3. The Request-URI (origin-form, or absolute-form naming the resource, item 1 and
        //    RFC 7230 §5.3) and Host (the target's authority wins over the header, §5.4).
        let parts = head.request_target();
        let host = head.host().map(|h| h.map(String::from));
        let Head {
            method,
            target,
            version,
            headers,
        } = head;
        // 1. "The method of the request MUST be GET, and the HTTP version MUST be at least 1.1."
        if method != "GET" {
            return Err(HandshakeError::new(400, "the method must be GET", Some(0)));
        }
        let version_minor = match version.strip_prefix("HTTP/1.").map(str::parse::<u8>) {
            Some(Ok(minor)) if minor >= 1 => minor,
            _ => {
                return Err(HandshakeError::new(
                    400,
                    "HTTP/1.1 or later is required",
                    Some(method.len() + target.len() + 2),
                ))
            }
        };
        let parts = parts?;
        let host = host?.ok_or_else(|| bad("missing Host header"))?;
        // 4. Upgrade: websocket. A plain HTTP request to a WebSocket resource gets 426 Upgrade
        //    Required (RFC 7231 §6.5.15), which tells the client what to do; a wrong value is 400.
        if !headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case("upgrade"))
        {
            return Err(HandshakeError::new(
                426,
                "this resource needs a WebSocket upgrade (missing Upgrade header)",
                None,
            ));
        }
        if !any_lists(&headers, "upgrade", "websocket") {
            return Err(bad("the Upgrade header must list websocket"));
        }
        // 5. Connection: Upgrade.
        if !any_lists(&headers, "connection", "upgrade") {
            return Err(bad("the Connection header must list upgrade"));
        }
        // 6. Sec-WebSocket-Key: base64 of 16 bytes.
        let key = single(
            &headers,
            "sec-websocket-key",
            "more than one Sec-WebSocket-Key header",
        )?
        .ok_or_else(|| bad("missing Sec-WebSocket-Key header"))?;
        match STANDARD.decode(key) {
            Ok(bytes) if bytes.len() == 16 => {}
            _ => return Err(bad("Sec-WebSocket-Key must be base64 of 16 bytes")),
        }
        // 8. Sec-WebSocket-Version: 13, else 426 with the version we speak (§4.2.2).
        match single(
            &headers,
            "sec-websocket-version",
            "more than one Sec-WebSocket-Version header",
        )? {
            Some("13") => {}
            Some(_) => {
                return Err(HandshakeError::new(
                    426,
                    "unsupported Sec-WebSocket-Version (only 13)",
                    None,
                ))
            }
            None => {
                return Err(HandshakeError::new(
                    426,
                    "missing Sec-WebSocket-Version header (13)",
                    None,
                ))
            }
        }
        // 9-10. Subprotocols and extensions offered.
        let protocols = list_items(&headers, "sec-websocket-protocol");
        let mut extensions = Vec::new();
        for value in super::head::values(&headers, "sec-websocket-extensions") {
            extensions.extend(
                parse_extensions(value)
                    .ok_or_else(|| bad("malformed Sec-WebSocket-Extensions header"))?,
            );
        }
        let origin = single(&headers, "origin", "more than one Origin header")?.map(String::from);
        Ok(Request {
            method: method.into(),
            target: target.into(),
            path: parts.path.into(),
            query: parts.query.map(String::from),
            version_minor,
            host,
            origin,
            key: key.into(),
            protocols,
            extensions,
            headers,
        })
    }
}

/// What the server accepts: the subprotocol and extensions it selected, and extra headers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AcceptOptions<'a> {
    /// The selected subprotocol (must be one the client offered).
    pub protocol: Option<&'a str>,
    /// The negotiated `Sec-WebSocket-Extensions` value.
    pub extensions: Option<&'a str>,
    /// Extra response headers.
    pub extra_headers: &'a [(&'a str, &'a str)],
    /// Negotiate permessage-deflate (RFC 7692 §7.1) with these settings when the client
    /// offers it: [`Connection::accept`](crate::Connection::accept) answers the first
    /// acceptable offer and turns compression on. Needs the `deflate` feature (without it,
    /// offers are declined).
    pub deflate: Option<&'a crate::deflate::DeflateConfig>,
}

/// The `101 Switching Protocols` response (RFC 6455 §4.2.2 item 5).
pub fn accept_response(req: &Request, opts: &AcceptOptions<'_>) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
        accept_key(req.key.as_bytes())
    );
    if let Some(p) = opts.protocol {
        out.push_str(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
    }
    if let Some(e) = opts.extensions {
        out.push_str(&format!("Sec-WebSocket-Extensions: {e}\r\n"));
    }
    for (name, value) in opts.extra_headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// The standard reason phrase of `status`.
pub const fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

/// A rejection: `status`, a plain-text `body` saying what was wrong, `Connection: close`.
/// 426 carries `Sec-WebSocket-Version: 13` (§4.2.2), 401 a `WWW-Authenticate: Bearer`.
pub fn reject_response(status: u16, body: &str) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    match status {
        426 => out.push_str("Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"),
        401 => out.push_str("WWW-Authenticate: Bearer\r\n"),
        405 => out.push_str("Allow: GET\r\n"),
        _ => {}
    }
    out.push_str(&format!(
        "Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    out.into_bytes()
}

/// The first of the server's `supported` subprotocols (in its order of preference) that the
/// client offered.
pub fn negotiate_protocol<'a>(offered: &'a [String], supported: &[&str]) -> Option<&'a str> {
    supported.iter().find_map(|s| {
        offered
            .iter()
            .find(|o| o.as_str() == *s)
            .map(String::as_str)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    /// RFC 6455 §1.2's sample request.
    const SAMPLE: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";

    fn parse(bytes: &[u8]) -> Result<Status<Request>, HandshakeError> {
        RequestParser::new().parse(bytes)
    }

    fn parse_ok(bytes: &[u8]) -> Request {
        match parse(bytes) {
            Ok(Status::Complete(r, _)) => r,
            Ok(Status::Partial) => panic!("partial"),
            Err(e) => panic!("{e:?}"),
        }
    }

    fn error(bytes: &[u8]) -> (u16, &'static str) {
        match parse(bytes) {
            Err(e) => (e.status, e.reason),
            Ok(_) => panic!("accepted {:?}", core::str::from_utf8(bytes)),
        }
    }

    /// The sample request with header `name` replaced by `line` (or removed if empty).
    fn with_header(name: &str, line: &str) -> Vec<u8> {
        let text = core::str::from_utf8(SAMPLE).unwrap();
        let mut out = String::new();
        for l in text.split_inclusive("\r\n") {
            if l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
            {
                if !line.is_empty() {
                    out.push_str(line);
                    out.push_str("\r\n");
                }
            } else {
                out.push_str(l);
            }
        }
        out.into_bytes()
    }

    #[test]
    fn rfc_sample_request_and_response() {
        let req = parse_ok(SAMPLE);
        assert_eq!(req.path, "/chat");
        assert_eq!(req.host, "server.example.com");
        assert_eq!(req.origin.as_deref(), Some("http://example.com"));
        assert_eq!(req.protocols, ["chat", "superchat"]);
        assert_eq!(req.headers.len(), 7);
        assert_eq!(
            &SAMPLE[req.headers[0].line.clone()],
            b"Host: server.example.com"
        );
        let resp = accept_response(
            &req,
            &AcceptOptions {
                protocol: Some("chat"),
                ..Default::default()
            },
        );
        assert_eq!(
            core::str::from_utf8(&resp).unwrap(),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
        );
    }

    #[test]
    fn byte_at_a_time_is_partial_until_the_end_and_scans_once() {
        let mut data = SAMPLE.to_vec();
        data.extend_from_slice(&[0x81, 0x85]); // the first frame may follow in the same read
        let mut parser = RequestParser::new();
        for n in 1..SAMPLE.len() {
            assert!(
                matches!(parser.parse(&data[..n]), Ok(Status::Partial)),
                "{n}"
            );
            assert_eq!(parser.scanned(), n);
        }
        match parser.parse(&data) {
            Ok(Status::Complete(req, used)) => {
                assert_eq!(used, SAMPLE.len());
                assert_eq!(req, parse_ok(SAMPLE));
            }
            _ => panic!(),
        }
        assert_eq!(
            parser.scanned(),
            SAMPLE.len(),
            "bytes after the head are not scanned"
        );
    }

    #[test]
    fn tokens_are_case_insensitive_and_may_span_lines() {
        let r = with_header("connection", "Connection: keep-alive, Upgrade");
        parse_ok(&r);
        let r = with_header("upgrade", "Upgrade: WebSocket");
        parse_ok(&r);
        let r = with_header(
            "connection",
            "Connection: keep-alive\r\nConnection: upgrade",
        );
        parse_ok(&r);
    }

    #[test]
    fn query_token_and_bearer() {
        let text = core::str::from_utf8(SAMPLE)
            .unwrap()
            .replace("GET /chat ", "GET /chat?room=a%20b&token=s3cret ");
        let text = text.replace("Origin:", "Authorization: Bearer abc.def\r\nOrigin:");
        let req = parse_ok(text.as_bytes());
        assert_eq!(req.path, "/chat");
        assert_eq!(req.query_param("room").as_deref(), Some("a b"));
        assert_eq!(req.query_param("token").as_deref(), Some("s3cret"));
        assert_eq!(req.query_param("none"), None);
        assert_eq!(req.bearer_token(), Some("abc.def"));
    }

    #[test]
    fn extensions_are_parsed() {
        let r = with_header(
            "origin",
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
        );
        let req = parse_ok(&r);
        assert_eq!(req.extensions.len(), 1);
        assert_eq!(req.extensions[0].name, "permessage-deflate");
        let r = with_header("origin", "Sec-WebSocket-Extensions: bad value");
        assert_eq!(
            error(&r),
            (400, "malformed Sec-WebSocket-Extensions header")
        );
    }

    #[test]
    fn each_error_has_its_status_and_reason() {
        let text = core::str::from_utf8(SAMPLE).unwrap();
        let replaced = |from: &str, to: &str| text.replace(from, to).into_bytes();
        let cases: Vec<(Vec<u8>, u16, &str)> = vec![
            (
                replaced("GET /chat", "POST /chat"),
                400,
                "the method must be GET",
            ),
            (
                replaced("HTTP/1.1", "HTTP/1.0"),
                400,
                "HTTP/1.1 or later is required",
            ),
            (
                replaced("GET /chat", "GET chat"),
                400,
                "the request target must be a path (/...) or an absolute URI (RFC 7230 §5.3)",
            ),
            (
                replaced("GET /chat HTTP/1.1", "GET /chat"),
                400,
                "malformed request line",
            ),
            (with_header("host", ""), 400, "missing Host header"),
            (
                with_header("host", "Host: a\r\nHost: b"),
                400,
                "more than one Host header",
            ),
            (
                with_header("upgrade", ""),
                426,
                "this resource needs a WebSocket upgrade (missing Upgrade header)",
            ),
            (
                with_header("upgrade", "Upgrade: h2c"),
                400,
                "the Upgrade header must list websocket",
            ),
            (
                with_header("connection", "Connection: keep-alive"),
                400,
                "the Connection header must list upgrade",
            ),
            (
                with_header("sec-websocket-key", ""),
                400,
                "missing Sec-WebSocket-Key header",
            ),
            (
                with_header(
                    "sec-websocket-key",
                    "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA",
                ),
                400,
                "Sec-WebSocket-Key must be base64 of 16 bytes",
            ),
            (
                with_header("sec-websocket-key", "Sec-WebSocket-Key: not base64!"),
                400,
                "Sec-WebSocket-Key must be base64 of 16 bytes",
            ),
            (
                with_header("sec-websocket-version", "Sec-WebSocket-Version: 8"),
                426,
                "unsupported Sec-WebSocket-Version (only 13)",
            ),
            (
                with_header("sec-websocket-version", ""),
                426,
                "missing Sec-WebSocket-Version header (13)",
            ),
            (
                with_header("origin", "Bad Name: x"),
                400,
                "invalid header name",
            ),
            (
                with_header("origin", "Origin : x"),
                400,
                "invalid header name",
            ),
            (
                with_header("origin", "NoColon"),
                400,
                "header line without a colon",
            ),
            (
                with_header("origin", "Origin: a\r\n folded"),
                400,
                "obsolete line folding is not allowed",
            ),
            (
                text.replace("\r\n", "\n").into_bytes(),
                400,
                "lines must end with CRLF",
            ),
        ];
        for (bytes, status, reason) in cases {
            assert_eq!(
                error(&bytes),
                (status, reason),
                "{:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }

    #[test]
    fn key_of_15_bytes_is_refused() {
        let key15 = STANDARD.encode([7u8; 15]);
        let r = with_header("sec-websocket-key", &format!("Sec-WebSocket-Key: {key15}"));
        assert_eq!(error(&r).0, 400);
    }

    #[test]
    fn oversized_head_is_431() {
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.extend(core::iter::repeat_n(b'a', 9000));
        assert_eq!(error(&big), (431, "request header fields too large"));
        let mut p = RequestParser::with_max_header_bytes(100);
        assert_eq!(p.parse(SAMPLE).err().map(|e| e.status), Some(431));
    }

    #[test]
    fn rejection_responses() {
        let r = String::from_utf8(reject_response(426, "use version 13")).unwrap();
        assert!(r.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
        assert!(r.contains("\r\nSec-WebSocket-Version: 13\r\n"));
        assert!(r.ends_with("\r\nContent-Length: 14\r\nConnection: close\r\n\r\nuse version 13"));
        let e = HandshakeError::new(431, "request header fields too large", None);
        let r = String::from_utf8(e.response()).unwrap();
        assert!(r.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(r.ends_with("request header fields too large"));
        for status in [400u16, 403, 404] {
            let r = String::from_utf8(reject_response(status, "why")).unwrap();
            assert!(r.starts_with(&format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status))));
        }
    }

    #[test]
    fn protocol_negotiation_follows_server_preference() {
        let offered = vec![String::from("chat"), String::from("superchat")];
        assert_eq!(
            negotiate_protocol(&offered, &["superchat", "chat"]),
            Some("superchat")
        );
        assert_eq!(negotiate_protocol(&offered, &["other"]), None);
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_request(cuts in proptest::collection::vec(0..SAMPLE.len(), 0..6)) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let mut parser = RequestParser::new();
            let mut buf = Vec::new();
            let mut last = 0;
            for c in cuts.into_iter().chain([SAMPLE.len()]) {
                buf.extend_from_slice(&SAMPLE[last..c.max(last)]);
                last = c.max(last);
                if let Ok(Status::Complete(req, used)) = parser.parse(&buf) {
                    prop_assert_eq!(used, SAMPLE.len());
                    prop_assert_eq!(req, parse_ok(SAMPLE));
                    return Ok(());
                }
            }
            prop_assert!(false, "never completed");
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = RequestParser::new().parse(&data);
            let mut with_end = data.clone();
            with_end.extend_from_slice(b"\r\n\r\n");
            let _ = RequestParser::new().parse(&with_end);
        }
    }
}
