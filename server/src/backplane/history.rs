//! `--history N`: each room's last N publications in a Redis Stream, so a client that comes
//! back (to any node) gets what it missed. Offsets are the stream's entry ids; a room's
//! *epoch* names one life of its stream (it changes if Redis loses the stream), so an offset
//! is only meaningful with the epoch it came with.

use std::fmt;

/// A stream entry id, `<ms>-<seq>` (ordered as Redis orders them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Offset(pub(crate) u64, pub(crate) u64);

impl Offset {
    pub(crate) fn parse(s: &str) -> Option<Offset> {
        let (ms, seq) = s.split_once('-')?;
        let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
        if !digits(ms) || !digits(seq) {
            return None;
        }
        Some(Offset(ms.parse().ok()?, seq.parse().ok()?))
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

/// Appends to the room's stream (trimmed to about N), takes or makes the room's epoch, and
/// publishes `h <epoch> <offset>\n<envelope>`, all at once (a script runs atomically), so the
/// channel's order is the stream's order.
/// A publication sent again (its connection broke before the answer came) is recognised by
/// its node's per-room sequence number and added once.
/// KEYS: stream, epoch key, channel, per-room hash of each node's last sequence number.
/// ARGV: N, a new epoch (used if the room has none), envelope, node, sequence number.
pub(crate) const PUBLISH_SCRIPT: &str = "\
local last = tonumber(redis.call('HGET', KEYS[4], ARGV[4]) or '0')
if tonumber(ARGV[5]) <= last then return false end
redis.call('HSET', KEYS[4], ARGV[4], ARGV[5])
local e = redis.call('GET', KEYS[2])
if not e then e = ARGV[2]; redis.call('SET', KEYS[2], e) end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'm', ARGV[3])
redis.call('PUBLISH', KEYS[3], 'h ' .. e .. ' ' .. id .. '\\n' .. ARGV[3])
return id";

/// The room's epoch (made if it has none) and its entries from ARGV[1] on (inclusive: the
/// caller checks that its own offset is still the first, i.e. nothing was trimmed past it),
/// or with ARGV[1] empty its last entry (where a member joining now starts).
/// KEYS: stream, epoch key. ARGV: since, a new epoch.
pub(crate) const RANGE_SCRIPT: &str = "\
local e = redis.call('GET', KEYS[2])
if not e then e = ARGV[2]; redis.call('SET', KEYS[2], e) end
local r
if ARGV[1] == '' then r = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
else r = redis.call('XRANGE', KEYS[1], ARGV[1], '+') end
return {e, r}";

/// What a resuming client is told, as a JSON text message.
pub(crate) fn resume_notice(room: &str, epoch: &str, outcome: Result<usize, &str>) -> String {
    let room = crate::apps::json_string(room);
    let epoch = crate::apps::json_string(epoch);
    match outcome {
        Ok(n) => format!(
            r#"{{"event":"resume","room":{room},"ok":true,"replayed":{n},"epoch":{epoch}}}"#
        ),
        Err(reason) => format!(
            r#"{{"event":"resume","room":{room},"ok":false,"reason":"{reason}","epoch":{epoch}}}"#
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse_and_order_as_redis_does() {
        assert_eq!(
            Offset::parse("1733560000000-0"),
            Some(Offset(1733560000000, 0))
        );
        assert!(Offset::parse("5-10") > Offset::parse("5-9"));
        assert!(Offset::parse("6-0") > Offset::parse("5-99"));
        for bad in [
            "",
            "5",
            "5-",
            "-1",
            "a-1",
            "1-b",
            "+1-2",
            "1-2-3",
            "99999999999999999999-0",
        ] {
            assert_eq!(Offset::parse(bad), None, "{bad}");
        }
        assert_eq!(Offset(7, 3).to_string(), "7-3");
    }

    #[test]
    fn notices_are_json() {
        let ok = resume_notice("a\"b", "e1", Ok(3));
        assert_eq!(
            ok,
            r#"{"event":"resume","room":"a\"b","ok":true,"replayed":3,"epoch":"e1"}"#
        );
        let no = resume_notice("r", "e2", Err("epoch"));
        assert_eq!(
            no,
            r#"{"event":"resume","room":"r","ok":false,"reason":"epoch","epoch":"e2"}"#
        );
    }
}
