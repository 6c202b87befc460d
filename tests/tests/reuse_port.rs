//! Zero-downtime restart: a second `wslens serve --reuse-port` starts on the port of the
//! first, which is then stopped with SIGTERM and drains (`--drain-timeout`). Under a steady
//! load of short connections, not one is refused and not one echo is lost; a connection that
//! was open on the old server is served through the drain, then closed with 1001.
#![cfg(target_os = "linux")]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wslens::{CloseCode, OwnedEvent};
use wslens_e2e::tls::temp_dir;
use wslens_e2e::{free_port, Client, Server};

/// A static directory whose `who.txt` names the server serving it.
fn www(name: &str) -> String {
    let dir = temp_dir(name);
    std::fs::write(dir.join("who.txt"), name).unwrap();
    dir.display().to_string()
}

/// Which server answers a new connection now.
fn who(server: &Server) -> String {
    String::from_utf8_lossy(&server.get("/who.txt").2).into_owned()
}

#[test]
fn a_restart_on_the_same_port_refuses_nothing_and_loses_no_echo() {
    let port = free_port();
    let (www_old, www_new) = (www("old"), www("new"));
    let mut old = Server::start_on(
        port,
        &[
            "--reuse-port",
            "--drain-timeout",
            "1s",
            "--threads",
            "2",
            "--www",
            &www_old,
        ],
    );
    assert_eq!(who(&old), "old");
    let mut lingering = Client::connect(port, "/echo", &[]).unwrap().0;

    // A steady load: connect, one echo, close, over and over, from two threads.
    let stop = Arc::new(AtomicBool::new(false));
    let (done, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let load: Vec<_> = (0..2)
        .map(|t| {
            let (stop, done, failed) = (stop.clone(), done.clone(), failed.clone());
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let text = format!("{t}-{i}");
                    let ok = match Client::connect(port, "/echo", &[]) {
                        Ok((mut c, _)) => {
                            c.send_text(&text);
                            let echoed = c.recv().ok() == Some(OwnedEvent::Text(text.clone()));
                            c.close(CloseCode::NORMAL);
                            echoed
                        }
                        Err(e) => {
                            eprintln!("connection {text} failed: {e}");
                            false
                        }
                    };
                    if ok { &done } else { &failed }.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));

    let mut new = Server::start_on(port, &["--reuse-port", "--threads", "2", "--www", &www_new]);
    // The newest server on the port gets every new connection.
    let deadline = Instant::now() + Duration::from_secs(5);
    while who(&new) != "new" {
        assert!(Instant::now() < deadline, "the new server never took over");
    }
    assert!(
        (0..20).all(|_| who(&new) == "new"),
        "some went to the old server"
    );
    let before_stop = done.load(Ordering::Relaxed);
    old.signal("TERM");
    // Draining: the connection open on the old server is still served...
    lingering.send_text("during the drain");
    assert_eq!(
        lingering.recv().unwrap(),
        OwnedEvent::Text("during the drain".into())
    );
    // ...then closed with 1001 when the drain ends, and the old server exits cleanly.
    assert_eq!(
        lingering.recv().unwrap(),
        OwnedEvent::Close {
            code: Some(CloseCode::GOING_AWAY),
            reason: "server shutting down".into()
        }
    );
    let status = old
        .wait_exit(Duration::from_secs(10))
        .expect("the old server exits");
    assert!(status.success(), "{status:?}");
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.join().unwrap();
    }
    let (done, failed) = (done.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert_eq!(
        failed,
        0,
        "{failed} of {} connections failed",
        done + failed
    );
    assert!(
        done > before_stop + 10,
        "the load went on past the stop: {before_stop} -> {done}"
    );
    assert_eq!(who(&new), "new");
    new.signal("TERM");
    assert!(new
        .wait_exit(Duration::from_secs(10))
        .is_some_and(|s| s.success()));
}

#[test]
fn without_reuse_port_a_second_server_on_the_port_fails_to_start() {
    let port = free_port();
    let _first = Server::start_on(port, &["--threads", "1"]);
    let out = std::process::Command::new(wslens_e2e::binary())
        .args(["serve", "--port", &port.to_string(), "--reuse-port"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.to_lowercase().contains("address"), "{err}");
}
