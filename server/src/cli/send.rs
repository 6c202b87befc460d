//! `wslens send`: send messages, print the replies, close cleanly.

use super::args::SendArgs;
use super::client::Client;
use super::listen::{closed, print_event};
use wslens::OwnedEvent;

/// `wslens send`.
pub(crate) fn send(args: SendArgs) -> Result<(), String> {
    use std::io::BufRead as _;
    let opts = args.connect.options()?;
    let messages: Vec<String> = if args.message.is_empty() {
        std::io::stdin()
            .lock()
            .lines()
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?
    } else {
        args.message.clone()
    };
    let (mut client, _) = Client::connect(&args.connect.url, &opts).map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let mut replies = 0;
    for m in &messages {
        let sent = if args.binary {
            client.send_binary(m.as_bytes())
        } else {
            client.send_text(m)
        };
        sent.map_err(|e| e.to_string())?;
    }
    // Replies: until as many as were sent have arrived, or `--timeout` of silence.
    while replies < messages.len() {
        match client
            .next_event(Some(args.connect.timeout))
            .map_err(|e| e.to_string())?
        {
            None => break,
            Some(OwnedEvent::Close { code, reason }) => return closed(code, &reason),
            Some(e @ (OwnedEvent::Text(_) | OwnedEvent::Binary(_))) => {
                print_event(&e, false, started);
                replies += 1;
            }
            Some(_) => {}
        }
    }
    client
        .close(wslens::CloseCode::NORMAL, "")
        .map_err(|e| e.to_string())?;
    loop {
        match client
            .next_event(Some(args.connect.timeout))
            .map_err(|e| e.to_string())?
        {
            Some(OwnedEvent::Close { code, .. }) => {
                return if code.is_none_or(|c| c.0 == 1000) {
                    Ok(())
                } else {
                    Err(format!("close answered with {code:?}"))
                };
            }
            Some(_) => {}
            None => return Err("no close reply from the server".into()),
        }
    }
}
