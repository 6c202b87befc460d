//! The opening handshake's HTTP/1.1 grammar (RFC 7230 / RFC 9112), rule by rule: each form of
//! request-target, and each malformed request line or header, with the status the server
//! answers. One table, so the audit is one place to read.

use wslens::handshake::{Head, HeadScanner, RequestParser, Status, Target};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// A WebSocket upgrade with this request line and these extra header lines.
fn upgrade(request_line: &str, host: Option<&str>, extra: &str) -> String {
    let host = host.map_or(String::new(), |h| format!("Host: {h}\r\n"));
    format!(
        "{request_line}\r\n{host}Upgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// What the server's parser makes of `request`: Ok((path, query, host)) or Err((status, reason)).
fn parse(request: &str) -> Result<(String, Option<String>, String), (u16, &'static str)> {
    match RequestParser::new().parse(request.as_bytes()) {
        Ok(Status::Complete(req, _)) => Ok((req.path, req.query, req.host)),
        Ok(Status::Partial) => panic!("partial: {request:?}"),
        Err(e) => Err((e.status, e.reason)),
    }
}

#[test]
fn origin_form_and_absolute_form_are_accepted() {
    let ok = |path: &str, query: Option<&str>, host: &str| {
        Ok((path.to_string(), query.map(String::from), host.to_string()))
    };
    let cases = [
        // origin-form (RFC 7230 §5.3.1)
        ("GET /chat HTTP/1.1", ok("/chat", None, "h")),
        (
            "GET /chat?room=a&x HTTP/1.1",
            ok("/chat", Some("room=a&x"), "h"),
        ),
        // absolute-form (§5.3.2, which a server MUST accept; RFC 6455 §4.2.1 item 1): the
        // authority names the host, whatever Host says (§5.4)
        (
            "GET http://example.com/chat HTTP/1.1",
            ok("/chat", None, "example.com"),
        ),
        (
            "GET HTTPS://example.com:8443/chat?a=1 HTTP/1.1",
            ok("/chat", Some("a=1"), "example.com:8443"),
        ),
        (
            "GET ws://[::1]:8765/echo HTTP/1.1",
            ok("/echo", None, "[::1]:8765"),
        ),
        (
            "GET wss://example.com HTTP/1.1",
            ok("/", None, "example.com"),
        ),
        (
            "GET http://example.com?q HTTP/1.1",
            ok("/", Some("q"), "example.com"),
        ),
    ];
    for (line, want) in cases {
        assert_eq!(parse(&upgrade(line, Some("h"), "")), want, "{line}");
    }
}

#[test]
fn every_other_target_is_refused_with_400() {
    let cases = [
        // authority-form is for CONNECT only (§5.3.3)
        (
            "GET example.com:80 HTTP/1.1",
            "the request target must be a path (/...) or an absolute URI (RFC 7230 §5.3)",
        ),
        // asterisk-form is for OPTIONS only (§5.3.4)
        ("GET * HTTP/1.1", "asterisk-form (*) is only for OPTIONS"),
        (
            "GET ftp://example.com/chat HTTP/1.1",
            "the request target's scheme must be http, https, ws or wss",
        ),
        (
            "GET http:///chat HTTP/1.1",
            "the request target's authority is empty",
        ),
        (
            "GET http://user:pw@example.com/chat HTTP/1.1",
            "userinfo (user@) is not allowed in the request target",
        ),
        (
            "GET /chat#frag HTTP/1.1",
            "a fragment (#) is not allowed in the request target",
        ),
        (
            "GET chat HTTP/1.1",
            "the request target must be a path (/...) or an absolute URI (RFC 7230 §5.3)",
        ),
    ];
    for (line, reason) in cases {
        assert_eq!(
            parse(&upgrade(line, Some("h"), "")),
            Err((400, reason)),
            "{line}"
        );
    }
}

#[test]
fn the_request_line_and_header_grammar() {
    let good = upgrade("GET /chat HTTP/1.1", Some("h"), "");
    let cases: Vec<(String, u16, &str)> = vec![
        // Host: exactly one, even when the target names the host (RFC 7230 §5.4)
        (
            upgrade("GET /chat HTTP/1.1", None, ""),
            400,
            "missing Host header",
        ),
        (
            upgrade("GET http://h/chat HTTP/1.1", None, ""),
            400,
            "missing Host header",
        ),
        (
            upgrade("GET /chat HTTP/1.1", Some("a"), "Host: b\r\n"),
            400,
            "more than one Host header",
        ),
        (
            upgrade("GET /chat HTTP/1.1", Some("a b"), ""),
            400,
            "invalid Host header",
        ),
        (
            upgrade("GET /chat HTTP/1.1", Some("u@h"), ""),
            400,
            "invalid Host header",
        ),
        // obs-fold (RFC 7230 §3.2.4: a server MUST reject it with 400 or replace it)
        (
            good.replace(
                "Upgrade: websocket\r\n",
                "Upgrade: websocket\r\n continued\r\n",
            ),
            400,
            "obsolete line folding is not allowed",
        ),
        // whitespace between the field name and the colon (§3.2.4: MUST reject with 400)
        (
            good.replace("Upgrade: websocket", "Upgrade : websocket"),
            400,
            "invalid header name",
        ),
        // a name that is not a token (§3.2.6)
        (
            good.replace("Upgrade: websocket", "Up(grade): websocket"),
            400,
            "invalid header name",
        ),
        (
            good.replace("Upgrade: websocket", "Upgrade websocket"),
            400,
            "header line without a colon",
        ),
        // bare CR inside a line (§3.5: MUST treat as invalid or replace with SP)
        (
            good.replace("Upgrade: websocket", "Upgrade: web\rsocket"),
            400,
            "control character in a header line (bare CR or LF?)",
        ),
        // a request line that is not three parts separated by one space (§3.1.1)
        (
            good.replace("GET /chat HTTP/1.1", "GET  /chat HTTP/1.1"),
            400,
            "malformed request line",
        ),
        (
            good.replace("GET /chat HTTP/1.1", "GET /chat"),
            400,
            "malformed request line",
        ),
        (
            good.replace("GET /chat HTTP/1.1", "GET /chat HTTP/1.1 extra"),
            400,
            "malformed request line",
        ),
        (
            good.replace("GET /chat HTTP/1.1", "GET /ch\tat HTTP/1.1"),
            400,
            "control character in the start line",
        ),
        // not UTF-8 (the head is text here: a WebSocket request has no body)
        (
            good.replace("/chat", "/ch\u{0}at"),
            400,
            "control character in the start line",
        ),
    ];
    for (request, status, reason) in cases {
        assert_eq!(parse(&request), Err((status, reason)), "{request:?}");
    }
}

#[test]
fn an_over_long_request_line_is_414_and_long_headers_are_431() {
    // RFC 9112 §3: a request-target longer than the server wishes to parse gets 414.
    let long_target = format!("GET /{} HTTP/1.1\r\n", "a".repeat(9000));
    let e = HeadScanner::new(8192)
        .scan(long_target.as_bytes())
        .unwrap_err();
    assert_eq!((e.status, e.reason), (414, "the request line is too long"));
    // RFC 6585 §5: header fields too large get 431.
    let long_header = upgrade(
        "GET /chat HTTP/1.1",
        Some("h"),
        &format!("X: {}\r\n", "a".repeat(9000)),
    );
    let e = RequestParser::new()
        .parse(long_header.as_bytes())
        .unwrap_err();
    assert_eq!(e.status, 431);
}

#[test]
fn target_and_host_for_plain_requests() {
    let head = |text: &str| text.to_string() + "\r\n\r\n";
    let text = head("GET http://example.com/index.html?x HTTP/1.1\r\nHost: other");
    let parsed = Head::parse(text.as_bytes()).unwrap();
    assert_eq!(parsed.path(), "/index.html");
    assert_eq!(parsed.host(), Ok(Some("example.com")));
    assert_eq!(
        parsed.request_target(),
        Ok(Target {
            authority: Some("example.com"),
            path: "/index.html",
            query: Some("x")
        })
    );
    // HTTP/1.0 may leave Host out.
    let text = head("GET / HTTP/1.0");
    assert_eq!(Head::parse(text.as_bytes()).unwrap().host(), Ok(None));
    // A refused target's error points at its byte in the head.
    let text = head("OPTIONS * HTTP/1.1\r\nHost: h");
    let e = Head::parse(text.as_bytes())
        .unwrap()
        .request_target()
        .unwrap_err();
    assert_eq!((e.status, e.offset), (400, Some(8)));
}
