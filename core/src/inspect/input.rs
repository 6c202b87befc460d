//! What a person types or pastes, turned into the bytes to inspect: hex dumps, base64, plain
//! text, or a handshake head typed with bare newlines. The CLI's `inspect` and the browser
//! page read their input with this one function.

use alloc::vec::Vec;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

/// How to read the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputFormat {
    /// Hex digits, two per byte, in upper or lower case. Whitespace, `,`, `:` and `-` between
    /// them are ignored, and so is a `0x` that begins a byte (`0x81, 0x85`, `81:85`, `8185`).
    Hex,
    /// Standard base64 (RFC 4648 §4), whitespace ignored, padding optional.
    Base64,
    /// The bytes themselves (a string's UTF-8).
    Text,
    /// An HTTP head typed by a person: each line end, `\n` or `\r\n`, becomes `\r\n`, and the
    /// head ends with exactly one blank line (RFC 7230 §3), however many trailing line ends
    /// the input had.
    Head,
}

impl InputFormat {
    /// The format by its name: `hex`, `base64`, `text` or `head`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "hex" => Some(InputFormat::Hex),
            "base64" => Some(InputFormat::Base64),
            "text" => Some(InputFormat::Text),
            "head" => Some(InputFormat::Head),
            _ => None,
        }
    }
}

/// Why the input could not be read. Positions count bytes of the input from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputError {
    /// A character that is neither a hex digit nor a separator.
    NotHex {
        /// Its position.
        at: usize,
        /// The character.
        found: char,
    },
    /// The hex digits do not pair up into bytes.
    OddHexDigits {
        /// How many digits there were.
        digits: usize,
    },
    /// Not base64.
    NotBase64 {
        /// The position of the offending character, when there is one (else the input's
        /// length is wrong).
        at: Option<usize>,
    },
}

impl core::fmt::Display for InputError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            InputError::NotHex { at, found } => {
                write!(f, "not a hex digit: {found:?} at position {at}")
            }
            InputError::OddHexDigits { digits } => {
                write!(f, "odd number of hex digits ({digits})")
            }
            InputError::NotBase64 { at: Some(at) } => {
                write!(f, "not valid base64: unexpected character at position {at}")
            }
            InputError::NotBase64 { at: None } => {
                write!(f, "not valid base64: the length does not fit (truncated?)")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for InputError {}

/// Reads `input` in `format` (see [`InputFormat`] for what each accepts).
pub fn decode_input(input: &[u8], format: InputFormat) -> Result<Vec<u8>, InputError> {
    match format {
        InputFormat::Hex => decode_hex(input),
        InputFormat::Base64 => decode_base64(input),
        InputFormat::Text => Ok(input.to_vec()),
        InputFormat::Head => Ok(head(input)),
    }
}

const fn is_separator(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b',' | b':' | b'-')
}

fn decode_hex(input: &[u8]) -> Result<Vec<u8>, InputError> {
    let mut out = Vec::with_capacity(input.len() / 2);
    let mut high: Option<u8> = None;
    let mut digits = 0;
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        let starts_token = i == 0 || is_separator(input[i - 1]);
        if b == b'0'
            && starts_token
            && high.is_none()
            && matches!(input.get(i + 1), Some(b'x' | b'X'))
        {
            i += 2;
            continue;
        }
        if is_separator(b) {
            i += 1;
            continue;
        }
        let Some(value) = (b as char).to_digit(16) else {
            let found = char_at(input, i);
            return Err(InputError::NotHex { at: i, found });
        };
        digits += 1;
        match high.take() {
            None => high = Some(value as u8),
            Some(h) => out.push(h << 4 | value as u8),
        }
        i += 1;
    }
    if high.is_some() {
        return Err(InputError::OddHexDigits { digits });
    }
    Ok(out)
}

/// The character that starts at byte `i` (U+FFFD when the bytes there are not UTF-8).
fn char_at(input: &[u8], i: usize) -> char {
    (1..=4)
        .filter_map(|n| core::str::from_utf8(input.get(i..i + n)?).ok())
        .find_map(|s| s.chars().next())
        .unwrap_or(char::REPLACEMENT_CHARACTER)
}

fn decode_base64(input: &[u8]) -> Result<Vec<u8>, InputError> {
    const ENGINE: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    // Positions of the characters kept, so an error points into the input as typed.
    let kept: Vec<usize> = (0..input.len())
        .filter(|&i| !input[i].is_ascii_whitespace())
        .collect();
    let cleaned: Vec<u8> = kept.iter().map(|&i| input[i]).collect();
    ENGINE.decode(&cleaned).map_err(|e| {
        let at = match e {
            base64::DecodeError::InvalidByte(at, _)
            | base64::DecodeError::InvalidLastSymbol(at, _) => kept.get(at).copied(),
            base64::DecodeError::InvalidLength(_) | base64::DecodeError::InvalidPadding => None,
        };
        InputError::NotBase64 { at }
    })
}

fn head(input: &[u8]) -> Vec<u8> {
    let mut lines: Vec<&[u8]> = input
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let mut out = Vec::with_capacity(input.len() + lines.len() + 4);
    for line in &lines {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    if !lines.is_empty() {
        out.extend_from_slice(b"\r\n");
    }
    out
}
