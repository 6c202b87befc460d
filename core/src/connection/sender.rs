//! The sending half of a connection: what may still be sent, and the output buffer — RFC 6455 §5.1-§5.5.

use super::*;

/// The sending half of a [`Connection`]: the state machine's view of what may still be sent,
/// and the output buffer.
pub struct Sender {
    pub(super) role: Role,
    pub(super) state: State,
    pub(super) output: Vec<u8>,
    pub(super) output_pos: usize,
    pub(super) sending_fragmented: bool,
    /// The fragmented message being sent went out with RSV1 clear
    /// ([`Sender::send_frame_uncompressed`]): its continuations stay uncompressed.
    pub(super) fragmented_plain: bool,
    pub(super) mask_source: Option<MaskSource>,
    /// permessage-deflate, once agreed (the receive side uses it too).
    pub(super) pmd: Option<Box<Pmd>>,
    /// [`Config::fragment_size`]: the largest data frame a message is sent in.
    pub(super) fragment_size: Option<usize>,
}

impl Sender {
    #[cfg(feature = "deflate")]
    pub(super) fn out_compressor(&mut self) -> Option<&mut Compressor> {
        self.pmd.as_deref_mut().map(|p| &mut p.compressor)
    }

    /// Fails the connection (§7.1.7): queue a close frame with the error's code unless one was
    /// already sent, and stop.
    pub(super) fn fail(&mut self, error: Error) -> Error {
        if let Error::Protocol { kind, .. } = &error {
            if self.state == State::Open {
                let mut payload = Vec::with_capacity(2 + 64);
                payload.extend_from_slice(&kind.close_code().0.to_be_bytes());
                payload.extend_from_slice(truncate_reason(kind.description()).as_bytes());
                self.write_frame(true, OpCode::Close, &payload);
            }
        }
        self.state = State::Closed;
        error
    }

    /// The connection state.
    pub const fn state(&self) -> State {
        self.state
    }

    /// Sends a text message, fragmented per [`Config::fragment_size`] (one frame by default).
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.send(OpCode::Text, text.as_bytes())
    }

    /// Sends a binary message, fragmented per [`Config::fragment_size`] (one frame by default).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.send(OpCode::Binary, data)
    }

    /// Sends a message of type `opcode` (`Text` or `Binary`), in frames of at most
    /// [`Config::fragment_size`] payload bytes when that is set (§5.4). Text must be valid
    /// UTF-8: use [`Sender::send_text`]. One frame whatever the configuration: [`Sender::send_frame`].
    pub fn send(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), Error> {
        self.send_message(opcode, payload, self.fragment_size)
    }

    /// [`Sender::send`] with frames of at most `fragment_size` payload bytes (`None`: one).
    fn send_message(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        fragment_size: Option<usize>,
    ) -> Result<(), Error> {
        self.check_can_start_message(opcode)?;
        #[cfg(feature = "deflate")]
        if let Some(c) = self.out_compressor() {
            // RFC 7692 §7.2.1: compress the whole message, then frame the compressed bytes;
            // RSV1 on the first frame only (§6.1).
            let mut data = core::mem::take(&mut c.scratch);
            data.clear();
            let result = c.compress(payload, &mut data, true);
            if result.is_ok() {
                self.write_message(opcode, FrameHeader::RSV1, &data, fragment_size);
            }
            if let Some(c) = self.out_compressor() {
                // Keep a modest buffer for the next message; give big ones back.
                if data.capacity() <= 64 * 1024 {
                    c.scratch = data;
                }
            }
            return result.map_err(Error::Compression);
        }
        self.write_message(opcode, 0, payload, fragment_size);
        Ok(())
    }

    /// Sends a message with RSV1 clear, uncompressed even when permessage-deflate is in use
    /// (RFC 7692 §6: compression is per message, and "an endpoint MAY send" one uncompressed),
    /// fragmented per [`Config::fragment_size`]. Without the extension it is [`Sender::send`].
    pub fn send_uncompressed(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), Error> {
        self.check_can_start_message(opcode)?;
        if opcode == OpCode::Text && core::str::from_utf8(payload).is_err() {
            return Err(Error::InvalidInput("text must be valid UTF-8"));
        }
        self.write_message(opcode, 0, payload, self.fragment_size);
        Ok(())
    }

    /// Sends a message in one frame (§5.2) without copying the payload into the output when
    /// it can go straight to the transport: `write` is handed the frame header and the payload
    /// (for one vectored write, say) and returns how many of their bytes it wrote; whatever
    /// it did not write is queued as output, exactly as [`Sender::send`] would have.
    ///
    /// `write` is called only when the bytes may leave first and unchanged: in the server
    /// role (a client masks, §5.3, which needs a copy), with nothing already pending (order),
    /// and without permessage-deflate. Otherwise this is [`Sender::send`] with no
    /// fragmentation, and `write` is not called.
    pub fn send_direct(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        write: impl FnOnce(&[u8], &[u8]) -> usize,
    ) -> Result<(), Error> {
        let direct = self.role == Role::Server && !self.has_output() && self.pmd.is_none();
        if !direct {
            return self.send_message(opcode, payload, None);
        }
        self.check_can_start_message(opcode)?;
        let header = FrameHeader::new(opcode, payload.len() as u64);
        let mut bytes = [0u8; FrameHeader::MAX_LEN];
        let Some(len) = header.encode(&mut bytes) else {
            return self.send_message(opcode, payload, None);
        };
        let head = &bytes[..len];
        let written = write(head, payload).min(len + payload.len());
        // Queue what the transport did not take.
        if written < len {
            self.output.extend_from_slice(&head[written..]);
            self.output.extend_from_slice(payload);
        } else {
            self.output.extend_from_slice(&payload[written - len..]);
        }
        Ok(())
    }

    /// Frames a message's payload (already compressed when `rsv` has RSV1).
    pub(super) fn write_message(
        &mut self,
        opcode: OpCode,
        rsv: u8,
        payload: &[u8],
        fragment_size: Option<usize>,
    ) {
        match fragment_size {
            Some(size) if size > 0 && payload.len() > size => {
                let mut chunks = payload.chunks(size).peekable();
                let (mut op, mut rsv) = (opcode, rsv);
                while let Some(chunk) = chunks.next() {
                    self.write_frame_rsv(chunks.peek().is_none(), rsv, op, chunk);
                    (op, rsv) = (OpCode::Continuation, 0);
                }
            }
            _ => self.write_frame_rsv(true, rsv, opcode, payload),
        }
    }

    /// Sends one frame of a message the caller fragments itself: the first with `Text` or
    /// `Binary`, the rest with `Continuation`, the last with `fin` (§5.4). Control frames may
    /// be sent in between.
    pub fn send_frame(&mut self, opcode: OpCode, payload: &[u8], fin: bool) -> Result<(), Error> {
        self.check_frame_fits(opcode, false)?;
        self.sending_fragmented = !fin;
        #[cfg(feature = "deflate")]
        if let Some(c) = self.out_compressor() {
            // A compressed message sent piece by piece: each piece is compressed and
            // sync-flushed as it comes (so it is delivered promptly), the last one loses the
            // 00 00 ff ff tail (RFC 7692 §7.2.1); RSV1 on the first frame only (§6.1).
            let first = opcode != OpCode::Continuation;
            let mut data = core::mem::take(&mut c.scratch);
            data.clear();
            let result = c.compress(payload, &mut data, fin);
            if result.is_ok() {
                let rsv = if first { FrameHeader::RSV1 } else { 0 };
                self.write_frame_rsv(fin, rsv, opcode, &data);
            }
            if let Some(c) = self.out_compressor() {
                if data.capacity() <= 64 * 1024 {
                    c.scratch = data;
                }
            }
            return result.map_err(Error::Compression);
        }
        self.write_frame(fin, opcode, payload);
        Ok(())
    }

    /// [`Sender::send_frame`] with RSV1 clear: one frame of a message sent uncompressed even
    /// when permessage-deflate is in use (RFC 7692 §6). A message started with this method
    /// continues with it, and one started with `send_frame` continues with that.
    pub fn send_frame_uncompressed(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        fin: bool,
    ) -> Result<(), Error> {
        self.check_frame_fits(opcode, true)?;
        self.sending_fragmented = !fin;
        self.fragmented_plain = !fin;
        self.write_frame(fin, opcode, payload);
        Ok(())
    }

    /// Whether a data frame with `opcode` may be sent now (§5.4): a first frame only between
    /// messages, a continuation only inside one, sent the same way (`plain`) as it started.
    fn check_frame_fits(&self, opcode: OpCode, plain: bool) -> Result<(), Error> {
        self.check_can_send()?;
        let ok = match opcode {
            OpCode::Text | OpCode::Binary => !self.sending_fragmented,
            OpCode::Continuation => self.sending_fragmented && self.fragmented_plain == plain,
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidInput(
                "frame does not fit the message being sent",
            ))
        }
    }

    /// Sends a ping (§5.5.2); at most 125 bytes.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.send_control(OpCode::Ping, payload)
    }

    /// Sends an unsolicited pong (§5.5.3); at most 125 bytes.
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.send_control(OpCode::Pong, payload)
    }

    pub(super) fn send_control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), Error> {
        self.check_can_send()?;
        if payload.len() > 125 {
            return Err(Error::InvalidInput("control frame payload over 125 bytes"));
        }
        self.write_frame(true, opcode, payload);
        Ok(())
    }

    /// Starts the closing handshake (§5.5.1, §7.1.2) with `code` and a reason (cut to 123
    /// bytes on a character boundary). The state becomes [`State::Closing`].
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.check_can_send()?;
        if !code.is_allowed_on_wire() {
            return Err(Error::InvalidInput(
                "close code may not be sent (RFC 6455 §7.4)",
            ));
        }
        let reason = truncate_reason(reason);
        let mut payload = [0u8; 125];
        payload[..2].copy_from_slice(&code.0.to_be_bytes());
        payload[2..2 + reason.len()].copy_from_slice(reason.as_bytes());
        self.write_frame(true, OpCode::Close, &payload[..2 + reason.len()]);
        self.state = State::Closing;
        Ok(())
    }

    /// Whether a whole message of type `opcode` may be sent now: open, `Text` or `Binary`,
    /// and no fragmented message in progress.
    pub(super) fn check_can_start_message(&self, opcode: OpCode) -> Result<(), Error> {
        self.check_can_send()?;
        if !matches!(opcode, OpCode::Text | OpCode::Binary) {
            return Err(Error::InvalidInput("a message is Text or Binary"));
        }
        if self.sending_fragmented {
            return Err(Error::InvalidState("a fragmented message is being sent"));
        }
        Ok(())
    }

    pub(super) fn check_can_send(&self) -> Result<(), Error> {
        match self.state {
            State::Open => Ok(()),
            State::Connecting => Err(Error::InvalidState("the handshake is not complete")),
            State::Closing | State::Closed => Err(Error::SendAfterClose),
        }
    }

    /// Encodes one frame into the output, masking it in the client role (§5.3).
    pub(super) fn write_frame(&mut self, fin: bool, opcode: OpCode, payload: &[u8]) {
        self.write_frame_rsv(fin, 0, opcode, payload);
    }

    /// [`Sender::write_frame`] with RSV bits (RSV1: compressed, RFC 7692 §6).
    pub(super) fn write_frame_rsv(&mut self, fin: bool, rsv: u8, opcode: OpCode, payload: &[u8]) {
        let mask = match self.role {
            Role::Client => Some(self.mask_source.as_mut().map_or([0; 4], |f| f())),
            Role::Server => None,
        };
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        };
        header.encode_into(&mut self.output);
        let start = self.output.len();
        self.output.extend_from_slice(payload);
        if let Some(key) = mask {
            apply_mask(&mut self.output[start..], key, 0);
        }
    }

    /// Bytes waiting to be written to the transport.
    pub fn pending_output(&self) -> &[u8] {
        &self.output[self.output_pos..]
    }

    /// Whether there is anything to write.
    pub fn has_output(&self) -> bool {
        self.output_pos < self.output.len()
    }

    /// Marks the first `n` bytes of [`Connection::pending_output`] as written.
    pub fn consume_output(&mut self, n: usize) {
        self.output_pos = (self.output_pos + n).min(self.output.len());
        if self.output_pos == self.output.len() {
            self.output.clear();
            self.output_pos = 0;
        }
    }

    /// Takes all pending output.
    pub fn take_output(&mut self) -> Vec<u8> {
        let mut out = core::mem::take(&mut self.output);
        out.drain(..self.output_pos);
        self.output_pos = 0;
        out
    }
}
