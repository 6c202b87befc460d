//! The receive side: frames in, messages assembled, control frames answered — RFC 6455 §5.4-§5.6, §6.2, §7.

use super::*;

/// An event with the sending half borrowed alongside it.
pub(super) type EventAndSender<'a> = (Event<'a>, &'a mut Sender);

impl<T: Tracer> Connection<T> {
    /// Reads from `input` until one event is ready or the input is used up. Returns how many
    /// bytes were consumed and the event, if any; call again with the rest of the input.
    /// Without an event, all of the input was consumed (it is buffered if incomplete).
    ///
    /// Payload bytes are unmasked in place, and a message that arrives whole in one frame is
    /// delivered straight from `input` without a copy.
    ///
    /// On a protocol violation the connection is failed (§7.1.7): a close frame with the
    /// right code is queued, the state becomes [`State::Closed`] and the error is returned.
    /// Input that arrives after [`State::Closed`] is discarded.
    pub fn read<'a>(
        &'a mut self,
        input: &'a mut [u8],
    ) -> Result<(usize, Option<Event<'a>>), Error> {
        let (used, ready) = self.next(input)?;
        Ok((used, ready.map(|(event, _)| event)))
    }

    /// Like [`Connection::read`], but hands the event to `f` together with the [`Sender`], so
    /// the message can be answered (echoed, say) while it is still borrowed, without a copy.
    /// Returns the bytes consumed and what `f` returned, if an event was ready.
    pub fn read_with<R>(
        &mut self,
        input: &mut [u8],
        f: impl FnOnce(Event<'_>, &mut Sender) -> R,
    ) -> Result<(usize, Option<R>), Error> {
        let (used, ready) = self.next(input)?;
        Ok((used, ready.map(|(event, sender)| f(event, sender))))
    }

    /// The next event and, borrowed alongside it, the sending half.
    pub(super) fn next<'a>(
        &'a mut self,
        input: &'a mut [u8],
    ) -> Result<(usize, Option<EventAndSender<'a>>), Error> {
        let (used, ready) = self.advance(input)?;
        let Some(ready) = ready else {
            return Ok((used, None));
        };
        self.release_message = matches!(ready, Ready::Message(_));
        let end_offset = self.decoder.offset();
        let Connection {
            out,
            tracer,
            buffer,
            control,
            handshake,
            ..
        } = self;
        match make_event(ready, input, buffer, control, handshake.as_deref()) {
            Ok(event) => Ok((used, Some((event, out)))),
            Err(index) => Err(fail_invalid_text(out, tracer, ready, index, end_offset)),
        }
    }

    /// Runs the state machine over `input` until an event is ready or the input is used up.
    #[inline]
    pub(super) fn advance(&mut self, input: &mut [u8]) -> Result<(usize, Option<Ready>), Error> {
        if self.release_message {
            self.release_message = false;
            self.buffer.clear();
        }
        match self.out.state {
            State::Connecting => return self.read_handshake(input),
            State::Closed => return Ok((input.len(), None)),
            State::Open | State::Closing => {}
        }
        if self.handshake.is_some() {
            self.handshake = None;
        }
        let mut pos = 0;
        loop {
            let (used, decoded) = match self.decoder.decode(&mut input[pos..], &mut self.tracer) {
                Ok(r) => r,
                Err(e) => return Err(self.fail(e)),
            };
            pos += used;
            match decoded {
                Decoded::NeedMore(_) => return Ok((pos, None)),
                Decoded::Header(header) => self.on_header(header)?,
                Decoded::Payload { len, last } => {
                    let start = pos - len;
                    if let Some(ready) = self.on_payload(&mut input[start..pos], start, last)? {
                        return Ok((pos, Some(ready)));
                    }
                }
            }
        }
    }

    /// Convenience over [`Connection::read`]: feeds all of `input` and appends owned events to
    /// `events`. On error, the events before it are in `events`.
    ///
    /// Server role: bytes that follow the request head (a client may send its first frames
    /// with it) wait while the request awaits [`Connection::accept`] or
    /// [`Connection::reject`], and are read at the next call: call `receive(&[], events)`
    /// right after accepting so they are not left until the peer sends more.
    pub fn receive(&mut self, input: &[u8], events: &mut Vec<OwnedEvent>) -> Result<(), Error> {
        let mut buf = core::mem::take(&mut self.early);
        buf.extend_from_slice(input);
        let mut pos = 0;
        while pos < buf.len() || buf.is_empty() {
            if self.awaiting_decision() {
                self.early = buf.split_off(pos);
                return Ok(());
            }
            let (used, event) = self.read(&mut buf[pos..])?;
            pos += used;
            match event {
                Some(e) => events.push(e.to_owned()),
                None => break,
            }
        }
        Ok(())
    }

    /// The transport reached end-of-file (§7.1.5). Returns `Some(1006)` if the connection
    /// was not closed cleanly, and moves to [`State::Closed`].
    pub fn receive_eof(&mut self) -> Option<CloseCode> {
        let clean = self.out.state == State::Closed;
        self.out.state = State::Closed;
        (!clean).then_some(CloseCode::ABNORMAL)
    }

    /// Validates a frame header against the message in progress (§5.4) and the limits.
    #[inline]
    pub(super) fn on_header(&mut self, header: FrameHeader) -> Result<(), Error> {
        self.frame = header;
        let at = self.decoder.frame_start();
        match header.opcode {
            OpCode::Continuation => {
                if self.message.is_none() {
                    return Err(self.fail_at(ProtocolError::UnexpectedContinuation, at));
                }
                if header.rsv != 0 {
                    // Per-message extensions (RFC 7692 §6) set RSV bits on the first frame only.
                    return Err(self.fail_at(self.rsv_error(header.rsv), at));
                }
            }
            OpCode::Text | OpCode::Binary => {
                if self.message.is_some() {
                    return Err(self.fail_at(ProtocolError::ExpectedContinuation, at));
                }
                self.message = Some(header.opcode);
                self.message_len = 0;
                self.utf8.reset();
                if let Some(p) = self.out.pmd.as_deref_mut() {
                    p.compressed = header.rsv & FrameHeader::RSV1 != 0;
                    p.wire_len = 0;
                }
            }
            OpCode::Close | OpCode::Ping | OpCode::Pong => {
                if self.out.pmd.is_some() && header.rsv & FrameHeader::RSV1 != 0 {
                    // RFC 7692 §6.1: control frames are never compressed.
                    return Err(self.fail_at(ProtocolError::MisplacedCompressionBit, at));
                }
                self.control.clear();
                return Ok(());
            }
        }
        if let Some(p) = self.out.pmd.as_deref_mut().filter(|p| p.compressed) {
            // The limit applies to the inflated size (checked as it is produced). The
            // compressed bytes are never buffered, but they are bounded too, with room for
            // DEFLATE's worst-case growth on incompressible data (9 bits per byte with fixed
            // Huffman codes), so an endless message of empty blocks cannot go on forever.
            p.wire_len = p.wire_len.saturating_add(header.payload_len);
            let max = self.config.max_message_size as u64;
            if p.wire_len > max.saturating_add(max / 8).saturating_add(1024) {
                return Err(self.fail_at(ProtocolError::MessageTooBig, at + 1));
            }
            return Ok(());
        }
        let total = (self.message_len as u64).saturating_add(header.payload_len);
        if total > self.config.max_message_size as u64 {
            return Err(self.fail_at(ProtocolError::MessageTooBig, at + 1));
        }
        Ok(())
    }

    /// RSV bits on a continuation frame: RSV1 with permessage-deflate in force is the
    /// compression bit out of place (RFC 7692 §6.1).
    pub(super) fn rsv_error(&self, rsv: u8) -> ProtocolError {
        if self.out.pmd.is_some() && rsv & FrameHeader::RSV1 != 0 {
            ProtocolError::MisplacedCompressionBit
        } else {
            ProtocolError::ReservedBitsSet
        }
    }

    /// Handles a run of (unmasked) payload bytes, `chunk`, which sits at `input[start..]`.
    #[inline]
    pub(super) fn on_payload(
        &mut self,
        chunk: &mut [u8],
        start: usize,
        last: bool,
    ) -> Result<Option<Ready>, Error> {
        let end = start + chunk.len();
        let whole = last && chunk.len() as u64 == self.frame.payload_len;
        let stream_offset = self.decoder.offset() - chunk.len() as u64;
        let opcode = self.frame.opcode;
        if opcode.is_control() {
            let kind = match opcode {
                OpCode::Ping => Kind::Ping,
                OpCode::Pong => Kind::Pong,
                _ => Kind::Close,
            };
            if !whole {
                self.control.extend_from_slice(chunk);
                if !last {
                    return Ok(None);
                }
            }
            let payload_offset = self.decoder.offset() - self.frame.payload_len;
            match kind {
                Kind::Ping if self.config.auto_pong && self.out.state == State::Open => {
                    if whole {
                        self.out.write_frame(true, OpCode::Pong, chunk);
                    } else {
                        let payload = core::mem::take(&mut self.control);
                        self.out.write_frame(true, OpCode::Pong, &payload);
                        self.control = payload;
                    }
                }
                Kind::Close => {
                    let data: &[u8] = if whole { chunk } else { &self.control };
                    if let Err((kind, at)) = parse_close_payload(data) {
                        return Err(self.fail_at(kind, payload_offset + at as u64));
                    }
                    self.on_close_received(whole.then_some(&*chunk));
                }
                _ => {}
            }
            self.tracer.message_end(
                opcode,
                self.frame.payload_len as usize,
                self.decoder.offset(),
            );
            return Ok(Some(if whole {
                Ready::Input(kind, start, end)
            } else {
                Ready::Control(kind)
            }));
        }

        let text = self.message == Some(OpCode::Text);
        let fin = last && self.frame.fin;
        // Without the feature no extension is ever agreed, so nothing arrives compressed.
        #[cfg(feature = "deflate")]
        if self.out.pmd.as_deref().is_some_and(|p| p.compressed) {
            return self.on_compressed_payload(chunk, text, fin);
        }
        self.message_len += chunk.len();
        let single_frame = whole && self.frame.fin && self.frame.opcode != OpCode::Continuation;
        // A text message that arrived whole is validated in one pass below instead.
        let validate_whole = single_frame && !self.config.deliver_fragments;
        if text && !validate_whole {
            if let Err(e) = self.utf8.feed(chunk, fin) {
                return Err(
                    self.fail_at(ProtocolError::InvalidUtf8, stream_offset + e.index as u64)
                );
            }
        }
        if fin {
            self.end_message(text);
        }
        if self.config.deliver_fragments {
            if chunk.is_empty() && !fin {
                return Ok(None);
            }
            return Ok(Some(Ready::Input(Kind::Fragment { text, fin }, start, end)));
        }
        let kind = if text { Kind::Text } else { Kind::Binary };
        if validate_whole {
            // A whole text frame is validated once, when its event is made (`make_event`).
            return Ok(Some(Ready::Input(kind, start, end)));
        }
        self.buffer.extend_from_slice(chunk);
        Ok(fin.then_some(Ready::Message(kind)))
    }

    /// The data message in progress has had its last byte: no message is open any more, and
    /// the trace records its end (opcode, total length, stream offset).
    fn end_message(&mut self, text: bool) {
        self.message = None;
        self.tracer.message_end(
            if text { OpCode::Text } else { OpCode::Binary },
            self.message_len,
            self.decoder.offset(),
        );
    }

    /// A run of a compressed message's payload (RFC 7692 §7.2.2): inflated into the
    /// reassembly buffer (or, delivering fragments, into it as a scratch buffer lent to the
    /// event), never past the message size limit; at the message's end `00 00 ff ff` is
    /// appended. Errors are pinned to the first byte of the frame being inflated.
    #[cfg(feature = "deflate")]
    pub(super) fn on_compressed_payload(
        &mut self,
        chunk: &[u8],
        text: bool,
        fin: bool,
    ) -> Result<Option<Ready>, Error> {
        let at = self.decoder.frame_start();
        let fragments = self.config.deliver_fragments;
        if fragments {
            self.buffer.clear();
        }
        let before = self.buffer.len();
        let limit = if fragments {
            self.config
                .max_message_size
                .saturating_sub(self.message_len)
        } else {
            self.config.max_message_size
        };
        let Some(pmd) = self.out.pmd.as_deref_mut() else {
            return Err(self.fail_at(ProtocolError::InvalidCompressedData, at));
        };
        let inflater = &mut pmd.decompressor;
        let mut result = inflater.inflate(chunk, &mut self.buffer, limit);
        if fin && result.is_ok() {
            result = inflater.finish(&mut self.buffer, limit);
        }
        if fin {
            pmd.compressed = false;
        }
        let produced = self.buffer.len() - before;
        self.message_len += produced;
        if T::ENABLED && produced > 0 {
            self.tracer
                .inflated(self.decoder.offset(), &self.buffer[before..]);
        }
        // The bytes inflated before a failure came first in the stream: their UTF-8 is
        // checked first, so the error does not depend on how the input was chunked.
        let last = fin && result.is_ok();
        if text && self.utf8.feed(&self.buffer[before..], last).is_err() {
            return Err(self.fail_at(ProtocolError::InvalidUtf8, at));
        }
        if let Err(fail) = result {
            let kind = match fail {
                InflateFail::Corrupt => ProtocolError::InvalidCompressedData,
                InflateFail::TooBig => ProtocolError::MessageTooBig,
            };
            return Err(self.fail_at(kind, at));
        }
        if fin {
            self.end_message(text);
        }
        if fragments {
            if produced == 0 && !fin {
                return Ok(None);
            }
            return Ok(Some(Ready::Message(Kind::Fragment { text, fin })));
        }
        let kind = if text { Kind::Text } else { Kind::Binary };
        Ok(fin.then_some(Ready::Message(kind)))
    }

    /// The peer's close frame arrived (and was valid): reply unless we already sent ours.
    pub(super) fn on_close_received(&mut self, whole: Option<&[u8]>) {
        if self.out.state == State::Open {
            let payload = whole.map_or_else(|| self.control.clone(), <[u8]>::to_vec);
            // §5.5.1: echo the status code (not the reason); an empty close gets an empty one.
            let reply_len = payload.len().min(2);
            self.out
                .write_frame(true, OpCode::Close, &payload[..reply_len]);
        }
        self.out.state = State::Closed;
    }

    pub(super) fn fail_at(&mut self, kind: ProtocolError, offset: u64) -> Error {
        self.tracer.error(offset, kind);
        self.out.fail(Error::Protocol { kind, offset })
    }

    pub(super) fn fail(&mut self, error: Error) -> Error {
        self.out.fail(error)
    }

    // ---- Sending (see [`Sender`]) -----------------------------------------------------
}
