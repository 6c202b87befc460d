//! The command-line client: `wslens send`, `listen` and `inspect` against the real server,
//! asserting on output and exit code.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use wslens_e2e::{binary, free_port, json_number, Server};

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(binary())
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().expect("wait")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn inspect_explains_the_rfc_masked_hello() {
    let out = run(
        &[
            "inspect", "81", "85", "37", "fa", "21", "3d", "7f", "9f", "4d", "51", "58",
        ],
        None,
    );
    assert!(out.status.success(), "{out:?}");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("0x1: text frame"), "{stdout}");
    assert!(stdout.contains("7f  XOR 37 [0]   = 48 'H'"), "{stdout}");
    assert!(stdout.contains("\"Hello\""), "{stdout}");
    assert!(
        !stdout.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
}

#[test]
fn inspect_all_rfc_5_7_examples() {
    let cases: [(&str, &str); 5] = [
        ("81 05 48 65 6c 6c 6f", "\"Hello\""),
        (
            "01 03 48 65 6c 80 02 6c 6f",
            "text frame of 5 bytes from frames 0, 1: \"Hello\"",
        ),
        ("89 05 48 65 6c 6c 6f", "ping \"Hello\""),
        ("8a 85 37 fa 21 3d 7f 9f 4d 51 58", "pong \"Hello\""),
        ("82 7e 01 00", "payload is 256 bytes"),
    ];
    for (hex, says) in cases {
        let out = run(&["inspect", hex], None);
        assert!(
            text(&out.stdout).contains(says),
            "{hex}: {}",
            text(&out.stdout)
        );
    }
    let out = run(&["inspect", "82 7f 00 00 00 00 00 01 00 00"], None);
    assert!(text(&out.stdout).contains("payload is 65536 bytes"));
    assert!(text(&out.stdout).contains("65536 more byte(s) needed"));
}

#[test]
fn inspect_pins_malformed_frames_and_exits_1() {
    for (hex, says) in [
        (
            "83 80 00 00 00 00",
            "reserved opcode — RFC 6455 §5.2; a server closes with 1002",
        ),
        ("81 02 68 69", "client frame is not masked"),
        (
            "89 fe 00 7e 00 00 00 00",
            "control frame payload longer than 125 bytes",
        ),
        (
            "81 82 00 00 00 00 ff fe",
            "invalid UTF-8 in text — RFC 6455 §8.1; a server closes with 1007",
        ),
        (
            "88 81 00 00 00 00 03",
            "close frame payload of exactly 1 byte",
        ),
    ] {
        let out = run(&["inspect", "--role", "server", hex], None);
        assert_eq!(out.status.code(), Some(1), "{hex}");
        assert!(
            text(&out.stdout).contains(says),
            "{hex}: {}",
            text(&out.stdout)
        );
    }
    let out = run(&["inspect", "8"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("odd number of hex digits"));
}

#[test]
fn inspect_reads_stdin_base64_and_handshakes() {
    let out = run(
        &["inspect", "-"],
        Some(b"81 85 37 fa 21 3d\n7f 9f 4d 51 58\n"),
    );
    assert!(text(&out.stdout).contains("\"Hello\""));
    let out = run(&["inspect", "--base64", "gYU3+iE9f59NUVg="], None);
    assert!(text(&out.stdout).contains("\"Hello\""));
    let req = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let out = run(&["inspect", "--raw"], Some(req));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{stdout}");
    assert!(stdout.contains("b37a4f2cc0624f1690f64606cf385945b2bec4ea"));
}

#[test]
fn send_prints_the_echoes_and_closes_cleanly() {
    let server = Server::start(&["--threads", "1"]);
    let url = format!("ws://127.0.0.1:{}/echo", server.port);
    let out = run(&["send", &url, "one", "two", "héllo"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "one\ntwo\nhéllo\n");
    let out = run(&["send", &url], Some(b"line 1\nline 2\n"));
    assert_eq!(text(&out.stdout), "line 1\nline 2\n");
    let out = run(&["send", "--binary", &url, "AB"], None);
    assert_eq!(text(&out.stdout), "41 42\n");
    // With the wire tap the handshake record comes first, then each echo is followed by
    // its record; `send` stops after as many replies as messages: three here.
    let out = run(
        &["send", "--subprotocol", "wslens.wire", &url, "Hi", "x", "y"],
        None,
    );
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("{\"handshake\":{\"session\":\""),
        "{stdout}"
    );
    assert_eq!(lines[1], "Hi", "{stdout}");
    assert!(lines[2].starts_with("{\"wire\":{\"in\":\"8182"), "{stdout}");
}

#[test]
fn send_reports_failures_with_a_reason_and_exit_1() {
    let server = Server::start(&["--threads", "1", "--token", "secret"]);
    let out = run(
        &["send", &format!("ws://127.0.0.1:{}/echo", server.port), "x"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("HTTP 401") && stderr.contains("token"),
        "{stderr}"
    );
    let out = run(
        &[
            "send",
            &format!("ws://127.0.0.1:{}/echo?token=secret", server.port),
            "x",
        ],
        None,
    );
    assert!(out.status.success());
    let out = run(
        &[
            "send",
            &format!("ws://127.0.0.1:{}/nowhere", server.port),
            "x",
        ],
        None,
    );
    assert!(
        text(&out.stderr).contains("HTTP 404"),
        "{}",
        text(&out.stderr)
    );
    let out = run(
        &["send", &format!("ws://127.0.0.1:{}/echo", free_port()), "x"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot connect"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["send", "http://127.0.0.1:1/echo", "x"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is not ws:// or wss://"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn listen_prints_each_message_then_the_close() {
    let mut server = Server::start(&["--threads", "2"]);
    let url = format!("ws://127.0.0.1:{}/chat/cli", server.port);
    let mut listener = Command::new(binary())
        .args(["listen", "--json", &url])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(listener.stdout.take().unwrap()).lines();
    // Its own join notice proves it is connected.
    let first = lines.next().unwrap().unwrap();
    assert!(
        first.contains(r#""type":"text""#) && first.contains("join"),
        "{first}"
    );
    let out = run(&["send", &url, "for the listener"], None);
    assert!(out.status.success());
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.contains("for the listener");
        seen.push(line);
        if done {
            break;
        }
    }
    assert!(
        seen.last()
            .unwrap()
            .contains(r#""data":"for the listener""#),
        "{seen:?}"
    );
    server.signal("TERM");
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    assert!(
        rest.iter()
            .any(|l| l.contains(r#""type":"close","opcode":8,"code":1001"#)),
        "{rest:?}"
    );
    let status = listener.wait().unwrap();
    assert!(status.success(), "a 1001 close is a normal end");
    assert!(server
        .wait_exit(Duration::from_secs(10))
        .is_some_and(|s| s.success()));
}

#[test]
fn bench_checks_every_echo_and_reports_json() {
    let server = Server::start(&["--threads", "1"]);
    let url = format!("ws://127.0.0.1:{}/echo", server.port);
    for kind in ["--binary", "--text"] {
        let out = run(
            &[
                "bench",
                &url,
                "--connections",
                "8",
                "--in-flight",
                "4",
                "--size",
                "300",
                kind,
                "--messages",
                "3000",
                "--warmup",
                "0",
                "--threads",
                "2",
                "--json",
            ],
            None,
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let json = text(&out.stdout);
        let field = |name: &str| json_number(&json, name);
        assert!(field("messages") >= 3000.0, "{json}");
        assert_eq!(field("mismatches"), 0.0, "{json}");
        assert!(field("msgs_per_s") > 0.0 && field("p50") > 0.0, "{json}");
        assert!(json.contains(&format!("\"text\":{}", kind == "--text")));
    }
    // A fixed offered load: paced, never above the rate (plus one scheduling step), with
    // the server's CPU measured when its pid is given.
    let pid = server.pid().to_string();
    let out = run(
        &[
            "bench",
            &url,
            "--connections",
            "10",
            "--size",
            "64",
            "--rate",
            "2000",
            "--duration",
            "1s",
            "--warmup",
            "0",
            "--threads",
            "1",
            "--server-pid",
            &pid,
            "--json",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json = text(&out.stdout);
    let field = |name: &str| json_number(&json, name);
    assert_eq!(field("rate"), 2000.0, "{json}");
    assert!(field("messages") > 0.0, "{json}");
    assert!(
        // (`seconds` is printed to the millisecond, so up to 2 messages of rounding, and
        // each of the 10 connections may have one send in progress at the end.)
        field("messages") <= 2000.0 * (field("seconds") + 0.001) + 10.0,
        "{json}"
    );
    assert_eq!(field("mismatches"), 0.0, "{json}");
    assert!(field("server_cpu") > 0.0, "{json}");
    for bad in ["--rate=0", "--rate=-5", "--rate=fast"] {
        let out = run(&["bench", &url, bad], None);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            text(&out.stderr).contains("messages per second"),
            "{}",
            text(&out.stderr)
        );
    }
    // A server that is not there: a one-line reason and exit 1.
    let out = run(
        &[
            "bench",
            &format!("ws://127.0.0.1:{}/echo", free_port()),
            "--messages",
            "10",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("bench failed"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn listen_closes_cleanly_on_ctrl_c() {
    let server = Server::start(&["--threads", "1"]);
    let url = format!("ws://127.0.0.1:{}/chat/sigint", server.port);
    let mut listener = Command::new(binary())
        .args(["listen", &url])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(listener.stdout.take().unwrap()).lines();
    assert!(lines.next().unwrap().unwrap().contains("join"));
    let ok = Command::new("kill")
        .arg("-INT")
        .arg(listener.id().to_string())
        .status()
        .unwrap();
    assert!(ok.success());
    let status = listener.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut listener.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("closed: 1000"), "{stderr}");
}

/// permessage-deflate from the command line: `send --deflate` and `bench --deflate` against the
/// server (which negotiates it by default; the wire tap shows RSV1 both ways), `--no-deflate`
/// declining, and `inspect --deflate` inflating the RFC 7692 §7.2.3 examples.
#[test]
fn deflate_send_bench_and_inspect() {
    let server = Server::start(&["--threads", "1"]);
    let url = format!("ws://127.0.0.1:{}/echo", server.port);
    let long = "compress me ".repeat(200);
    let out = run(
        &[
            "send",
            "--deflate",
            "--subprotocol",
            "wslens.wire",
            &url,
            &long,
            "x",
            "y",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("{\"handshake\":"), "{stdout}");
    let (echo, tap) = (lines[1], lines[2]);
    assert_eq!(echo, long);
    // Three messages, three replies: the handshake record, the echo of the first and its
    // wire record. The client's
    // frame: FIN + RSV1 + text, masked; the server's: FIN + RSV1 + text.
    assert!(tap.starts_with("{\"wire\":{\"in\":\"c1"), "{tap}");
    assert!(tap.contains("\"out\":\"c1"), "{tap}");
    assert!(
        tap.len() < 400,
        "2,400 bytes each way went compressed: {tap}"
    );
    let out = run(
        &[
            "bench",
            &url,
            "--deflate",
            "--connections",
            "4",
            "--size",
            "2000",
            "--text",
            "--messages",
            "2000",
            "--warmup",
            "0",
            "--threads",
            "1",
            "--json",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("\"mismatches\":0"),
        "{}",
        text(&out.stdout)
    );

    let plain = Server::start(&["--threads", "1", "--no-deflate"]);
    let url = format!("ws://127.0.0.1:{}/echo", plain.port);
    let out = run(
        &[
            "send",
            "--deflate",
            "--subprotocol",
            "wslens.wire",
            &url,
            "x",
            "y",
            "z",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("{\"wire\":{\"in\":\"81"),
        "uncompressed"
    );

    let out = run(
        &[
            "inspect",
            "--deflate",
            "--role",
            "client",
            "c1 07 f2 48 cd c9 c9 07 00 c1 05 f2 00 11 00 00",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("set: compressed (permessage-deflate, RFC 7692 §6)"),
        "{stdout}"
    );
    assert!(stdout.contains("(inflated from 5 compressed bytes, permessage-deflate, RFC 7692 §7.2.2) from frame 1: \"Hello\""), "{stdout}");
    let out = run(
        &["inspect", "--deflate", "--role", "client", "c2 01 ff"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("compressed payload is not valid DEFLATE data — RFC 7692 §7.2.2; a server closes with 1007"), "{}", text(&out.stdout));
}
