//! Accepting connections: the listeners, the pause when file descriptors run out, and admission.

use super::*;

impl EventLoop {
    pub(super) fn accept(&mut self, key: usize, now: Ms) {
        if !self.accepting {
            return;
        }
        loop {
            match self.listeners.accept(key) {
                Ok((stream, peer, tls)) => {
                    let tls = tls.cloned();
                    self.admit(stream, peer, tls, now)
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE/ENFILE and friends: stop accepting for a moment instead of
                    // spinning on a listener that stays readable.
                    warn!(error = %e, "accept failed; pausing accepts for 100 ms");
                    self.pause_accepting(now + 100);
                    return;
                }
            }
        }
    }

    pub(super) fn pause_accepting(&mut self, until: Ms) {
        if self.listeners.set_accepting(&self.poller, false).is_ok() {
            self.accepting = false;
            self.accept_resume = Some(until);
        }
    }

    pub(super) fn admit(
        &mut self,
        stream: TcpStream,
        peer: SocketAddr,
        tls: Option<TlsAcceptor>,
        now: Ms,
    ) {
        let metrics = &self.shared.metrics;
        if stream.set_nonblocking(true).is_err() {
            return;
        }
        let _ = stream.set_nodelay(true);
        let open = metrics.open_connections.load(Ordering::Relaxed) as usize;
        let over_limit = open >= self.shared.config.max_connections;
        // Per address, before any work (the refused are not counted, so not released).
        let refused = match self.shared.ip_limits.admit(peer.ip(), now) {
            Ok(()) => None,
            Err(refusal) => {
                Metrics::inc(match refusal {
                    Refusal::Connections => &metrics.rejected_per_ip_connections,
                    Refusal::Rate => &metrics.rejected_per_ip_rate,
                });
                Some(refusal)
            }
        };
        let release = |shared: &Shared| {
            if refused.is_none() {
                shared.ip_limits.release(peer.ip(), now);
            }
        };
        let stream = match tls {
            None => Transport::Plain(stream),
            // Past a limit a TLS client is closed before its handshake: a 503 would first
            // cost the full handshake the limit is there to spare.
            Some(_) if over_limit || refused.is_some() => {
                if over_limit {
                    Metrics::inc(&metrics.rejected_connections);
                }
                release(&self.shared);
                return;
            }
            Some(acceptor) => match acceptor.wrap(stream) {
                Ok(t) => t,
                Err(_) => {
                    release(&self.shared);
                    return;
                }
            },
        };
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let entry = self.conns.vacant_entry();
        let key = entry.key();
        if key >= MAX_KEY {
            release(&self.shared);
            return;
        }
        // SAFETY: the stream is stored in the slab right below and is deleted from the
        // poller in `finish`, the only place a connection leaves the slab, before it drops.
        if unsafe {
            self.poller
                .add_with_mode(&stream, Event::readable(key), PollMode::Level)
        }
        .is_err()
        {
            release(&self.shared);
            return;
        }
        entry.insert(Conn {
            stream,
            interest: (true, false),
            reading: true,
            dirty: false,
            info: ConnInfo {
                id,
                peer,
                path: self.no_path.clone(),
                param: Box::default(),
                protocol: None,
            },
            phase: Phase::Head(Box::new(Head {
                buf: Vec::new(),
                scanner: HeadScanner::new(self.shared.config.max_header_bytes),
            })),
            out: None,
            created: now,
            last_read: now,
            last_message: now,
            ping_sent: Since::NONE,
            closing_since: Since::NONE,
            timer_at: Ms::MAX,
            ip_counted: refused.is_none(),
        });
        Metrics::inc(&metrics.open_connections);
        debug!(conn = id, %peer, "accepted");
        self.schedule(key, now + self.timeouts.handshake);
        if over_limit {
            Metrics::inc(&self.shared.metrics.rejected_connections);
            self.respond(key, reject_response(503, "too many connections"));
            self.flush(key, now);
        } else if let Some(refusal) = refused {
            let reason = match refusal {
                Refusal::Connections => "too many connections from your address",
                Refusal::Rate => "too many new connections from your address: slow down",
            };
            self.respond(key, reject_response(503, reason));
            self.flush(key, now);
        }
    }

    // ---- Readiness ---------------------------------------------------------------------
}
