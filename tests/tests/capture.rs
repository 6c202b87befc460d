//! `wslens proxy`, `inspect --pcap/--har` and `replay` against the real binary: recordings
//! valid after Ctrl-C, TLS on both legs with a key log, replay's differences, and bad
//! captures (garbage, empty, cut short, cut mid-frame, a 1 GB file) met with a clear error
//! or an explicit gap, in bounded memory, never a panic. (Real tcpdump captures and tshark's
//! reading of the proxy's pcapng are in tests/python/test_capture.py.)

use std::io::Write as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};
use wslens::OwnedEvent;
use wslens_capture::write::{PcapngWriter, TcpLeg};
use wslens_e2e::{binary, free_port, Server};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wslens-capture-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn wslens(args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run wslens")
}

fn inspect_json(path: &Path) -> (Vec<serde_json::Value>, Output) {
    let out = wslens(&["inspect", "--pcap", path.to_str().unwrap(), "--json"]);
    let events = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (events, out)
}

/// A running `wslens proxy`, killed on drop.
struct Proxy {
    child: Child,
    port: u16,
}

impl Proxy {
    fn start(upstream: &str, args: &[&str]) -> Proxy {
        let port = free_port();
        let child = Command::new(binary())
            .args(["proxy", "--listen", &format!("127.0.0.1:{port}"), upstream])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn wslens proxy");
        let mut proxy = Proxy { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the proxy did not listen");
            assert!(
                proxy.child.try_wait().unwrap().is_none(),
                "the proxy exited"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        proxy
    }

    /// SIGINT (Ctrl-C), then its exit status and output.
    fn interrupt(mut self) -> (bool, String, String) {
        let ok = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "the proxy did not stop on SIGINT"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let child = std::mem::replace(&mut self.child, Command::new("true").spawn().unwrap());
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn recordings_are_complete_after_ctrl_c_with_a_session_still_open() {
    let server = Server::start(&[]);
    let dir = temp_dir("ctrl-c");
    let (pcap, har) = (dir.join("open.pcapng"), dir.join("open.har"));
    let proxy = Proxy::start(
        &format!("ws://127.0.0.1:{}", server.port),
        &[
            "--record",
            pcap.to_str().unwrap(),
            "--har",
            har.to_str().unwrap(),
        ],
    );
    let (mut client, _) = wslens_e2e::Client::connect(proxy.port, "/echo", &[]).unwrap();
    client.send_text("still open");
    assert_eq!(
        client.recv().unwrap(),
        OwnedEvent::Text("still open".into())
    );
    client.send_binary(&[1, 2, 3]);
    assert_eq!(client.recv().unwrap(), OwnedEvent::Binary(vec![1, 2, 3]));
    let (ok, stdout, stderr) = proxy.interrupt();
    assert!(ok, "{stderr}");
    assert!(stdout.contains("text message, 10 B"), "{stdout}");
    // The HAR is whole: the open session's entry with both messages each way.
    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&har).unwrap()).unwrap();
    let messages = log
        .pointer("/log/entries/0/_webSocketMessages")
        .unwrap()
        .as_array()
        .unwrap();
    let seen: Vec<(String, u64)> = messages
        .iter()
        .map(|m| {
            (
                m["type"].as_str().unwrap().to_owned(),
                m["opcode"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("send".into(), 1),
            ("receive".into(), 1),
            ("send".into(), 2),
            ("receive".into(), 2)
        ]
    );
    assert_eq!(messages[2]["data"], "AQID", "binary in base64");
    // The pcapng reads: both legs, the messages in them, the sessions left open.
    let (events, out) = inspect_json(&pcap);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let texts: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "message" && e["from"] == "client")
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert_eq!(texts, ["still open", "still open"], "one per leg");
    let summary = events.last().unwrap();
    assert_eq!(summary["sessions"], 2);
    assert_eq!(summary["unfinished"], 2);
    assert_eq!(summary["truncated"], false);
    drop(client);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn wss_on_both_legs_with_a_key_log() {
    let dir = temp_dir("wss");
    let server_cert = dir.join("server.pem");
    let proxy_cert = dir.join("proxy.pem");
    let keylog = dir.join("keys.log");
    let pcap = dir.join("wss.pcapng");
    let tls_port = free_port();
    let server = Server::start(&[
        "--tls-self-signed",
        "--tls-port",
        &tls_port.to_string(),
        "--tls-cert-out",
        server_cert.to_str().unwrap(),
    ]);
    let proxy = Proxy::start(
        &format!("wss://localhost:{tls_port}"),
        &[
            "--ca",
            server_cert.to_str().unwrap(),
            "--tls-self-signed",
            "--tls-cert-out",
            proxy_cert.to_str().unwrap(),
            "--keylog",
            keylog.to_str().unwrap(),
            "--record",
            pcap.to_str().unwrap(),
        ],
    );
    let url = format!("wss://localhost:{}/echo", proxy.port);
    let out = wslens(&[
        "send",
        &url,
        "through TLS twice",
        "--ca",
        proxy_cert.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "through TLS twice"
    );
    let (ok, _, stderr) = proxy.interrupt();
    assert!(ok, "{stderr}");
    // TLS 1.3 secrets of both legs: the client's handshake with the proxy, the proxy's with
    // the server.
    let keys = std::fs::read_to_string(&keylog).unwrap();
    let traffic = keys
        .lines()
        .filter(|l| l.starts_with("CLIENT_TRAFFIC_SECRET_0 "))
        .count();
    assert_eq!(traffic, 2, "{keys}");
    for line in keys.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts.len(), 3, "{line}");
        assert_eq!(parts[1].len(), 64, "a 32-byte client random in hex: {line}");
    }
    // The recording holds the plaintext of both TLS legs.
    let (events, _) = inspect_json(&pcap);
    let texts: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "message" && e["from"] == "server")
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert_eq!(texts, ["through TLS twice", "through TLS twice"]);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replay_matches_a_recording_and_reports_where_a_changed_one_differs() {
    let server = Server::start(&[]);
    let dir = temp_dir("replay");
    let (pcap, har) = (dir.join("r.pcapng"), dir.join("r.har"));
    let proxy = Proxy::start(
        &format!("ws://127.0.0.1:{}", server.port),
        &[
            "--record",
            pcap.to_str().unwrap(),
            "--har",
            har.to_str().unwrap(),
        ],
    );
    let url = format!("ws://127.0.0.1:{}/echo", proxy.port);
    let out = wslens(&["send", &url, "one", "two", "three"]);
    assert!(out.status.success());
    let (ok, _, stderr) = proxy.interrupt();
    assert!(ok, "{stderr}");
    let to = format!("ws://127.0.0.1:{}/echo", server.port);
    for file in [&pcap, &har] {
        let out = wslens(&[
            "replay",
            file.to_str().unwrap(),
            "--to",
            &to,
            "--speed",
            "4",
        ]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("3 replies recorded, 3 received, 3 identical; every reply matches"),
            "{text}"
        );
    }
    // The negative control: a recording whose second reply was changed.
    let changed = dir.join("changed.har");
    let text = std::fs::read_to_string(&har).unwrap();
    let at = text
        .match_indices("\"data\":\"two\"")
        .nth(1)
        .expect("the second \"two\"")
        .0;
    let mut edited = text.clone();
    edited.replace_range(at..at + "\"data\":\"two\"".len(), "\"data\":\"twO\"");
    std::fs::write(&changed, edited).unwrap();
    let out = wslens(&[
        "replay",
        changed.to_str().unwrap(),
        "--to",
        &to,
        "--speed",
        "0",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["event"], "difference");
    assert_eq!(lines[0]["reply"], 1);
    assert!(
        lines[0]["why"]
            .as_str()
            .unwrap()
            .contains("first difference at byte 2"),
        "{lines:?}"
    );
    assert_eq!(lines.last().unwrap()["same"], 2);
    // A session that is not there.
    let out = wslens(&[
        "replay",
        pcap.to_str().unwrap(),
        "--to",
        &to,
        "--session",
        "9",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no WebSocket session 9"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A pcapng with one session: the handshake, then `frames` from the client.
fn synthetic(path: &Path, frames: &[u8]) {
    let mut w = PcapngWriter::create(path).unwrap();
    let mut leg = TcpLeg::new(
        "127.0.0.1:40000".parse().unwrap(),
        "127.0.0.1:8765".parse().unwrap(),
    );
    let t = SystemTime::now();
    leg.open(&mut w, t).unwrap();
    leg.data(&mut w, true, t, b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").unwrap();
    leg.data(&mut w, false, t, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n").unwrap();
    leg.data(&mut w, true, t, frames).unwrap();
}

/// RFC 6455 §5.7: a masked "Hello".
const MASKED_HELLO: [u8; 11] = [
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];

#[test]
fn bad_captures_get_clear_errors_or_explicit_gaps() {
    let dir = temp_dir("bad");
    // Garbage and emptiness.
    let garbage = dir.join("garbage.pcap");
    std::fs::write(
        &garbage,
        b"this is not a capture at all, just text\n".repeat(100),
    )
    .unwrap();
    let out = wslens(&["inspect", "--pcap", garbage.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a pcap or pcapng file"));
    let empty = dir.join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let out = wslens(&["inspect", "--pcap", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty"));
    let out = wslens(&[
        "inspect",
        "--pcap",
        dir.join("missing.pcap").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    // A capture cut in the middle of a frame: the frame is shown cut short, and what it
    // waited for is said.
    let mut frames = MASKED_HELLO.to_vec();
    frames.extend_from_slice(&MASKED_HELLO[..7]);
    let cut_frame = dir.join("cut-frame.pcapng");
    synthetic(&cut_frame, &frames);
    let (events, out) = inspect_json(&cut_frame);
    assert!(out.status.success());
    assert!(events
        .iter()
        .any(|e| e["event"] == "message" && e["text"] == "Hello"));
    let last_frame = events.iter().rev().find(|e| e["event"] == "frame").unwrap();
    assert_eq!(last_frame["complete"], false);
    assert!(events.iter().any(|e| e["event"] == "incomplete"
        && e["from"] == "client"
        && e["waiting_for"].as_str().is_some_and(|w| !w.is_empty())));
    // The same file cut short in the middle of a block: what came before is read, and the
    // summary says the file was cut.
    let bytes = std::fs::read(&cut_frame).unwrap();
    let cut_file = dir.join("cut-file.pcapng");
    std::fs::write(&cut_file, &bytes[..bytes.len() - 30]).unwrap();
    let (events, out) = inspect_json(&cut_file);
    assert!(out.status.success());
    assert_eq!(events.last().unwrap()["truncated"], true);
    assert!(events.iter().any(|e| e["event"] == "upgraded"));
    // A protocol error is pinned to its byte, and the exit code says so.
    let broken = dir.join("broken.pcapng");
    synthetic(&broken, &[0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
    let (events, out) = inspect_json(&broken);
    assert_eq!(out.status.code(), Some(1));
    let err = events.iter().find(|e| e["event"] == "error").unwrap();
    assert_eq!(err["close_code"], 1002);
    // The request head is 144 bytes; the unmasked frame is refused at its second byte.
    assert_eq!(err["offset"], 144 + 1, "{err}");
    // A HAR that is not one.
    let not_har = dir.join("x.har");
    std::fs::write(&not_har, b"{\"log\": 3}").unwrap();
    let out = wslens(&["inspect", "--har", not_har.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("log.entries"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `wslens inspect --pcap FILE` with its address space capped at `limit_mib`.
fn inspect_capped(path: &Path, limit_mib: u64) -> Output {
    Command::new("bash")
        .arg("-c")
        .arg(format!(
            "ulimit -v {}; exec \"$0\" inspect --pcap \"$1\"",
            limit_mib * 1024
        ))
        .arg(binary())
        .arg(path)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[test]
fn a_1_gb_capture_is_read_in_bounded_memory() {
    let dir = temp_dir("big");
    // 1 GB of valid pcap: the header, then empty packets all the way (a sparse file: zeros
    // are records with no bytes).
    let big = dir.join("big.pcap");
    let mut f = std::fs::File::create(&big).unwrap();
    let mut header = Vec::new();
    header.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&4u16.to_le_bytes());
    header.extend_from_slice(&[0; 8]);
    header.extend_from_slice(&65_535u32.to_le_bytes());
    header.extend_from_slice(&1u32.to_le_bytes());
    f.write_all(&header).unwrap();
    f.set_len(24 + (1 << 30)).unwrap();
    drop(f);
    let out = inspect_capped(&big, 256);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!(
            "{} packets (pcap), 0 WebSocket session(s)",
            (1u64 << 30) / 16
        )),
        "{text}"
    );
    // A record that claims a gigabyte: refused, not allocated.
    let huge = dir.join("huge.pcap");
    let mut bytes = header.clone();
    bytes[16..20].copy_from_slice(&u32::MAX.to_le_bytes()); // snaplen
    bytes.extend_from_slice(&[0; 8]);
    bytes.extend_from_slice(&(1u32 << 30).to_le_bytes());
    bytes.extend_from_slice(&(1u32 << 30).to_le_bytes());
    let mut f = std::fs::File::create(&huge).unwrap();
    f.write_all(&bytes).unwrap();
    f.set_len(bytes.len() as u64 + (1 << 30)).unwrap();
    drop(f);
    let out = inspect_capped(&huge, 256);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("larger than 16 MiB"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
