//! Incremental, fail-fast UTF-8 validation — RFC 6455 §5.6 and §8.1.
//!
//! A text message may be split anywhere: across fragments, across TCP reads, even inside a
//! multi-byte character. [`Utf8Validator`] validates each piece as it arrives, carrying at most
//! three bytes of an unfinished character to the next piece, and reports the **first invalid
//! byte** as soon as it is seen, so the connection can be failed with 1007 without waiting for
//! the rest of the message. The bulk work is `simdutf8`'s (SIMD where the CPU has it).

use simdutf8::compat::from_utf8;

/// The byte that broke UTF-8: its index within the piece passed to [`Utf8Validator::feed`].
/// When the text ends inside a character, the error is pinned to the text's last byte (index
/// `piece.len() - 1`, or 0 for an empty last piece), wherever the character started, so the
/// position does not depend on how the text was split into pieces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utf8Error {
    /// Index in the current piece of the first byte that cannot be part of valid UTF-8.
    /// Negative offsets cannot occur: an error inside a carried-over character is reported at
    /// the first byte of this piece that completes it wrongly.
    pub index: usize,
}

/// Streaming UTF-8 validator. 5 bytes of state.
#[derive(Clone, Copy, Debug, Default)]
pub struct Utf8Validator {
    carry: [u8; 4],
    carry_len: u8,
}

/// Expected length of a UTF-8 sequence from its first byte (0 for bytes that cannot start one).
const fn sequence_len(first: u8) -> usize {
    match first {
        0x00..=0x7F => 1,
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    }
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub const fn new() -> Self {
        Utf8Validator {
            carry: [0; 4],
            carry_len: 0,
        }
    }

    /// Forgets any carried bytes (start of a new message).
    pub fn reset(&mut self) {
        self.carry_len = 0;
    }

    /// Whether a character is unfinished at the end of what was fed so far.
    pub const fn is_incomplete(&self) -> bool {
        self.carry_len != 0
    }

    /// Validates the next piece of a text. `last` says whether the text ends with this piece
    /// (an unfinished character is then an error).
    pub fn feed(&mut self, mut piece: &[u8], last: bool) -> Result<(), Utf8Error> {
        let last_index = piece.len().saturating_sub(1);
        let mut consumed_for_carry = 0;
        if self.carry_len > 0 {
            let have = self.carry_len as usize;
            let need = sequence_len(self.carry[0]);
            let take = (need - have).min(piece.len());
            let mut ch = [0u8; 4];
            ch[..have].copy_from_slice(&self.carry[..have]);
            ch[have..have + take].copy_from_slice(&piece[..take]);
            match from_utf8(&ch[..have + take]) {
                Ok(_) => {
                    self.carry_len = 0;
                    consumed_for_carry = take;
                    piece = &piece[take..];
                }
                Err(e) => match e.error_len() {
                    // Still a valid prefix and the piece ran out.
                    None if !last => {
                        self.carry[have..have + take].copy_from_slice(&piece[..take]);
                        self.carry_len = (have + take) as u8;
                        return Ok(());
                    }
                    None => return Err(Utf8Error { index: last_index }),
                    // The first offending byte is at `valid_up_to + error_len` within `ch`
                    // if the lead byte was fine; it lies in this piece at that index - have.
                    Some(_) => {
                        let bad = first_bad_in_sequence(&ch[..have + take]);
                        return Err(Utf8Error {
                            index: bad.saturating_sub(have),
                        });
                    }
                },
            }
        }
        match from_utf8(piece) {
            Ok(_) => Ok(()),
            Err(e) => {
                let at = e.valid_up_to();
                match e.error_len() {
                    None if !last => {
                        let tail = &piece[at..];
                        self.carry[..tail.len()].copy_from_slice(tail);
                        self.carry_len = tail.len() as u8;
                        Ok(())
                    }
                    None => Err(Utf8Error { index: last_index }),
                    Some(_) => {
                        let bad = at + first_bad_in_sequence(&piece[at..]);
                        Err(Utf8Error {
                            index: consumed_for_carry + bad,
                        })
                    }
                }
            }
        }
    }
}

/// Index of the first byte of `seq` (which starts with an invalid sequence) that makes it
/// invalid: the lead byte itself, or the first continuation byte that does not fit.
fn first_bad_in_sequence(seq: &[u8]) -> usize {
    let Some(&lead) = seq.first() else { return 0 };
    let n = sequence_len(lead);
    if n <= 1 {
        return 0;
    }
    for i in 1..n.min(seq.len()) {
        if from_utf8(&seq[..=i]).is_err_and(|e| e.error_len().is_some()) {
            return i;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    fn feed_in_pieces(data: &[u8], cuts: &[usize]) -> Result<(), usize> {
        let mut v = Utf8Validator::new();
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
        points.push(0);
        points.push(data.len());
        points.sort_unstable();
        points.dedup();
        if points.len() == 1 {
            points.push(0);
        }
        let n = points.len() - 1;
        for (i, w) in points.windows(2).enumerate() {
            v.feed(&data[w[0]..w[1]], i + 1 == n)
                .map_err(|e| w[0] + e.index)?;
        }
        Ok(())
    }

    /// The index std reports as the first invalid byte (fail-fast position).
    fn std_first_bad(data: &[u8]) -> Option<usize> {
        match core::str::from_utf8(data) {
            Ok(_) => None,
            Err(e) => Some(e.valid_up_to() + first_bad_in_sequence(&data[e.valid_up_to()..])),
        }
    }

    #[test]
    fn valid_text_split_inside_a_character() {
        let s = "κόσμε 🎉 done".as_bytes();
        for cut in 0..=s.len() {
            assert_eq!(feed_in_pieces(s, &[cut]), Ok(()), "cut {cut}");
        }
    }

    #[test]
    fn fails_fast_on_first_bad_byte_before_message_end() {
        // Autobahn 6.4.1-style: "κόσμε" then 0xF4 0x90 (beyond U+10FFFF) then more.
        let mut v = Utf8Validator::new();
        assert!(v.feed("κόσμε".as_bytes(), false).is_ok());
        assert_eq!(
            v.feed(&[0xF4, 0x90, 0x80, 0x80], false),
            Err(Utf8Error { index: 1 })
        );
    }

    #[test]
    fn carried_lead_then_bad_continuation() {
        let mut v = Utf8Validator::new();
        assert!(v.feed(&[b'a', 0xE2], false).is_ok());
        assert!(v.is_incomplete());
        assert_eq!(v.feed(&[0x82, 0x41], false), Err(Utf8Error { index: 1 }));
    }

    #[test]
    fn incomplete_at_end_of_message_is_an_error() {
        let mut v = Utf8Validator::new();
        assert!(v.feed(&[0xE2, 0x82], false).is_ok());
        assert!(v.feed(&[], true).is_err());
        let mut v = Utf8Validator::new();
        assert_eq!(
            v.feed(&[b'o', b'k', 0xE2, 0x82], true),
            Err(Utf8Error { index: 3 })
        );
        // The same text split inside the character: still pinned to the last byte.
        let mut v = Utf8Validator::new();
        assert!(v.feed(&[b'o', b'k', 0xE2], false).is_ok());
        assert_eq!(v.feed(&[0x82], true), Err(Utf8Error { index: 0 }));
    }

    #[test]
    fn surrogates_and_overlongs_are_invalid() {
        for bad in [
            &[0xED, 0xA0, 0x80][..],
            &[0xC0, 0x80],
            &[0xE0, 0x80, 0xAF],
            &[0xFF],
        ] {
            assert!(feed_in_pieces(bad, &[]).is_err(), "{bad:02x?}");
            for cut in 0..bad.len() {
                assert!(feed_in_pieces(bad, &[cut]).is_err(), "{bad:02x?} cut {cut}");
            }
        }
    }

    proptest! {
        #[test]
        fn any_split_agrees_with_std(
            data in proptest::collection::vec(
                prop_oneof![any::<u8>(), Just(0x80u8), Just(0xE2), Just(0xF0), Just(b'a')], 0..64),
            cuts in proptest::collection::vec(any::<usize>(), 0..5),
        ) {
            let got = feed_in_pieces(&data, &cuts);
            let expected = match std_first_bad(&data) { None => Ok(()), Some(i) => Err(i) };
            // An incomplete tail is detected at the last piece: compare only validity, and
            // for invalid-sequence errors (not a truncated tail) the exact position.
            prop_assert_eq!(got.is_ok(), expected.is_ok());
            if let (Err(g), Err(e)) = (got, expected) {
                let truncated_tail = core::str::from_utf8(&data)
                    .err().is_some_and(|e| e.error_len().is_none());
                if !truncated_tail { prop_assert_eq!(g, e); }
            }
        }

        #[test]
        fn valid_strings_always_pass(s in "\\PC{0,40}", cuts in proptest::collection::vec(any::<usize>(), 0..5)) {
            prop_assert_eq!(feed_in_pieces(s.as_bytes(), &cuts), Ok(()));
        }
    }
}
