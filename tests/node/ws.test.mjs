// Node's `ws` (a third-party client) against wslens serve.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startServer } from './server.mjs';

let server;
before(async () => { server = await startServer(['--threads', '2']); });
after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0, 'clean exit on SIGTERM');
});

function open(url, protocols) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function next(ws) {
  return new Promise((resolve) => ws.once('message', (data, isBinary) => resolve({ data, isBinary })));
}

test('echo: text, 1 MiB binary, ping, 1000 round trips, clean close', async () => {
  const ws = await open(`${server.ws}/echo`);
  ws.send('héllo from node');
  let m = await next(ws);
  assert.equal(m.isBinary, false);
  assert.equal(m.data.toString(), 'héllo from node');

  const big = Buffer.alloc(1 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
  ws.send(big);
  m = await next(ws);
  assert.equal(m.isBinary, true);
  assert.ok(Buffer.compare(m.data, big) === 0);

  const pong = new Promise((resolve) => ws.once('pong', resolve));
  ws.ping(Buffer.from('node ping'));
  assert.equal((await pong).toString(), 'node ping');

  for (let i = 0; i < 1000; i++) {
    ws.send(`message ${i}`);
    assert.equal((await next(ws)).data.toString(), `message ${i}`);
  }

  const closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.close(1000, 'bye');
  assert.deepEqual(await closed, { code: 1000, reason: '' });
});

test('a room of three sees each other', async () => {
  const clients = [];
  for (let i = 0; i < 3; i++) {
    const ws = await open(`${server.ws}/chat/noderoom`);
    clients.push(ws);
  }
  // Collect messages per client from now on.
  const inbox = clients.map(() => []);
  clients.forEach((ws, i) => ws.on('message', (d) => inbox[i].push(d.toString())));
  for (let i = 0; i < 3; i++) clients[i].send(`from ${i}`);
  const want = ['from 0', 'from 1', 'from 2'];
  for (let t = 0; t < 100 && inbox.some((b) => b.filter((m) => m.startsWith('from')).length < 3); t++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const box of inbox) {
    assert.deepEqual(box.filter((m) => m.startsWith('from')).sort(), want);
  }
  clients.forEach((ws) => ws.close());
});

test('the server refuses a bad subprotocol-less upgrade path with 404', async () => {
  await assert.rejects(open(`${server.ws}/nowhere`), /404/);
});
