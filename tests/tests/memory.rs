//! Server memory per idle WebSocket: RSS growth divided by connections. A measurement, not a
//! pass/fail check (speed and size are measured, never asserted in timed tests):
//!
//!     cargo build --release -p wslens-server
//!     WSLENS_IDLE=10000 cargo test --release -p wslens-e2e --test memory -- --ignored --nocapture

use std::time::Duration;
use wslens_e2e::Server;

#[test]
#[ignore = "measurement; run by hand (see the file's doc)"]
fn idle_connection_memory() {
    let n: usize = std::env::var("WSLENS_IDLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let server = Server::start(&["--threads", "1", "--ping-interval", "0"]);
    let before = server.rss_kib();
    let clients: Vec<_> = (0..n).map(|_| server.connect("/echo")).collect();
    std::thread::sleep(Duration::from_millis(500));
    let after = server.rss_kib();
    let per_conn = (after.saturating_sub(before) * 1024) as f64 / n as f64;
    println!(
        "{n} idle connections: RSS {before} KiB -> {after} KiB, {per_conn:.0} bytes per connection"
    );
    drop(clients);
}
