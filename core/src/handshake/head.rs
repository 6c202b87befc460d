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
    /// Whether the start line has ended (a LF was seen).
    line_ended: bool,
    max: usize,
}

impl HeadScanner {
    /// A scanner that refuses heads longer than `max` bytes (431).
    pub const fn new(max: usize) -> Self {
        HeadScanner {
            scanned: 0,
            matched: 0,
            last_lf: false,
            line_ended: false,
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
    /// its terminating blank line once found. Past the cap without one: 431, or 414 (URI Too
    /// Long, RFC 9112 §3) when the request line itself has not ended.
    pub fn scan(&mut self, buf: &[u8]) -> Result<Option<usize>, HandshakeError> {
        let start = self.scanned.min(buf.len());
        for (i, &b) in buf[start..].iter().enumerate() {
            let pos = start + i;
            if pos >= self.max {
                self.scanned = pos;
                return Err(if self.line_ended {
                    HandshakeError::new(431, "request header fields too large", Some(pos))
                } else {
                    HandshakeError::new(414, "the request line is too long", Some(pos))
                });
            }
            self.line_ended |= b == b'\n';
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

/// A request-target, taken apart (RFC 7230 §5.3): origin-form (`/path?query`) or
/// absolute-form (`http://host:port/path?query`, also `https`, `ws` and `wss`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target<'a> {
    /// The authority of an absolute-form target (`host[:port]`); it names the host, whatever
    /// the `Host` header says (RFC 7230 §5.4).
    pub authority: Option<&'a str>,
    /// The path, starting with `/` (an absolute-form target without a path has `/`).
    pub path: &'a str,
    /// The query, without `?`.
    pub query: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// Reads a request-target. Accepted: origin-form, and absolute-form with scheme `http`,
    /// `https`, `ws` or `wss` (case-insensitive) and a non-empty authority without userinfo.
    /// Refused with 400: authority-form (`host:port`, for CONNECT only) and asterisk-form
    /// (`*`, for OPTIONS only), any other scheme, a fragment (`#`, never sent in a request,
    /// RFC 6455 §3), and anything else. Error positions count from the target's first byte.
    pub fn parse(target: &'a str) -> Result<Self, HandshakeError> {
        let bad = |reason, at| Err(HandshakeError::new(400, reason, Some(at)));
        if let Some(at) = target.find('#') {
            return bad("a fragment (#) is not allowed in the request target", at);
        }
        if target == "*" {
            return bad("asterisk-form (*) is only for OPTIONS", 0);
        }
        let (authority, rest) = if target.starts_with('/') {
            (None, target)
        } else {
            let Some((scheme, after)) = target.split_once("://") else {
                return bad(
                    "the request target must be a path (/...) or an absolute URI (RFC 7230 §5.3)",
                    0,
                );
            };
            if !["http", "https", "ws", "wss"]
                .iter()
                .any(|s| scheme.eq_ignore_ascii_case(s))
            {
                return bad(
                    "the request target's scheme must be http, https, ws or wss",
                    0,
                );
            }
            let start = scheme.len() + 3;
            let end = after.find(['/', '?']).unwrap_or(after.len());
            let authority = &after[..end];
            if authority.is_empty() {
                return bad("the request target's authority is empty", start);
            }
            if let Some(at) = authority.find('@') {
                return bad(
                    "userinfo (user@) is not allowed in the request target",
                    start + at,
                );
            }
            (Some(authority), &after[end..])
        };
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        Ok(Target {
            authority,
            path: if path.is_empty() { "/" } else { path },
            query,
        })
    }
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

    /// The request-target taken apart (see [`Target::parse`] for what is refused).
    pub fn request_target(&self) -> Result<Target<'a>, HandshakeError> {
        let at = self.method.len() + 1;
        Target::parse(self.target).map_err(|e| e.shifted(at))
    }

    /// The target's path (for an absolute-form target, the path after its authority). For a
    /// target [`Head::request_target`] refuses, everything before `?`.
    pub fn path(&self) -> &'a str {
        match self.request_target() {
            Ok(target) => target.path,
            Err(_) => self.target.split_once('?').map_or(self.target, |(p, _)| p),
        }
    }

    /// The host the request is for (RFC 7230 §5.4): the authority of an absolute-form target,
    /// else the `Host` header. A request must carry exactly one `Host` header (HTTP/1.0 may
    /// omit it: then `None`), even when its target names the host; two, an empty one, or one
    /// with userinfo or whitespace are refused with 400.
    pub fn host(&self) -> Result<Option<&str>, HandshakeError> {
        let bad = |reason| HandshakeError::new(400, reason, None);
        let header = single(&self.headers, "host", "more than one Host header")?;
        match header {
            None if self.version_minor() == Some(0) => {}
            None => return Err(bad("missing Host header")),
            Some("") => return Err(bad("empty Host header")),
            Some(h) if h.contains(['@', ' ', '\t']) => return Err(bad("invalid Host header")),
            Some(_) => {}
        }
        Ok(self.request_target()?.authority.or(header))
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
    fn cap_gives_431_or_414_for_the_request_line() {
        // The request line ended: the header fields are too large (RFC 6585 §5).
        let mut s = HeadScanner::new(16);
        let e = s.scan(b"GET / HTTP/1.1\r\nX: aaaaaaaa").unwrap_err();
        assert_eq!((e.status, e.offset), (431, Some(16)));
        // It did not: the request-target is too long (RFC 9112 §3: 414 URI Too Long).
        let mut s = HeadScanner::new(16);
        let e = s.scan(&[b'a'; 17]).unwrap_err();
        assert_eq!((e.status, e.reason), (414, "the request line is too long"));
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
