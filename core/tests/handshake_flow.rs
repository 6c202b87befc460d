//! The connection state machine through the opening handshake, both roles, end to end:
//! a client `Connection` talks to a server `Connection` through byte buffers only.

mod common;
use common::*;
use wslens::frame::OpCode;
use wslens::handshake::{AcceptOptions, ClientRequest};
use wslens::{CloseCode, Config, Connection, Error, Event, OwnedEvent, State};

const REQUEST: ClientRequest<'static> = ClientRequest {
    host: "localhost:8765",
    path: "/echo?room=1",
    nonce: *b"0123456789abcdef",
    protocols: &["wslens.wire", "chat"],
    extensions: None,
    origin: Some("http://localhost:8765"),
    extra_headers: &[],
    deflate: None,
};

/// Moves everything `from` has to send into `to`, returning the events `to` reports.
fn pump(from: &mut Connection, to: &mut Connection) -> (Vec<OwnedEvent>, Option<Error>) {
    let bytes = from.take_output();
    feed(to, &bytes)
}

#[test]
fn client_and_server_connect_talk_and_close() {
    let mut client = Connection::client(Config::default(), &REQUEST, || KEY);
    let mut server = Connection::server(Config::default());
    assert_eq!(
        (client.state(), server.state()),
        (State::Connecting, State::Connecting)
    );
    assert!(client.send_text("too early").is_err());

    let (events, err) = pump(&mut client, &mut server);
    assert_eq!(err, None);
    let [OwnedEvent::Request(req)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(req.path, "/echo");
    assert_eq!(req.query_param("room").as_deref(), Some("1"));
    assert_eq!(req.protocols, ["wslens.wire", "chat"]);
    assert_eq!(req.origin.as_deref(), Some("http://localhost:8765"));
    server
        .accept(&AcceptOptions {
            protocol: Some("chat"),
            ..AcceptOptions::default()
        })
        .unwrap();
    assert_eq!(server.state(), State::Open);
    // The server may send a message right behind its 101, in the same write.
    server.send_text("welcome").unwrap();

    let (events, err) = pump(&mut server, &mut client);
    assert_eq!(err, None);
    let [OwnedEvent::Connected(resp), OwnedEvent::Text(t)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(resp.protocol.as_deref(), Some("chat"));
    assert_eq!(t, "welcome");
    assert_eq!(client.state(), State::Open);

    client.send_binary(&[1, 2, 3]).unwrap();
    client.ping(b"p").unwrap();
    let (events, _) = pump(&mut client, &mut server);
    assert_eq!(
        events,
        [
            OwnedEvent::Binary(vec![1, 2, 3]),
            OwnedEvent::Ping(b"p".to_vec())
        ]
    );
    let (events, _) = pump(&mut server, &mut client);
    assert_eq!(events, [OwnedEvent::Pong(b"p".to_vec())]);

    client.close(CloseCode::NORMAL, "done").unwrap();
    let (events, _) = pump(&mut client, &mut server);
    assert_eq!(
        events,
        [OwnedEvent::Close {
            code: Some(CloseCode::NORMAL),
            reason: "done".into()
        }]
    );
    assert_eq!(server.state(), State::Closed);
    let (events, _) = pump(&mut server, &mut client);
    assert_eq!(
        events,
        [OwnedEvent::Close {
            code: Some(CloseCode::NORMAL),
            reason: String::new()
        }]
    );
    assert_eq!(client.state(), State::Closed);
    assert!(server.should_close_transport());
}

#[test]
fn request_and_first_frame_in_one_read_zero_copy() {
    let mut client = Connection::client(Config::default(), &REQUEST, || KEY);
    let mut wire = client.take_output();
    let head_len = wire.len();
    wire.extend(client_frame(true, OpCode::Text, b"hi"));
    let mut server = Connection::server(Config::default());
    let (used, event) = server.read(&mut wire).unwrap();
    assert_eq!(used, head_len);
    assert!(matches!(event, Some(Event::Request(_))));
    // Reading again before deciding is refused.
    assert!(matches!(
        server.read(&mut wire[head_len..]),
        Err(Error::InvalidState(_))
    ));
    server.accept(&AcceptOptions::default()).unwrap();
    let (used, event) = server.read(&mut wire[head_len..]).unwrap();
    assert_eq!(used, 8);
    assert_eq!(event, Some(Event::Text("hi")));
}

#[test]
fn receive_keeps_bytes_that_arrive_before_accept() {
    let mut client = Connection::client(Config::default(), &REQUEST, || KEY);
    let mut wire = client.take_output();
    wire.extend(client_frame(true, OpCode::Text, b"early"));
    let mut server = Connection::server(Config::default());
    let (events, err) = feed(&mut server, &wire);
    assert_eq!((events.len(), err), (1, None));
    server.accept(&AcceptOptions::default()).unwrap();
    let (events, err) = feed(&mut server, &[]);
    assert_eq!(
        (events, err),
        (vec![OwnedEvent::Text("early".into())], None)
    );
}

#[test]
fn bad_request_gets_an_http_error_and_closes() {
    let mut server = Connection::server(Config::default());
    let (_, err) = feed(&mut server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let Some(Error::Handshake(e)) = err else {
        panic!("{err:?}")
    };
    assert_eq!(e.status, 426);
    let out = String::from_utf8(server.take_output()).unwrap();
    assert!(
        out.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{out}"
    );
    assert!(out.contains("Sec-WebSocket-Version: 13"));
    assert_eq!(server.state(), State::Closed);
}

#[test]
fn oversized_request_head_gets_431_without_buffering_it_all() {
    let cfg = Config {
        max_header_bytes: 1024,
        ..Config::default()
    };
    let mut server = Connection::server(cfg);
    let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 100_000));
    let (_, err) = feed(&mut server, &big);
    assert!(matches!(err, Some(Error::Handshake(e)) if e.status == 431));
    assert!(String::from_utf8(server.take_output())
        .unwrap()
        .starts_with("HTTP/1.1 431 "));
}

#[test]
fn reject_sends_the_status_and_body() {
    let mut client = Connection::client(Config::default(), &REQUEST, || KEY);
    let mut server = Connection::server(Config::default());
    pump(&mut client, &mut server);
    server.reject(403, "origin not allowed").unwrap();
    assert_eq!(server.state(), State::Closed);
    let (_, err) = pump(&mut server, &mut client);
    assert!(matches!(err, Some(Error::Handshake(e)) if e.status == 403));
    assert_eq!(client.state(), State::Closed);
}

#[test]
fn client_refuses_a_wrong_accept_key() {
    let mut client = Connection::client(Config::default(), &REQUEST, || KEY);
    let resp = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    let (_, err) = feed(&mut client, resp);
    assert!(matches!(err, Some(Error::Handshake(e)) if e.reason.contains("Accept")));
    assert_eq!(client.state(), State::Closed);
}
