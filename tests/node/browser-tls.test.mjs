// Headless Chromium over TLS: the page is loaded from wslens over https:// and the browser's
// own WebSocket echoes over wss://. Chromium trusts exactly the server's self-signed
// development certificate (by its public key: --ignore-certificate-errors-spki-list), so
// every other certificate error would still fail the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { startServer, launchChromium } from './server.mjs';

let server, browser;
before(async () => {
  server = await startServer(['--threads', '1', '--ping-interval', '0.3s', '--ping-timeout', '0.5s'], { tls: true });
  const spki = new X509Certificate(server.certPem).publicKey.export({ type: 'spki', format: 'der' });
  const pin = createHash('sha256').update(spki).digest('base64');
  browser = await launchChromium([`--ignore-certificate-errors-spki-list=${pin}`]);
});
after(async () => {
  await browser?.close();
  const { code } = await server.stop();
  assert.equal(code, 0);
});

test('Chromium over TLS: the page from https://, text, 1 MiB binary, pings, round trips and a clean close over wss://', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const response = await page.goto(`${server.https}/`);
  assert.equal(response.status(), 200);
  assert.equal(new URL(page.url()).protocol, 'https:');
  const security = await response.securityDetails();
  assert.ok(security, 'served over TLS');
  assert.match(security.protocol, /TLS 1\.[23]/);
  assert.equal(security.subjectName, 'wslens development certificate');
  const result = await page.evaluate(async (url) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = fail; });
    const next = () => new Promise((ok) => { ws.onmessage = (e) => ok(e.data); });
    const out = { secureContext: window.isSecureContext, extensions: ws.extensions };
    ws.send('héllo from chromium over TLS');
    out.text = await next();
    const big = new Uint8Array(1 << 20).map((_, i) => (i * 13) & 0xff);
    ws.send(big);
    const echoed = new Uint8Array(await next());
    out.binaryOk = echoed.length === big.length && echoed.every((b, i) => b === big[i]);
    // Silent across several server pings (0.3 s interval, 0.5 s timeout).
    await new Promise((r) => setTimeout(r, 1500));
    out.openAfterPings = ws.readyState === WebSocket.OPEN;
    let ok = 0;
    for (let i = 0; i < 300; i++) {
      ws.send(`m${i}`);
      if ((await next()) === `m${i}`) ok++;
    }
    out.roundTrips = ok;
    out.close = await new Promise((resolve) => {
      ws.onclose = (e) => resolve({ code: e.code, clean: e.wasClean });
      ws.close(1000, 'done');
    });
    return out;
  }, `${server.wss}/echo`);
  assert.deepEqual(result, {
    secureContext: true,
    // permessage-deflate over wss:// too (compressed, then encrypted).
    extensions: 'permessage-deflate; server_no_context_takeover',
    text: 'héllo from chromium over TLS',
    binaryOk: true,
    openAfterPings: true,
    roundTrips: 300,
    close: { code: 1000, clean: true },
  });
  assert.deepEqual(errors, []);
  await page.close();
});

test('Chromium: the page served over https:// runs its live echo over wss:// (the wire tap too)', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await page.goto(`${server.https}/`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 10000 });
  await page.click('#tab-live');
  await page.click('#echo-connect');
  await page.waitForFunction(() => document.getElementById('echo-state').textContent === 'open');
  await page.fill('#echo-text', 'Hello');
  await page.click('#echo-form button[type=submit]');
  await page.waitForSelector('#echo-log li.wire a.inspect');
  assert.match(await page.textContent('#echo-log'), /← Hello/);
  // The bytes the browser wrote inside TLS: a masked "Hello" frame, compressed
  // (permessage-deflate: RSV1, 7 bytes, RFC 7692 §7.2.3.1).
  assert.match(await page.textContent('#echo-log li.wire a.inspect'), /^c1 87( [0-9a-f]{2}){11}$/);
  await page.click('#echo-close');
  await page.waitForFunction(() => document.getElementById('echo-state').textContent === 'closed');
  assert.ok(sockets.length > 0 && sockets.every((u) => u.startsWith(`${server.wss}/`)), sockets.join(' '));
  assert.deepEqual(errors, []);
  await page.close();
});
