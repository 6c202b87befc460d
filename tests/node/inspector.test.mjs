// The inspector page in headless Chromium (Debian chromium + playwright-core), served by the
// real `wslens serve`, with the wasm module built into www/pkg. Screenshots of each view are
// kept in target/screenshots/ as test artifacts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';

const shots = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../target/screenshots');
mkdirSync(shots, { recursive: true });

let server, browser, page;
const consoleErrors = [];
const wasmResponses = [];
before(async () => {
  // Context takeover both ways, so the tap's /deflate shows its second copy shrink.
  server = await startServer(['--threads', '1', '--deflate-context-takeover']);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('response', (r) => { if (r.url().endsWith('.wasm')) wasmResponses.push(r); });
  await page.goto(`${server.http}/`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 10000 });
});
after(async () => {
  await browser?.close();
  const { code } = await server.stop();
  assert.equal(code, 0);
});

async function inspect(hex, role = 'auto') {
  await page.click('#tab-inspect');
  await page.fill('#input', hex);
  await page.selectOption('#format', 'hex');
  await page.selectOption('#role', role);
  await page.click('#inspect-btn');
}

test('the RFC masked "Hello": fields, bytes and message', async () => {
  await inspect('81 85 37 fa 21 3d 7f 9f 4d 51 58');
  const rows = await page.$$eval('#fields tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  assert.equal(rows.length, 11);
  assert.deepEqual(rows[0].slice(0, 4), ['0', 'FIN', '1.......', '1']);
  assert.deepEqual(rows[4].slice(1, 5), ['opcode', '....0001', '0x1', '0x1: text frame']);
  assert.deepEqual(rows[6].slice(1, 4), ['payload len', '.0000101', '5']);
  assert.equal(rows[7][1], 'masking-key[0]');
  assert.equal(rows[7][5], '§5.3');
  // Each row links its section and folds its lesson: the why and the RFC's own sentence.
  assert.equal(await page.$eval('#fields tbody tr:nth-child(8) td:nth-child(6) a', (a) => a.href), 'https://www.rfc-editor.org/rfc/rfc6455#section-5.3');
  assert.equal(await page.$$eval('#fields tbody details.lesson', (d) => d.length), 11);
  await page.click('#fields tbody tr:nth-child(6) details.lesson summary');
  const mask = await page.textContent('#fields tbody tr:nth-child(6) details.lesson');
  assert.match(mask, /proxy/);
  assert.match(mask, /“All frames sent from client to server have this bit set to 1\.”/);
  assert.match(mask, /RFC 6455 §5\.2/);
  assert.match(await page.textContent('#messages'), /text frame of 5 bytes from frame 0: "Hello"/);
  assert.match(await page.textContent('#verdict'), /Valid: every byte read/);
  assert.equal(await page.$$eval('#hexgrid .byte', (b) => b.length), 11);
  // Hovering a byte highlights its field row, and the other way round.
  await page.hover('#hexgrid .byte[data-offset="1"]');
  assert.equal(await page.$$eval('#fields tbody tr.hl', (r) => r.length), 2, 'MASK and payload len share byte 1');
  await page.hover('#fields tbody tr:nth-child(8)');
  assert.equal(await page.$eval('#hexgrid .byte.hl', (b) => b.dataset.offset), '2');
  await page.screenshot({ path: path.join(shots, 'inspector.png'), fullPage: true });
});

test('the header bits are the core\'s cells, and the input is read by the core', async () => {
  await inspect('81 85 37 fa 21 3d 7f 9f 4d 51 58');
  // 0x81 = FIN, text; 0x85 = MASK, length 5: sixteen cells, then their sixteen labels.
  const cells = await page.$$eval('#bits > div', (ds) => ds.map((d) => d.textContent));
  assert.deepEqual(cells.slice(0, 16).join(''), '1000000110000101');
  assert.deepEqual(cells.slice(16, 21), ['FIN', 'RSV1', 'RSV2', 'RSV3', 'op']);
  // A header cut after byte 0: byte 1's bits are not read yet.
  await inspect('81');
  const cut = await page.$$eval('#bits > div', (ds) => ds.map((d) => d.textContent));
  assert.equal(cut.slice(8, 16).join(''), '········');
  // Base64 of the same frame, read by the core's decode_input.
  await page.fill('#input', 'gYU3+iE9f59NUVg=');
  await page.selectOption('#format', 'base64');
  await page.click('#inspect-btn');
  assert.match(await page.textContent('#messages'), /text frame of 5 bytes from frame 0: "Hello"/);
  // Bad hex: the core's error, with where it is.
  await inspect('81 8g');
  assert.match(await page.textContent('#status'), /not a hex digit: 'g' at position 4 \(choose base64 or text/);
  await inspect('81 8');
  assert.match(await page.textContent('#status'), /odd number of hex digits \(3\)/);
});

test('the unmasking walkthrough steps forward and back', async () => {
  await inspect('81 85 37 fa 21 3d 7f 9f 4d 51 58');
  await page.click('#tab-unmask');
  assert.match(await page.textContent('#unmask-step'), /masked\[0\] 7f XOR key\[0 mod 4 = 0\] 37 = plain\[0\] 48 'H'/);
  for (let i = 0; i < 4; i++) await page.click('#unmask-next');
  assert.match(await page.textContent('#unmask-step'), /masked\[4\] 58 XOR key\[4 mod 4 = 0\] 37 = plain\[4\] 6f 'o'/);
  assert.match(await page.textContent('#unmask-so-far'), /"Hello"/);
  await page.click('#unmask-prev');
  assert.match(await page.textContent('#unmask-step'), /masked\[3\] 51 XOR key\[3 mod 4 = 3\] 3d = plain\[3\] 6c 'l'/);
  await page.screenshot({ path: path.join(shots, 'unmasking.png'), fullPage: true });
});

test('the parser step-through says what the decoder waits for', async () => {
  await inspect('81 85 37 fa 21 3d 7f 9f 4d 51 58');
  await page.click('#tab-step');
  await page.click('#step-back'); // clamps at 0
  for (let i = 0; i < 11; i++) await page.click('#step-back');
  await page.click('#step-fwd');
  assert.match(await page.textContent('#step-state'), /waiting for byte 1 of the header: MASK, payload len: at least 5 more byte/);
  await page.fill('#step-n', '3');
  await page.click('#step-fwd-n');
  assert.match(await page.textContent('#step-state'), /waiting for the masking key: at least 2 more byte/);
  await page.click('#step-all');
  assert.match(await page.textContent('#step-state'), /1 message\(s\) complete/);
  await page.screenshot({ path: path.join(shots, 'step-through.png'), fullPage: true });
});

test('build a frame and inspect it', async () => {
  await page.click('#tab-build');
  await page.selectOption('#b-opcode', '2');
  await page.fill('#b-payload', 'wslens');
  await page.click('#b-build');
  const built = await page.textContent('#b-out');
  // FIN + binary, MASK + length 6, the key, then "wslens" XOR key[i mod 4] byte by byte:
  // 77^37=40 73^fa=89 6c^21=4d 65^3d=58 6e^37=59 73^fa=89 (RFC 6455 §5.3).
  assert.equal(built, '82 86 37 fa 21 3d 40 89 4d 58 59 89');
  await page.screenshot({ path: path.join(shots, 'builder.png'), fullPage: true });
  await page.click('#b-send');
  assert.equal(await page.getAttribute('#tab-inspect', 'aria-selected'), 'true');
  assert.match(await page.textContent('#messages'), /binary frame of 6 bytes/);
  assert.match(await page.textContent('#fields'), /0x2: binary frame/);
});

test('a malformed frame shows the error, its byte and the close code', async () => {
  await inspect('81 85 37 fa 21 3d 7f 9f 4d 51 58 83 80 00 00 00 00');
  const text = await page.textContent('#verdict');
  assert.match(text, /Error at byte 11: reserved opcode \(RFC 6455 §5.2\)\. A server closes with 1002/);
  assert.equal(await page.$eval('#hexgrid .byte.err', (b) => b.dataset.offset), '11');
  await page.screenshot({ path: path.join(shots, 'error.png'), fullPage: true });
  await inspect('81 05 48 65 6c 6c 6f', 'server');
  assert.match(await page.textContent('#verdict'), /client frame is not masked .*1002/);
});

test('the error gallery: each item shows its offending byte, rule and close code', async () => {
  await page.click('#tab-inspect');
  await page.click('#gallery-box summary');
  const expected = [
    [1, 'client frame is not masked', 1002], [1, 'server frame is masked', 1002],
    [0, 'reserved opcode', 1002], [0, 'reserved bit set without a negotiated extension', 1002],
    [0, 'control frame with FIN = 0', 1002], [1, 'control frame payload longer than 125 bytes', 1002],
    [2, '64-bit payload length has its most significant bit set', 1002],
    [0, 'continuation frame without a message to continue', 1002],
    [6, 'new data frame while a fragmented message is in progress', 1002],
    [8, 'invalid UTF-8 in text', 1007], [6, 'close code not allowed on the wire', 1002],
    [6, 'close frame payload of exactly 1 byte', 1002], [8, 'invalid UTF-8 in a close reason', 1007],
  ];
  const buttons = await page.$$('#gallery button');
  assert.equal(buttons.length, expected.length);
  for (const [i, [offset, rule, code]] of expected.entries()) {
    await buttons[i].click();
    const verdict = await page.textContent('#verdict');
    assert.ok(verdict.includes(`Error at byte ${offset}: ${rule}`), `item ${i}: ${verdict}`);
    assert.ok(verdict.includes(`A server closes with ${code}`), `item ${i}: ${verdict}`);
    assert.equal(await page.$eval('#hexgrid .byte.err', (b) => b.dataset.offset), String(offset));
  }
  await page.screenshot({ path: path.join(shots, 'gallery.png'), fullPage: true });
});

test('the handshake view computes the accept key step by step', async () => {
  await page.click('#tab-handshake');
  await page.click('#hs-btn');
  const steps = await page.textContent('#accept-steps');
  assert.match(steps, /258EAFA5-E914-47DA-95CA-C5AB0DC85B11/);
  assert.match(steps, /b37a4f2cc0624f1690f64606cf385945b2bec4ea/);
  assert.match(steps, /s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/);
  // Every line with its bytes and its lesson, the request line first.
  const lines = await page.$$eval('#hs-lines tbody tr', (trs) => trs.map((tr) => [...tr.cells].slice(0, 3).map((c) => c.textContent)));
  assert.deepEqual(lines[0], ['0..18', 'request line', 'GET /chat HTTP/1.1']);
  assert.equal(lines.length, 1 + 7);
  assert.equal(await page.$$eval('#hs-lines details.lesson', (d) => d.length), 8);
  const key = lines.findIndex((l) => l[1] === 'Sec-WebSocket-Key');
  await page.click(`#hs-lines tbody tr:nth-child(${key + 1}) summary`);
  assert.match(await page.textContent(`#hs-lines tbody tr:nth-child(${key + 1}) details`), /randomly selected 16-byte value/);
  await page.click('#hs-lines tbody tr:nth-child(1) summary');
  assert.match(await page.textContent('#hs-lines tbody tr:nth-child(1) details'), /MUST be GET/);
  await page.screenshot({ path: path.join(shots, 'handshake.png'), fullPage: true });
});

test('live: echo shows the masked bytes the browser sent, clickable into the inspector', async () => {
  await page.click('#tab-live');
  await page.click('#echo-connect');
  await page.waitForFunction(() => document.getElementById('echo-state').textContent === 'open');
  await page.fill('#echo-text', 'Hello');
  await page.click('#echo-form button[type=submit]');
  await page.waitForSelector('#echo-log li.wire a.inspect');
  const log = await page.textContent('#echo-log');
  assert.match(log, /← Hello/);
  assert.match(log, /extensions: permessage-deflate/);
  // Whether a message went compressed is read by the core's inspector from the tapped stream.
  assert.match(log, /your browser sent \(masked, compressed\)/);
  assert.match(log, /the server wrote \(compressed\)/);
  const sent = await page.textContent('#echo-log li.wire a.inspect');
  // FIN + RSV1 (compressed, permessage-deflate) + text, MASK + length 7, a 4-byte key chosen
  // by the browser, the 7 masked bytes of "Hello" compressed (RFC 7692 §7.2.3.1).
  assert.match(sent, /^c1 87( [0-9a-f]{2}){11}$/);
  await page.screenshot({ path: path.join(shots, 'live.png'), fullPage: true });
  await page.click('#echo-log li.wire a.inspect');
  assert.match(await page.textContent('#messages'), /text frame of 5 bytes \(compressed: inflated from 7 bytes, RFC 7692 §7\.2\.2\) from frame 0: "Hello"/);
  // A second message refers back to the first (context takeover): the link inspects the
  // stream so far, and both inflate.
  await page.click('#tab-live');
  await page.fill('#echo-text', 'Hello');
  await page.click('#echo-form button[type=submit]');
  await page.waitForFunction(() => document.querySelectorAll('#echo-log li.wire a.inspect').length === 4);
  await page.click('#echo-log li.wire:nth-last-child(2) a.inspect');
  const messages = await page.textContent('#messages');
  assert.match(messages, /from frame 0: "Hello"/);
  assert.match(messages, /from frame 1: "Hello"/);
  assert.doesNotMatch(await page.textContent('#verdict'), /Error/);
  await page.uncheck('#deflate');
  await page.click('#tab-live');
  await page.click('#echo-close');
  await page.waitForFunction(() => document.getElementById('echo-state').textContent === 'closed');
  assert.match(await page.textContent('#echo-log'), /closed: code 1000/);
});

test('live: the browser\'s real handshake, a server ping and its pong, a fragmented message, and both close frames from the transcript', async () => {
  await page.click('#tab-live');
  await page.click('#echo-connect');
  await page.waitForFunction(() => document.getElementById('echo-state').textContent === 'open');
  // The accept key the server wrote is checked against the one computed from the browser's own key.
  await page.waitForFunction(() => /Sec-WebSocket-Accept \S+, which is base64\(SHA-1\(your key \+ GUID\)\): correct/.test(document.getElementById('echo-log').textContent));
  assert.match(await page.textContent('#echo-log'), /GET \/echo HTTP\/1\.1, Sec-WebSocket-Key [A-Za-z0-9+/]{22}==/);
  const links = () => page.$$eval('#echo-log li.wire a.inspect', (as) => as.map((a) => a.textContent));
  await page.click('#tap-ping');
  // The server's ping ("hello"), then the browser's automatic pong, masked (RFC 6455 §5.5.3).
  await page.waitForFunction(() => [...document.querySelectorAll('#echo-log li.wire a.inspect')].some((a) => a.textContent.startsWith('8a 85')));
  assert.ok((await links()).some((t) => t.startsWith('89 05 68 65 6c 6c 6f')));
  await page.fill('#tap-frames', '4');
  await page.click('#tap-fragments');
  await page.waitForFunction(() => /← This message was sent in fragments/.test(document.getElementById('echo-log').textContent));
  // The server's bytes start with a Text frame with FIN clear (RSV1 clear too: the tap sends
  // the pieces uncompressed, so each reads as text), and hold four data frames and the ping.
  const fragmented = (await links()).filter((t) => /^01 /.test(t)).at(-1);
  assert.ok(fragmented, 'a Text frame with FIN clear');
  const frames = await page.evaluate((hex) => globalThis.wslens.inspectFrames(globalThis.wslens.decodeInput(hex, 'hex'), 'client', true).frames.map((f) => f.header.opcode), fragmented);
  assert.deepEqual(frames, [1, 9, 0, 0, 0]);
  // The ladder groups the four fragments under one bracket, with the text reassembled.
  const group = await page.$$eval('#ladder li.message', (lis) => lis.map((li) => li.textContent));
  assert.equal(group.length, 1);
  assert.match(group[0], /one message from these 4 frames, reassembled: "This message was sent in fragments/);
  assert.equal(await page.$$eval('#ladder li.fragment', (lis) => lis.length), 4);
  // /deflate: the text compressed twice, the second copy smaller (context takeover), then plain.
  const before = (await links()).length;
  await page.click('#tap-deflate');
  await page.waitForFunction((n) => document.querySelectorAll('#echo-log li.wire a.inspect').length > n, before);
  await page.waitForFunction(() => document.querySelectorAll('#ladder li.to-client a').length
    && [...document.querySelectorAll('#ladder li.to-client a')].filter((a) => /Hello, Hello, Hello: DEFLATE/.test(a.textContent)).length === 3);
  const copies = await page.$$eval('#ladder li.to-client a', (as) => as.map((a) => a.textContent).filter((t) => /Hello, Hello, Hello: DEFLATE/.test(t)));
  const sizes = copies.map((t) => Number(/· (\d+) B/.exec(t)[1]));
  assert.match(copies[0], /RSV1 \(compressed\)/);
  assert.match(copies[1], /RSV1 \(compressed\)/);
  assert.doesNotMatch(copies[2], /RSV1/);
  assert.ok(sizes[1] < sizes[0] && sizes[0] < sizes[2], JSON.stringify(copies));
  await page.fill('#tap-code', '4000');
  await page.click('#tap-close');
  await page.waitForFunction(() => document.getElementById('echo-state').textContent === 'closed');
  await page.waitForFunction(() => /transcript of this session/.test(document.getElementById('echo-log').textContent));
  const all = await links();
  // The server's close frame (4000 = 0f a0) and the browser's masked reply, from GET /wire/<session>.
  assert.ok(all.some((t) => /^88 [0-9a-f]{2} 0f a0/.test(t)), all.join('\n'));
  assert.ok(all.some((t) => /^88 8[0-9a-f]/.test(t)), all.join('\n'));
  assert.match(await page.textContent('#echo-log'), /closed: code 4000/);
  // The ladder: the handshake first, then one arrow per frame in time order.
  const rungs = await page.$$eval('#ladder li', (lis) => lis.map((li) => [li.className.includes('to-server') ? '>' : '<', li.querySelector('a').textContent]));
  assert.match(rungs[0][1], /^GET \/echo HTTP\/1\.1 · Sec-WebSocket-Key /);
  assert.equal(rungs[0][0], '>');
  assert.match(rungs[1][1], /^HTTP\/1\.1 101 Switching Protocols · Sec-WebSocket-Accept ✓ matches your key/);
  assert.equal(rungs[1][0], '<');
  const at = (dir, re) => rungs.findIndex(([d, t]) => d === dir && re.test(t));
  const ping = at('<', /^ping · FIN · 5 B/);
  const pong = at('>', /^pong · FIN, masked · 5 B/);
  assert.ok(ping > 1 && pong > ping, JSON.stringify(rungs));
  assert.ok(at('<', /the last of 4 frames/) > pong, JSON.stringify(rungs));
  const serverClose = at('<', /^connection close · .* · 4000/);
  const browserClose = at('>', /^connection close · FIN, masked · \d+ B · 4000/);
  assert.ok(serverClose > 0 && browserClose > serverClose, JSON.stringify(rungs));
  assert.equal(serverClose, rungs.length - 2);
  // An arrow opens its frame in the inspector.
  await page.click(`#ladder li:nth-child(${ping + 1}) a`);
  assert.match(await page.textContent('#messages'), /ping/);
  await page.uncheck('#deflate');
  await page.click('#tab-live');
  await page.screenshot({ path: path.join(shots, 'live-tap.png'), fullPage: true });
});

test('permessage-deflate: the checkbox reads RSV1 as compressed and shows the message inflated', async () => {
  // RFC 7692 §7.2.3.1 and §7.2.3.2: "Hello", then "Hello" again through the shared window.
  await inspect('c1 07 f2 48 cd c9 c9 07 00 c1 05 f2 00 11 00 00', 'client');
  assert.match(await page.textContent('#verdict'), /reserved bit set without a negotiated extension \(RFC 6455 §5\.2\)\. A server closes with 1002/);
  await page.check('#deflate');
  assert.match(await page.textContent('#verdict'), /Valid: every byte read/);
  const messages = await page.textContent('#messages');
  assert.match(messages, /text frame of 5 bytes \(compressed: inflated from 7 bytes, RFC 7692 §7\.2\.2\) from frame 0: "Hello"/);
  assert.match(messages, /text frame of 5 bytes \(compressed: inflated from 5 bytes, RFC 7692 §7\.2\.2\) from frame 1: "Hello"/);
  const rsv1 = await page.$$eval('#fields tbody tr', (trs) => [...trs[1].cells].map((c) => c.textContent));
  assert.deepEqual(rsv1.slice(1, 5), ['RSV1', '.1......', '1', 'set: compressed (permessage-deflate, RFC 7692 §6)']);
  // Each compressed message opened up: its bytes and the stripped tail put back, the first
  // block's BFINAL and BTYPE (0xf2: BFINAL 0, BTYPE 01), sizes, and the inflated bytes.
  const panels = await page.$$eval('#messages .deflate', (ds) => ds.map((d) => d.textContent));
  assert.equal(panels.length, 2);
  assert.match(panels[0], /compressed: 7 B on the wire/);
  assert.match(panels[0], /f2 48 cd c9 c9 07 00/);
  assert.match(panels[0], /\+ 00 00 ff ff put back\s*f2 48 cd c9 c9 07 00 00 00 ff ff/);
  assert.match(panels[0], /BFINAL = 0/);
  assert.match(panels[0], /BTYPE = 01: compressed with the fixed Huffman codes/);
  assert.match(panels[0], /inflated: 5 B\s*payload\s*48 65 6c 6c 6f/);
  assert.match(panels[1], /compressed: 5 B on the wire/);
  assert.match(panels[1], /context takeover/);
  assert.equal(await page.$$eval('#messages .deflate:first-child .tail, #messages .deflate .tail', (t) => t.length), 8, 'four tail bytes in each panel');
  await page.screenshot({ path: path.join(shots, 'inspector-deflate.png'), fullPage: true });
  // Corrupt compressed data: 1007, cited from RFC 7692.
  await inspect('c2 01 ff', 'client');
  assert.match(await page.textContent('#verdict'), /compressed payload is not valid DEFLATE data \(RFC 7692 §7\.2\.2\)\. A server closes with 1007/);
  await page.uncheck('#deflate');
});

test('the tour: eleven steps of a session the core recorded, by button and by keyboard', async () => {
  await page.click('#tab-tour');
  assert.equal(await page.textContent('#tour-pos'), 'step 1 of 11');
  assert.match(await page.textContent('#tour-step h3'), /The browser asks to upgrade/);
  assert.ok(await page.$eval('#tour-back', (b) => b.disabled));
  const stepText = () => page.textContent('#tour-step');
  await page.focus('#view-tour');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.textContent('#tour-pos'), 'step 2 of 11');
  // The accept key from the request's own key (the RFC's sample nonce), the key line highlighted.
  assert.equal(await page.textContent('#tour-step .focus'), 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==');
  assert.match(await page.textContent('#tour-accept'), /base64: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/);
  await page.keyboard.press('ArrowRight');
  assert.match(await stepText(), /101 Switching Protocols/);
  assert.match(await stepText(), /Sec-WebSocket-Accept\s*s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/);
  await page.click('#tour-next');
  // RFC 6455 §5.7's masked "Hello", byte for byte, each byte coloured by its field.
  const grid = await page.$$eval('#tour-step .hexgrid .byte', (bs) => bs.map((b) => b.textContent).join(' '));
  assert.equal(grid, '81 85 37 fa 21 3d 7f 9f 4d 51 58');
  assert.equal(await page.$$eval('#tour-step .hexgrid .byte.k-maskingKey', (bs) => bs.length), 4);
  assert.match(await stepText(), /delivered: text frame: "Hello"/);
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  assert.match(await stepText(), /fragments, with a ping between/);
  assert.match(await stepText(), /frame 1: text frame, FIN = 0/);
  assert.match(await stepText(), /frame 3: continuation frame, FIN = 1/);
  assert.match(await stepText(), /delivered: text frame from 2 frames: "Hello"/);
  await page.keyboard.press('ArrowRight');
  assert.match(await stepText(), /delivered: pong/);
  await page.keyboard.press('ArrowRight');
  assert.match(await stepText(), /BFINAL = 0/);
  await page.screenshot({ path: path.join(shots, 'tour.png'), fullPage: true });
  await page.keyboard.press('ArrowRight');
  // The second "Hello" reads only with the stream before it: 5 bytes instead of 7.
  assert.match(await stepText(), /compressed: 5 B on the wire/);
  assert.match(await stepText(), /delivered: text frame: "Hello"/);
  await page.keyboard.press('End');
  assert.equal(await page.textContent('#tour-pos'), 'step 11 of 11');
  assert.match(await stepText(), /code 1000 \(normal closure\)/);
  assert.ok(await page.$eval('#tour-next', (b) => b.disabled));
  // The ladder has every step so far, the current one marked, sides by sender.
  const rungs = await page.$$eval('#tour-ladder li', (lis) => lis.map((li) => li.className.includes('to-server') ? '>' : '<').join(''));
  assert.equal(rungs, '><<><<><<><');
  assert.equal(await page.$$eval('#tour-ladder li[aria-current="step"]', (l) => l.length), 1);
  await page.keyboard.press('ArrowLeft');
  assert.equal(await page.textContent('#tour-pos'), 'step 10 of 11');
  await page.keyboard.press('Home');
  assert.equal(await page.textContent('#tour-pos'), 'step 1 of 11');
  // A step opens in the Inspector with the stream before it.
  await page.click('#tour-ladder li:nth-child(1) a');
  await page.keyboard.press('End');
  await page.click('#tour-step a.inspect');
  assert.match(await page.textContent('#messages'), /connection close of \d+ bytes/);
  assert.match(await page.textContent('#verdict'), /Valid/);
  await page.uncheck('#deflate');
});

test('the wasm module comes gzip-encoded, precompressed at build time', async () => {
  assert.equal(wasmResponses.length, 1);
  const headers = await wasmResponses[0].allHeaders();
  assert.equal(headers['content-encoding'], 'gzip');
  assert.equal(headers['content-type'], 'application/wasm');
  assert.match(headers.vary, /Accept-Encoding/);
  // What went over the wire is smaller than the module it inflates to.
  assert.ok(Number(headers['content-length']) < (await wasmResponses[0].body()).length);
});

test('no console errors', () => {
  assert.deepEqual(consoleErrors, []);
});
