// The guided tour's prose, one entry per step of the session the core records
// (wslens::inspect::record_tour, built into pkg/tour.json): the bytes come from there, never
// from here. `rfc` names the section the step is about; the page links it.
export const tourText = {
  request: {
    title: '1. The browser asks to upgrade',
    prose: 'A WebSocket starts as an ordinary HTTP/1.1 GET on a TCP connection. Upgrade: websocket and Connection: Upgrade ask to switch protocols; Sec-WebSocket-Key carries 16 random bytes in base64, new for every connection; Sec-WebSocket-Extensions offers permessage-deflate. (The tour fixes its randomness so it reads the same every time: this key is RFC 6455\'s own sample nonce.)',
    rfc: 'RFC 6455 §4.1',
  },
  accept: {
    title: '2. The server computes the accept key',
    prose: 'To prove it read this request, the server appends the fixed GUID 258EAFA5-E914-47DA-95CA-C5AB0DC85B11 to the key (as text, not decoded), takes the SHA-1 of that and base64-encodes the 20 bytes. A cache replaying an old answer, or a server that does not speak WebSocket, cannot get it right by accident. Here it is, computed by the core:',
    rfc: 'RFC 6455 §1.3',
  },
  response: {
    title: '3. 101 Switching Protocols',
    prose: 'From the blank line that ends this head, the TCP connection carries WebSocket frames and no more HTTP. Sec-WebSocket-Accept is the value just computed, so the browser goes on; Sec-WebSocket-Extensions says permessage-deflate is agreed, so from now on RSV1 may mean "compressed".',
    rfc: 'RFC 6455 §4.2.2',
  },
  'masked-text': {
    title: '4. The browser sends "Hello", masked',
    prose: 'The first frame: FIN = 1 (the whole message), opcode 0x1 (text), MASK = 1 and a length of 5. Four masking-key bytes follow, and each payload byte is XORed with key[i mod 4], so a script cannot choose the bytes on the wire. These 11 bytes are, byte for byte, the example of RFC 6455 §5.7.',
    rfc: 'RFC 6455 §5.3',
  },
  'server-text': {
    title: '5. The server answers, unmasked',
    prose: 'A server never masks: MASK = 0 and no key, the payload is the text as it is. A client that receives a masked frame must fail the connection, just as a server must on an unmasked one.',
    rfc: 'RFC 6455 §5.1',
  },
  fragments: {
    title: '6. A message in fragments, with a ping between',
    prose: 'One text message in two frames: "Hel" with FIN = 0, then a continuation (opcode 0x0) "lo" with FIN = 1. Between them, a ping: control frames may come between the fragments of a message, so a long message never holds up a keepalive. The receiver delivers "Hello" once the last fragment is in.',
    rfc: 'RFC 6455 §5.4',
  },
  pong: {
    title: '7. The browser\'s automatic pong',
    prose: 'The browser answers the ping by itself, with a pong carrying the same payload, masked like every client frame. No page script ever sees pings or pongs: DevTools does not show them either.',
    rfc: 'RFC 6455 §5.5.3',
  },
  compressed: {
    title: '8. A compressed message',
    prose: 'The server sends "Hello" compressed: RSV1 = 1 on the first frame marks the message compressed. The payload is DEFLATE data; the sender ended it with a sync flush and removed the flush\'s last four bytes, 00 00 ff ff, which the receiver appends again before inflating. These are the bytes of RFC 7692 §7.2.3.1.',
    rfc: 'RFC 7692 §7.2.1',
  },
  'compressed-again': {
    title: '9. The same message again, smaller',
    prose: 'The same "Hello" is now 5 bytes of payload instead of 7: with context takeover both sides keep their LZ77 window between messages, so the second "Hello" is a back-reference into the first. This is why the receiver must read every compressed message in order (RFC 7692 §7.2.3.2).',
    rfc: 'RFC 7692 §7.2.3.2',
  },
  close: {
    title: '10. The browser closes',
    prose: 'A close frame (opcode 0x8): its payload is a 2-byte status code, 1000 (normal closure), then a UTF-8 reason, "bye". After sending it, the browser sends no more data frames, and waits for the server\'s close.',
    rfc: 'RFC 6455 §5.5.1',
  },
  'close-reply': {
    title: '11. The server answers the close',
    prose: 'The server echoes a close frame, with the status code it received, and then closes the TCP connection: the server closes first, so it (not the client) keeps the TIME_WAIT state. Both sides have now sent and received a close: the closing handshake is complete and the connection is closed cleanly.',
    rfc: 'RFC 6455 §7.1.1',
  },
};
