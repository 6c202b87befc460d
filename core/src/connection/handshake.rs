//! The opening-handshake phase of a connection — RFC 6455 §4.

use super::*;

/// The opening-handshake phase (boxed: an open connection does not carry it).
pub(super) enum Handshake {
    Server {
        parser: RequestParser,
        buf: Vec<u8>,
        request: Option<Request>,
    },
    Client {
        handshake: ClientHandshake,
        buf: Vec<u8>,
        response: Option<Response>,
    },
}

impl Handshake {
    /// Feeds handshake bytes: copies at most what the header cap allows into the head buffer
    /// and parses. Returns the bytes of `input` used and whether the head is complete (its
    /// request or response is then stored).
    pub(super) fn feed(
        &mut self,
        input: &[u8],
        max_header_bytes: usize,
    ) -> Result<(usize, bool), HandshakeError> {
        let buf = match self {
            Handshake::Server { buf, .. } | Handshake::Client { buf, .. } => buf,
        };
        let before = buf.len();
        let take = input
            .len()
            .min(crate::handshake::head_room(max_header_bytes, before));
        buf.extend_from_slice(&input[..take]);
        match self {
            Handshake::Server {
                parser,
                buf,
                request,
            } => Ok(stored(parser.parse(buf)?, buf, request, take, before)),
            Handshake::Client {
                handshake,
                buf,
                response,
            } => Ok(stored(
                handshake.parse_response(buf)?,
                buf,
                response,
                take,
                before,
            )),
        }
    }
}

/// What [`Handshake::feed`] returns for one parse of the head buffer: `(take, false)` while
/// the head is partial; once it is complete, the head's bytes that came from this input and
/// `true`, with the parsed head kept in `slot` and the buffer freed.
fn stored<P>(
    status: Status<P>,
    buf: &mut Vec<u8>,
    slot: &mut Option<P>,
    take: usize,
    before: usize,
) -> (usize, bool) {
    match status {
        Status::Partial => (take, false),
        Status::Complete(parsed, used) => {
            *buf = Vec::new();
            *slot = Some(parsed);
            (used - before, true)
        }
    }
}

impl<T: Tracer> Connection<T> {
    /// Server role: a request was delivered and neither accept nor reject was called yet.
    pub(super) fn awaiting_decision(&self) -> bool {
        matches!(
            self.handshake.as_deref(),
            Some(Handshake::Server {
                request: Some(_),
                ..
            })
        ) && self.out.state == State::Connecting
    }

    pub(super) fn read_handshake(&mut self, input: &[u8]) -> Result<(usize, Option<Ready>), Error> {
        if self.awaiting_decision() {
            return Err(Error::InvalidState("call accept() or reject() first"));
        }
        let Some(handshake) = self.handshake.as_deref_mut() else {
            return Err(Error::InvalidState("no handshake in progress"));
        };
        match handshake.feed(input, self.config.max_header_bytes) {
            Ok((used, false)) => Ok((used, None)),
            Ok((used, true)) => {
                if self.out.role == Role::Client {
                    self.out.state = State::Open;
                    #[cfg(feature = "deflate")]
                    if let Some(Handshake::Client {
                        response:
                            Some(Response {
                                deflate: Some(params),
                                ..
                            }),
                        ..
                    }) = self.handshake.as_deref()
                    {
                        let params = *params;
                        self.enable_deflate(params);
                    }
                }
                Ok((used, Some(Ready::Handshake)))
            }
            Err(e) => {
                self.out.state = State::Closed;
                if self.out.role == Role::Server {
                    self.out.output.extend_from_slice(&e.response());
                }
                self.handshake = None;
                Err(Error::Handshake(e))
            }
        }
    }

    /// Server role: accepts the request delivered in [`Event::Request`], queuing the 101
    /// response (RFC 6455 §4.2.2). The connection is then [`State::Open`]. Bytes that came
    /// after the head are read at the next [`Connection::receive`] (or `read`): call it with
    /// no new input to read them at once.
    pub fn accept(&mut self, options: &AcceptOptions<'_>) -> Result<(), Error> {
        match self.handshake.as_deref() {
            Some(Handshake::Server {
                request: Some(request),
                ..
            }) if self.out.state == State::Connecting => {
                #[cfg(feature = "deflate")]
                let agreement = options
                    .deflate
                    .and_then(|cfg| crate::deflate::negotiate(&request.extensions, cfg));
                #[cfg(not(feature = "deflate"))]
                let agreement: Option<crate::deflate::Agreement> = None;
                let response = match &agreement {
                    Some(a) => {
                        let extensions = match options.extensions {
                            Some(other) => alloc::format!("{other}, {}", a.response),
                            None => a.response.clone(),
                        };
                        let opts = AcceptOptions {
                            extensions: Some(&extensions),
                            ..*options
                        };
                        accept_response(request, &opts)
                    }
                    None => accept_response(request, options),
                };
                self.out.output.extend_from_slice(&response);
                self.out.state = State::Open;
                self.handshake = None;
                #[cfg(feature = "deflate")]
                if let Some(a) = agreement {
                    self.enable_deflate(a.params);
                }
                Ok(())
            }
            _ => Err(Error::InvalidState(
                "accept() needs a received, undecided request",
            )),
        }
    }

    /// Server role: refuses the handshake with an HTTP `status` and a plain-text `body` saying
    /// why (§4.2.2). The connection is then [`State::Closed`].
    pub fn reject(&mut self, status: u16, body: &str) -> Result<(), Error> {
        if self.out.state != State::Connecting || self.out.role != Role::Server {
            return Err(Error::InvalidState(
                "reject() is only for a server handshake",
            ));
        }
        self.out
            .output
            .extend_from_slice(&reject_response(status, body));
        self.out.state = State::Closed;
        self.handshake = None;
        Ok(())
    }
}
