//! Client side of the opening handshake — RFC 6455 §4.1: build the request from a
//! caller-supplied nonce, then validate the server's response.

use super::accept::accept_key;
use super::head::{any_lists, single, split_head, HeadScanner, Header};
use super::headers::{parse_extensions, ExtensionOffer};
use super::{HandshakeError, Status, DEFAULT_MAX_HEADER_BYTES};
use crate::deflate::{client_offer, validate_response, DeflateConfig, DeflateParams};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// What the client asks for.
#[derive(Clone, Copy, Debug)]
pub struct ClientRequest<'a> {
    /// `host[:port]` for the `Host` header.
    pub host: &'a str,
    /// Path and query, starting with `/`.
    pub path: &'a str,
    /// 16 random bytes for `Sec-WebSocket-Key` (§4.1: "randomly selected"); the caller owns
    /// randomness.
    pub nonce: [u8; 16],
    /// Subprotocols to offer, in order of preference.
    pub protocols: &'a [&'a str],
    /// A `Sec-WebSocket-Extensions` value to offer.
    pub extensions: Option<&'a str>,
    /// An `Origin` header.
    pub origin: Option<&'a str>,
    /// Extra request headers.
    pub extra_headers: &'a [(&'a str, &'a str)],
    /// Offer permessage-deflate (RFC 7692 §7.1) with these settings
    /// ([`client_offer`](crate::deflate::client_offer)); the response is checked with
    /// [`validate_response`](crate::deflate::validate_response) and the agreed parameters are
    /// in [`Response::deflate`]. Needs the `deflate` feature (without it, nothing is offered).
    pub deflate: Option<&'a DeflateConfig>,
}

/// The server's accepted response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Always 101.
    pub status: u16,
    /// The subprotocol the server selected.
    pub protocol: Option<String>,
    /// The extensions the server accepted.
    pub extensions: Vec<ExtensionOffer>,
    /// The permessage-deflate parameters agreed, if it was offered and accepted.
    pub deflate: Option<DeflateParams>,
    /// Every header line, in order.
    pub headers: Vec<Header>,
}

/// The client's handshake in progress.
#[derive(Clone, Debug)]
pub struct ClientHandshake {
    key: String,
    protocols: Vec<String>,
    extensions: Vec<String>,
    deflate: Option<DeflateConfig>,
    scanner: HeadScanner,
}

impl ClientHandshake {
    /// Builds the request (§4.1) and returns the handshake state and the bytes to send.
    pub fn new(req: &ClientRequest<'_>) -> (Self, Vec<u8>) {
        let key = STANDARD.encode(req.nonce);
        let mut out = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n",
            req.path, req.host
        );
        if let Some(origin) = req.origin {
            out.push_str(&format!("Origin: {origin}\r\n"));
        }
        if !req.protocols.is_empty() {
            out.push_str(&format!(
                "Sec-WebSocket-Protocol: {}\r\n",
                req.protocols.join(", ")
            ));
        }
        let deflate = req.deflate.filter(|_| cfg!(feature = "deflate")).copied();
        let offer = match (req.extensions, deflate) {
            (Some(ext), Some(cfg)) => Some(format!("{ext}, {}", client_offer(&cfg))),
            (None, Some(cfg)) => Some(client_offer(&cfg)),
            (ext, None) => ext.map(String::from),
        };
        let mut extensions = Vec::new();
        if let Some(ext) = offer {
            out.push_str(&format!("Sec-WebSocket-Extensions: {ext}\r\n"));
            extensions = parse_extensions(&ext)
                .unwrap_or_default()
                .into_iter()
                .map(|o| o.name)
                .collect();
        }
        for (name, value) in req.extra_headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        let state = ClientHandshake {
            key,
            protocols: req.protocols.iter().map(|p| String::from(*p)).collect(),
            extensions,
            deflate,
            scanner: HeadScanner::new(DEFAULT_MAX_HEADER_BYTES),
        };
        (state, out.into_bytes())
    }

    /// The `Sec-WebSocket-Key` sent.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Bytes of the response examined so far.
    pub const fn scanned(&self) -> usize {
        self.scanner.scanned()
    }

    /// Same contract as [`super::RequestParser::parse`]: `buf` is everything received so
    /// far. Validates the response as §4.1 says the client MUST.
    pub fn parse_response(&mut self, buf: &[u8]) -> Result<Status<Response>, HandshakeError> {
        match self.scanner.scan(buf)? {
            None => Ok(Status::Partial),
            Some(end) => Ok(Status::Complete(self.validate(&buf[..end])?, end)),
        }
    }

    fn validate(&self, head: &[u8]) -> Result<Response, HandshakeError> {
        let fail = |status, reason| HandshakeError::new(status, reason, None);
        let parsed = split_head(head).map_err(|e| HandshakeError { status: 0, ..e })?;
        let mut parts = parsed.start_line.splitn(3, ' ');
        let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
            return Err(fail(0, "malformed status line"));
        };
        if !version.starts_with("HTTP/1.") {
            return Err(fail(0, "not an HTTP/1.x response"));
        }
        let status: u16 = code.parse().map_err(|_| fail(0, "malformed status code"))?;
        if status != 101 {
            return Err(fail(
                status,
                "the server did not switch protocols (status is not 101)",
            ));
        }
        let headers = parsed.headers;
        if !any_lists(&headers, "upgrade", "websocket") {
            return Err(fail(
                101,
                "the response's Upgrade header does not list websocket",
            ));
        }
        if !any_lists(&headers, "connection", "upgrade") {
            return Err(fail(
                101,
                "the response's Connection header does not list upgrade",
            ));
        }
        let accept = single(
            &headers,
            "sec-websocket-accept",
            "more than one Sec-WebSocket-Accept header",
        )
        .map_err(|e| HandshakeError { status: 101, ..e })?
        .ok_or_else(|| fail(101, "missing Sec-WebSocket-Accept header"))?;
        if accept != accept_key(self.key.as_bytes()) {
            return Err(fail(
                101,
                "Sec-WebSocket-Accept does not match the key sent",
            ));
        }
        let protocol = single(
            &headers,
            "sec-websocket-protocol",
            "more than one Sec-WebSocket-Protocol header",
        )
        .map_err(|e| HandshakeError { status: 101, ..e })?;
        if let Some(p) = protocol {
            if !self.protocols.iter().any(|o| o == p) {
                return Err(fail(
                    101,
                    "the server selected a subprotocol that was not offered",
                ));
            }
        }
        let mut extensions = Vec::new();
        for value in super::head::values(&headers, "sec-websocket-extensions") {
            extensions.extend(
                parse_extensions(value)
                    .ok_or_else(|| fail(101, "malformed Sec-WebSocket-Extensions header"))?,
            );
        }
        if extensions.iter().any(|e| {
            !self
                .extensions
                .iter()
                .any(|o| o.eq_ignore_ascii_case(&e.name))
        }) {
            return Err(fail(
                101,
                "the server accepted an extension that was not offered",
            ));
        }
        // RFC 7692 §7.1: a response the client cannot honour fails the connection.
        let deflate = match &self.deflate {
            Some(cfg) => validate_response(&extensions, cfg).map_err(|reason| fail(101, reason))?,
            None => None,
        };
        Ok(Response {
            status,
            protocol: protocol.map(String::from),
            extensions,
            deflate,
            headers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    const NONCE: [u8; 16] = *b"the sample nonce";
    const OK: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";

    fn client(
        protocols: &'static [&'static str],
        ext: Option<&'static str>,
    ) -> (ClientHandshake, String) {
        let req = ClientRequest {
            host: "server.example.com",
            path: "/chat",
            nonce: NONCE,
            protocols,
            extensions: ext,
            origin: Some("http://example.com"),
            extra_headers: &[("X-Test", "1")],
            deflate: None,
        };
        let (hs, bytes) = ClientHandshake::new(&req);
        (hs, String::from_utf8(bytes).unwrap())
    }

    fn response(extra: &str) -> Vec<u8> {
        format!("{OK}{extra}\r\n").into_bytes()
    }

    fn outcome(hs: &mut ClientHandshake, bytes: &[u8]) -> Result<Response, (u16, &'static str)> {
        match hs.parse_response(bytes) {
            Ok(Status::Complete(r, used)) => {
                assert_eq!(used, bytes.len());
                Ok(r)
            }
            Ok(Status::Partial) => panic!("partial"),
            Err(e) => Err((e.status, e.reason)),
        }
    }

    #[test]
    fn request_bytes() {
        let (hs, req) = client(&["chat", "superchat"], None);
        assert_eq!(hs.key(), "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(
            req,
            "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nX-Test: 1\r\n\r\n"
        );
        // Our own server-side parser accepts it.
        let mut p = super::super::RequestParser::new();
        assert!(matches!(
            p.parse(req.as_bytes()),
            Ok(Status::Complete(_, _))
        ));
    }

    #[test]
    fn accepts_the_rfc_response_byte_at_a_time() {
        let (mut hs, _) = client(&["chat"], None);
        let bytes = response("Sec-WebSocket-Protocol: chat\r\n");
        for n in 1..bytes.len() {
            assert!(matches!(
                hs.parse_response(&bytes[..n]),
                Ok(Status::Partial)
            ));
        }
        let r = outcome(&mut hs, &bytes).unwrap();
        assert_eq!(r.protocol.as_deref(), Some("chat"));
        assert_eq!(hs.scanned(), bytes.len());
    }

    #[test]
    fn each_failure() {
        let (mut hs, _) = client(&["chat"], Some("permessage-deflate"));
        let wrong_accept = OK.replace(
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        );
        let cases: Vec<(Vec<u8>, u16, &str)> = vec![
            (
                format!("{wrong_accept}\r\n").into_bytes(),
                101,
                "Sec-WebSocket-Accept does not match the key sent",
            ),
            (
                OK.replace("Upgrade: websocket\r\n", "")
                    .into_bytes()
                    .into_iter()
                    .chain(*b"\r\n")
                    .collect(),
                101,
                "the response's Upgrade header does not list websocket",
            ),
            (
                OK.replace("Connection: Upgrade\r\n", "Connection: close\r\n")
                    .into_bytes()
                    .into_iter()
                    .chain(*b"\r\n")
                    .collect(),
                101,
                "the response's Connection header does not list upgrade",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec(),
                200,
                "the server did not switch protocols (status is not 101)",
            ),
            (
                b"HTTP/1.1 403 Forbidden\r\n\r\n".to_vec(),
                403,
                "the server did not switch protocols (status is not 101)",
            ),
            (
                response("Sec-WebSocket-Protocol: other\r\n"),
                101,
                "the server selected a subprotocol that was not offered",
            ),
            (
                response("Sec-WebSocket-Extensions: x-unknown\r\n"),
                101,
                "the server accepted an extension that was not offered",
            ),
            (b"SSH-2.0\r\n\r\n".to_vec(), 0, "malformed status line"),
        ];
        for (bytes, status, reason) in cases {
            let mut fresh = hs.clone();
            fresh.scanner = HeadScanner::new(DEFAULT_MAX_HEADER_BYTES);
            assert_eq!(
                outcome(&mut fresh, &bytes).err(),
                Some((status, reason)),
                "{}",
                String::from_utf8_lossy(&bytes)
            );
        }
        // An offered extension may be accepted.
        let r = outcome(
            &mut hs,
            &response(
                "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n",
            ),
        )
        .unwrap();
        assert_eq!(r.extensions[0].name, "permessage-deflate");
    }
}
