//! permessage-deflate — RFC 7692 (feature `deflate`).
//!
//! Three parts:
//!
//! - **Negotiation** (RFC 7692 §7.1): the server picks the first acceptable offer and answers
//!   it ([`negotiate`]); the client builds its offer ([`client_offer`]) and checks the answer
//!   ([`validate_response`]). Both produce the agreed [`DeflateParams`].
//! - **Compression** (RFC 7692 §7.2.1): each outgoing data message is compressed with a sync
//!   flush and the trailing `00 00 ff ff` is removed; RSV1 marks the message's first frame.
//! - **Decompression** (RFC 7692 §7.2.2): the payload is inflated as it arrives, in bounded
//!   steps, `00 00 ff ff` is appended at the end of the message, and the size limit applies to
//!   the *inflated* bytes, so a small message that inflates past it is refused (1009) before
//!   more than the limit is ever held.
//!
//! The LZ77 window is kept between messages (context takeover, RFC 7692 §7.2.3.2) unless the
//! sender's `*_no_context_takeover` was agreed, in which case the sender resets its compressor
//! after each message and the receiver resets its decompressor.
//!
//! [`Connection`](crate::Connection) does all of this once [`Connection::enable_deflate`]
//! (or a handshake with [`AcceptOptions::deflate`] / [`ClientRequest::deflate`]) has turned it
//! on; this module's compressor types are internal.
//!
//! [`Connection::enable_deflate`]: crate::Connection::enable_deflate
//! [`AcceptOptions::deflate`]: crate::handshake::AcceptOptions::deflate
//! [`ClientRequest::deflate`]: crate::handshake::ClientRequest::deflate

use crate::handshake::ExtensionOffer;
use alloc::format;
use alloc::string::String;
#[cfg(feature = "deflate")]
use alloc::vec::Vec;
#[cfg(feature = "deflate")]
use zlib_rs::{DeflateFlush, InflateFlush, Status};

/// The extension's registered name (RFC 7692 §7).
pub const EXTENSION_NAME: &str = "permessage-deflate";

/// The four bytes a sync flush ends with, removed by the sender and appended by the receiver
/// (RFC 7692 §7.2.1, §7.2.2).
pub const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Inflated bytes produced per decompression step: output grows by at most this much beyond
/// what the message size limit allows before the limit is detected.
pub const INFLATE_STEP: usize = 16 * 1024;

/// What one side is willing to agree to, and how it compresses. The same type configures the
/// server (what it accepts in [`negotiate`]) and the client (what it offers in
/// [`client_offer`]).
///
/// The defaults favour ratio: context takeover both ways and 32 KiB windows (the largest).
/// [`DeflateConfig::low_memory`] trades ratio for memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeflateConfig {
    /// The server resets its compressor after every message (RFC 7692 §7.1.1.1). A server
    /// with this set always includes `server_no_context_takeover` in its response; a client
    /// with this set requests it.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after every message (RFC 7692 §7.1.1.2). A server
    /// with this set includes `client_no_context_takeover` in its response; a client with
    /// this set offers it (and honours it).
    pub client_no_context_takeover: bool,
    /// Largest LZ77 window, as log2 of its size, the server compresses with: 8..=15
    /// (RFC 7692 §7.1.2.1). 8 is compressed with 9, which never refers back more than 250
    /// bytes, so it honours a 256-byte window.
    pub server_max_window_bits: u8,
    /// Largest LZ77 window the client compresses with: 8..=15 (RFC 7692 §7.1.2.2). A server
    /// can limit the client only if the client's offer includes `client_max_window_bits`.
    pub client_max_window_bits: u8,
    /// Compression level 0 (store) ..= 9 (best); 1 is fastest.
    pub level: u8,
    /// zlib's `memLevel` 1..=9: the size of the compressor's literal buffer (1: 512 bytes,
    /// 8: 64 KiB). Lower uses less memory and compresses a little worse.
    pub mem_level: u8,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            level: 6,
            mem_level: 8,
        }
    }
}

impl DeflateConfig {
    /// The low-memory preset: no context takeover either way (so an idle connection keeps no
    /// compression state: [`Connection::shrink_buffers`](crate::Connection::shrink_buffers)
    /// frees it), 512-byte windows (9 bits), `memLevel` 1 and level 1. Compresses less well,
    /// especially small messages that repeat earlier ones.
    pub const fn low_memory() -> Self {
        DeflateConfig {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 9,
            client_max_window_bits: 9,
            level: 1,
            mem_level: 1,
        }
    }

    /// Checks the ranges: window bits 8..=15, level 0..=9, `mem_level` 1..=9.
    pub fn validate(&self) -> Result<(), &'static str> {
        if !(8..=15).contains(&self.server_max_window_bits)
            || !(8..=15).contains(&self.client_max_window_bits)
        {
            return Err("window bits must be 8..=15 (RFC 7692 §7.1.2)");
        }
        if self.level > 9 {
            return Err("compression level must be 0..=9");
        }
        if !(1..=9).contains(&self.mem_level) {
            return Err("mem_level must be 1..=9");
        }
        Ok(())
    }
}

/// The parameters in force on a connection after negotiation (RFC 7692 §7.1), plus the local
/// compression settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeflateParams {
    /// The server resets its compressor after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message.
    pub client_no_context_takeover: bool,
    /// The server's LZ77 window (log2), 8..=15.
    pub server_max_window_bits: u8,
    /// The client's LZ77 window (log2), 8..=15.
    pub client_max_window_bits: u8,
    /// Local compression level, 0..=9.
    pub level: u8,
    /// Local zlib `memLevel`, 1..=9.
    pub mem_level: u8,
}

impl Default for DeflateParams {
    /// What a bare `permessage-deflate` offer and response agree to: context takeover, 15-bit
    /// windows (RFC 7692 §7.1).
    fn default() -> Self {
        DeflateParams::with_settings(&DeflateConfig::default())
    }
}

impl DeflateParams {
    fn with_settings(cfg: &DeflateConfig) -> Self {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            level: cfg.level.min(9),
            mem_level: cfg.mem_level.clamp(1, 9),
        }
    }

    /// The `Sec-WebSocket-Extensions` element a server sends for these parameters. The
    /// window sizes are included when below 15, or always when `server_bits_offered` says the
    /// offer had `server_max_window_bits` (which must then be answered, RFC 7692 §7.1.2.1).
    pub fn response_header(&self, server_bits_offered: bool) -> String {
        let mut out = String::from(EXTENSION_NAME);
        if self.server_no_context_takeover {
            out.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            out.push_str("; client_no_context_takeover");
        }
        if server_bits_offered {
            out.push_str(&format!(
                "; server_max_window_bits={}",
                self.server_max_window_bits
            ));
        }
        if self.client_max_window_bits < 15 {
            out.push_str(&format!(
                "; client_max_window_bits={}",
                self.client_max_window_bits
            ));
        }
        out
    }
}

/// The server's answer to the client's offers: the agreed parameters and the
/// `Sec-WebSocket-Extensions` element to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agreement {
    /// The agreed parameters.
    pub params: DeflateParams,
    /// The response element, e.g. `permessage-deflate; server_no_context_takeover`.
    pub response: String,
    /// Index in the offers of the offer accepted.
    pub offer: usize,
}

/// The permessage-deflate parameters of one offer or response, each at most once.
#[derive(Default)]
struct Parsed {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (offers only).
    client_max_window_bits: Option<Option<u8>>,
}

/// RFC 7692 §7.1.2.1: "a decimal integer value without leading zeroes between 8 to 15,
/// inclusive".
fn window_bits(value: &str) -> Option<u8> {
    match value.as_bytes() {
        [d @ b'8'..=b'9'] => Some(d - b'0'),
        [b'1', d @ b'0'..=b'5'] => Some(10 + d - b'0'),
        _ => None,
    }
}

/// Parses the parameters of one element. `Err` for an unknown parameter, a repeated one or
/// an invalid value (RFC 7692 §7: the offer is declined, or the response fails the
/// connection). `response` says which grammar applies: in a response,
/// `client_max_window_bits` must have a value.
fn parse_params(ext: &ExtensionOffer, response: bool) -> Result<Parsed, &'static str> {
    let mut p = Parsed::default();
    let mut seen = [false; 4];
    for (name, value) in &ext.params {
        let name = name.to_ascii_lowercase();
        let (slot, ok) = match name.as_str() {
            "server_no_context_takeover" => {
                p.server_no_context_takeover = true;
                (0, value.is_none())
            }
            "client_no_context_takeover" => {
                p.client_no_context_takeover = true;
                (1, value.is_none())
            }
            "server_max_window_bits" => {
                p.server_max_window_bits = value.as_deref().and_then(window_bits);
                (2, p.server_max_window_bits.is_some())
            }
            "client_max_window_bits" => match value.as_deref() {
                None => {
                    p.client_max_window_bits = Some(None);
                    (3, !response)
                }
                Some(v) => {
                    let bits = window_bits(v);
                    p.client_max_window_bits = Some(bits);
                    (3, bits.is_some())
                }
            },
            _ => return Err("unknown permessage-deflate parameter"),
        };
        if seen[slot] {
            return Err("repeated permessage-deflate parameter");
        }
        seen[slot] = true;
        if !ok {
            return Err("invalid permessage-deflate parameter value");
        }
    }
    Ok(p)
}

fn is_deflate(ext: &ExtensionOffer) -> bool {
    ext.name.eq_ignore_ascii_case(EXTENSION_NAME)
}

/// Server side (RFC 7692 §7.1): accepts the first permessage-deflate offer in `offers` (the
/// client's order of preference) that follows the rules and that `cfg` can honour, and says
/// what to answer. `None` declines them all (the connection then goes on uncompressed).
///
/// Per offer:
/// - an unknown parameter, a repeated one or an invalid value declines it (§7);
/// - `server_no_context_takeover` offered, or required by `cfg`, is answered (§7.1.1.1);
/// - `client_no_context_takeover` is answered when `cfg` requires it, offered or not
///   (§7.1.1.2);
/// - `server_max_window_bits=N` is answered with `min(N, cfg)` (§7.1.2.1); without it the
///   server still compresses with at most `cfg`'s window but does not say so (a smaller window
///   needs no agreement, and Firefox refuses the parameter when it did not offer it);
/// - `client_max_window_bits` (with or without a value) lets the server answer with
///   `min(value, cfg)` when that is below 15; without it the server must not include it, and
///   the client may use 15 bits (§7.1.2.2).
pub fn negotiate(offers: &[ExtensionOffer], cfg: &DeflateConfig) -> Option<Agreement> {
    cfg.validate().ok()?;
    offers.iter().enumerate().find_map(|(i, offer)| {
        if !is_deflate(offer) {
            return None;
        }
        let p = parse_params(offer, false).ok()?;
        let mut params = DeflateParams::with_settings(cfg);
        params.server_no_context_takeover =
            p.server_no_context_takeover || cfg.server_no_context_takeover;
        params.client_no_context_takeover = cfg.client_no_context_takeover;
        params.server_max_window_bits = p
            .server_max_window_bits
            .map_or(cfg.server_max_window_bits, |n| {
                n.min(cfg.server_max_window_bits)
            });
        params.client_max_window_bits = match p.client_max_window_bits {
            None => 15,
            Some(offered) => offered.unwrap_or(15).min(cfg.client_max_window_bits),
        };
        let response = params.response_header(p.server_max_window_bits.is_some());
        Some(Agreement {
            params,
            response,
            offer: i,
        })
    })
}

/// Client side: the `Sec-WebSocket-Extensions` value to offer for `cfg` (RFC 7692 §7.1).
/// `client_max_window_bits` is always included (without a value when `cfg` allows 15 bits),
/// so the server may choose a smaller window for us.
pub fn client_offer(cfg: &DeflateConfig) -> String {
    let mut out = String::from(EXTENSION_NAME);
    if cfg.server_no_context_takeover {
        out.push_str("; server_no_context_takeover");
    }
    if cfg.client_no_context_takeover {
        out.push_str("; client_no_context_takeover");
    }
    if cfg.server_max_window_bits < 15 {
        out.push_str(&format!(
            "; server_max_window_bits={}",
            cfg.server_max_window_bits
        ));
    }
    if cfg.client_max_window_bits < 15 {
        out.push_str(&format!(
            "; client_max_window_bits={}",
            cfg.client_max_window_bits
        ));
    } else {
        out.push_str("; client_max_window_bits");
    }
    out
}

/// Client side: checks the server's accepted extensions against the offer made with
/// [`client_offer`]`(cfg)` (RFC 7692 §7.1). `Ok(None)`: the server declined
/// permessage-deflate. `Err` means the client must fail the connection: the response repeats
/// the extension, has an unknown, repeated or invalid parameter, omits
/// `server_no_context_takeover` that was requested (§7.1.1.1), sets `server_max_window_bits`
/// above the offered value (§7.1.2.1), or sets `client_max_window_bits` without a value, when
/// it was not offered, or above the offered value (§7.1.2.2).
pub fn validate_response(
    extensions: &[ExtensionOffer],
    cfg: &DeflateConfig,
) -> Result<Option<DeflateParams>, &'static str> {
    let mut found = extensions.iter().filter(|e| is_deflate(e));
    let Some(ext) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() {
        return Err("permessage-deflate accepted more than once");
    }
    let p = parse_params(ext, true)?;
    let mut params = DeflateParams::with_settings(cfg);
    if cfg.server_no_context_takeover && !p.server_no_context_takeover {
        return Err("the server did not agree to server_no_context_takeover");
    }
    params.server_no_context_takeover = p.server_no_context_takeover;
    // We may always refrain from context takeover ourselves (§7.1.1.2).
    params.client_no_context_takeover =
        p.client_no_context_takeover || cfg.client_no_context_takeover;
    if let Some(n) = p.server_max_window_bits {
        if n > cfg.server_max_window_bits {
            return Err("server_max_window_bits is larger than offered");
        }
        params.server_max_window_bits = n;
    }
    params.client_max_window_bits = cfg.client_max_window_bits;
    if let Some(value) = p.client_max_window_bits {
        // Offered always (client_offer includes it); a value is required in a response, and
        // parse_params has checked that it is there.
        let n = value.unwrap_or(15);
        if n > cfg.client_max_window_bits {
            return Err("client_max_window_bits is larger than offered");
        }
        params.client_max_window_bits = n;
    }
    Ok(Some(params))
}

// ---- The compressor and decompressor -----------------------------------------------------

/// zlib's raw deflate refuses 8 window bits; 9 never refers back more than 250 bytes (the
/// window minus the 262-byte lookahead), within a 256-byte window.
#[cfg(feature = "deflate")]
fn zlib_window_bits(bits: u8) -> u8 {
    bits.clamp(9, 15)
}

/// Why a compressed message could not be inflated.
#[cfg(feature = "deflate")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InflateFail {
    /// Not a valid DEFLATE stream (→ 1007).
    Corrupt,
    /// The inflated message would exceed the limit (→ 1009).
    TooBig,
}

/// The compressing half of one connection: one raw-deflate stream, sync-flushed at the end
/// of every message (or fragment), reset after each message without context takeover.
#[cfg(feature = "deflate")]
pub(crate) struct Compressor {
    stream: Option<zlib_rs::Deflate>,
    window_bits: u8,
    level: u8,
    mem_level: u8,
    no_context_takeover: bool,
    /// Reused output buffer for a message being compressed.
    pub(crate) scratch: Vec<u8>,
}

#[cfg(feature = "deflate")]
impl Compressor {
    /// Our compressor for `params`: `ours_is_server` picks which side's parameters apply.
    pub(crate) fn new(params: &DeflateParams, ours_is_server: bool) -> Self {
        let (bits, nct) = if ours_is_server {
            (
                params.server_max_window_bits,
                params.server_no_context_takeover,
            )
        } else {
            (
                params.client_max_window_bits,
                params.client_no_context_takeover,
            )
        };
        Compressor {
            stream: None,
            window_bits: zlib_window_bits(bits),
            level: params.level.min(9),
            mem_level: params.mem_level.clamp(1, 9),
            no_context_takeover: nct,
            scratch: Vec::new(),
        }
    }

    fn stream(&mut self) -> &mut zlib_rs::Deflate {
        let (level, bits, mem_level) = (self.level, self.window_bits, self.mem_level);
        self.stream.get_or_insert_with(|| {
            zlib_rs::Deflate::new_with_config(zlib_rs::DeflateConfig {
                level: i32::from(level),
                window_bits: -i32::from(bits),
                mem_level: i32::from(mem_level),
                ..zlib_rs::DeflateConfig::default()
            })
        })
    }

    /// Compresses `input`, appending to `out` (RFC 7692 §7.2.1): a sync flush, then, when
    /// `fin`, the `00 00 ff ff` it ends with is removed. If the flush produced nothing (the
    /// stream already ended on a sync point), a final fragment carries one `0x00` octet: an
    /// empty stored block's header, completed by the receiver's `00 00 ff ff`
    /// (§7.2.3.6). After the final fragment, a compressor without context takeover resets.
    pub(crate) fn compress(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        fin: bool,
    ) -> Result<(), &'static str> {
        let start = out.len();
        let stream = self.stream();
        loop {
            let at = out.len();
            let room = (input.len() + input.len() / 8 + 64).clamp(64, 64 * 1024);
            out.resize(at + room, 0);
            let (in0, out0) = (stream.total_in(), stream.total_out());
            let status = stream.compress(input, &mut out[at..], DeflateFlush::SyncFlush);
            let used = (stream.total_in() - in0) as usize;
            let made = (stream.total_out() - out0) as usize;
            out.truncate(at + made);
            input = &input[used..];
            match status {
                Err(_) => return Err("the compressor failed"),
                Ok(Status::BufError) => break,
                Ok(_) if input.is_empty() && made < room => break,
                Ok(_) => {}
            }
        }
        if fin {
            if out[start..].ends_with(&SYNC_TAIL) {
                out.truncate(out.len() - SYNC_TAIL.len());
            } else if out.len() == start {
                out.push(0x00);
            }
            if self.no_context_takeover {
                self.release_or_reset(false);
            }
        }
        Ok(())
    }

    /// Between messages: without context takeover, either reset the stream (keeping its
    /// memory) or, when `free`, drop it (it is made again on the next message).
    pub(crate) fn release_or_reset(&mut self, free: bool) {
        if free {
            self.stream = None;
            self.scratch = Vec::new();
        } else if let Some(s) = self.stream.as_mut() {
            s.reset();
        }
    }

    /// Whether the state may be dropped when idle (no context to keep).
    pub(crate) const fn stateless_between_messages(&self) -> bool {
        self.no_context_takeover
    }

    /// Whether it holds an LZ77 window that later messages may refer to.
    pub(crate) const fn holds_context(&self) -> bool {
        self.stream.is_some() && !self.no_context_takeover
    }
}

/// Makes room for `need` bytes in `out`, doubling as usual but never reserving past `cap`
/// (so a buffer near the message limit does not double to twice the limit).
#[cfg(feature = "deflate")]
fn grow_within(out: &mut Vec<u8>, need: usize, cap: usize) {
    if out.capacity() < need {
        let target = out.capacity().saturating_mul(2).min(cap).max(need);
        out.reserve_exact(target - out.len());
    }
}

/// The decompressing half of one connection.
#[cfg(feature = "deflate")]
pub(crate) struct Decompressor {
    stream: Option<zlib_rs::Inflate>,
    no_context_takeover: bool,
    /// The peer's DEFLATE stream ended with a BFINAL block inside this message (§7.2.3.4):
    /// the rest of the message is ignored.
    ended: bool,
}

#[cfg(feature = "deflate")]
impl Decompressor {
    /// Our decompressor for `params`: `ours_is_server` says which side we are (the peer's
    /// parameters apply).
    pub(crate) fn new(params: &DeflateParams, ours_is_server: bool) -> Self {
        let nct = if ours_is_server {
            params.client_no_context_takeover
        } else {
            params.server_no_context_takeover
        };
        Decompressor {
            stream: None,
            no_context_takeover: nct,
            ended: false,
        }
    }

    /// Inflates `input`, appending to `out` in steps of at most [`INFLATE_STEP`] bytes, and
    /// fails with [`InflateFail::TooBig`] as soon as `out` would hold more than `limit` bytes
    /// (it never holds more than `limit + 1`). The window is always 15 bits: inflating with a
    /// larger window than the peer's is always correct.
    pub(crate) fn inflate(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateFail> {
        if self.ended {
            return Ok(());
        }
        let stream = self
            .stream
            .get_or_insert_with(|| zlib_rs::Inflate::new(false, 15));
        loop {
            let at = out.len();
            if at > limit {
                return Err(InflateFail::TooBig);
            }
            // Output space in proportion to the input (zero-filled, so kept small for small
            // inputs), at most one step, and never more than one byte past the limit.
            let want = input.len().saturating_mul(4).clamp(256, INFLATE_STEP);
            let step = (limit - at).saturating_add(1).min(want);
            grow_within(out, at + step, limit.saturating_add(1));
            out.resize(at + step, 0);
            let (in0, out0) = (stream.total_in(), stream.total_out());
            let status = stream.decompress(input, &mut out[at..], InflateFlush::SyncFlush);
            let used = (stream.total_in() - in0) as usize;
            let made = (stream.total_out() - out0) as usize;
            out.truncate(at + made);
            input = &input[used..];
            if out.len() > limit {
                return Err(InflateFail::TooBig);
            }
            match status {
                // DataError is invalid DEFLATE; NeedDict cannot happen in a raw stream, and
                // Stream/MemError would mean a broken state: all fail the message.
                Err(_) => return Err(InflateFail::Corrupt),
                Ok(Status::StreamEnd) => {
                    self.ended = true;
                    return Ok(());
                }
                Ok(Status::BufError) => return Ok(()),
                Ok(Status::Ok) if made < step && input.is_empty() => return Ok(()),
                Ok(Status::Ok) if made == 0 && used == 0 => return Ok(()),
                Ok(Status::Ok) => {}
            }
        }
    }

    /// The message ended (RFC 7692 §7.2.2): appends `00 00 ff ff` and inflates what it
    /// completes, then resets if the peer has no context takeover. After a BFINAL block
    /// (§7.2.3.4) the stream is restarted with `out`'s last 32 KiB as its window: exact when
    /// `out` holds the whole message and the message is at least the window's size.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), InflateFail> {
        let result = self.inflate(&SYNC_TAIL, out, limit);
        if self.ended || self.no_context_takeover {
            if let Some(stream) = self.stream.as_mut() {
                stream.reset(false);
                if self.ended && !self.no_context_takeover {
                    // Context takeover across a finished stream: the window is what came
                    // before (as much of it as this message holds).
                    let tail = &out[out.len().saturating_sub(1 << 15)..];
                    if !tail.is_empty() && stream.set_dictionary(tail).is_err() {
                        return Err(InflateFail::Corrupt);
                    }
                }
            }
            self.ended = false;
        }
        result
    }

    /// Whether it holds the peer's LZ77 window, which later messages may refer to.
    pub(crate) const fn holds_context(&self) -> bool {
        self.stream.is_some() && !self.no_context_takeover
    }

    /// Drops the state when idle (only when the peer keeps no context).
    pub(crate) fn release(&mut self) {
        if self.no_context_takeover {
            self.stream = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::headers::parse_extensions;
    use alloc::vec::Vec;

    fn offers(s: &str) -> Vec<ExtensionOffer> {
        parse_extensions(s).unwrap()
    }

    /// The server's answer (or `None`: declined) to `offer` under `cfg`.
    fn answer(offer: &str, cfg: &DeflateConfig) -> Option<String> {
        negotiate(&offers(offer), cfg).map(|a| a.response)
    }

    /// RFC 7692 §7.1: one row per parameter case, server side, default configuration.
    #[test]
    fn server_negotiation_table() {
        let cfg = DeflateConfig::default();
        let pmd = "permessage-deflate";
        let table: &[(&str, Option<&str>)] = &[
            // A bare offer: accepted as is.
            (pmd, Some(pmd)),
            ("PerMessage-Deflate", Some(pmd)),
            // §7.1.1.1: server_no_context_takeover offered must be answered.
            ("permessage-deflate; server_no_context_takeover",
             Some("permessage-deflate; server_no_context_takeover")),
            // §7.1.1.2: client_no_context_takeover offered is a hint; not echoed by default.
            ("permessage-deflate; client_no_context_takeover", Some(pmd)),
            // §7.1.2.1: server_max_window_bits=N is answered with N (our limit is 15).
            ("permessage-deflate; server_max_window_bits=10",
             Some("permessage-deflate; server_max_window_bits=10")),
            ("permessage-deflate; server_max_window_bits=15",
             Some("permessage-deflate; server_max_window_bits=15")),
            ("permessage-deflate; server_max_window_bits=8",
             Some("permessage-deflate; server_max_window_bits=8")),
            ("permessage-deflate; server_max_window_bits=\"12\"",
             Some("permessage-deflate; server_max_window_bits=12")),
            // §7.1.2.2: client_max_window_bits with or without a value; we allow 15.
            ("permessage-deflate; client_max_window_bits", Some(pmd)),
            // A value is answered (equal: allowed, and it tells the client it is bound).
            ("permessage-deflate; client_max_window_bits=10",
             Some("permessage-deflate; client_max_window_bits=10")),
            // Invalid values decline the offer (§7, §7.1.2).
            ("permessage-deflate; server_max_window_bits", None),
            ("permessage-deflate; server_max_window_bits=7", None),
            ("permessage-deflate; server_max_window_bits=16", None),
            ("permessage-deflate; server_max_window_bits=010", None),
            ("permessage-deflate; client_max_window_bits=7", None),
            ("permessage-deflate; client_max_window_bits=abc", None),
            ("permessage-deflate; server_no_context_takeover=1", None),
            ("permessage-deflate; client_no_context_takeover=true", None),
            // Unknown and repeated parameters decline the offer (§7).
            ("permessage-deflate; x_custom", None),
            ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", None),
            ("permessage-deflate; client_max_window_bits; client_max_window_bits=10", None),
            // Other extensions are not ours.
            ("x-webkit-deflate-frame", None),
            // The first acceptable offer wins, in the client's order.
            ("permessage-deflate; bogus, permessage-deflate; server_max_window_bits=11, permessage-deflate",
             Some("permessage-deflate; server_max_window_bits=11")),
        ];
        for (offer, expected) in table {
            assert_eq!(answer(offer, &cfg).as_deref(), *expected, "offer {offer:?}");
        }
    }

    #[test]
    fn server_configuration_adjusts_the_answer() {
        let cfg = DeflateConfig {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 12,
            client_max_window_bits: 10,
            ..DeflateConfig::default()
        };
        // Required no-context-takeover is answered whether offered or not (§7.1.1);
        // client_max_window_bits may be answered only when offered (§7.1.2.2).
        assert_eq!(
            answer("permessage-deflate", &cfg).as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
        );
        let a = negotiate(&offers("permessage-deflate"), &cfg).unwrap();
        assert_eq!(a.params.server_max_window_bits, 12, "used, not announced");
        assert_eq!(
            a.params.client_max_window_bits, 15,
            "the client was not limited"
        );
        // An offered server_max_window_bits is answered with the smaller of the two.
        assert_eq!(
            answer("permessage-deflate; server_max_window_bits=14; client_max_window_bits", &cfg)
                .as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=10")
        );
        assert_eq!(
            answer("permessage-deflate; server_max_window_bits=9; client_max_window_bits=8", &cfg)
                .as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=8")
        );
        let a = negotiate(
            &offers("x-other, permessage-deflate; client_max_window_bits=9"),
            &cfg,
        )
        .unwrap();
        assert_eq!(a.offer, 1);
        assert_eq!(
            (
                a.params.server_max_window_bits,
                a.params.client_max_window_bits
            ),
            (12, 9)
        );
        // An invalid configuration accepts nothing.
        let bad = DeflateConfig {
            server_max_window_bits: 16,
            ..cfg
        };
        assert_eq!(answer("permessage-deflate", &bad), None);
    }

    #[test]
    fn client_offer_strings() {
        assert_eq!(
            client_offer(&DeflateConfig::default()),
            "permessage-deflate; client_max_window_bits"
        );
        assert_eq!(
            client_offer(&DeflateConfig::low_memory()),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9"
        );
    }

    /// RFC 7692 §7.1: the client fails the connection on a response it cannot honour.
    #[test]
    fn client_validation_table() {
        let dflt = DeflateConfig::default();
        let low = DeflateConfig::low_memory();
        let check = |resp: &str, cfg: &DeflateConfig| validate_response(&offers(resp), cfg);
        // Declined: no permessage-deflate in the response.
        assert_eq!(check("", &dflt), Ok(None));
        let p = check("permessage-deflate", &dflt).unwrap().unwrap();
        assert_eq!(p, DeflateParams::default());
        let p = check(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12",
            &dflt,
        )
        .unwrap()
        .unwrap();
        assert!(p.server_no_context_takeover && p.client_no_context_takeover);
        assert_eq!(
            (p.server_max_window_bits, p.client_max_window_bits),
            (10, 12)
        );
        // The low-memory client keeps its own limits when the server says nothing more.
        let p = check(
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=9",
            &low,
        )
        .unwrap()
        .unwrap();
        assert!(p.client_no_context_takeover);
        assert_eq!((p.server_max_window_bits, p.client_max_window_bits), (9, 9));
        let fails: &[(&str, &DeflateConfig, &str)] = &[
            (
                "permessage-deflate; foo",
                &dflt,
                "unknown permessage-deflate parameter",
            ),
            (
                "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
                &dflt,
                "repeated permessage-deflate parameter",
            ),
            (
                "permessage-deflate; server_max_window_bits=16",
                &dflt,
                "invalid permessage-deflate parameter value",
            ),
            (
                "permessage-deflate; server_max_window_bits",
                &dflt,
                "invalid permessage-deflate parameter value",
            ),
            // §7.1.2.2: a value is required in a response.
            (
                "permessage-deflate; client_max_window_bits",
                &dflt,
                "invalid permessage-deflate parameter value",
            ),
            (
                "permessage-deflate; server_no_context_takeover=x",
                &dflt,
                "invalid permessage-deflate parameter value",
            ),
            (
                "permessage-deflate, permessage-deflate",
                &dflt,
                "permessage-deflate accepted more than once",
            ),
            // §7.1.1.1: requested server_no_context_takeover must be agreed.
            (
                "permessage-deflate; server_max_window_bits=9",
                &low,
                "the server did not agree to server_no_context_takeover",
            ),
            // §7.1.2.1: not above the value offered.
            (
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=10",
                &low,
                "server_max_window_bits is larger than offered",
            ),
            // §7.1.2.2: not above the value offered.
            (
                "permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
                &low,
                "client_max_window_bits is larger than offered",
            ),
        ];
        for (resp, cfg, reason) in fails {
            assert_eq!(check(resp, cfg), Err(*reason), "{resp}");
        }
    }

    #[test]
    fn config_validation() {
        assert!(DeflateConfig::default().validate().is_ok());
        assert!(DeflateConfig::low_memory().validate().is_ok());
        for bad in [
            DeflateConfig {
                server_max_window_bits: 7,
                ..Default::default()
            },
            DeflateConfig {
                client_max_window_bits: 16,
                ..Default::default()
            },
            DeflateConfig {
                level: 10,
                ..Default::default()
            },
            DeflateConfig {
                mem_level: 0,
                ..Default::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn window_bits_grammar() {
        for (s, v) in [
            ("8", Some(8)),
            ("9", Some(9)),
            ("10", Some(10)),
            ("15", Some(15)),
        ] {
            assert_eq!(window_bits(s), v, "{s}");
        }
        for s in ["7", "16", "08", "015", "", "1", "+9", "9.0", "0x9"] {
            assert_eq!(window_bits(s), None, "{s}");
        }
    }

    #[test]
    #[cfg(feature = "deflate")]
    fn compress_strips_the_tail_and_inflate_restores() {
        let params = DeflateParams::default();
        let mut c = Compressor::new(&params, true);
        let mut d = Decompressor::new(&params, false);
        let mut wire = Vec::new();
        c.compress(b"Hello", &mut wire, true).unwrap();
        // RFC 7692 §7.2.3.1 with zlib at level 6 on a fresh stream.
        assert_eq!(wire, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        let mut out = Vec::new();
        d.inflate(&wire, &mut out, 100).unwrap();
        d.finish(&mut out, 100).unwrap();
        assert_eq!(out, b"Hello");
        // An empty message is one 0x00 octet (§7.2.3.6).
        let mut wire = Vec::new();
        c.compress(b"", &mut wire, true).unwrap();
        assert_eq!(wire, [0x00]);
        let mut out = Vec::new();
        d.inflate(&wire, &mut out, 100).unwrap();
        d.finish(&mut out, 100).unwrap();
        assert_eq!(out, b"");
    }
}
