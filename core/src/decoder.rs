//! The streaming frame decoder — RFC 6455 §5.2-§5.5.
//!
//! [`FrameDecoder::decode`] consumes a prefix of its input and says what that prefix was: a
//! complete [`FrameHeader`], a run of payload bytes (unmasked in place, so the caller can use
//! them without a copy), or nothing because more input is needed. It keeps at most the 14 bytes
//! of a header between calls and never allocates, so memory grows only with bytes that
//! actually arrived, never with a length a header merely claims. Feeding the same bytes in any
//! chunking, down to one byte at a time, produces the same headers and the same payload bytes.
//!
//! Header fields are checked as soon as their bytes arrive, so an error is pinned to the byte
//! that broke the rule, and every field is reported to the [`Tracer`].

use crate::error::{Error, ProtocolError};
use crate::frame::{FrameHeader, OpCode};
use crate::mask::apply_mask;
use crate::trace::{Field, FieldRead, PayloadRead, Tracer};

/// Which end of the connection we are (RFC 6455 §5.1: clients mask, servers do not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// We accepted the connection: frames we receive must be masked.
    Server,
    /// We opened the connection: frames we receive must not be masked.
    Client,
}

/// What the consumed prefix of the input was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// All of the input was consumed (possibly none was given) and at least this many more
    /// bytes are needed before anything else can be reported.
    NeedMore(usize),
    /// A complete frame header. Its payload follows as one or more `Payload` results (exactly
    /// one, of length 0, for an empty payload).
    Header(FrameHeader),
    /// The first `len` bytes of the input are payload of the current frame, now unmasked.
    /// `last` is set on the run that completes the frame's payload.
    Payload {
        /// Payload bytes at the start of the input.
        len: usize,
        /// This run completes the frame.
        last: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Byte0,
    Byte1,
    ExtendedLen,
    MaskingKey,
    Payload,
}

/// A streaming decoder of RFC 6455 frames for one direction of one connection.
#[derive(Clone, Debug)]
pub struct FrameDecoder {
    role: Role,
    max_frame_size: u64,
    allowed_rsv: u8,
    step: Step,
    /// Stream offset of the next byte to read.
    offset: u64,
    frame_start: u64,
    hdr: [u8; FrameHeader::MAX_LEN],
    have: u8,
    header: FrameHeader,
    remaining: u64,
    payload_pos: u64,
}

impl FrameDecoder {
    /// A decoder for frames received by `role`, refusing frames over `max_frame_size` bytes
    /// (1009) and RSV bits outside `allowed_rsv` (1002; see [`FrameHeader::RSV1`]).
    pub fn new(role: Role, max_frame_size: u64, allowed_rsv: u8) -> Self {
        FrameDecoder {
            role,
            max_frame_size,
            allowed_rsv,
            step: Step::Byte0,
            offset: 0,
            frame_start: 0,
            hdr: [0; FrameHeader::MAX_LEN],
            have: 0,
            header: FrameHeader::new(OpCode::Continuation, 0),
            remaining: 0,
            payload_pos: 0,
        }
    }

    /// Stream offset of the next byte the decoder will read.
    pub const fn offset(&self) -> u64 {
        self.offset
    }

    /// Stream offset of the first byte of the current (or last) frame.
    pub const fn frame_start(&self) -> u64 {
        self.frame_start
    }

    /// The role whose incoming frames this decoder reads.
    pub const fn role(&self) -> Role {
        self.role
    }

    /// The header of the frame being read, once its header is complete.
    pub const fn current_header(&self) -> Option<&FrameHeader> {
        match self.step {
            Step::Payload => Some(&self.header),
            _ => None,
        }
    }

    /// Whether the decoder sits between frames.
    pub const fn at_frame_boundary(&self) -> bool {
        matches!(self.step, Step::Byte0)
    }

    /// Offset within the current frame's payload of the next payload byte.
    pub const fn payload_position(&self) -> u64 {
        self.payload_pos
    }

    /// Changes which RSV bits are accepted (after an extension is negotiated).
    pub fn set_allowed_rsv(&mut self, rsv: u8) {
        self.allowed_rsv = rsv & 0x7;
    }

    /// Changes the maximum frame size.
    pub fn set_max_frame_size(&mut self, max: u64) {
        self.max_frame_size = max;
    }

    /// A short description of what the decoder is waiting for (for step-through displays).
    pub const fn waiting_for(&self) -> &'static str {
        match self.step {
            Step::Byte0 => "byte 0 of a frame header: FIN, RSV1-3, opcode",
            Step::Byte1 => "byte 1 of the header: MASK, payload len",
            Step::ExtendedLen => "the extended payload length",
            Step::MaskingKey => "the masking key",
            Step::Payload => "payload data",
        }
    }

    /// Reads from `input` (unmasking payload in place) and reports what the consumed prefix
    /// was. Returns the number of bytes consumed and the result.
    ///
    /// Errors are protocol violations with the stream offset of the offending byte; after an
    /// error the connection must be failed and the decoder not used again.
    #[inline]
    pub fn decode<T: Tracer>(
        &mut self,
        input: &mut [u8],
        tracer: &mut T,
    ) -> Result<(usize, Decoded), Error> {
        if self.step == Step::Payload {
            return Ok(self.payload(input, tracer));
        }
        if self.step == Step::Byte0 {
            if let Some(len) = self.whole_header_len(input) {
                return self.read_whole_header(input, len, tracer);
            }
        }
        let mut used = 0;
        loop {
            match self.step {
                Step::Byte0 => {
                    let Some(&b) = input.get(used) else {
                        return Ok(self.need_more(used, 2, tracer));
                    };
                    self.frame_start = self.offset + used as u64;
                    used += 1;
                    self.read_byte0(b, tracer)?;
                }
                Step::Byte1 => {
                    let Some(&b) = input.get(used) else {
                        return Ok(self.need_more(used, 1 + self.key_len(), tracer));
                    };
                    used += 1;
                    self.read_byte1(b, tracer)?;
                }
                Step::ExtendedLen => {
                    let n = self.ext_len_bytes();
                    let mut len = [0u8; 8];
                    if self.have == 2 && input.len() - used >= n {
                        // Fast path: the whole field is in the input; read it in place.
                        len[..n].copy_from_slice(&input[used..used + n]);
                        used += n;
                        self.have += n as u8;
                    } else if self.fill(input, &mut used, 2 + n) {
                        len[..n].copy_from_slice(&self.hdr[2..2 + n]);
                    } else {
                        let more = 2 + n - self.have as usize + self.key_len();
                        return Ok(self.need_more(used, more, tracer));
                    }
                    self.read_extended_len(&len[..n], tracer)?;
                }
                Step::MaskingKey => {
                    let at = 2 + self.ext_len_bytes();
                    let mut key = [0u8; 4];
                    if self.have as usize == at && input.len() - used >= 4 {
                        key.copy_from_slice(&input[used..used + 4]);
                        used += 4;
                        self.have += 4;
                    } else if self.fill(input, &mut used, at + 4) {
                        key.copy_from_slice(&self.hdr[at..at + 4]);
                    } else {
                        let more = 4 - self.key_bytes_read();
                        return Ok(self.need_more(used, more, tracer));
                    }
                    self.read_masking_key(key, at, tracer);
                }
                Step::Payload => {
                    self.offset += used as u64;
                    let payload_offset = self.offset;
                    tracer.header(&self.header, self.frame_start, payload_offset);
                    return Ok((used, Decoded::Header(self.header)));
                }
            }
        }
    }

    /// The header's length if all of it is at the start of `input`.
    #[inline]
    fn whole_header_len(&self, input: &[u8]) -> Option<usize> {
        let b1 = *input.get(1)?;
        let ext = match b1 & 0x7F {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let len = 2 + ext + if b1 & 0x80 != 0 { 4 } else { 0 };
        (input.len() >= len).then_some(len)
    }

    /// Fast path for a header that arrived whole: the same field readers (and so the same
    /// checks and trace) as the byte-by-byte path, without staging bytes in `hdr`.
    #[inline]
    fn read_whole_header<T: Tracer>(
        &mut self,
        input: &[u8],
        len: usize,
        tracer: &mut T,
    ) -> Result<(usize, Decoded), Error> {
        self.frame_start = self.offset;
        self.read_byte0(input[0], tracer)?;
        self.read_byte1(input[1], tracer)?;
        let ext = self.ext_len_bytes();
        if ext > 0 {
            self.read_extended_len(&input[2..2 + ext], tracer)?;
        }
        if len > 2 + ext {
            let mut key = [0u8; 4];
            key.copy_from_slice(&input[2 + ext..len]);
            self.read_masking_key(key, 2 + ext, tracer);
        }
        self.have = len as u8;
        self.step = Step::Payload;
        self.offset += len as u64;
        tracer.header(&self.header, self.frame_start, self.offset);
        Ok((len, Decoded::Header(self.header)))
    }

    fn need_more<T: Tracer>(
        &mut self,
        used: usize,
        more: usize,
        tracer: &mut T,
    ) -> (usize, Decoded) {
        self.offset += used as u64;
        tracer.need_more(self.offset, more);
        (used, Decoded::NeedMore(more))
    }

    const fn key_len(&self) -> usize {
        match self.role {
            Role::Server => 4,
            Role::Client => 0,
        }
    }

    /// Bytes of the masking key already in `hdr` (which holds bytes 0-1, then the extended
    /// length, then the key).
    fn key_bytes_read(&self) -> usize {
        (self.have as usize).saturating_sub(2 + self.ext_len_bytes())
    }

    /// Extended-length bytes announced by byte 1 (0, 2 or 8).
    fn ext_len_bytes(&self) -> usize {
        match self.hdr[1] & 0x7F {
            126 => 2,
            127 => 8,
            _ => 0,
        }
    }

    /// Copies input bytes into `hdr` until it holds `target` bytes (index 0 = byte 0 of the
    /// frame, but bytes 0-1 live in `hdr[0..2]` too). Returns whether it got there.
    fn fill(&mut self, input: &[u8], used: &mut usize, target: usize) -> bool {
        let have = self.have as usize;
        let want = target.saturating_sub(have);
        let take = want.min(input.len() - *used);
        self.hdr[have..have + take].copy_from_slice(&input[*used..*used + take]);
        *used += take;
        self.have += take as u8;
        self.have as usize >= target
    }

    #[cold]
    fn fail<T: Tracer>(&self, tracer: &mut T, kind: ProtocolError, offset: u64) -> Error {
        tracer.error(offset, kind);
        Error::Protocol { kind, offset }
    }

    /// RFC 6455 §5.2 byte 0: FIN, RSV1-3, opcode.
    fn read_byte0<T: Tracer>(&mut self, b: u8, tracer: &mut T) -> Result<(), Error> {
        let at = self.frame_start;
        let bit = |field, value: u8| FieldRead {
            field,
            offset: at,
            len: 1,
            value: value as u64,
            remark: None,
        };
        tracer.field(bit(Field::Fin, b >> 7));
        tracer.field(bit(Field::Rsv1, (b >> 6) & 1));
        tracer.field(bit(Field::Rsv2, (b >> 5) & 1));
        tracer.field(bit(Field::Rsv3, (b >> 4) & 1));
        tracer.field(bit(Field::Opcode, b & 0xF));
        let rsv = (b >> 4) & 0x7;
        if rsv & !self.allowed_rsv != 0 {
            return Err(self.fail(tracer, ProtocolError::ReservedBitsSet, at));
        }
        let Some(opcode) = OpCode::from_u8(b & 0xF) else {
            return Err(self.fail(tracer, ProtocolError::ReservedOpcode, at));
        };
        let fin = b & 0x80 != 0;
        if opcode.is_control() && !fin {
            return Err(self.fail(tracer, ProtocolError::FragmentedControlFrame, at));
        }
        self.hdr[0] = b;
        self.have = 1;
        self.header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask: None,
            payload_len: 0,
        };
        self.step = Step::Byte1;
        Ok(())
    }

    /// RFC 6455 §5.2 byte 1: MASK and the 7-bit payload length.
    fn read_byte1<T: Tracer>(&mut self, b: u8, tracer: &mut T) -> Result<(), Error> {
        let at = self.frame_start + 1;
        let masked = b & 0x80 != 0;
        let len7 = b & 0x7F;
        tracer.field(FieldRead {
            field: Field::Mask,
            offset: at,
            len: 1,
            value: u64::from(masked),
            remark: None,
        });
        tracer.field(FieldRead {
            field: Field::PayloadLen,
            offset: at,
            len: 1,
            value: len7 as u64,
            remark: None,
        });
        match (self.role, masked) {
            (Role::Server, false) => {
                return Err(self.fail(tracer, ProtocolError::UnmaskedClientFrame, at))
            }
            (Role::Client, true) => {
                return Err(self.fail(tracer, ProtocolError::MaskedServerFrame, at))
            }
            _ => {}
        }
        if self.header.opcode.is_control() && len7 > 125 {
            return Err(self.fail(tracer, ProtocolError::ControlFrameTooLong, at));
        }
        self.hdr[1] = b;
        self.have = 2;
        if len7 < 126 {
            self.set_len(len7 as u64, at, tracer)?;
            self.step = if masked {
                Step::MaskingKey
            } else {
                Step::Payload
            };
        } else {
            self.step = Step::ExtendedLen;
        }
        Ok(())
    }

    /// RFC 6455 §5.2: the 16-bit or 64-bit extended payload length, network byte order.
    fn read_extended_len<T: Tracer>(&mut self, bytes: &[u8], tracer: &mut T) -> Result<(), Error> {
        let at = self.frame_start + 2;
        let n = bytes.len();
        let (field, len, minimal) = if let [hi, lo] = *bytes {
            let len = u16::from_be_bytes([hi, lo]) as u64;
            (Field::ExtendedLen16, len, len >= 126)
        } else {
            let mut b = [0u8; 8];
            b.copy_from_slice(bytes);
            let len = u64::from_be_bytes(b);
            (Field::ExtendedLen64, len, len > 0xFFFF)
        };
        let remark = (!minimal).then_some(
            "non-minimal length encoding: RFC 6455 §5.2 says the minimal number of bytes MUST be used (accepted)",
        );
        tracer.field(FieldRead {
            field,
            offset: at,
            len: n as u8,
            value: len,
            remark,
        });
        if len >> 63 != 0 {
            return Err(self.fail(tracer, ProtocolError::LengthMsbSet, at));
        }
        self.set_len(len, at, tracer)?;
        self.step = if self.hdr[1] & 0x80 != 0 {
            Step::MaskingKey
        } else {
            Step::Payload
        };
        Ok(())
    }

    fn set_len<T: Tracer>(&mut self, len: u64, at: u64, tracer: &mut T) -> Result<(), Error> {
        if len > self.max_frame_size {
            return Err(self.fail(tracer, ProtocolError::FrameTooBig, at));
        }
        self.header.payload_len = len;
        self.remaining = len;
        self.payload_pos = 0;
        Ok(())
    }

    /// RFC 6455 §5.3: the 4-byte masking key.
    fn read_masking_key<T: Tracer>(&mut self, key: [u8; 4], start: usize, tracer: &mut T) {
        for (i, k) in key.iter().enumerate() {
            tracer.field(FieldRead {
                field: Field::MaskingKey(i as u8),
                offset: self.frame_start + (start + i) as u64,
                len: 1,
                value: *k as u64,
                remark: None,
            });
        }
        self.header.mask = Some(key);
        self.step = Step::Payload;
    }

    #[inline]
    fn payload<T: Tracer>(&mut self, input: &mut [u8], tracer: &mut T) -> (usize, Decoded) {
        if self.remaining == 0 {
            self.step = Step::Byte0;
            self.have = 0;
            tracer.frame_end(&self.header, self.offset);
            return (0, Decoded::Payload { len: 0, last: true });
        }
        if input.is_empty() {
            let more = usize::try_from(self.remaining).unwrap_or(usize::MAX);
            tracer.need_more(self.offset, more);
            return (0, Decoded::NeedMore(more));
        }
        let n = usize::try_from(self.remaining).map_or(input.len(), |r| r.min(input.len()));
        let chunk = &mut input[..n];
        if T::ENABLED {
            tracer.payload_masked(self.offset, chunk);
        }
        if let Some(key) = self.header.mask {
            apply_mask(chunk, key, (self.payload_pos % 4) as usize);
        }
        tracer.payload(PayloadRead {
            offset: self.offset,
            payload_offset: self.payload_pos,
            key: self.header.mask,
            plain: chunk,
        });
        self.offset += n as u64;
        self.payload_pos += n as u64;
        self.remaining -= n as u64;
        let last = self.remaining == 0;
        if last {
            self.step = Step::Byte0;
            self.have = 0;
            tracer.frame_end(&self.header, self.offset);
        }
        (n, Decoded::Payload { len: n, last })
    }
}
