//! The wslens client under Autobahn|Testsuite's fuzzingserver (`tests/autobahn/client.sh`):
//! for each case, connect to `/runCase`, echo every message back until the server closes, then
//! ask for the reports.
//!
//!     cargo run --release -p wslens-server --example autobahn_client -- ws://127.0.0.1:9002 [--deflate]
//!
//! With `--deflate` the client offers permessage-deflate (RFC 7692) on every case, so
//! sections 12 and 13 run compressed.

use std::time::Duration;
use wslens::OwnedEvent;
use wslens_server::client::{Client, ClientOptions};

const AGENT: &str = "wslens";

fn main() {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9002".into());
    let deflate = std::env::args().skip(2).any(|a| a == "--deflate");
    let opts = ClientOptions {
        timeout: Duration::from_secs(30),
        deflate: deflate.then(wslens::deflate::DeflateConfig::default),
        ..ClientOptions::default()
    };
    let count = case_count(&base, &opts).unwrap_or_else(|e| {
        eprintln!("getCaseCount failed: {e}");
        std::process::exit(1);
    });
    eprintln!("{count} cases");
    for case in 1..=count {
        match Client::connect(&format!("{base}/runCase?case={case}&agent={AGENT}"), &opts) {
            Ok((mut client, _)) => echo_until_closed(&mut client),
            Err(e) => eprintln!("case {case}: {e}"),
        }
    }
    match Client::connect(&format!("{base}/updateReports?agent={AGENT}"), &opts) {
        Ok((mut client, _)) => drain(&mut client),
        Err(e) => {
            eprintln!("updateReports failed: {e}");
            std::process::exit(1);
        }
    }
}

fn case_count(base: &str, opts: &ClientOptions) -> Result<usize, String> {
    let (mut client, _) =
        Client::connect(&format!("{base}/getCaseCount"), opts).map_err(|e| e.to_string())?;
    loop {
        match client
            .next_event(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?
        {
            Some(OwnedEvent::Text(t)) => {
                let n = t
                    .trim()
                    .parse()
                    .map_err(|e| format!("case count {t:?}: {e}"))?;
                drain(&mut client);
                return Ok(n);
            }
            Some(_) => {}
            None => return Err("no case count".into()),
        }
    }
}

fn echo_until_closed(client: &mut Client) {
    loop {
        let sent = match client.next_event(Some(Duration::from_secs(60))) {
            Ok(Some(OwnedEvent::Text(t))) => client.send_text(&t),
            Ok(Some(OwnedEvent::Binary(b))) => client.send_binary(&b),
            Ok(Some(OwnedEvent::Close { .. })) | Err(_) => return drain(client),
            Ok(Some(_)) => Ok(()),
            Ok(None) => return,
        };
        if sent.is_err() {
            return drain(client);
        }
    }
}

/// Reads until the server closes the TCP connection (RFC 6455 §7.1.1: the server closes
/// first), so the close handshake completes.
fn drain(client: &mut Client) {
    while let Ok(Some(_)) = client.next_event(Some(Duration::from_secs(5))) {}
}
