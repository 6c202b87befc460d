//! The opening handshake, for people: a request (or response) head split into its lines,
//! validated as the server validates it, with the accept-key computation step by step.
//!
//! The head is scanned and split once; the request is validated from those same lines
//! ([`Request::from_head`]), exactly as [`RequestParser`](crate::handshake::RequestParser)
//! does for the server.

use crate::handshake::{
    accept_key_steps, split_head, AcceptKeySteps, HandshakeError, Head, HeadScanner, Header,
    Request,
};
use alloc::string::String;
use alloc::vec::Vec;

/// What the inspector shows for an opening-handshake head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandshakeInspection {
    /// Whether the bytes are a response (`HTTP/...`) rather than a request.
    pub is_response: bool,
    /// The head's length once its blank line has arrived.
    pub head_len: Option<usize>,
    /// The start line.
    pub start_line: String,
    /// Header lines with their byte ranges (even when validation failed).
    pub headers: Vec<Header>,
    /// The validated request (requests only).
    pub request: Option<Request>,
    /// Why the head is refused, with the HTTP status a server would answer (requests only:
    /// also a head whose lines cannot be split).
    pub error: Option<HandshakeError>,
    /// The accept-key computation from the request's key (RFC 6455 §1.3); `None` for a
    /// response, whose steps cannot be checked without the request's key.
    pub accept: Option<AcceptKeySteps>,
}

/// Parses an upgrade request (or a response) the way the server (or client) does, and shows
/// its lines and the accept-key steps (RFC 6455 §4.2.1, §1.3).
pub fn inspect_handshake(bytes: &[u8]) -> HandshakeInspection {
    let is_response = bytes.starts_with(b"HTTP/");
    let head_len = HeadScanner::new(usize::MAX).scan(bytes).ok().flatten();
    let mut out = HandshakeInspection {
        is_response,
        head_len,
        start_line: String::new(),
        headers: Vec::new(),
        request: None,
        error: None,
        accept: None,
    };
    let Some(len) = head_len else {
        return out;
    };
    let lines = match split_head(&bytes[..len]) {
        Ok(lines) => lines,
        Err(e) => {
            out.error = (!is_response).then_some(e);
            return out;
        }
    };
    out.start_line = lines.start_line.into();
    out.headers = lines.headers.clone();
    if is_response {
        return out;
    }
    match Head::from_lines(lines).and_then(Request::from_head) {
        Ok(request) => {
            out.accept = Some(accept_key_steps(&request.key));
            out.request = Some(request);
        }
        Err(e) => out.error = Some(e),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_sample_request_with_accept_steps() {
        let req = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        let ins = inspect_handshake(req);
        assert_eq!(ins.head_len, Some(req.len()));
        assert_eq!(ins.start_line, "GET /chat HTTP/1.1");
        assert_eq!(ins.headers.len(), 5);
        assert_eq!(ins.error, None);
        let steps = ins.accept.unwrap();
        assert_eq!(steps.sha1_hex, "b37a4f2cc0624f1690f64606cf385945b2bec4ea");
        assert_eq!(steps.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn invalid_request_still_shows_its_lines() {
        let req = b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
        let ins = inspect_handshake(req);
        assert_eq!(ins.headers.len(), 4);
        assert_eq!(
            ins.error.map(|e| (e.status, e.reason)),
            Some((400, "missing Sec-WebSocket-Key header"))
        );
        assert_eq!(ins.accept, None);
    }

    #[test]
    fn a_partial_head_shows_nothing_yet() {
        let ins = inspect_handshake(b"GET / HTTP/1.1\r\nHost: a\r\n");
        assert_eq!(
            (ins.head_len, ins.error, ins.headers.len()),
            (None, None, 0)
        );
    }

    #[test]
    fn a_response_is_split_but_not_judged() {
        let resp = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
        let ins = inspect_handshake(resp);
        assert!(ins.is_response);
        assert_eq!(ins.start_line, "HTTP/1.1 101 Switching Protocols");
        assert_eq!(ins.headers[0].value, "websocket");
        assert_eq!((ins.error, ins.accept), (None, None));
    }

    #[test]
    fn a_malformed_request_line_keeps_its_headers() {
        let ins = inspect_handshake(b"GET /chat\r\nHost: a\r\n\r\n");
        assert_eq!(ins.start_line, "GET /chat");
        assert_eq!(ins.headers.len(), 1);
        assert_eq!(ins.error.map(|e| e.reason), Some("malformed request line"));
    }

    /// The inspector refuses exactly what the server's parser refuses, for the same reason.
    #[test]
    fn the_verdict_is_the_servers() {
        let good = "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        let variants = [
            good.into(),
            good.replace("GET", "POST"),
            good.replace("HTTP/1.1", "HTTP/1.0"),
            good.replace("13", "8"),
            good.replace("Upgrade: websocket\r\n", ""),
            good.replace("Host: a", "Host : a"),
            good.replace("\r\n", "\n"),
            good.replace("Host: a\r\n", "Host: a\r\n folded\r\n"),
        ];
        for text in variants {
            let server = crate::handshake::RequestParser::new().parse(text.as_bytes());
            let ins = inspect_handshake(text.as_bytes());
            match server {
                Ok(crate::handshake::Status::Complete(req, _)) => {
                    assert_eq!((ins.request, ins.error), (Some(req), None), "{text:?}");
                }
                Ok(crate::handshake::Status::Partial) => panic!("partial: {text:?}"),
                Err(e) => assert_eq!(ins.error, Some(e), "{text:?}"),
            }
        }
    }
}
