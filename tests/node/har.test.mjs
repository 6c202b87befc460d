// A HAR in Chrome DevTools' shape, built from the frames headless Chromium reports over the
// DevTools protocol (Network.webSocketFrameSent/Received), read by `wslens inspect --har` and
// replayed by `wslens replay` against the server it was recorded from; the page opens it too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, binary, launchChromium } from './server.mjs';

let server, browser;
before(async () => {
  server = await startServer(['--threads', '1']);
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  const { code } = await server.stop();
  assert.equal(code, 0);
});

// What DevTools saves for a WebSocket: the handshake as an entry, the frames as messages.
function harFrom(socket) {
  const headers = (h) => Object.entries(h || {}).map(([name, value]) => ({ name, value: String(value) }));
  return {
    log: {
      version: '1.2',
      creator: { name: 'WebInspector', version: '537.36' },
      pages: [],
      entries: [{
        startedDateTime: new Date(socket.wallTime * 1000).toISOString(),
        time: 0,
        request: { method: 'GET', url: socket.url, httpVersion: 'HTTP/1.1', headers: headers(socket.request), queryString: [], cookies: [], headersSize: -1, bodySize: 0 },
        response: { status: socket.status, statusText: socket.statusText, httpVersion: 'HTTP/1.1', headers: headers(socket.response), cookies: [], content: { size: 0, mimeType: 'x-unknown' }, redirectURL: '', headersSize: -1, bodySize: 0 },
        cache: {},
        timings: { blocked: -1, dns: -1, connect: -1, send: 0, wait: 0, receive: 0, ssl: -1 },
        _resourceType: 'websocket',
        _webSocketMessages: socket.messages,
      }],
    },
  };
}

test('Chromium over CDP: a HAR of its frames reads in inspect --har and replays', async () => {
  const page = await browser.newPage();
  await page.goto(`${server.http}/`);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const socket = { messages: [] };
  cdp.on('Network.webSocketCreated', (e) => { socket.url = e.url; });
  cdp.on('Network.webSocketWillSendHandshakeRequest', (e) => {
    socket.wallTime = e.wallTime; socket.t0 = e.timestamp; socket.request = e.request.headers;
  });
  cdp.on('Network.webSocketHandshakeResponseReceived', (e) => {
    socket.status = e.response.status; socket.statusText = e.response.statusText; socket.response = e.response.headers;
  });
  const frame = (type) => (e) => socket.messages.push({
    type, time: socket.wallTime + (e.timestamp - socket.t0), opcode: e.response.opcode, data: e.response.payloadData,
  });
  cdp.on('Network.webSocketFrameSent', frame('send'));
  cdp.on('Network.webSocketFrameReceived', frame('receive'));
  const got = await page.evaluate(async (url) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = fail; });
    const next = () => new Promise((ok) => { ws.onmessage = (e) => ok(e.data); });
    const out = [];
    for (const m of ['héllo from the browser', 'second', JSON.stringify({ n: 3 })]) {
      ws.send(m);
      out.push(await next());
    }
    ws.send(new Uint8Array([0, 1, 2, 250, 255]));
    out.push(Array.from(new Uint8Array(await next())));
    ws.close(1000, 'done');
    await new Promise((ok) => { ws.onclose = ok; });
    return out;
  }, `${server.ws}/echo`);
  assert.equal(got[0], 'héllo from the browser');
  // Wait for the CDP events of the last frames.
  for (let i = 0; i < 100 && socket.messages.length < 8; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(socket.messages.length, 8, JSON.stringify(socket.messages));
  assert.equal(socket.messages[6].opcode, 2);
  const dir = mkdtempSync(path.join(tmpdir(), 'wslens-har-'));
  const har = path.join(dir, 'chromium.har');
  writeFileSync(har, JSON.stringify(harFrom(socket), null, 1));

  const out = execFileSync(binary(), ['inspect', '--har', har, '--json'], { encoding: 'utf8' });
  const events = out.trim().split('\n').map((l) => JSON.parse(l));
  const request = events.find((e) => e.event === 'request');
  assert.ok(request.headers.some(([n, v]) => n.toLowerCase() === 'sec-websocket-extensions' && v.includes('permessage-deflate')),
    'Chromium offered permessage-deflate');
  const sent = events.filter((e) => e.event === 'message' && e.from === 'client' && e.opcode <= 2);
  assert.deepEqual(sent.slice(0, 3).map((e) => e.text), ['héllo from the browser', 'second', '{"n":3}']);
  assert.equal(Buffer.from(sent[3].base64, 'base64').toString('hex'), '000102faff');
  assert.ok(events.every((e) => e.reconstructed), 'every event is marked reconstructed');
  const frames = events.filter((e) => e.event === 'frame' && e.from === 'client');
  assert.ok(frames.every((f) => f.mask === '6d61736b'), 'reconstructed client frames carry the stated key');

  // The same HAR dropped into the page's Captures view.
  await page.goto(`${server.http}/`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
  await page.setInputFiles('#capture-file', har);
  await page.waitForFunction(() => document.body.dataset.capture === 'done', null, { timeout: 30000 });
  assert.match(await page.textContent('#capture-status'), /a HAR with 1 WebSocket session\(s\), reconstructed/);
  const rungs = await page.$$eval('#capture-ladder li', (li) => li.map((x) => x.textContent));
  assert.ok(rungs.some((r) => r.includes('"héllo from the browser"')), rungs.join('\n'));
  assert.ok(rungs.some((r) => r.includes('binary frame · FIN, masked · 5 B')), rungs.join('\n'));

  const replay = spawnSync(binary(), ['replay', har, '--to', `${server.ws}/echo`, '--speed', '0'], { encoding: 'utf8' });
  assert.equal(replay.status, 0, replay.stdout + replay.stderr);
  assert.match(replay.stdout, /4 replies recorded, 4 received, 4 identical; every reply matches/);
});
