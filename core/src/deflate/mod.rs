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

#[cfg(feature = "deflate")]
mod codec;
mod negotiate;

#[cfg(feature = "deflate")]
pub(crate) use codec::{Compressor, Decompressor, InflateFail};
#[cfg(test)]
use negotiate::*;
pub use negotiate::{client_offer, negotiate, validate_response, Agreement};

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
/// compression settings: the same six fields as a [`DeflateConfig`], now meaning what was
/// agreed rather than what one side would accept. Its default is what a bare
/// `permessage-deflate` offer and response agree to: context takeover, 15-bit windows.
pub type DeflateParams = DeflateConfig;

impl DeflateParams {
    /// The agreement's starting point before the offer's parameters are applied: context
    /// takeover, 15-bit windows, and `cfg`'s local level and `memLevel` (clamped).
    fn with_settings(cfg: &DeflateConfig) -> Self {
        DeflateParams {
            level: cfg.level.min(9),
            mem_level: cfg.mem_level.clamp(1, 9),
            ..DeflateConfig::default()
        }
    }

    /// The `Sec-WebSocket-Extensions` element a server sends for these parameters. The
    /// window sizes are included when below 15, or always when `server_bits_offered` says the
    /// offer had `server_max_window_bits` (which must then be answered, RFC 7692 §7.1.2.1).
    pub fn response_header(&self, server_bits_offered: bool) -> String {
        let client_bits = self.client_max_window_bits;
        element(
            self,
            server_bits_offered.then_some(Some(self.server_max_window_bits)),
            (client_bits < 15).then_some(Some(client_bits)),
        )
    }
}

/// One `permessage-deflate` element of `Sec-WebSocket-Extensions` (RFC 7692 §7.1): the
/// context-takeover flags `cfg` sets, then each window parameter given (`Some(None)`: the
/// parameter without a value, §7.1.2.2).
pub(crate) fn element(
    cfg: &DeflateConfig,
    server_bits: Option<Option<u8>>,
    client_bits: Option<Option<u8>>,
) -> String {
    let mut out = String::from(EXTENSION_NAME);
    if cfg.server_no_context_takeover {
        out.push_str("; server_no_context_takeover");
    }
    if cfg.client_no_context_takeover {
        out.push_str("; client_no_context_takeover");
    }
    for (name, bits) in [
        ("server_max_window_bits", server_bits),
        ("client_max_window_bits", client_bits),
    ] {
        match bits {
            None => {}
            Some(None) => out.push_str(&format!("; {name}")),
            Some(Some(bits)) => out.push_str(&format!("; {name}={bits}")),
        }
    }
    out
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
        let with = |change: fn(&mut DeflateConfig)| {
            let mut cfg = DeflateConfig::default();
            change(&mut cfg);
            cfg
        };
        for bad in [
            with(|c| c.server_max_window_bits = 7),
            with(|c| c.client_max_window_bits = 16),
            with(|c| c.level = 10),
            with(|c| c.mem_level = 0),
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
