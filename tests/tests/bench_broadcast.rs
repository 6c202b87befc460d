//! `wslens bench --fanout`: the broadcast benchmark against the real server's `/broadcast`
//! room: every delivery checked, counts consistent, stalled receivers tolerated, and a route
//! that is not a room is reported instead of hanging.

use std::process::{Command, Output};
use wslens_e2e::{binary, json_number, Server};

fn bench(args: &[&str]) -> Output {
    Command::new(binary())
        .arg("bench")
        .args(args)
        .output()
        .expect("run wslens bench")
}

#[test]
fn broadcast_bench_counts_every_delivery_with_stalled_receivers() {
    let server = Server::start(&["--threads", "2", "--ping-interval", "0"]);
    let url = format!("ws://127.0.0.1:{}/broadcast", server.port);
    let pid = server.pid().to_string();
    #[rustfmt::skip]
    let out = bench(&[
        &url, "--fanout", "20", "--stalled", "2", "--in-flight", "4", "--size", "100",
        "--messages", "3000", "--warmup", "0", "--threads", "2", "--server-pid", &pid, "--json",
    ]);
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{json}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (messages, deliveries) = (
        json_number(&json, "messages"),
        json_number(&json, "deliveries"),
    );
    assert!(messages >= 3000.0, "{json}");
    assert_eq!(json_number(&json, "mismatches"), 0.0, "{json}");
    assert_eq!(json_number(&json, "lost"), 0.0, "{json}");
    // 18 reading receivers get each message; at the edges of the measured period up to
    // `in_flight` messages can be partly delivered.
    assert!(
        (deliveries - messages * 18.0).abs() <= 18.0 * 4.0,
        "{deliveries} deliveries for {messages} messages: {json}"
    );
    assert!(json_number(&json, "p50") > 0.0 && json_number(&json, "deliveries_per_s") > 0.0);
    // The server's CPU time is read in clock ticks (10 ms): 3,000 messages (about 0.2 s of
    // fan-out; 500 took 36 ms once and read 0 ticks) keep the period long enough to count.
    assert!(json_number(&json, "server_cpu") > 0.0, "{json}");
}

#[test]
fn broadcast_bench_against_a_route_that_is_not_a_room_fails_with_a_reason() {
    let server = Server::start(&["--threads", "1"]);
    let url = format!("ws://127.0.0.1:{}/echo", server.port);
    let out = bench(&[&url, "--fanout", "3", "--messages", "10", "--warmup", "0"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no message reached every receiver"), "{err}");
}
