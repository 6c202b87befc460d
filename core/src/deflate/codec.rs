//! Compressing and inflating messages — RFC 7692 §7.2 (feature `deflate`).

use super::*;

/// zlib's raw deflate refuses 8 window bits; 9 never refers back more than 250 bytes (the
/// window minus the 262-byte lookahead), within a 256-byte window.
#[cfg(feature = "deflate")]
pub(super) fn zlib_window_bits(bits: u8) -> u8 {
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
    pub(super) stream: Option<zlib_rs::Deflate>,
    pub(super) window_bits: u8,
    pub(super) level: u8,
    pub(super) mem_level: u8,
    pub(super) no_context_takeover: bool,
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

    pub(super) fn stream(&mut self) -> &mut zlib_rs::Deflate {
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
            let room = (input.len() + input.len() / 8 + 64).clamp(64, 64 * 1024);
            let (status, _, made) = run(stream, &mut input, out, room, |z, input, space| {
                z.compress(input, space, DeflateFlush::SyncFlush)
            });
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

/// A zlib stream's running totals: (bytes read, bytes written).
#[cfg(feature = "deflate")]
trait Totals {
    fn totals(&self) -> (u64, u64);
}

#[cfg(feature = "deflate")]
impl Totals for zlib_rs::Deflate {
    fn totals(&self) -> (u64, u64) {
        (self.total_in(), self.total_out())
    }
}

#[cfg(feature = "deflate")]
impl Totals for zlib_rs::Inflate {
    fn totals(&self) -> (u64, u64) {
        (self.total_in(), self.total_out())
    }
}

/// One zlib call (deflate or inflate) into `room` new bytes at the end of `out`: `call` gets
/// the stream, the input and that space; the stream's byte counts before and after say how
/// much input was used and output made. `out` keeps only
/// the bytes made and `input` moves past the bytes used. Returns the call's status and the
/// numbers of bytes used and made.
#[cfg(feature = "deflate")]
fn run<Z: Totals, S>(
    stream: &mut Z,
    input: &mut &[u8],
    out: &mut Vec<u8>,
    room: usize,
    call: impl FnOnce(&mut Z, &[u8], &mut [u8]) -> S,
) -> (S, usize, usize) {
    let at = out.len();
    out.resize(at + room, 0);
    let (in0, out0) = stream.totals();
    let status = call(stream, input, &mut out[at..]);
    let (in1, out1) = stream.totals();
    let (used, made) = ((in1 - in0) as usize, (out1 - out0) as usize);
    out.truncate(at + made);
    *input = &input[used..];
    (status, used, made)
}

/// Makes room for `need` bytes in `out`, doubling as usual but never reserving past `cap`
/// (so a buffer near the message limit does not double to twice the limit).
#[cfg(feature = "deflate")]
pub(super) fn grow_within(out: &mut Vec<u8>, need: usize, cap: usize) {
    if out.capacity() < need {
        let target = out.capacity().saturating_mul(2).min(cap).max(need);
        out.reserve_exact(target - out.len());
    }
}

/// The decompressing half of one connection.
#[cfg(feature = "deflate")]
pub(crate) struct Decompressor {
    pub(super) stream: Option<zlib_rs::Inflate>,
    pub(super) no_context_takeover: bool,
    /// The peer's DEFLATE stream ended with a BFINAL block inside this message (§7.2.3.4):
    /// the rest of the message is ignored.
    pub(super) ended: bool,
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
            let (status, used, made) = run(stream, &mut input, out, step, |z, input, space| {
                z.decompress(input, space, InflateFlush::SyncFlush)
            });
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
