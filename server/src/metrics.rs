//! Counters, exposed at `/metrics` in the Prometheus text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Server-wide counters (relaxed atomics: each is independent).
#[derive(Debug, Default)]
pub struct Metrics {
    /// Open TCP connections (HTTP and WebSocket).
    pub open_connections: AtomicU64,
    /// Open WebSocket connections.
    pub open_websockets: AtomicU64,
    /// Completed opening handshakes.
    pub handshakes_ok: AtomicU64,
    /// Refused or failed opening handshakes.
    pub handshakes_failed: AtomicU64,
    /// Plain HTTP requests answered.
    pub http_requests: AtomicU64,
    /// Messages received.
    pub messages_in: AtomicU64,
    /// Messages sent (a broadcast counts once per receiver).
    pub messages_out: AtomicU64,
    /// Bytes read from sockets.
    pub bytes_in: AtomicU64,
    /// Bytes written to sockets.
    pub bytes_out: AtomicU64,
    /// Times a connection hit its backpressure cap.
    pub backpressure_events: AtomicU64,
    /// Connections refused because of the connection limit.
    pub rejected_connections: AtomicU64,
    /// Connections refused because their address had `--max-connections-per-ip` open.
    pub rejected_per_ip_connections: AtomicU64,
    /// Connections refused because their address opened them faster than
    /// `--handshakes-per-ip-per-second`.
    pub rejected_per_ip_rate: AtomicU64,
    /// Messages over `--max-messages-per-second` (each dropped, or the first closing its
    /// connection with 1008).
    pub rate_limited_messages: AtomicU64,
    /// Completed TLS handshakes.
    pub tls_handshakes_ok: AtomicU64,
    /// TLS handshakes that failed (an alert, not TLS at all, a timeout, a peer that left).
    pub tls_handshakes_failed: AtomicU64,
    /// The Redis backplane (`--backplane`): 1 while both of its connections are up.
    pub backplane_connected: AtomicU64,
    /// Rooms this node is subscribed to on the backplane.
    pub backplane_subscriptions: AtomicU64,
    /// Publications sent to Redis.
    pub backplane_published: AtomicU64,
    /// Publications from other nodes received from Redis.
    pub backplane_received: AtomicU64,
    /// Connections to Redis made again after one was lost or refused.
    pub backplane_reconnects: AtomicU64,
    /// Publications this node knows were lost: dropped from its full queue, unconfirmed when
    /// a connection to Redis broke, or missing from another node's sequence.
    pub backplane_lost: AtomicU64,
    /// Bytes waiting in the queue to Redis.
    pub backplane_queue_bytes: AtomicU64,
    closes: [AtomicU64; CLOSE_SLOTS],
}

const TRACKED: [u16; 13] = [
    1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013,
];
const CLOSE_SLOTS: usize = TRACKED.len() + 1;

impl Metrics {
    /// Adds 1 to `counter`.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// Subtracts 1 from `counter`.
    pub fn dec(counter: &AtomicU64) {
        counter.fetch_sub(1, Relaxed);
    }

    /// Counts a closed WebSocket by its close code (1005: none, 1006: abnormal).
    pub fn closed(&self, code: u16) {
        let slot = TRACKED
            .iter()
            .position(|c| *c == code)
            .unwrap_or(TRACKED.len());
        self.closes[slot].fetch_add(1, Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, v: &AtomicU64| {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}\n",
                v.load(Relaxed)
            );
        };
        metric(
            "wslens_open_connections",
            "gauge",
            "Open TCP connections.",
            &self.open_connections,
        );
        metric(
            "wslens_open_websockets",
            "gauge",
            "Open WebSocket connections.",
            &self.open_websockets,
        );
        metric(
            "wslens_handshakes_ok_total",
            "counter",
            "Completed opening handshakes.",
            &self.handshakes_ok,
        );
        metric(
            "wslens_handshakes_failed_total",
            "counter",
            "Refused or failed handshakes.",
            &self.handshakes_failed,
        );
        metric(
            "wslens_http_requests_total",
            "counter",
            "Plain HTTP requests answered.",
            &self.http_requests,
        );
        metric(
            "wslens_messages_in_total",
            "counter",
            "Messages received.",
            &self.messages_in,
        );
        metric(
            "wslens_messages_out_total",
            "counter",
            "Messages sent.",
            &self.messages_out,
        );
        metric(
            "wslens_bytes_in_total",
            "counter",
            "Bytes read from sockets.",
            &self.bytes_in,
        );
        metric(
            "wslens_bytes_out_total",
            "counter",
            "Bytes written to sockets.",
            &self.bytes_out,
        );
        metric(
            "wslens_backpressure_events_total",
            "counter",
            "Connections that hit the backpressure cap.",
            &self.backpressure_events,
        );
        metric(
            "wslens_rejected_connections_total",
            "counter",
            "Connections refused at the connection limit.",
            &self.rejected_connections,
        );
        metric(
            "wslens_rejected_per_ip_connections_total",
            "counter",
            "Connections refused: their address had --max-connections-per-ip open.",
            &self.rejected_per_ip_connections,
        );
        metric(
            "wslens_rejected_per_ip_rate_total",
            "counter",
            "Connections refused: their address exceeded --handshakes-per-ip-per-second.",
            &self.rejected_per_ip_rate,
        );
        metric(
            "wslens_rate_limited_messages_total",
            "counter",
            "Messages over --max-messages-per-second (dropped, or closing with 1008).",
            &self.rate_limited_messages,
        );
        metric(
            "wslens_tls_handshakes_ok_total",
            "counter",
            "Completed TLS handshakes.",
            &self.tls_handshakes_ok,
        );
        metric(
            "wslens_tls_handshakes_failed_total",
            "counter",
            "TLS handshakes that failed or were abandoned.",
            &self.tls_handshakes_failed,
        );
        for (name, kind, help, v) in [
            (
                "wslens_backplane_connected",
                "gauge",
                "1 while the Redis backplane's connections are up.",
                &self.backplane_connected,
            ),
            (
                "wslens_backplane_subscriptions",
                "gauge",
                "Rooms subscribed to on the backplane.",
                &self.backplane_subscriptions,
            ),
            (
                "wslens_backplane_published_total",
                "counter",
                "Publications sent to Redis.",
                &self.backplane_published,
            ),
            (
                "wslens_backplane_received_total",
                "counter",
                "Publications from other nodes received from Redis.",
                &self.backplane_received,
            ),
            (
                "wslens_backplane_reconnects_total",
                "counter",
                "Connections to Redis made again after one was lost.",
                &self.backplane_reconnects,
            ),
            (
                "wslens_backplane_lost_total",
                "counter",
                "Publications known lost (queue full, unconfirmed, or a gap in a node's sequence).",
                &self.backplane_lost,
            ),
            (
                "wslens_backplane_queue_bytes",
                "gauge",
                "Bytes waiting in the queue to Redis.",
                &self.backplane_queue_bytes,
            ),
        ] {
            metric(name, kind, help, v);
        }
        let _ = writeln!(
            out,
            "# HELP wslens_closes_total WebSocket connections closed, by close code."
        );
        let _ = writeln!(out, "# TYPE wslens_closes_total counter");
        for (i, code) in TRACKED.iter().enumerate() {
            let _ = writeln!(
                out,
                "wslens_closes_total{{code=\"{code}\"}} {}",
                self.closes[i].load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "wslens_closes_total{{code=\"other\"}} {}",
            self.closes[TRACKED.len()].load(Relaxed)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        Metrics::inc(&m.handshakes_ok);
        Metrics::add(&m.bytes_in, 42);
        Metrics::inc(&m.tls_handshakes_failed);
        m.closed(1000);
        m.closed(4000);
        let text = m.render();
        assert!(text.contains("\nwslens_handshakes_ok_total 1\n"));
        assert!(text.contains("\nwslens_bytes_in_total 42\n"));
        assert!(text.contains("\nwslens_tls_handshakes_ok_total 0\n"));
        assert!(text.contains("\nwslens_tls_handshakes_failed_total 1\n"));
        assert!(text.contains("wslens_closes_total{code=\"1000\"} 1\n"));
        assert!(text.contains("wslens_closes_total{code=\"other\"} 1\n"));
        assert!(text.contains("# TYPE wslens_open_connections gauge\n"));
    }
}
