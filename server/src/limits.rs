//! Abuse limits: open connections and handshakes per client address, decided at accept
//! before any work is done for the connection, and messages per second per connection.
//!
//! IPv6 clients are counted per /64 (one subscriber's prefix; an attacker has billions of
//! addresses in it), IPv4 per address (IPv4-mapped IPv6 counts as IPv4). Loopback clients are
//! exempt unless `limit_loopback` is set: local processes, and a reverse proxy on the same
//! machine, whose clients would otherwise all share its one address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Milliseconds on a monotonic clock.
pub(crate) type Ms = u64;

/// The per-address limits of a server (0: no limit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpLimitConfig {
    /// Most open connections from one address.
    pub max_connections: usize,
    /// Most new connections from one address per second (a token bucket holding one second's
    /// worth, refilled continuously).
    pub handshakes_per_second: u32,
    /// Apply the limits to loopback clients too.
    pub limit_loopback: bool,
}

/// Why a connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The address has `max_connections` open.
    Connections,
    /// The address opened connections faster than `handshakes_per_second`.
    Rate,
}

/// What is known of one address.
#[derive(Debug)]
struct Entry {
    open: usize,
    /// Handshake tokens left, in thousandths (so refill needs no floating point).
    milli_tokens: u64,
    refilled_at: Ms,
}

/// The counts of every address with open connections or recent handshakes, shared by all
/// loops (one short lock per accept and per close).
#[derive(Debug)]
pub(crate) struct IpLimits {
    config: IpLimitConfig,
    table: Mutex<HashMap<IpAddr, Entry>>,
}

/// The key an address is counted under: IPv4 as is, IPv6 by its /64.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

impl IpLimits {
    pub(crate) fn new(config: IpLimitConfig) -> Self {
        IpLimits {
            config,
            table: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `ip` is subject to the limits at all.
    fn applies(&self, ip: IpAddr) -> bool {
        let on = self.config.max_connections > 0 || self.config.handshakes_per_second > 0;
        let loopback = ip.is_loopback() || key(ip).is_loopback();
        on && (self.config.limit_loopback || !loopback)
    }

    /// A new connection from `ip` at `now`: admitted (and counted: call [`IpLimits::release`]
    /// when it closes) or refused.
    pub(crate) fn admit(&self, ip: IpAddr, now: Ms) -> Result<(), Refusal> {
        if !self.applies(ip) {
            return Ok(());
        }
        let rate = u64::from(self.config.handshakes_per_second);
        let full = rate * 1000;
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if table.len() >= 1024 && table.len().is_power_of_two() {
            // Forget addresses with nothing open whose bucket has refilled: the table holds
            // only addresses with open connections or handshakes in the last second.
            table.retain(|_, e| e.open > 0 || refilled(e, rate, now) < full);
        }
        let entry = table.entry(key(ip)).or_insert(Entry {
            open: 0,
            milli_tokens: full,
            refilled_at: now,
        });
        if self.config.max_connections > 0 && entry.open >= self.config.max_connections {
            return Err(Refusal::Connections);
        }
        if rate > 0 {
            entry.milli_tokens = refilled(entry, rate, now);
            entry.refilled_at = now;
            if entry.milli_tokens < 1000 {
                return Err(Refusal::Rate);
            }
            entry.milli_tokens -= 1000;
        }
        entry.open += 1;
        Ok(())
    }

    /// A connection [`IpLimits::admit`] let in has closed.
    pub(crate) fn release(&self, ip: IpAddr, now: Ms) {
        if !self.applies(ip) {
            return;
        }
        let rate = u64::from(self.config.handshakes_per_second);
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = table.get_mut(&key(ip)) {
            entry.open = entry.open.saturating_sub(1);
            if entry.open == 0 && refilled(entry, rate, now) >= rate * 1000 {
                table.remove(&key(ip));
            }
        }
    }

    /// Addresses tracked (for tests: the table must not grow without bound).
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.table.lock().map_or(0, |t| t.len())
    }
}

/// The entry's tokens (thousandths) at `now`: `rate` tokens a second, up to one second's worth.
fn refilled(e: &Entry, rate: u64, now: Ms) -> u64 {
    let elapsed = now.saturating_sub(e.refilled_at);
    (e.milli_tokens + elapsed.saturating_mul(rate)).min(rate * 1000)
}

/// Messages received on one connection in the current second of the loop's clock (a fixed
/// window). Two bytes, in the padding of the connection's state: the window is the second of
/// the connection's last message, which the loop keeps anyway.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct MessageRate {
    count: u16,
}

impl MessageRate {
    /// Counts one message at `now`, the previous one having come at `last`; whether it is
    /// within `max` a second (0: no limit). After [`MessageRate::stop`], never.
    pub(crate) fn allow(&mut self, last: Ms, now: Ms, max: u16) -> bool {
        if self.count == u16::MAX {
            return false;
        }
        if max == 0 {
            return true;
        }
        if last / 1000 != now / 1000 {
            self.count = 0;
        }
        self.count = (self.count + 1).min(u16::MAX - 1);
        self.count <= max
    }

    /// No more messages: the connection is closing for its rate.
    pub(crate) fn stop(&mut self) {
        self.count = u16::MAX;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_connections: usize, handshakes_per_second: u32) -> IpLimits {
        IpLimits::new(IpLimitConfig {
            max_connections,
            handshakes_per_second,
            limit_loopback: false,
        })
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn connections_per_address_are_capped_and_released() {
        let l = limits(2, 0);
        let a = ip("192.0.2.1");
        assert_eq!(l.admit(a, 0), Ok(()));
        assert_eq!(l.admit(a, 0), Ok(()));
        assert_eq!(l.admit(a, 0), Err(Refusal::Connections));
        assert_eq!(
            l.admit(ip("192.0.2.2"), 0),
            Ok(()),
            "another address is not affected"
        );
        l.release(a, 0);
        assert_eq!(l.admit(a, 0), Ok(()));
    }

    #[test]
    fn handshakes_per_second_refill_over_time() {
        let l = limits(0, 2);
        let a = ip("192.0.2.1");
        assert_eq!(l.admit(a, 0), Ok(()));
        assert_eq!(l.admit(a, 0), Ok(()));
        assert_eq!(l.admit(a, 0), Err(Refusal::Rate));
        assert_eq!(
            l.admit(a, 400),
            Err(Refusal::Rate),
            "0.8 tokens after 400 ms"
        );
        assert_eq!(l.admit(a, 500), Ok(()), "one token after 500 ms at 2/s");
        assert_eq!(l.admit(a, 500), Err(Refusal::Rate));
        assert_eq!(l.admit(a, 10_000), Ok(()));
        assert_eq!(l.admit(a, 10_000), Ok(()));
        assert_eq!(
            l.admit(a, 10_000),
            Err(Refusal::Rate),
            "never more than a second's worth"
        );
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let l = limits(1, 0);
        assert_eq!(l.admit(ip("2001:db8:1:2::1"), 0), Ok(()));
        assert_eq!(
            l.admit(ip("2001:db8:1:2:ffff::9"), 0),
            Err(Refusal::Connections)
        );
        assert_eq!(l.admit(ip("2001:db8:1:3::1"), 0), Ok(()));
        assert_eq!(l.admit(ip("198.51.100.7"), 0), Ok(()));
        assert_eq!(
            l.admit(ip("::ffff:198.51.100.7"), 0),
            Err(Refusal::Connections)
        );
    }

    #[test]
    fn loopback_is_exempt_unless_asked() {
        let l = limits(1, 1);
        for _ in 0..10 {
            assert_eq!(l.admit(ip("127.0.0.1"), 0), Ok(()));
            assert_eq!(l.admit(ip("::1"), 0), Ok(()));
        }
        let strict = IpLimits::new(IpLimitConfig {
            max_connections: 1,
            handshakes_per_second: 0,
            limit_loopback: true,
        });
        assert_eq!(strict.admit(ip("127.0.0.1"), 0), Ok(()));
        assert_eq!(strict.admit(ip("127.0.0.1"), 0), Err(Refusal::Connections));
    }

    #[test]
    fn the_table_forgets_idle_addresses() {
        let l = limits(10, 5);
        // 100,000 addresses each open and close one connection, a millisecond apart.
        for i in 0..100_000u32 {
            let a = IpAddr::V4(std::net::Ipv4Addr::from(0x0A00_0000 + i));
            let now = Ms::from(i);
            assert_eq!(l.admit(a, now), Ok(()));
            l.release(a, now);
        }
        // Only the last second's addresses (whose buckets have not refilled) can remain.
        assert!(l.tracked() <= 2048, "{} tracked", l.tracked());
        let none = limits(0, 0);
        assert_eq!(none.admit(ip("192.0.2.1"), 0), Ok(()));
        assert_eq!(none.tracked(), 0, "no limits: nothing is tracked");
    }

    #[test]
    fn message_rate_is_a_window_per_second() {
        let mut r = MessageRate::default();
        assert!(r.allow(0, 5_000, 3), "the first of second 5");
        assert!(r.allow(5_000, 5_100, 3) && r.allow(5_100, 5_200, 3));
        assert!(!r.allow(5_200, 5_999, 3), "the fourth");
        assert!(
            !r.allow(5_200, 5_999, 3),
            "dropped ones do not move the window"
        );
        assert!(r.allow(5_200, 6_000, 3), "a new second");
        assert!(MessageRate::default().allow(0, 0, 0), "0: no limit");
        r.stop();
        assert!(!r.allow(6_000, 60_000, 3), "stopped for good");
        assert!(!r.allow(6_000, 60_000, 0));
    }
}
