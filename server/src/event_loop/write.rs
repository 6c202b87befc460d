//! Bytes out: vectored writes of the output queue and the protocol's own output.

use super::*;

impl EventLoop {
    /// Writes as much as the socket takes, with one vectored write per round (queued items,
    /// then the protocol's own output), and sets write interest to match what is left. Parks
    /// the protocol state and gives back the queue once everything is out.
    pub(super) fn flush(&mut self, key: usize, now: Ms) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let mut written_total = 0u64;
        let result = loop {
            if conn.backlog() == 0 {
                // TLS records may still wait for the socket (plain TCP: nothing to do).
                break conn.stream.write_pending();
            }
            let write = match &conn.out {
                // The common case: only the protocol's own output.
                None => conn.stream.write(phase_output(&conn.phase)),
                Some(_) => flush_vectored(conn),
            };
            match write {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    written_total += n as u64;
                    advance(conn, n);
                    if conn.backlog() == 0 {
                        break Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(e),
            }
        };
        Metrics::add(&self.shared.metrics.bytes_out, written_total);
        if let Err(e) = result {
            debug!(conn = conn.info.id, error = %e, "write failed");
            self.finish(key, CloseCode::ABNORMAL);
            return;
        }
        if conn.queued() == 0 {
            if let Some(queue) = conn.out.take() {
                self.spares.return_queue(queue);
            }
        }
        // Queued bytes, plus TLS records not yet on the wire.
        let pending = conn.backlog() + usize::from(conn.stream.wants_write());
        if pending == 0 && matches!(conn.phase, Phase::Respond) && conn.closing_since.is_none() {
            // Lingering close: send FIN, then read and discard until the peer closes too, so
            // unread request bytes do not turn our close into a reset that eats the response.
            let _ = conn.stream.shutdown(std::net::Shutdown::Write);
            conn.closing_since = Since(now);
            conn.reading = true;
            let _ =
                self.poller
                    .modify_with_mode(&conn.stream, Event::readable(key), PollMode::Level);
            conn.interest = (true, false);
            self.schedule(key, now + ms(self.shared.config.close_timeout));
            return;
        }
        let done = pending == 0
            && match &conn.phase {
                Phase::Ws(ws) => ws
                    .proto
                    .as_ref()
                    .is_some_and(|p| p.should_close_transport()),
                Phase::Respond | Phase::Head(_) => false,
            };
        if done {
            // RFC 6455 §7.1.1: after the close handshake the server closes the TCP connection.
            let code = match &conn.phase {
                Phase::Ws(_) => CloseCode::NORMAL,
                _ => CloseCode::NO_STATUS,
            };
            self.finish(key, code);
            return;
        }
        if let Phase::Ws(ws) = &mut conn.phase {
            if pending == 0 {
                self.spares.park(ws);
            }
        }
        if !conn.reading
            && matches!(conn.phase, Phase::Ws(_))
            && pending <= self.shared.config.max_backpressure / 2
        {
            conn.reading = true;
        }
        let interest = (conn.reading, pending > 0);
        if interest != conn.interest {
            conn.interest = interest;
            let event = Event::new(key, interest.0, interest.1);
            let _ = self
                .poller
                .modify_with_mode(&conn.stream, event, PollMode::Level);
        }
    }

    // ---- Hub actions and inbox ---------------------------------------------------------

    /// Flushes the connections that deliveries queued output on.
    pub(super) fn flush_dirty(&mut self, now: Ms) {
        while !self.dirty.is_empty() {
            let dirty = std::mem::take(&mut self.dirty);
            for &key in &dirty {
                // A key whose connection went away (and maybe came back as another one) has
                // `dirty` unset.
                if let Some(conn) = self.conns.get_mut(key).filter(|c| c.dirty) {
                    conn.dirty = false;
                    self.flush(key, now);
                }
            }
            self.run_actions(now);
            if self.dirty.is_empty() {
                // Keep the allocation for the next iteration.
                self.dirty = dirty;
                self.dirty.clear();
            }
        }
    }

    // ---- Timers ------------------------------------------------------------------------
}

/// One vectored write of up to 64 queued items and then the protocol's output (no
/// allocation: the slices live on the stack).
pub(super) fn flush_vectored(conn: &mut Conn) -> io::Result<usize> {
    let mut slices = [IoSlice::new(&[]); 65];
    let mut count = 0;
    if let Some(queue) = &conn.out {
        for item in queue.items.iter().take(64) {
            let bytes = item.bytes();
            slices[count] = IoSlice::new(if count == 0 {
                &bytes[queue.front_written..]
            } else {
                bytes
            });
            count += 1;
        }
    }
    let tail = phase_output(&conn.phase);
    if !tail.is_empty() {
        slices[count] = IoSlice::new(tail);
        count += 1;
    }
    conn.stream.write_vectored(&slices[..count])
}

/// The protocol's own pending output (the 101 response, frames, pongs, close replies).
pub(super) fn phase_output(phase: &Phase) -> &[u8] {
    match phase {
        Phase::Ws(ws) => ws.output(),
        _ => &[],
    }
}

/// Marks `n` written bytes: whole queue items first, then the protocol's output.
pub(super) fn advance(conn: &mut Conn, mut n: usize) {
    if let Some(queue) = &mut conn.out {
        while n > 0 {
            let Some(front) = queue.items.front() else {
                break;
            };
            let left = front.bytes().len() - queue.front_written;
            if n >= left {
                n -= left;
                queue.queued -= left;
                queue.front_written = 0;
                queue.items.pop_front();
            } else {
                queue.front_written += n;
                queue.queued -= n;
                return;
            }
        }
    }
    if n > 0 {
        if let Phase::Ws(Ws {
            proto: Some(proto), ..
        }) = &mut conn.phase
        {
            proto.consume_output(n);
        }
    }
}
