//! Idle connections: shrinking buffers, and recycling the whole state for a new connection.

use super::*;

impl<T: Tracer> Connection<T> {
    /// Frees buffer capacity that is not in use (call when a connection goes idle, to keep
    /// idle connections small). Costs a reallocation the next time a buffer is needed.
    pub fn shrink_buffers(&mut self) {
        if !self.has_output() {
            self.out.output = Vec::new();
            self.out.output_pos = 0;
        }
        if self.message.is_none() {
            self.buffer = Vec::new();
            self.release_message = false;
        }
        if self.decoder.at_frame_boundary() {
            self.control = Vec::new();
        }
        // Without context takeover, compression state lives for one message only.
        #[cfg(feature = "deflate")]
        {
            let idle_out = !self.out.sending_fragmented;
            if let Some(p) = self.out.pmd.as_deref_mut() {
                if p.compressor.stateless_between_messages() && idle_out {
                    p.compressor.release_or_reset(true);
                }
                if self.message.is_none() {
                    p.decompressor.release();
                }
            }
        }
    }
}

impl<T: Tracer> Connection<T> {
    /// Whether the connection holds nothing that depends on the bytes seen so far: open,
    /// between frames, no message half received, no fragmented message half sent, no output
    /// waiting, no handshake in progress.
    ///
    /// Two idle connections with the same role and [`Config`] behave the same on any future
    /// input, so a server may drop an idle connection's state (or lend it to another socket,
    /// after [`Connection::recycle`]) and pick up an equivalent one when bytes arrive. That
    /// is how `wslens serve` keeps an idle WebSocket to a few hundred bytes.
    ///
    /// permessage-deflate is state too: a connection is idle only if its deflate settings are
    /// the ones its [`Config`] would give a new connection (so one negotiated by the handshake
    /// never is) and it holds no LZ77 context (RFC 7692 §7.2.3.2: none is kept without
    /// context takeover, once [`Connection::shrink_buffers`] has run).
    pub fn is_idle(&self) -> bool {
        self.out.state == State::Open
            && !self.out.has_output()
            && !self.out.sending_fragmented
            && self.handshake.is_none()
            && self.early.is_empty()
            && self.message.is_none()
            && self.decoder.at_frame_boundary()
            && !self.utf8.is_incomplete()
            && self.deflate_as_configured()
    }
}

impl<T: Tracer> Connection<T> {
    /// Whether the deflate state is what [`Config::deflate`] gives a new connection.
    pub(super) fn deflate_as_configured(&self) -> bool {
        #[cfg(feature = "deflate")]
        {
            match (self.out.pmd.as_deref(), self.config.deflate) {
                (None, None) => true,
                (Some(p), Some(c)) => {
                    p.params == c
                        && !p.compressor.holds_context()
                        && !p.decompressor.holds_context()
                }
                _ => false,
            }
        }
        #[cfg(not(feature = "deflate"))]
        {
            self.out.pmd.is_none()
        }
    }
}

impl<T: Tracer> Connection<T> {
    /// Makes an idle connection (see [`Connection::is_idle`]) as good as new: stream offsets
    /// start again at 0 and buffers keep at most [`Connection::RECYCLE_KEEP`] bytes of
    /// capacity each (so a pool of recycled connections is small, and reusing one for a
    /// small message allocates nothing). Returns `false`, changing nothing, if the
    /// connection is not idle.
    pub fn recycle(&mut self) -> bool {
        if !self.is_idle() {
            return false;
        }
        self.decoder = FrameDecoder::new(
            self.out.role,
            self.config.max_frame_size,
            self.config.reserved_bits,
        );
        #[cfg(feature = "deflate")]
        if let Some(p) = self.out.pmd.as_deref_mut() {
            // As configured (is_idle checked): RSV1 allowed, no context held; free the rest.
            self.decoder
                .set_allowed_rsv(self.config.reserved_bits | FrameHeader::RSV1);
            p.compressor.release_or_reset(true);
            p.decompressor.release();
        }
        self.frame = FrameHeader::new(OpCode::Continuation, 0);
        self.message_len = 0;
        self.utf8.reset();
        self.release_message = false;
        for buf in [&mut self.out.output, &mut self.buffer, &mut self.control] {
            if buf.capacity() > Connection::<NoTrace>::RECYCLE_KEEP {
                *buf = Vec::new();
            } else {
                buf.clear();
            }
        }
        self.out.output_pos = 0;
        true
    }
}
