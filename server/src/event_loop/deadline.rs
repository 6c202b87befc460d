//! The keepalive and close deadline policy, as a pure function of a connection's timestamps,
//! the server's timeouts and the time now: no I/O, no clock, so each branch is unit-tested.
//! The loop turns its answer into actions (`check_deadlines`).

use super::{ms, Ms};
use crate::ServerConfig;
use wslens::CloseCode;

/// The server's timeouts in loop milliseconds: small and `Copy`, taken once per loop rather
/// than reaching into the whole [`ServerConfig`] on every timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Timeouts {
    pub(super) handshake: Ms,
    pub(super) close: Ms,
    pub(super) shutdown: Ms,
    pub(super) drain: Ms,
    pub(super) idle: Option<Ms>,
    pub(super) ping_interval: Option<Ms>,
    pub(super) ping_timeout: Ms,
}

impl Timeouts {
    pub(super) fn new(config: &ServerConfig) -> Self {
        Timeouts {
            handshake: ms(config.handshake_timeout),
            close: ms(config.close_timeout),
            shutdown: ms(config.shutdown_timeout),
            drain: ms(config.drain_timeout),
            idle: config.idle_timeout.map(ms),
            ping_interval: config.ping_interval.map(ms),
            ping_timeout: ms(config.ping_timeout),
        }
    }
}

/// Where a connection is, as far as its deadlines go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stage {
    /// Reading the request head, or writing a response (before any close began).
    Handshake,
    /// An HTTP response was written and our side shut down: waiting for the peer's FIN.
    Lingering { since: Ms },
    /// A WebSocket whose closing handshake began at `since` (RFC 6455 §7.1.1: wait a while
    /// for the peer's close, then drop the TCP connection).
    Closing { since: Ms },
    /// An open WebSocket.
    Open,
}

/// A connection's timestamps on the loop's clock: when it was accepted, when it last read
/// anything, when it last read a message, and when the unanswered ping went out (if one is).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Times {
    created: Ms,
    last_read: Ms,
    last_message: Ms,
    ping_sent: Option<Ms>,
}

impl Times {
    pub(super) fn new(created: Ms, last_read: Ms, last_message: Ms, ping_sent: Option<Ms>) -> Self {
        Times {
            created,
            last_read,
            last_message,
            ping_sent,
        }
    }
}

/// What is due for a connection now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Due {
    /// Nothing yet: look again at this time.
    At(Ms),
    /// Drop the connection now, counted with this close code.
    Drop(CloseCode),
    /// Begin the closing handshake with this code and reason (RFC 6455 §7.1.2), then look
    /// again when the close timeout has passed.
    Close(CloseCode, &'static str),
    /// Send a keepalive ping (RFC 6455 §5.5.2), then look again at `next`.
    Ping { next: Ms },
}

/// An open connection with no timeout configured is looked at again this much later.
const IDLE_RECHECK: Ms = 3_600_000;

/// The deadline policy: what is due at `now` for a connection at `stage` with `times`.
pub(super) fn due(stage: Stage, times: Times, to: Timeouts, now: Ms) -> Due {
    let until = |end: Ms, code| {
        if now >= end {
            Due::Drop(code)
        } else {
            Due::At(end)
        }
    };
    match stage {
        Stage::Lingering { since } => until(since + to.close, CloseCode::NO_STATUS),
        Stage::Handshake => until(times.created + to.handshake, CloseCode::ABNORMAL),
        Stage::Closing { since } => until(since + to.close, CloseCode::ABNORMAL),
        Stage::Open => {
            let mut next = now + IDLE_RECHECK;
            if let Some(idle) = to.idle {
                let end = times.last_message + idle;
                if now >= end {
                    return Due::Close(CloseCode::GOING_AWAY, "idle timeout");
                }
                next = next.min(end);
            }
            if let Some(interval) = to.ping_interval {
                match times.ping_sent {
                    Some(sent) if now >= sent + to.ping_timeout => {
                        return Due::Close(CloseCode::GOING_AWAY, "ping timeout")
                    }
                    Some(sent) => next = next.min(sent + to.ping_timeout),
                    None if now >= times.last_read + interval => {
                        return Due::Ping {
                            next: next.min(now + to.ping_timeout),
                        }
                    }
                    None => next = next.min(times.last_read + interval),
                }
            }
            Due::At(next)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const TO: Timeouts = Timeouts {
        handshake: 10_000,
        close: 5_000,
        shutdown: 5_000,
        drain: 0,
        idle: None,
        ping_interval: Some(30_000),
        ping_timeout: 10_000,
    };
    const T: Times = Times {
        created: 1_000,
        last_read: 2_000,
        last_message: 2_000,
        ping_sent: None,
    };

    #[test]
    fn a_handshake_is_dropped_at_its_timeout_not_before() {
        assert_eq!(due(Stage::Handshake, T, TO, 10_999), Due::At(11_000));
        assert_eq!(
            due(Stage::Handshake, T, TO, 11_000),
            Due::Drop(CloseCode::ABNORMAL)
        );
    }

    #[test]
    fn a_lingering_response_waits_the_close_timeout_for_the_peers_fin() {
        let s = Stage::Lingering { since: 3_000 };
        assert_eq!(due(s, T, TO, 7_999), Due::At(8_000));
        assert_eq!(due(s, T, TO, 8_000), Due::Drop(CloseCode::NO_STATUS));
    }

    #[test]
    fn a_closing_websocket_is_dropped_after_the_close_timeout() {
        let s = Stage::Closing { since: 50_000 };
        assert_eq!(due(s, T, TO, 54_999), Due::At(55_000));
        assert_eq!(due(s, T, TO, 55_000), Due::Drop(CloseCode::ABNORMAL));
        // Closing wins over keepalive: no ping to a closing connection however quiet.
        assert_eq!(due(s, T, TO, 54_000), Due::At(55_000));
    }

    #[test]
    fn an_open_connection_is_pinged_after_the_interval_of_silence() {
        assert_eq!(due(Stage::Open, T, TO, 31_999), Due::At(32_000));
        assert_eq!(due(Stage::Open, T, TO, 32_000), Due::Ping { next: 42_000 });
    }

    #[test]
    fn an_unanswered_ping_closes_with_1001_at_the_ping_timeout() {
        let t = Times {
            ping_sent: Some(32_000),
            ..T
        };
        assert_eq!(due(Stage::Open, t, TO, 41_999), Due::At(42_000));
        assert_eq!(
            due(Stage::Open, t, TO, 42_000),
            Due::Close(CloseCode::GOING_AWAY, "ping timeout")
        );
    }

    #[test]
    fn idle_timeout_counts_from_the_last_message_and_comes_before_keepalive() {
        let to = Timeouts {
            idle: Some(20_000),
            ..TO
        };
        // Reads (pongs) keep the ping quiet, but only messages reset the idle clock.
        let t = Times {
            last_read: 21_000,
            ..T
        };
        assert_eq!(due(Stage::Open, t, to, 21_999), Due::At(22_000));
        assert_eq!(
            due(Stage::Open, t, to, 22_000),
            Due::Close(CloseCode::GOING_AWAY, "idle timeout")
        );
        // The earlier of the idle end and the next ping is the next look.
        let to = Timeouts {
            idle: Some(60_000),
            ..TO
        };
        assert_eq!(due(Stage::Open, T, to, 3_000), Due::At(32_000));
    }

    #[test]
    fn with_no_keepalive_an_open_connection_is_looked_at_hourly() {
        let to = Timeouts {
            ping_interval: None,
            ..TO
        };
        assert_eq!(
            due(Stage::Open, T, to, 5_000),
            Due::At(5_000 + IDLE_RECHECK)
        );
    }

    #[test]
    fn timeouts_come_from_the_config_in_milliseconds() {
        let config = ServerConfig {
            ping_interval: None,
            idle_timeout: Some(Duration::from_micros(2_500)),
            ..ServerConfig::default()
        };
        let to = Timeouts::new(&config);
        assert_eq!(to.ping_interval, None);
        assert_eq!(to.idle, Some(2));
        assert_eq!(to.close, 5_000);
        assert_eq!(to.handshake, 10_000);
    }
}
