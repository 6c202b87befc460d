//! The request head: static files, `/metrics`, `/healthz`, and the upgrade to a WebSocket.

use super::*;

impl EventLoop {
    pub(super) fn on_bytes(&mut self, key: usize, input: &mut [u8], now: Ms) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        match &mut conn.phase {
            Phase::Respond => {}
            Phase::Ws(_) => self.on_ws_bytes(key, input, now),
            Phase::Head(head) => {
                let take = input.len().min(head.scanner.room(head.buf.len()));
                head.buf.extend_from_slice(&input[..take]);
                match head.scanner.scan(&head.buf) {
                    Ok(None) => {}
                    Err(e) => {
                        Metrics::inc(&self.shared.metrics.handshakes_failed);
                        self.respond(key, e.response());
                    }
                    Ok(Some(end)) => {
                        let mut bytes = std::mem::take(&mut head.buf);
                        let mut rest = bytes.split_off(end);
                        rest.extend_from_slice(&input[take..]);
                        self.on_head(key, &bytes, &mut rest, now);
                    }
                }
            }
        }
    }

    /// A complete request head, parsed once by the core (RFC 7230 §3): a WebSocket upgrade
    /// or a plain HTTP request.
    pub(super) fn on_head(&mut self, key: usize, bytes: &[u8], rest: &mut [u8], now: Ms) {
        let head = match handshake::Head::parse(bytes) {
            Ok(head) => head,
            Err(e) => {
                Metrics::inc(&self.shared.metrics.handshakes_failed);
                self.respond(key, e.response());
                return;
            }
        };
        // The request-target's form and the Host header (RFC 7230 §5.3, §5.4), for
        // WebSockets and plain requests alike: absolute-form is served like origin-form.
        let checked = head.request_target().and_then(|t| head.host().map(|_| t));
        let path = match checked {
            Ok(target) => target.path,
            Err(e) => {
                if head.is_upgrade() {
                    Metrics::inc(&self.shared.metrics.handshakes_failed);
                }
                self.respond(key, e.response());
                return;
            }
        };
        let route = self.shared.route(path);
        if head.is_upgrade() {
            match route {
                Some(route) => self.upgrade(key, (head, bytes), rest, route, now),
                None => {
                    Metrics::inc(&self.shared.metrics.handshakes_failed);
                    self.respond(
                        key,
                        reject_response(404, &format!("no WebSocket route at {path}")),
                    );
                }
            }
            return;
        }
        if head.version_minor().is_none() {
            self.respond(key, reject_response(505, "only HTTP/1.x is served"));
            return;
        }
        let method = head.method;
        Metrics::inc(&self.shared.metrics.http_requests);
        let head_only = method == "HEAD";
        let response = match (method, path) {
            ("GET" | "HEAD", "/metrics") => crate::http::response(
                200,
                "text/plain; version=0.0.4",
                self.shared.metrics.render().as_bytes(),
                head_only,
            ),
            ("GET" | "HEAD", "/healthz") => crate::http::text(200, "ok\n", head_only),
            ("GET" | "HEAD", p) if p.starts_with("/wire/") => {
                let session = &p["/wire/".len()..];
                match self.shared.transcripts.render(session, Instant::now()) {
                    Some(json) => {
                        crate::http::response(200, "application/json", json.as_bytes(), head_only)
                    }
                    None => {
                        crate::http::text(404, "no such wire session (or it expired)\n", head_only)
                    }
                }
            }
            ("GET" | "HEAD", _) if route.is_some() => reject_response(
                426,
                "this is a WebSocket endpoint: send an Upgrade: websocket request",
            ),
            ("GET" | "HEAD", _) => match &self.shared.config.www {
                Some(root) => {
                    let encodings = head.header("accept-encoding");
                    crate::http::static_file_for(root, path, head_only, encodings).1
                }
                None => crate::http::text(404, "not found\n", head_only),
            },
            _ => reject_response(405, "only GET and HEAD are served"),
        };
        self.respond(key, response);
    }

    /// The opening handshake (RFC 6455 §4.2), checked by the core; then origin, token and
    /// subprotocol, then the 101.
    pub(super) fn upgrade(
        &mut self,
        key: usize,
        (head, head_bytes): (handshake::Head<'_>, &[u8]),
        rest: &mut [u8],
        route: RouteMatch,
        now: Ms,
    ) {
        let RouteMatch {
            handler,
            param,
            path,
        } = route;
        let metrics = &self.shared.metrics;
        let decision = handshake::Request::from_head(head)
            .map_err(|e| e.response())
            .and_then(|req| match self.shared.authorizer.authorize(&req) {
                Err(rejection) => Err(reject_response(rejection.status, &rejection.reason)),
                Ok(()) => Ok(req),
            });
        let request = match decision {
            Ok(request) => request,
            Err(response) => {
                debug!("handshake refused");
                Metrics::inc(&metrics.handshakes_failed);
                self.respond(key, response);
                return;
            }
        };
        let history = self
            .shared
            .hub
            .backplane
            .as_ref()
            .is_some_and(|b| b.history() > 0);
        // `wslens.offsets` means something only with `--history`: without, it is declined.
        let offered: Vec<&'static str> = handler
            .protocols()
            .iter()
            .copied()
            .filter(|p| history || *p != crate::OFFSETS_PROTOCOL)
            .collect();
        let chosen = negotiate_protocol(&request.protocols, &offered);
        // The handler's own `&'static str`, so the connection keeps no copy.
        let protocol = chosen.and_then(|c| offered.iter().copied().find(|p| *p == c));
        let stamped = protocol == Some(crate::OFFSETS_PROTOCOL);
        // `?since=<offset>&epoch=<epoch>`: resume (with `--history`). An offset that does not
        // parse is one the history cannot have, and is told so.
        let resume = request
            .query_param("since")
            .filter(|_| history)
            .map(|since| {
                let since = crate::backplane::Offset::parse(&since).unwrap_or_default();
                let epoch = request.query_param("epoch").unwrap_or_default();
                (since, epoch.into_boxed_str())
            });
        let stream = (stamped || resume.is_some()).then(|| {
            Box::new(Extra::Stream(StreamState {
                stamped,
                resume,
                cursors: Vec::new(),
            }))
        });
        let mut ws = Connection::from_request(self.spares.config.clone(), request);
        let accepted = ws.accept(&AcceptOptions {
            protocol,
            deflate: self.shared.config.deflate.as_ref(),
            ..AcceptOptions::default()
        });
        if accepted.is_err() {
            self.respond(key, reject_response(500, "handshake state error"));
            return;
        }
        Metrics::inc(&metrics.handshakes_ok);
        Metrics::inc(&metrics.open_websockets);
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        info!(conn = conn.info.id, peer = %conn.info.peer, path = &*path, protocol = protocol.unwrap_or(""), "websocket open");
        conn.info.path = path;
        conn.info.param = param;
        conn.info.protocol = protocol;
        // The wire tap starts with the handshake as read and written (the 101 is all the
        // protocol has queued so far).
        let wire = (protocol == Some(crate::WIRE_PROTOCOL)).then(|| {
            let session = crate::tap::new_session_id();
            let record = crate::tap::handshake_record(&session, head_bytes, ws.pending_output());
            let transcripts = &self.shared.transcripts;
            transcripts.open(&session, Instant::now());
            transcripts.push(&session, &record);
            let _ = ws.send_text(&record);
            Box::new(Extra::Wire(WireTap {
                read: Vec::new(),
                session: session.into(),
                opened: now,
            }))
        });
        // The 101 response stays in the protocol's output, ahead of anything `on_open` sends.
        let mut state = Ws {
            proto: Some(Box::new(ws)),
            handler,
            extra: wire.or(stream),
            rooms: Vec::new(),
            close_reported: false,
            rate: MessageRate::default(),
        };
        let mut actions = Vec::new();
        let handler = state.handler.clone();
        handler.on_open(&mut Ctx::new(
            self.spares.proto(&mut state).sender(),
            &conn.info,
            &mut actions,
        ));
        self.actions.extend(actions.into_iter().map(|a| (key, a)));
        conn.phase = Phase::Ws(state);
        conn.last_message = now;
        // The handshake-deadline timer is still pending; schedule earlier if a keepalive
        // rule is due before it (the timer applies the keepalive rules when it fires).
        let config = &self.shared.config;
        let keepalive = [config.ping_interval, config.idle_timeout]
            .into_iter()
            .flatten()
            .min();
        if let Some(first) = keepalive {
            self.schedule(key, now + ms(first));
        }
        if !rest.is_empty() {
            self.on_ws_bytes(key, rest, now);
        }
    }

    /// Queues an HTTP response; the connection closes when it has been written.
    pub(super) fn respond(&mut self, key: usize, response: Vec<u8>) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        conn.phase = Phase::Respond;
        conn.reading = false;
        conn.push(&mut self.spares, Out::Owned(response));
    }

    // ---- Writing -----------------------------------------------------------------------
}
