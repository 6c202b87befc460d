//! Each field of a frame and each line of an opening handshake, explained for a learner:
//! what it is and why the rule exists, the RFC's own sentence, and a link to its section.
//!
//! The inspector's field rows ([`FieldRow`](super::FieldRow)) say what a value *means*;
//! a [`Lesson`] says why the field is there at all. The CLI and the page show the same text.

use crate::trace::Field;
use alloc::format;
use alloc::string::String;

/// A field or header line explained: the why, the RFC's sentence, and where to read on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lesson {
    /// What it is and why the rule exists, for someone meeting it for the first time.
    pub why: &'static str,
    /// The RFC's own sentence (quoted verbatim, `|Name|` as the RFC writes header names).
    pub quote: &'static str,
    /// The RFC and section the quote is from, e.g. `"RFC 6455 §5.2"`.
    pub rfc: &'static str,
}

impl Lesson {
    /// A link to [`Lesson::rfc`]'s section on rfc-editor.org, e.g.
    /// `https://www.rfc-editor.org/rfc/rfc6455#section-5.2`.
    pub fn url(&self) -> String {
        let (number, section) = self
            .rfc
            .trim_start_matches("RFC ")
            .split_once(" §")
            .unwrap_or((self.rfc, ""));
        format!("https://www.rfc-editor.org/rfc/rfc{number}#section-{section}")
    }
}

/// The lesson for a frame header field (RFC 6455 §5.2, §5.3).
pub const fn field_lesson(field: Field) -> Lesson {
    match field {
        Field::Fin => Lesson {
            why: "A message can be cut into fragments, so a sender can start before it knows \
                  the whole length, or slip a ping in between. FIN = 1 marks the last fragment; \
                  a message sent in one frame has FIN = 1 on that frame.",
            quote: "Indicates that this is the final fragment in a message. The first fragment \
                    MAY also be the final fragment.",
            rfc: "RFC 6455 §5.2",
        },
        Field::Rsv1 | Field::Rsv2 | Field::Rsv3 => Lesson {
            why: "Room for extensions to grow the protocol. Only an extension agreed in the \
                  handshake may use these bits (permessage-deflate takes RSV1 to mean \
                  \"compressed\"); a bit set without one means the peer speaks something this \
                  end does not, so the connection fails rather than guess.",
            quote: "MUST be 0 unless an extension is negotiated that defines meanings for \
                    non-zero values. If a nonzero value is received and none of the negotiated \
                    extensions defines the meaning of such a nonzero value, the receiving \
                    endpoint MUST _Fail the WebSocket Connection_.",
            rfc: "RFC 6455 §5.2",
        },
        Field::Opcode => Lesson {
            why: "How to read the payload: 0x1 text (it must be UTF-8), 0x2 binary, 0x0 the next \
                  fragment of a message; 0x8 close, 0x9 ping and 0xA pong are control frames, \
                  short and never fragmented, allowed between the fragments of a message. An \
                  unknown opcode fails the connection, so a future one is never misread.",
            quote: "Defines the interpretation of the \"Payload data\". If an unknown opcode is \
                    received, the receiving endpoint MUST _Fail the WebSocket Connection_.",
            rfc: "RFC 6455 §5.2",
        },
        Field::Mask => Lesson {
            why: "Every frame from a client is masked and no frame from a server is. Masking is \
                  not encryption (the key is in the frame): it keeps a script in a web page from \
                  choosing the bytes its browser puts on the wire, bytes that a confused proxy \
                  could take for an HTTP request and poison its cache with (RFC 6455 §10.3).",
            quote: "All frames sent from client to server have this bit set to 1.",
            rfc: "RFC 6455 §5.2",
        },
        Field::PayloadLen => Lesson {
            why: "Seven bits hold a length of 0 to 125 directly, which covers every control \
                  frame and most chat messages in one byte. 126 and 127 are escapes: the real \
                  length follows in 2 or 8 bytes. The shortest form is required, so a length \
                  has exactly one encoding.",
            quote: "The length of the \"Payload data\", in bytes: if 0-125, that is the payload \
                    length.",
            rfc: "RFC 6455 §5.2",
        },
        Field::ExtendedLen16 => Lesson {
            why: "The 7-bit length said 126, so the length is these two bytes, most significant \
                  first (network byte order): 126 to 65,535 bytes.",
            quote: "If 126, the following 2 bytes interpreted as a 16-bit unsigned integer are \
                    the payload length.",
            rfc: "RFC 6455 §5.2",
        },
        Field::ExtendedLen64 => Lesson {
            why: "The 7-bit length said 127, so the length is these eight bytes, most \
                  significant first. Its top bit must be 0, so the length fits a signed 64-bit \
                  integer too.",
            quote: "If 127, the following 8 bytes interpreted as a 64-bit unsigned integer (the \
                    most significant bit MUST be 0) are the payload length.",
            rfc: "RFC 6455 §5.2",
        },
        Field::MaskingKey(_) => Lesson {
            why: "Four random bytes, fresh for every frame, chosen by the browser, not by the \
                  page's script: payload byte i is XORed with key byte i mod 4. As the script \
                  cannot predict them, it cannot control which bytes reach the network.",
            quote: "The masking key needs to be unpredictable; thus, the masking key MUST be \
                    derived from a strong source of entropy, and the masking key for a given \
                    frame MUST NOT make it simple for a server/proxy to predict the masking key \
                    for a subsequent frame.",
            rfc: "RFC 6455 §5.3",
        },
    }
}

/// The lesson for an opening handshake's start line: the request line (`GET … HTTP/1.1`)
/// or the status line (`HTTP/1.1 101 Switching Protocols`).
pub const fn start_line_lesson(is_response: bool) -> Lesson {
    if is_response {
        Lesson {
            why: "101 means the server agrees: after this head, the same TCP connection \
                  carries WebSocket frames, not HTTP. Any other status is an ordinary HTTP \
                  answer and the connection never becomes a WebSocket.",
            quote: "If the status code received from the server is not 101, the client handles \
                    the response per HTTP [RFC2616] procedures.",
            rfc: "RFC 6455 §4.1",
        }
    } else {
        Lesson {
            why: "A WebSocket starts life as an ordinary HTTP/1.1 GET, so it passes through the \
                  same ports, proxies and servers as the web; the path names the resource \
                  (here, which WebSocket endpoint).",
            quote: "The method of the request MUST be GET, and the HTTP version MUST be at least \
                    1.1.",
            rfc: "RFC 6455 §4.1",
        }
    }
}

/// The lesson for a handshake header (case-insensitive name) of a request, or of a response
/// when `in_response`; any other header gets the lesson that the handshake leaves it to HTTP.
pub fn header_lesson(name: &str, in_response: bool) -> Lesson {
    let is = |n: &str| name.eq_ignore_ascii_case(n);
    if in_response && (is("Upgrade") || is("Connection")) {
        response_lesson()
    } else if is("Host") {
        Lesson {
            why: "Which site the request is for, as in every HTTP/1.1 request: one address can \
                  serve many names.",
            quote: "The request MUST contain a |Host| header field whose value contains /host/ \
                    plus optionally \":\" followed by /port/ (when not using the default port).",
            rfc: "RFC 6455 §4.1",
        }
    } else if is("Upgrade") {
        Lesson {
            why: "HTTP's way of asking to switch protocols on this connection; \"websocket\" \
                  names the one wanted. The server's 101 repeats it.",
            quote: "The request MUST contain an |Upgrade| header field whose value MUST include \
                    the \"websocket\" keyword.",
            rfc: "RFC 6455 §4.1",
        }
    } else if is("Connection") {
        Lesson {
            why: "Marks Upgrade as a hop-by-hop header: a proxy must act on it, not forward \
                  it blindly. Without it, an intermediary could pass the upgrade along \
                  half-understood.",
            quote: "The request MUST contain a |Connection| header field whose value MUST \
                    include the \"Upgrade\" token.",
            rfc: "RFC 6455 §4.1",
        }
    } else if is("Sec-WebSocket-Key") {
        Lesson {
            why: "16 random bytes in base64, new for every connection. The server must prove it \
                  read them (Sec-WebSocket-Accept), so a server that does not speak WebSocket, \
                  or a cache replaying an old answer, cannot accept by accident. It is not \
                  security: anyone can compute the answer.",
            quote: "The value of this header field MUST be a nonce consisting of a randomly \
                    selected 16-byte value that has been base64-encoded (see Section 4 of \
                    [RFC4648]).",
            rfc: "RFC 6455 §4.1",
        }
    } else if is("Sec-WebSocket-Accept") {
        Lesson {
            why: "The proof that the server understood this request: base64(SHA-1(the key + \
                  the fixed GUID 258EAFA5-E914-47DA-95CA-C5AB0DC85B11)). The browser checks it \
                  and fails the connection if it is wrong.",
            quote: "The value of this header field is constructed by concatenating /key/, \
                    defined above in step 4 in Section 4.2.2, with the string \
                    \"258EAFA5-E914-47DA-95CA-C5AB0DC85B11\", taking the SHA-1 hash of this \
                    concatenated value to obtain a 20-byte value and base64-encoding (see \
                    Section 4 of [RFC4648]) this 20-byte hash.",
            rfc: "RFC 6455 §4.2.2",
        }
    } else if is("Sec-WebSocket-Version") {
        Lesson {
            why: "The protocol version: 13 is RFC 6455's (the drafts before it used others). A \
                  server that speaks another answers 426 with the versions it has.",
            quote: "The value of this header field MUST be 13.",
            rfc: "RFC 6455 §4.1",
        }
    } else if is("Sec-WebSocket-Protocol") {
        Lesson {
            why: "Application protocols the client can speak over the socket, by preference \
                  (the page's second argument to new WebSocket()). The server picks one, or \
                  none, and says which in its 101.",
            quote: "If present, this value indicates one or more comma-separated subprotocol \
                    the client wishes to speak, ordered by preference.",
            rfc: "RFC 6455 §4.1",
        }
    } else if is("Sec-WebSocket-Extensions") {
        Lesson {
            why: "Extensions offered with their parameters (a browser offers permessage-deflate, \
                  RFC 7692). The server's 101 lists the ones in force; only those may use the \
                  RSV bits.",
            quote: "If present, this value indicates the protocol-level extension(s) the \
                    client wishes to speak.",
            rfc: "RFC 6455 §4.1",
        }
    } else if is("Origin") {
        Lesson {
            why: "The site whose page opened the socket. The browser sets it and scripts cannot \
                  forge it, so a server can refuse pages from sites it does not trust: \
                  WebSockets are not bound by the same-origin policy.",
            quote: "The request MUST include a header field with the name |Origin| [RFC6454] if \
                    the request is coming from a browser client.",
            rfc: "RFC 6455 §4.1",
        }
    } else {
        Lesson {
            why: "An ordinary HTTP header: the WebSocket handshake neither needs nor checks it \
                  (cookies and Authorization are read by the application, User-Agent is for \
                  logs).",
            quote: "The request MAY include any other header fields, for example, cookies \
                    [RFC6265] and/or authentication-related header fields such as the \
                    |Authorization| header field [RFC2616], which are processed according to \
                    documents that define them.",
            rfc: "RFC 6455 §4.1",
        }
    }
}

/// The lesson for the 101's Upgrade and Connection headers, which echo the request's.
const fn response_lesson() -> Lesson {
    Lesson {
        why: "The server repeats Upgrade: websocket and Connection: Upgrade to confirm the \
              switch; the client checks both.",
        quote: "If the response lacks an |Upgrade| header field or the |Upgrade| header field \
                contains a value that is not an ASCII case-insensitive match for the value \
                \"websocket\", the client MUST _Fail the WebSocket Connection_.",
        rfc: "RFC 6455 §4.2.2",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: [Field; 12] = [
        Field::Fin,
        Field::Rsv1,
        Field::Rsv2,
        Field::Rsv3,
        Field::Opcode,
        Field::Mask,
        Field::PayloadLen,
        Field::ExtendedLen16,
        Field::ExtendedLen64,
        Field::MaskingKey(0),
        Field::MaskingKey(1),
        Field::MaskingKey(3),
    ];

    #[test]
    fn every_field_has_a_lesson_whose_link_names_its_section() {
        for field in FIELDS {
            let l = field_lesson(field);
            assert!(l.why.len() > 60 && l.quote.len() > 30, "{field:?}");
            // "RFC 6455 §5.3" links to "…#section-5.3", and the field's own section agrees.
            let section = l.rfc.trim_start_matches("RFC 6455 §");
            assert_eq!(
                l.url(),
                format!("https://www.rfc-editor.org/rfc/rfc6455#section-{section}"),
                "{field:?}"
            );
            assert!(l.rfc.ends_with(field.rfc_section()), "{field:?}");
            assert!(
                !l.why.contains("  "),
                "{field:?}: line continuation left a gap"
            );
        }
        assert!(field_lesson(Field::Mask).why.contains("§10.3"));
    }

    #[test]
    fn headers_are_matched_without_case_and_others_are_left_to_http() {
        assert_eq!(
            header_lesson("sec-websocket-key", false),
            header_lesson("Sec-WebSocket-Key", false)
        );
        assert!(header_lesson("SEC-WEBSOCKET-KEY", false)
            .quote
            .contains("16-byte"));
        assert!(header_lesson("User-Agent", false)
            .quote
            .contains("any other header"));
        assert!(header_lesson("Sec-WebSocket-Accept", true)
            .why
            .contains("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"));
        assert_eq!(
            header_lesson("upgrade", true).url(),
            "https://www.rfc-editor.org/rfc/rfc6455#section-4.2.2"
        );
        assert!(header_lesson("upgrade", false)
            .quote
            .contains("MUST contain"));
        assert!(start_line_lesson(false).quote.contains("MUST be GET"));
        assert!(start_line_lesson(true).quote.contains("not 101"));
        for name in [
            "Host",
            "Upgrade",
            "Connection",
            "Sec-WebSocket-Version",
            "Sec-WebSocket-Protocol",
            "Sec-WebSocket-Extensions",
            "Origin",
        ] {
            let l = header_lesson(name, false);
            assert!(!l.quote.contains("any other header"), "{name}");
            let section = l.rfc.trim_start_matches("RFC 6455 §");
            assert!(
                l.url().ends_with(&format!("rfc6455#section-{section}")),
                "{name}"
            );
        }
    }
}
