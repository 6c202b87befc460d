//! A server whose log pipe has lost its reader (its stderr closed at the other end, as when
//! `wslens serve 2>&1 | something` and `something` exits) still stops cleanly on SIGTERM:
//! a log line that cannot be written is dropped, and no thread dies of it.
#![cfg(unix)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn sigterm_is_heard_after_the_log_readers_are_gone() {
    let port = wslens_e2e::free_port();
    let mut child = Command::new(wslens_e2e::binary())
        .args(["serve", "--port", &port.to_string(), "--threads", "1"])
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wslens");
    wslens_e2e::wait_healthz(port);
    // The readers go away: every later log line meets a closed pipe.
    drop(child.stdout.take());
    drop(child.stderr.take());
    // Something to log (debug level: the request, the response).
    for _ in 0..5 {
        let _ = wslens_e2e::http(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(ok.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "exited with {status}");
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("SIGTERM was not heard: the server was still running after 15 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
