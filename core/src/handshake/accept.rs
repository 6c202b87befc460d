//! The accept key — RFC 6455 §1.3 and §4.2.2 (5.4).

use alloc::string::String;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha1::{Digest, Sha1};

/// The GUID every WebSocket server appends to the client's key (RFC 6455 §1.3).
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `base64(SHA-1(key + GUID))`, where `key` is the `Sec-WebSocket-Key` value as sent.
pub fn accept_key(key: &[u8]) -> String {
    STANDARD.encode(accept_digest(key))
}

fn accept_digest(key: &[u8]) -> [u8; 20] {
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(GUID.as_bytes());
    sha1.finalize().into()
}

/// Every step of the accept-key computation, for the inspector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptKeySteps {
    /// The client's `Sec-WebSocket-Key`, as sent.
    pub key: String,
    /// The key with the GUID appended.
    pub concatenated: String,
    /// SHA-1 of the concatenation.
    pub sha1: [u8; 20],
    /// The digest in hex.
    pub sha1_hex: String,
    /// The digest in base64: the `Sec-WebSocket-Accept` value.
    pub accept: String,
}

/// Computes the accept key and keeps each step.
pub fn accept_key_steps(key: &str) -> AcceptKeySteps {
    let sha1 = accept_digest(key.as_bytes());
    let mut sha1_hex = String::with_capacity(40);
    for b in sha1 {
        use core::fmt::Write as _;
        let _ = write!(sha1_hex, "{b:02x}");
    }
    let mut concatenated = String::from(key);
    concatenated.push_str(GUID);
    AcceptKeySteps {
        key: key.into(),
        concatenated,
        sha1,
        sha1_hex,
        accept: STANDARD.encode(sha1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 §1.3, byte for byte.
    #[test]
    fn rfc_1_3_example() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        let steps = accept_key_steps("dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(
            steps.concatenated,
            "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        );
        assert_eq!(steps.sha1_hex, "b37a4f2cc0624f1690f64606cf385945b2bec4ea");
        assert_eq!(steps.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }
}
