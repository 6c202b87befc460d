//! Negotiating permessage-deflate in the opening handshake — RFC 7692 §5, §7.1.

use super::*;

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
pub(super) struct Parsed {
    pub(super) server_no_context_takeover: bool,
    pub(super) client_no_context_takeover: bool,
    pub(super) server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (offers only).
    pub(super) client_max_window_bits: Option<Option<u8>>,
}

/// RFC 7692 §7.1.2.1: "a decimal integer value without leading zeroes between 8 to 15,
/// inclusive".
pub(super) fn window_bits(value: &str) -> Option<u8> {
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
pub(super) fn parse_params(ext: &ExtensionOffer, response: bool) -> Result<Parsed, &'static str> {
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

pub(super) fn is_deflate(ext: &ExtensionOffer) -> bool {
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
    let (server_bits, client_bits) = (cfg.server_max_window_bits, cfg.client_max_window_bits);
    element(
        cfg,
        (server_bits < 15).then_some(Some(server_bits)),
        Some((client_bits < 15).then_some(client_bits)),
    )
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
