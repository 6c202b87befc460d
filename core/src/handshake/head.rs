//! The HTTP/1.1 message head shared by requests and responses: finding its end incrementally
//! (each byte scanned once, with a size cap) and splitting it into a start line and headers.

use super::HandshakeError;
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

/// One header line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The name as sent.
    pub name: String,
    /// The value, without surrounding whitespace.
    pub value: String,
    /// Byte range of the whole line in the input, without its CRLF.
    pub line: Range<usize>,
}

/// Finds the blank line that ends an HTTP head, remembering how far it has looked, so bytes
/// are scanned once however the head is delivered (tungstenite's CVE-2023-43669 came from
/// re-parsing a growing buffer from the start).
#[derive(Clone, Debug)]
pub struct HeadScanner {
    scanned: usize,
    /// How much of `\r\n\r\n` the last bytes matched (0-3).
    matched: u8,
    /// Whether the last byte was a LF (two bare LFs end a head too, to be refused with 400
    /// rather than waited on).
    last_lf: bool,
    max: usize,
}

impl HeadScanner {
    /// A scanner that refuses heads longer than `max` bytes (431).
    pub const fn new(max: usize) -> Self {
        HeadScanner {
            scanned: 0,
            matched: 0,
            last_lf: false,
            max,
        }
    }

    /// Bytes examined so far.
    pub const fn scanned(&self) -> usize {
        self.scanned
    }

    /// How many more bytes a caller holding `buffered` bytes of head should buffer before
    /// scanning again: up to one past the cap, so [`HeadScanner::scan`] sees a head that is too
    /// long (431), and at least one.
    pub const fn room(&self, buffered: usize) -> usize {
        room(self.max, buffered)
    }

    /// Looks at the bytes of `buf` not seen before. Returns the length of the head including
    /// its terminating blank line once found. Past the cap without one: 431.
    pub fn scan(&mut self, buf: &[u8]) -> Result<Option<usize>, HandshakeError> {
        let start = self.scanned.min(buf.len());
        for (i, &b) in buf[start..].iter().enumerate() {
            let pos = start + i;
            if pos >= self.max {
                self.scanned = pos;
                return Err(HandshakeError::new(
                    431,
                    "request header fields too large",
                    Some(pos),
                ));
            }
            if b == b'\n' && self.last_lf {
                self.scanned = pos + 1;
                return Ok(Some(pos + 1));
            }
            self.last_lf = b == b'\n';
            self.matched = match (self.matched, b) {
                (0 | 2, b'\r') => self.matched + 1,
                (1 | 3, b'\r') => 1,
                (1, b'\n') => 2,
                (3, b'\n') => {
                    self.scanned = pos + 1;
                    return Ok(Some(pos + 1));
                }
                _ => 0,
            };
        }
        self.scanned = buf.len();
        Ok(None)
    }
}

/// See [`HeadScanner::room`]: the one place the header cap becomes a buffer size.
pub(crate) const fn room(max: usize, buffered: usize) -> usize {
    let room = max.saturating_add(1).saturating_sub(buffered);
    if room == 0 {
        1
    } else {
        room
    }
}

/// A head split into lines: the start line and the headers.
pub(crate) struct Lines<'a> {
    pub(crate) start_line: &'a str,
    pub(crate) headers: Vec<Header>,
}

/// A parsed HTTP/1.1 request head (RFC 7230 §3.1.1 request-line, §3.2 header fields): any
/// method and target, so the same parse serves static files and WebSocket upgrades;
/// [`Request::from_head`](super::Request::from_head) then applies RFC 6455 §4.2.1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head<'a> {
    /// The method, as sent.
    pub method: &'a str,
    /// The request-target, as sent.
    pub target: &'a str,
    /// The HTTP version, as sent (`HTTP/1.1`).
    pub version: &'a str,
    /// Every header line, in order.
    pub headers: Vec<Header>,
}

impl<'a> Head<'a> {
    /// Parses a complete head: the bytes up to and including the blank line that ends it (as
    /// [`HeadScanner::scan`] finds it). Refuses (400) a request line that is not three
    /// space-separated parts, and everything [`Header`] lines may not hold: non-UTF-8 bytes,
    /// control characters, bare CR or LF, obs-fold, names that are not tokens or are followed
    /// by whitespace before the colon (RFC 7230 §3.2.4).
    pub fn parse(head: &'a [u8]) -> Result<Self, HandshakeError> {
        Head::from_lines(split_head(head)?)
    }

    /// A head already split into lines: its request line split into three parts.
    pub(crate) fn from_lines(lines: Lines<'a>) -> Result<Self, HandshakeError> {
        let mut parts = lines.start_line.split(' ');
        let (Some(method), Some(target), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(HandshakeError::new(400, "malformed request line", Some(0)));
        };
        Ok(Head {
            method,
            target,
            version,
            headers: lines.headers,
        })
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        first(&self.headers, name)
    }

    /// The target's path: everything before `?`.
    pub fn path(&self) -> &'a str {
        self.target.split_once('?').map_or(self.target, |(p, _)| p)
    }

    /// Whether the request asks for a protocol upgrade (has an `Upgrade` header).
    pub fn is_upgrade(&self) -> bool {
        self.header("upgrade").is_some()
    }

    /// The minor version of an `HTTP/1.x` request (`None` for anything else).
    pub fn version_minor(&self) -> Option<u8> {
        self.version.strip_prefix("HTTP/1.")?.parse().ok()
    }
}

/// Splits a complete head (ending in CRLFCRLF) into its start line and header lines.
/// Refuses (400) non-UTF-8 bytes, control characters, bare CR or LF, obs-fold, and names
/// that are not tokens or are followed by whitespace before the colon (RFC 7230 §3.2.4).
pub(crate) fn split_head(head: &[u8]) -> Result<Lines<'_>, HandshakeError> {
    let bad = |reason, at| HandshakeError::new(400, reason, Some(at));
    let text =
        core::str::from_utf8(head).map_err(|e| bad("head is not valid UTF-8", e.valid_up_to()))?;
    let body = text
        .strip_suffix("\r\n\r\n")
        .ok_or_else(|| bad("lines must end with CRLF", head.len().saturating_sub(1)))?;
    let mut lines = Vec::new();
    let mut pos = 0;
    for line in body.split("\r\n") {
        lines.push((pos, line));
        pos += line.len() + 2;
    }
    let mut iter = lines.into_iter();
    let (_, start_line) = iter.next().ok_or_else(|| bad("empty head", 0))?;
    if let Some(i) = start_line.bytes().position(|b| b.is_ascii_control()) {
        return Err(bad("control character in the start line", i));
    }
    let mut headers = Vec::new();
    for (at, line) in iter {
        if line.starts_with([' ', '\t']) {
            return Err(bad("obsolete line folding is not allowed", at));
        }
        if let Some(i) = line
            .bytes()
            .position(|b| b.is_ascii_control() && b != b'\t')
        {
            return Err(bad(
                "control character in a header line (bare CR or LF?)",
                at + i,
            ));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad("header line without a colon", at))?;
        if !super::headers::is_token(name) {
            return Err(bad("invalid header name", at));
        }
        headers.push(Header {
            name: name.into(),
            value: value.trim_matches([' ', '\t']).into(),
            line: at..at + line.len(),
        });
    }
    Ok(Lines {
        start_line,
        headers,
    })
}

/// The first value of header `name` (case-insensitive).
pub(crate) fn first<'h>(headers: &'h [Header], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

/// All values of header `name` (case-insensitive), in order.
pub(crate) fn values<'h>(
    headers: &'h [Header],
    name: &'h str,
) -> impl Iterator<Item = &'h str> + 'h {
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

/// The only value of header `name`: `Ok(None)` if absent, an error if repeated.
pub(crate) fn single<'h>(
    headers: &'h [Header],
    name: &'static str,
    dup: &'static str,
) -> Result<Option<&'h str>, HandshakeError> {
    let mut it = values(headers, name);
    let first = it.next();
    if it.next().is_some() {
        return Err(HandshakeError::new(400, dup, None));
    }
    Ok(first)
}

/// Whether any value of header `name` lists `token`.
pub(crate) fn any_lists(headers: &[Header], name: &str, token: &str) -> bool {
    values(headers, name).any(|v| super::headers::list_contains(v, token))
}

/// Comma-separated items of every value of header `name`, trimmed, empty ones dropped.
pub(crate) fn list_items(headers: &[Header], name: &str) -> Vec<String> {
    values(headers, name)
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_end_split_anywhere_scanning_each_byte_once() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest";
        for cut in 0..head.len() {
            let mut s = HeadScanner::new(8192);
            let first = s.scan(&head[..cut]).unwrap();
            let second = s.scan(head).unwrap();
            let expected = Some(27);
            assert_eq!(first.or(second), expected, "cut {cut}");
        }
        let mut s = HeadScanner::new(8192);
        let mut buf = alloc::vec::Vec::new();
        for b in b"GET / HTTP/1.1\r\nX: y\r\n" {
            buf.push(*b);
            assert_eq!(s.scan(&buf).unwrap(), None);
        }
        assert_eq!(s.scanned(), buf.len(), "each byte examined once");
    }

    #[test]
    fn cap_gives_431() {
        let mut s = HeadScanner::new(16);
        let e = s.scan(&[b'a'; 17]).unwrap_err();
        assert_eq!(e.status, 431);
    }

    #[test]
    fn bare_lf_ends_the_head_and_is_refused() {
        let mut s = HeadScanner::new(8192);
        let head = b"GET / HTTP/1.1\nHost: a\n\n";
        assert_eq!(s.scan(head).unwrap(), Some(head.len()));
        let e = split_head(head).err().unwrap();
        assert_eq!((e.status, e.reason), (400, "lines must end with CRLF"));
    }
}
