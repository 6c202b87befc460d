//! Plain HTTP on the WebSocket port, and bad handshakes: each gets the right status and the
//! server stays up.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use wslens_e2e::{http, Client, Server};

#[test]
fn serves_the_page_metrics_and_health() {
    let server = Server::start(&["--threads", "1"]);
    let (status, head, body) = server.get("/");
    assert_eq!(status, 200);
    assert!(
        head.contains("Content-Type: text/html; charset=utf-8"),
        "{head}"
    );
    assert!(String::from_utf8_lossy(&body).contains("wslens"));
    let (status, _, body) = server.get("/healthz");
    assert_eq!((status, body), (200, b"ok\n".to_vec()));
    let (status, _, body) = server.get("/metrics");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("# TYPE wslens_handshakes_ok_total counter"));
    assert_eq!(server.get("/no/such/file").0, 404);
    assert_eq!(server.get("/../Cargo.toml").0, 404);
    assert_eq!(server.get("/%2e%2e/Cargo.toml").0, 404);
}

#[test]
fn plain_http_requests_share_the_cores_head_rules() {
    let server = Server::start(&["--threads", "1"]);
    let status = |r: &[u8]| http(server.port, r).unwrap().0;
    assert_eq!(status(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), 200);
    assert_eq!(status(b"GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n"), 200);
    // RFC 7230 §3.2.4: no whitespace between a header name and its colon, no obs-fold.
    assert_eq!(status(b"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n"), 400);
    assert_eq!(
        status(b"GET /healthz HTTP/1.1\r\nHost: x\r\n y\r\n\r\n"),
        400
    );
    assert_eq!(status(b"GET /healthz\r\nHost: x\r\n\r\n"), 400);
    assert_eq!(status(b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n"), 505);
    assert_eq!(status(b"POST /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), 405);
}

/// RFC 7230 §5.3: origin-form and absolute-form are served, the same resource either way;
/// authority-form and asterisk-form are refused with 400, an over-long target with 414.
#[test]
fn every_request_target_form_gets_its_answer() {
    let server = Server::start(&["--threads", "1"]);
    let status = |r: String| http(server.port, r.as_bytes()).unwrap().0;
    let port = server.port;
    assert_eq!(
        status(format!(
            "GET http://127.0.0.1:{port}/healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
        )),
        200
    );
    assert_eq!(
        status("GET HTTP://other.example/healthz?x HTTP/1.1\r\nHost: x\r\n\r\n".into()),
        200
    );
    assert_eq!(
        status("GET http://x HTTP/1.1\r\nHost: x\r\n\r\n".into()),
        200,
        "an empty path is /"
    );
    assert_eq!(
        status("GET 127.0.0.1:80 HTTP/1.1\r\nHost: x\r\n\r\n".into()),
        400
    );
    assert_eq!(status("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n".into()), 400);
    assert_eq!(
        status("GET ftp://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n".into()),
        400
    );
    assert_eq!(
        status("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".into()),
        400
    );
    assert_eq!(
        status("GET /healthz HTTP/1.1\r\n\r\n".into()),
        400,
        "HTTP/1.1 needs Host"
    );
    assert_eq!(
        status(format!(
            "GET /{} HTTP/1.1\r\nHost: x\r\n\r\n",
            "a".repeat(10_000)
        )),
        414
    );

    // A WebSocket upgrade in absolute-form (RFC 6455 §4.2.1 item 1), then a real echo.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET ws://127.0.0.1:{port}/echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(
        head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "{head}"
    );
    // RFC 6455 §5.7: a masked "Hello"; the echo comes back unmasked.
    s.write_all(&[
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ])
    .unwrap();
    let mut echo = [0u8; 7];
    s.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"\x81\x05Hello");
}

#[test]
fn static_paths_with_backslashes_or_nul_are_refused_even_when_such_a_file_exists() {
    let root = wslens_e2e::tls::temp_dir("www");
    std::fs::write(root.join("index.html"), "home").unwrap();
    // Legal on Linux: a file whose name holds a backslash.
    std::fs::write(root.join("a\\b.txt"), "backslash").unwrap();
    std::fs::create_dir(root.join("sub")).unwrap();
    std::fs::write(root.join("sub").join("f.txt"), "in sub").unwrap();
    let www = root.display().to_string();
    let server = Server::start(&["--threads", "1", "--www", &www]);
    assert_eq!(server.get("/index.html").0, 200);
    assert_eq!(server.get("/sub/f.txt").0, 200);
    for refused in [
        "/a%5cb.txt",
        "/a%5Cb.txt",
        "/sub%5cf.txt",
        "/index.html%00",
        "/index.html%00.png",
        "/sub/%2e%2e/%2e%2e/Cargo.toml",
        "/%2e%2e%5cCargo.toml",
    ] {
        assert_eq!(server.get(refused).0, 404, "{refused}");
    }
}

#[test]
fn bad_handshakes_get_the_right_status_and_the_server_stays_up() {
    let server = Server::start(&["--threads", "1"]);
    let good = "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let cases: Vec<(String, u16, &str)> = vec![
        (
            "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n".into(),
            426,
            "WebSocket endpoint",
        ),
        (
            good.replace("Version: 13", "Version: 8"),
            426,
            "Sec-WebSocket-Version",
        ),
        (
            good.replace("dGhlIHNhbXBsZSBub25jZQ==", "short"),
            400,
            "Sec-WebSocket-Key",
        ),
        (good.replace("Host: x\r\n", ""), 400, "Host"),
        (
            good.replace("Connection: Upgrade", "Connection: keep-alive"),
            400,
            "Connection",
        ),
        (
            good.replace("GET /echo", "GET /nowhere"),
            404,
            "no WebSocket route",
        ),
        (
            good.replace("GET /echo HTTP/1.1", "POST /echo HTTP/1.1"),
            400,
            "GET",
        ),
        (
            format!("GET /echo HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(10_000)),
            431,
            "too large",
        ),
        (
            "\x16\x03\x01\x02\x00\x01\x00\x01\x03\x03\r\n\r\n".into(),
            400,
            "",
        ),
    ];
    for (request, status, says) in cases {
        let (got, head, body) = http(server.port, request.as_bytes()).expect("response");
        assert_eq!(got, status, "{request:?} -> {head}");
        assert!(
            String::from_utf8_lossy(&body).contains(says),
            "{request:?}: body {body:?}"
        );
        if status == 426 {
            assert!(head.contains("Sec-WebSocket-Version: 13"), "{head}");
        }
    }
    // Still serving.
    let mut c = server.connect("/echo");
    c.send_text("alive");
    assert_eq!(c.recv().unwrap(), wslens::OwnedEvent::Text("alive".into()));
}

#[test]
fn origin_allow_list_and_token() {
    let server = Server::start(&[
        "--threads",
        "1",
        "--allow-origin",
        "http://good.example",
        "--token",
        "s3cret",
    ]);
    let req = |origin: &str, target: &str, extra: &str| {
        format!("GET {target} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n{extra}\r\n")
    };
    let status = |r: String| http(server.port, r.as_bytes()).unwrap().0;
    assert_eq!(
        status(req("http://evil.example", "/echo?token=s3cret", "")),
        403
    );
    assert_eq!(status(req("http://good.example", "/echo", "")), 401);
    assert_eq!(
        status(req("http://good.example", "/echo?token=wrong", "")),
        401
    );
    assert_eq!(
        status(req("http://good.example", "/echo?token=s3cret", "")),
        101
    );
    assert_eq!(
        status(req(
            "http://good.example",
            "/echo",
            "Authorization: Bearer s3cret\r\n"
        )),
        101
    );
}

#[test]
fn subprotocol_is_negotiated() {
    let server = Server::start(&["--threads", "1"]);
    let (_, resp) = Client::connect(server.port, "/echo", &["nope", "wslens.wire"]).unwrap();
    assert_eq!(resp.protocol.as_deref(), Some("wslens.wire"));
    let (_, resp) = Client::connect(server.port, "/echo", &["nope"]).unwrap();
    assert_eq!(resp.protocol, None);
}

#[test]
fn connection_limit_gives_503() {
    let server = Server::start(&["--threads", "1", "--max-connections", "2"]);
    let _a = server.connect("/echo");
    let _b = server.connect("/echo");
    let (status, _, body) = http(server.port, b"GET /healthz HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(status, 503, "{body:?}");
}
