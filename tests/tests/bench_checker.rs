//! `wslens bench` checks every echo against what it sent: a server that changes one byte must
//! make it fail (exit 1, `mismatches` > 0), not just report a rate.

use std::process::Command;
use wslens_e2e::{binary, json_number};
use wslens_server::{Ctx, Echo, Handler, Message, Server, ServerConfig};

/// Echoes every message with one bit of its middle byte flipped.
struct FlipOneBit;

impl Handler for FlipOneBit {
    fn on_message(&self, ctx: &mut Ctx<'_>, msg: Message<'_>) {
        if let Message::Binary(b) = msg {
            let mut v = b.to_vec();
            if let Some(x) = v.get_mut(b.len() / 2) {
                *x ^= 0x01;
            }
            ctx.send(Message::Binary(&v));
        }
    }
}

fn bench(url: &str) -> (Option<i32>, String) {
    let out = Command::new(binary())
        .args(["bench", url, "--connections", "2", "--messages", "200"])
        .args(["--warmup", "0", "--threads", "1", "--size", "64", "--json"])
        .output()
        .expect("run wslens bench");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_server_that_flips_a_byte_fails_the_bench() {
    let config = ServerConfig {
        port: 0,
        threads: 1,
        www: None,
        ..ServerConfig::default()
    };
    let server = Server::builder(config)
        .route("/flip", FlipOneBit)
        .route("/echo", Echo)
        .build()
        .expect("bind");
    let port = server.local_addr().unwrap().port();
    let stop = server.shutdown_handle();
    let running = std::thread::spawn(move || server.run());

    // The control: the same server's true echo passes.
    let (code, json) = bench(&format!("ws://127.0.0.1:{port}/echo"));
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json_number(&json, "mismatches"), 0.0, "{json}");

    let (code, json) = bench(&format!("ws://127.0.0.1:{port}/flip"));
    assert_eq!(
        code,
        Some(1),
        "a corrupted echo must fail the bench: {json}"
    );
    assert!(json_number(&json, "mismatches") > 0.0, "{json}");

    stop.shutdown();
    running.join().unwrap().unwrap();
}
