//! Rooms across processes: three real `wslens serve` nodes sharing a real `redis-server`
//! (`--backplane`), with clients spread over them; Redis killed and restarted, absent at
//! start, silent, or answering garbage; one node killed.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};
use wslens::OwnedEvent;
use wslens_e2e::redis::Redis;
use wslens_e2e::{Client, Server};

fn node(url: &str, extra: &[&str]) -> Server {
    let mut args = vec!["--backplane", url, "--threads", "2"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// Waits until `cond` holds (10 s at most).
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("not within 10 s: {what}");
}

/// Waits until each node has subscribed to its one room.
fn subscribed(nodes: &[&Server]) {
    for n in nodes {
        eventually("subscribed", || {
            n.metric("wslens_backplane_subscriptions") == 1
        });
    }
}

fn text(c: &mut Client) -> String {
    match c.recv().expect("a message") {
        OwnedEvent::Text(t) => t,
        other => panic!("expected text, got {other:?}"),
    }
}

/// The next text that is not a join or leave notice.
fn message(c: &mut Client) -> String {
    loop {
        let t = text(c);
        if !t.starts_with(r#"{"event":"#) {
            return t;
        }
    }
}

fn notice(c: &mut Client) -> serde_json::Value {
    serde_json::from_str(&text(c)).expect("a JSON notice")
}

#[test]
fn three_nodes_share_a_room_exactly_once_in_order_with_notices_and_one_publish_per_message() {
    let redis = Redis::start();
    let nodes: Vec<Server> = (0..3).map(|_| node(&redis.url(), &[])).collect();
    // One member per node, joining one after the other: each sees the later joins, whichever
    // node they are on.
    let mut clients: Vec<Client> = Vec::new();
    let mut ids = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let mut c = n.connect("/chat/spread");
        let own = notice(&mut c);
        assert_eq!(own["event"], "join");
        ids.push(own["id"].as_u64().unwrap());
        eventually("the node subscribed", || {
            n.metric("wslens_backplane_subscriptions") == 1
        });
        for earlier in &mut clients {
            let seen = notice(earlier);
            assert_eq!(
                (seen["event"].as_str(), seen["id"].as_u64()),
                (Some("join"), Some(ids[i]))
            );
        }
        clients.push(c);
    }
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(
        distinct.len(),
        3,
        "connection ids differ across nodes: {ids:?}"
    );
    for n in &nodes {
        assert_eq!(n.metric("wslens_backplane_connected"), 1);
    }
    let publishes_before = redis.calls("publish");
    const EACH: usize = 100;
    for k in 0..EACH {
        for (i, c) in clients.iter_mut().enumerate() {
            c.send_text(&format!("{i}:{k}"));
        }
    }
    for (r, c) in clients.iter_mut().enumerate() {
        let mut next = [0usize; 3];
        for _ in 0..3 * EACH {
            let m = message(c);
            let (from, k) = m.split_once(':').unwrap();
            let (from, k): (usize, usize) = (from.parse().unwrap(), k.parse().unwrap());
            assert_eq!(
                k, next[from],
                "receiver {r}: publisher {from}'s messages in order, none twice"
            );
            next[from] += 1;
        }
        assert_eq!(next, [EACH; 3], "receiver {r} got everything");
    }
    // One PUBLISH per message (not per receiver, not per node).
    assert_eq!(redis.calls("publish") - publishes_before, 3 * EACH as u64);
    for n in &nodes {
        assert_eq!(
            n.metric("wslens_backplane_received_total"),
            2 * EACH as u64 + n_joins_after(n, &nodes)
        );
        assert_eq!(n.metric("wslens_backplane_lost_total"), 0);
    }
    // A leave crosses nodes too.
    let last = clients.pop().unwrap();
    drop(last);
    for c in &mut clients {
        let seen = notice(c);
        assert_eq!(
            (seen["event"].as_str(), seen["id"].as_u64()),
            (Some("leave"), Some(ids[2]))
        );
    }
    eventually("the third node unsubscribed", || {
        nodes[2].metric("wslens_backplane_subscriptions") == 0
    });
}

/// Join notices a node received from the nodes that joined after its own member did.
fn n_joins_after(n: &Server, nodes: &[Server]) -> u64 {
    let at = nodes.iter().position(|m| m.port == n.port).unwrap();
    (nodes.len() - 1 - at) as u64
}

#[test]
fn broadcast_crosses_nodes_and_binary_stays_byte_exact() {
    let redis = Redis::start();
    let (a, b) = (node(&redis.url(), &[]), node(&redis.url(), &[]));
    let mut on_a = a.connect("/broadcast");
    let mut on_b = b.connect("/broadcast");
    subscribed(&[&a, &b]);
    let big: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    on_a.send_binary(&big);
    assert_eq!(on_b.recv().unwrap(), OwnedEvent::Binary(big.clone()));
    assert_eq!(on_a.recv().unwrap(), OwnedEvent::Binary(big));
}

#[test]
fn redis_killed_mid_run_local_rooms_go_on_the_nodes_come_back_and_losses_are_counted() {
    let mut redis = Redis::start();
    let (a, b) = (node(&redis.url(), &[]), node(&redis.url(), &[]));
    let mut a1 = a.connect("/chat/k");
    let mut a2 = a.connect("/chat/k");
    let mut b1 = b.connect("/chat/k");
    subscribed(&[&a, &b]);
    a1.send_text("before");
    for c in [&mut a1, &mut a2, &mut b1] {
        assert_eq!(message(c), "before");
    }
    redis.kill9();
    for n in [&a, &b] {
        eventually("the node saw Redis go", || {
            n.metric("wslens_backplane_connected") == 0
        });
    }
    // Local delivery goes on without Redis.
    const DURING: usize = 20;
    for k in 0..DURING {
        a1.send_text(&format!("during {k}"));
    }
    for k in 0..DURING {
        assert_eq!(message(&mut a2), format!("during {k}"));
    }
    redis.restart();
    for n in [&a, &b] {
        eventually("connected again", || {
            n.metric("wslens_backplane_connected") == 1
        });
        eventually("subscribed again", || {
            n.metric("wslens_backplane_subscriptions") == 1
        });
        assert!(n.metric("wslens_backplane_reconnects_total") >= 1);
    }
    a1.send_text("after");
    // b1 gets the messages of the outage that made it through (queued on a, sent once Redis
    // came back), then "after"; every one that did not is counted by one of the nodes.
    let (mut during_seen, mut next) = (0, 0);
    loop {
        let m = message(&mut b1);
        if m == "after" {
            break;
        }
        let k: usize = m.strip_prefix("during ").unwrap().parse().unwrap();
        assert!(
            k >= next,
            "in order, none twice: {m} after during {}",
            next as isize - 1
        );
        next = k + 1;
        during_seen += 1;
    }
    let lost = a.metric("wslens_backplane_lost_total") + b.metric("wslens_backplane_lost_total");
    assert!(
        during_seen + lost as usize >= DURING,
        "{during_seen} delivered + {lost} counted lost < {DURING} published during the outage"
    );
    assert_eq!(message(&mut a2), "after");
}

#[test]
fn a_node_killed_does_not_stop_the_others() {
    let redis = Redis::start();
    let (a, b) = (node(&redis.url(), &[]), node(&redis.url(), &[]));
    let c = node(&redis.url(), &[]);
    let mut on_a = a.connect("/chat/z");
    let mut on_b = b.connect("/chat/z");
    let _on_c = c.connect("/chat/z");
    subscribed(&[&a, &b, &c]);
    c.signal("KILL");
    on_a.send_text("still here");
    assert_eq!(message(&mut on_b), "still here");
    assert_eq!(message(&mut on_a), "still here");
}

#[test]
fn redis_absent_at_start_the_node_serves_local_rooms_and_connects_once_it_appears() {
    let port = wslens_e2e::free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let n = node(&url, &[]);
    let mut c1 = n.connect("/chat/alone");
    let mut c2 = n.connect("/chat/alone");
    c1.send_text("local");
    assert_eq!(message(&mut c2), "local");
    assert_eq!(message(&mut c1), "local");
    assert_eq!(n.metric("wslens_backplane_connected"), 0);
    // Redis comes up on that port: the node finds it (backoff capped at 5 s) and subscribes.
    let redis = Redis::start_on(port);
    let deadline = Instant::now() + Duration::from_secs(15);
    while n.metric("wslens_backplane_subscriptions") != 1 {
        assert!(
            Instant::now() < deadline,
            "the node did not connect to the Redis that appeared"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let other = node(&redis.url(), &[]);
    let mut far = other.connect("/chat/alone");
    subscribed(&[&other]);
    far.send_text("from far");
    assert_eq!(message(&mut c1), "from far");
}

#[test]
fn a_redis_that_never_answers_or_answers_garbage_costs_bounded_memory_and_nothing_local() {
    // Silent: accepts and reads, never writes.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in silent.incoming().flatten() {
            held.push(s);
        }
    });
    // Garbage: announces an endless bulk string and streams bytes into it.
    let garbage = TcpListener::bind("127.0.0.1:0").unwrap();
    let garbage_port = garbage.local_addr().unwrap().port();
    let streamed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = streamed.clone();
    std::thread::spawn(move || {
        for mut s in garbage.incoming().flatten() {
            let counter = counter.clone();
            std::thread::spawn(move || {
                let mut b = [0u8; 256];
                let _ = s.read(&mut b);
                let _ = s.write_all(b"$999999999999\r\n");
                let chunk = [b'x'; 64 * 1024];
                while s.write_all(&chunk).is_ok() {
                    counter.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    for port in [silent_port, garbage_port] {
        let url = format!("redis://127.0.0.1:{port}");
        let n = node(
            &url,
            &[
                "--backplane-timeout",
                "300ms",
                "--backplane-queue",
                "1048576",
            ],
        );
        let mut c1 = n.connect("/chat/local");
        let mut c2 = n.connect("/chat/local");
        for k in 0..50 {
            c1.send_text(&format!("m{k}"));
        }
        for k in 0..50 {
            assert_eq!(message(&mut c2), format!("m{k}"));
        }
        std::thread::sleep(Duration::from_secs(3));
        assert_eq!(n.metric("wslens_backplane_connected"), 0, "port {port}");
        let rss_mib = n.rss_kib() / 1024;
        assert!(rss_mib < 64, "a bad Redis grew the node to {rss_mib} MiB");
    }
    assert!(
        streamed.load(std::sync::atomic::Ordering::Relaxed) > (1 << 20) + 4096,
        "the garbage server offered more than the node's reply cap (1 MiB + 4 KiB)"
    );
}

/// A `wslens.offsets` member of `/chat/<room>` on `server`, resuming if `since` is given.
fn stamped_member(server: &Server, room: &str, since: Option<(&str, &str)>) -> Client {
    let path = match since {
        Some((offset, epoch)) => format!("/chat/{room}?since={offset}&epoch={epoch}"),
        None => format!("/chat/{room}"),
    };
    let (c, response) = Client::connect(server.port, &path, &["wslens.offsets"]).expect("connect");
    assert_eq!(response.protocol.as_deref(), Some("wslens.offsets"));
    c
}

/// `<offset> <epoch>\n<text>` → (offset, epoch, text).
fn stamped(c: &mut Client) -> (String, String, String) {
    let t = text(c);
    let (line, body) = t
        .split_once('\n')
        .unwrap_or_else(|| panic!("not stamped: {t:?}"));
    let (offset, epoch) = line.split_once(' ').unwrap();
    (offset.into(), epoch.into(), body.into())
}

/// The next stamped message that is not a notice.
fn stamped_message(c: &mut Client) -> (String, String, String) {
    loop {
        let m = stamped(c);
        if !m.2.starts_with(r#"{"event":"#) {
            return m;
        }
    }
}

#[test]
fn with_history_a_client_resumes_on_another_node_with_no_gap_and_no_duplicate() {
    let redis = Redis::start();
    let a = node(&redis.url(), &["--history", "100"]);
    let b = node(&redis.url(), &["--history", "100"]);
    let mut sender = a.connect("/chat/h");
    let mut reader = stamped_member(&b, "h", None);
    subscribed(&[&a, &b]);
    // Its own join notice comes stamped: the epoch and the offset to resume from.
    let (_, epoch, join) = stamped(&mut reader);
    assert!(join.contains(r#""event":"join""#), "{join}");
    for k in 0..5 {
        sender.send_text(&format!("m{k}"));
    }
    let mut last = String::new();
    for k in 0..5 {
        let (offset, e, body) = stamped_message(&mut reader);
        assert_eq!((e.as_str(), body), (epoch.as_str(), format!("m{k}")));
        last = offset;
    }
    drop(reader);
    // Missed while away, then a resume on the *other* node, while messages keep coming.
    for k in 5..10 {
        sender.send_text(&format!("m{k}"));
    }
    let mut back = stamped_member(&a, "h", Some((&last, &epoch)));
    let notice: serde_json::Value = serde_json::from_str(&text(&mut back)).unwrap();
    assert_eq!(notice["event"], "resume");
    assert_eq!(notice["ok"], true, "{notice}");
    assert_eq!(notice["epoch"], epoch.as_str());
    for k in 10..15 {
        sender.send_text(&format!("m{k}"));
    }
    let mut got = Vec::new();
    let mut offsets = Vec::new();
    while got.len() < 10 {
        let (offset, _, body) = stamped_message(&mut back);
        offsets.push(offset);
        got.push(body);
    }
    let want: Vec<String> = (5..15).map(|k| format!("m{k}")).collect();
    assert_eq!(
        got, want,
        "the missed ones, then the live ones: no gap, no duplicate"
    );
    let parsed: Vec<(u64, u64)> = offsets
        .iter()
        .map(|o| {
            let (ms, seq) = o.split_once('-').unwrap();
            (ms.parse().unwrap(), seq.parse().unwrap())
        })
        .collect();
    assert!(
        parsed.windows(2).all(|w| w[0] < w[1]),
        "offsets increase: {offsets:?}"
    );
    // Plain members on the publishing node are unaffected: their messages came at once.
    for k in 0..15 {
        assert_eq!(message(&mut sender), format!("m{k}"));
    }
}

#[test]
fn a_resume_past_the_history_or_from_another_epoch_is_told_so() {
    let mut redis = Redis::start();
    let n = node(&redis.url(), &["--history", "3"]);
    let mut sender = n.connect("/chat/t");
    let mut reader = stamped_member(&n, "t", None);
    subscribed(&[&n]);
    let (first, epoch, _) = stamped(&mut reader);
    // MAXLEN ~ 3 trims whole macro-nodes: enough messages that the first is surely gone.
    for k in 0..500 {
        sender.send_text(&format!("x{k}"));
    }
    for _ in 0..500 {
        stamped_message(&mut reader);
    }
    let mut late = stamped_member(&n, "t", Some((&first, &epoch)));
    let notice: serde_json::Value = serde_json::from_str(&text(&mut late)).unwrap();
    assert_eq!(
        (notice["event"].as_str(), notice["ok"].as_bool()),
        (Some("resume"), Some(false))
    );
    assert_eq!(notice["reason"], "trimmed");
    let mut other = stamped_member(&n, "t", Some((&first, "not-this-epoch")));
    let notice: serde_json::Value = serde_json::from_str(&text(&mut other)).unwrap();
    assert_eq!(
        (notice["ok"].as_bool(), notice["reason"].as_str()),
        (Some(false), Some("epoch"))
    );
    assert_eq!(
        notice["epoch"],
        epoch.as_str(),
        "the notice gives the current epoch"
    );
    // Both go on with live messages after the notice.
    sender.send_text("live");
    for c in [&mut late, &mut other] {
        assert_eq!(stamped_message(c).2, "live");
    }
    // Redis loses everything (a restart without persistence): the room's stream starts a new
    // epoch, and a resume from the old one is told so, with the new epoch.
    redis.kill9();
    redis.restart();
    eventually("connected again", || {
        n.metric("wslens_backplane_connected") == 1
    });
    subscribed(&[&n]);
    let mut after_restart = stamped_member(&n, "t", Some((&first, &epoch)));
    let notice: serde_json::Value = serde_json::from_str(&text(&mut after_restart)).unwrap();
    assert_eq!(
        (notice["ok"].as_bool(), notice["reason"].as_str()),
        (Some(false), Some("epoch"))
    );
    assert_ne!(
        notice["epoch"],
        epoch.as_str(),
        "a new epoch after Redis lost the stream"
    );
}

#[test]
fn with_history_a_redis_outage_loses_nothing_for_stream_members() {
    let mut redis = Redis::start();
    let a = node(&redis.url(), &["--history", "1000"]);
    let b = node(&redis.url(), &["--history", "1000"]);
    let mut sender = a.connect("/chat/o");
    let mut reader = stamped_member(&b, "o", None);
    subscribed(&[&a, &b]);
    sender.send_text("before");
    assert_eq!(stamped_message(&mut reader).2, "before");
    redis.kill9();
    for n in [&a, &b] {
        eventually("Redis gone", || n.metric("wslens_backplane_connected") == 0);
    }
    // Published while Redis is away: queued on node a (its plain members have them at once).
    for k in 0..20 {
        sender.send_text(&format!("during {k}"));
    }
    std::thread::sleep(Duration::from_millis(300));
    redis.restart();
    let got: Vec<String> = (0..20).map(|_| stamped_message(&mut reader).2).collect();
    let want: Vec<String> = (0..20).map(|k| format!("during {k}")).collect();
    assert_eq!(got, want);
    assert_eq!(a.metric("wslens_backplane_lost_total"), 0);
}
