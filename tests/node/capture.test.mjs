// The page's Captures view in headless Chromium: a recording made by `wslens proxy --record`
// (real traffic from Node `ws`) dropped into the page lists its sessions, draws the chosen one
// as the ladder, and a frame opens in the byte inspector; a HAR opens reconstructed; a
// 100 MB capture is read in slices by the worker (progress reported as it goes, the page
// answering meanwhile).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, writeSync, ftruncateSync, closeSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { startServer, binary, launchChromium } from './server.mjs';

let server, browser, dir;
before(async () => {
  server = await startServer(['--threads', '1']);
  dir = mkdtempSync(path.join(tmpdir(), 'wslens-captures-'));
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  const { code } = await server.stop();
  assert.equal(code, 0);
});

const listening = (port) => new Promise((resolve) => {
  const s = createConnection({ port, host: '127.0.0.1' }, () => { s.destroy(); resolve(true); });
  s.on('error', () => resolve(false));
});

async function record() {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const pcap = path.join(dir, 'proxy.pcapng');
  const proxy = spawn(binary(), ['proxy', '--listen', `127.0.0.1:${port}`, server.ws, '--record', pcap, '--har', path.join(dir, 'proxy.har')],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 200 && !(await listening(port)); i++) await new Promise((r) => setTimeout(r, 50));
  const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`, { perMessageDeflate: false });
  await new Promise((ok, fail) => { ws.on('open', ok); ws.on('error', fail); });
  const next = () => new Promise((ok) => ws.once('message', (d) => ok(d.toString())));
  for (const m of ['hello from node ws', 'second one']) { ws.send(m); await next(); }
  ws.close(1000, 'bye');
  await new Promise((ok) => ws.on('close', ok));
  await new Promise((r) => setTimeout(r, 200));
  const exited = new Promise((ok) => proxy.on('exit', ok));
  proxy.kill('SIGINT');
  assert.equal(await exited, 0);
  return pcap;
}

async function openPage() {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${server.http}/`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
  return { page, errors };
}

test('a proxy recording: sessions, the ladder, a frame in the inspector', async () => {
  const pcap = await record();
  const { page, errors } = await openPage();
  await page.setInputFiles('#capture-file', pcap);
  await page.waitForFunction(() => document.body.dataset.capture === 'done', null, { timeout: 30000 });
  const sessions = await page.$$eval('#capture-sessions li', (li) => li.map((x) => x.textContent));
  assert.equal(sessions.length, 2, 'both legs of the one connection');
  assert.match(await page.textContent('#capture-status'), /2 WebSocket session\(s\)/);
  const rungs = await page.$$eval('#capture-ladder li', (li) => li.map((x) => x.textContent));
  assert.ok(rungs.some((r) => r.includes('GET /echo HTTP/1.1')), rungs.join('\n'));
  assert.match(rungs[0], /^\+0\.0 ms/, "times count from the session's first packet");
  assert.ok(rungs.some((r) => r.includes('HTTP/1.1 101 Switching Protocols')));
  assert.ok(rungs.some((r) => r.includes('text frame · FIN, masked · 18 B · "hello from node ws"')), rungs.join('\n'));
  assert.ok(rungs.some((r) => r.includes('connection close') && r.includes('1000')), rungs.join('\n'));
  // The second text frame from the server opens in the byte inspector, selected.
  const link = page.locator('#capture-ladder li.to-client a', { hasText: '"second one"' });
  await link.click();
  await page.waitForFunction(() => !document.getElementById('view-inspect').hidden);
  const input = await page.inputValue('#input');
  assert.ok(input.startsWith('81 12 '), `the server's first frame opens the stream: ${input.slice(0, 20)}`);
  assert.equal(await page.inputValue('#role'), 'client');
  const shown = await page.textContent('#view-inspect');
  assert.ok(shown.includes('second one'), 'the inspector reads the frame');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a HAR opens reconstructed', async () => {
  const { page, errors } = await openPage();
  await page.setInputFiles('#capture-file', path.join(dir, 'proxy.har'));
  await page.waitForFunction(() => document.body.dataset.capture === 'done', null, { timeout: 30000 });
  assert.match(await page.textContent('#capture-status'), /a HAR with 1 WebSocket session\(s\), reconstructed/);
  assert.match(await page.textContent('#capture-title'), /reconstructed from a HAR/);
  const rungs = await page.$$eval('#capture-ladder li', (li) => li.map((x) => x.textContent));
  assert.ok(rungs.some((r) => r.includes('"hello from node ws"')), rungs.join('\n'));
  assert.deepEqual(errors, []);
  await page.close();
});

test('a 100 MB capture is read in slices, with progress, the page answering', async () => {
  // 100 MB of valid pcap: a header, then empty packets (a sparse file of zeros).
  const big = path.join(dir, 'big.pcap');
  const fd = openSync(big, 'w');
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0); header.writeUInt16LE(2, 4); header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16); header.writeUInt32LE(1, 20);
  writeSync(fd, header);
  ftruncateSync(fd, 24 + 100 * (1 << 20));
  closeSync(fd);
  const { page, errors } = await openPage();
  await page.setInputFiles('#capture-file', big);
  const seen = new Set();
  for (let i = 0; i < 1200; i++) {
    const [state, status] = await page.evaluate(() => [document.body.dataset.capture, document.getElementById('capture-status').textContent]);
    const read = /read ([\d.]+) of/.exec(status)?.[1];
    if (read) seen.add(read);
    if (state !== 'reading') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(await page.evaluate(() => document.body.dataset.capture), 'done');
  assert.match(await page.textContent('#capture-status'), /6553600 packets \(pcap\), 0 WebSocket session/);
  assert.ok(seen.size >= 3, `progress as it read: ${[...seen].join(', ')}`);
  assert.deepEqual(errors, []);
  await page.close();
});
