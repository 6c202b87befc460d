//! The wall clock jumping (an NTP step, a suspended VM, an operator's `date -s`) moves no
//! deadline: every timer runs on the monotonic clock. The server runs under Debian's
//! libfaketime, which shifts the process's wall clock (`CLOCK_REALTIME`, `time`,
//! `gettimeofday`) while leaving the monotonic clock alone (`FAKETIME_DONT_FAKE_MONOTONIC=1`);
//! the shift is read from a file on every call (`FAKETIME_NO_CACHE=1`), so the test moves it a
//! day forward and then two back while an idle timeout is pending.
#![cfg(target_os = "linux")]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wslens::{CloseCode, OwnedEvent};
use wslens_e2e::Client;

fn libfaketime() -> std::path::PathBuf {
    let found = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .map(|d| d.path().join("faketime/libfaketime.so.1"))
        .find(|p| p.exists());
    found.expect("libfaketime.so.1 (Debian's faketime package; scripts/test.sh installs it)")
}

#[test]
fn wall_clock_jumps_forward_and_back_do_not_move_an_idle_timeout() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/tmp")
        .join(format!("faketime-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let shift = dir.join("shift");
    std::fs::write(&shift, "+0\n").unwrap();
    let port = wslens_e2e::free_port();
    let mut child = Command::new(wslens_e2e::binary())
        .args(["serve", "--port", &port.to_string(), "--threads", "1"])
        .args([
            "--ping-interval",
            "0",
            "--idle-timeout",
            "2s",
            "--www",
            "/nonexistent",
        ])
        .env("LD_PRELOAD", libfaketime())
        .env("FAKETIME_TIMESTAMP_FILE", &shift)
        .env("FAKETIME_NO_CACHE", "1")
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn wslens");
    wslens_e2e::wait_healthz(port);
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", child.id())).unwrap();
    assert!(
        maps.contains("libfaketime"),
        "the server runs under libfaketime"
    );

    let (mut c, _) = Client::connect(port, "/echo", &[]).expect("connect");
    let opened = Instant::now();
    // A day forward: a wall-clock deadline would fire at once.
    std::fs::write(&shift, "+1d\n").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // Two days back: a wall-clock deadline would wait a day.
    std::fs::write(&shift, "-1d\n").unwrap();
    let event = c.recv().expect("the idle close");
    let at = opened.elapsed();
    assert_eq!(
        event,
        OwnedEvent::Close {
            code: Some(CloseCode::GOING_AWAY),
            reason: "idle timeout".into()
        }
    );
    assert!(
        at >= Duration::from_millis(1900),
        "closed after {at:?}: the forward jump moved it"
    );
    assert!(
        at < Duration::from_secs(8),
        "closed after {at:?}: the backward jump moved it"
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
