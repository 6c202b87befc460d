// Headless Chromium (Debian's chromium, driven by playwright-core) against wslens serve:
// the page is served by wslens itself, and the browser's own WebSocket talks to /echo.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchChromium } from './server.mjs';

let server, browser;
before(async () => {
  // Short keepalive: the browser must answer the server's pings to stay connected.
  server = await startServer(['--threads', '1', '--ping-interval', '0.3s', '--ping-timeout', '0.5s']);
  // playwright-core launches with a fresh temporary profile of its own.
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  const { code } = await server.stop();
  assert.equal(code, 0);
});

test('Chromium: text, 1 MiB binary, pings answered, 1000 round trips, clean close', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${server.http}/`);
  const result = await page.evaluate(async (url) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = fail; });
    const next = () => new Promise((ok) => { ws.onmessage = (e) => ok(e.data); });
    const out = { extensions: ws.extensions };
    ws.send('héllo from chromium');
    out.text = await next();
    const big = new Uint8Array(1 << 20).map((_, i) => (i * 7) & 0xff);
    ws.send(big);
    const echoed = new Uint8Array(await next());
    out.binaryOk = echoed.length === big.length && echoed.every((b, i) => b === big[i]);
    // Stay silent across several server pings (0.3 s interval, 0.5 s timeout).
    await new Promise((r) => setTimeout(r, 1500));
    out.openAfterPings = ws.readyState === WebSocket.OPEN;
    let ok = 0;
    for (let i = 0; i < 1000; i++) {
      ws.send(`m${i}`);
      if ((await next()) === `m${i}`) ok++;
    }
    out.roundTrips = ok;
    out.close = await new Promise((resolve) => {
      ws.onclose = (e) => resolve({ code: e.code, clean: e.wasClean });
      ws.close(1000, 'done');
    });
    return out;
  }, `${server.ws}/echo`);
  assert.deepEqual(result, {
    // wslens serve's default answer to Chromium's offer (RFC 7692 §7.1.1.1).
    extensions: 'permessage-deflate; server_no_context_takeover',
    text: 'héllo from chromium',
    binaryOk: true,
    openAfterPings: true,
    roundTrips: 1000,
    close: { code: 1000, clean: true },
  });
  assert.deepEqual(errors, []);
  await page.close();
});

test('Chromium: permessage-deflate negotiated, compressed both ways (seen by the wire tap)', async () => {
  const page = await browser.newPage();
  await page.goto(`${server.http}/`);
  const result = await page.evaluate(async (url) => {
    const ws = new WebSocket(url, ['wslens.wire']);
    await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = fail; });
    const next = () => new Promise((ok) => { ws.onmessage = (e) => ok(e.data); });
    // The tap's first record is the handshake.
    const handshake = JSON.parse(await next()).handshake;
    if (!handshake.session) throw new Error('no handshake record');
    const message = 'compressible '.repeat(1000);
    ws.send(message);
    const echo = await next();
    const tap = JSON.parse(await next()).wire;
    const large = 'x'.repeat(5 << 20);
    ws.send(large);
    const largeEcho = await next();
    await next();
    ws.close(1000);
    return {
      extensions: ws.extensions,
      echoed: echo === message,
      largeEchoed: largeEcho === large,
      inByte0: tap.in.slice(0, 2),
      outByte0: tap.out.slice(0, 2),
      outLen: tap.out.length / 2,
    };
  }, `${server.ws}/echo`);
  assert.equal(result.extensions, 'permessage-deflate; server_no_context_takeover');
  assert.ok(result.echoed && result.largeEchoed);
  assert.equal(result.inByte0, 'c1', 'the browser compressed: FIN + RSV1 + text');
  assert.equal(result.outByte0, 'c1', 'the server compressed its echo');
  assert.ok(result.outLen < 200, `13,000 bytes went out as ${result.outLen}`);
  await page.close();
});
