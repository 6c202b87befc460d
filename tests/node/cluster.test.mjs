// Headless Chromium on the page's own chat, on two `wslens serve --backplane` nodes sharing a
// real redis-server (Debian's, started here on a free loopback port, stopped by PID): a
// message typed on the page served by one node appears on the page served by the other,
// with the join and leave notices.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

function redisAnswers(port) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.write('PING\r\n'));
    s.on('data', (d) => { s.destroy(); resolve(d.toString().startsWith('+PONG')); });
    s.on('error', () => resolve(false));
  });
}

async function subscribed(node) {
  for (let i = 0; i < 500; i++) {
    const text = await (await fetch(`${node.http}/metrics`)).text();
    if (/^wslens_backplane_subscriptions 1$/m.test(text)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${node.http} never subscribed`);
}

let redis, redisDir, nodes, browser;
before(async () => {
  const port = await freePort();
  redisDir = mkdtempSync(path.join(tmpdir(), 'wslens-redis-'));
  redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no', '--dir', redisDir], { stdio: 'ignore' });
  for (let i = 0; i < 200 && !(await redisAnswers(port)); i++) await new Promise((r) => setTimeout(r, 50));
  const url = `redis://127.0.0.1:${port}`;
  nodes = [await startServer(['--backplane', url]), await startServer(['--backplane', url])];
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--no-first-run'],
  });
});
after(async () => {
  await browser?.close();
  for (const n of nodes ?? []) assert.equal((await n.stop()).code, 0);
  redis?.kill('SIGKILL');
  rmSync(redisDir, { recursive: true, force: true });
});

async function joinChat(node, room) {
  const page = await browser.newPage();
  await page.goto(`${node.http}/`);
  await page.click('#tab-live');
  await page.fill('#chat-room', room);
  await page.click('#chat-connect');
  await page.waitForFunction(() => document.getElementById('chat-state').textContent === 'open');
  await subscribed(node);
  return page;
}

const logHas = (page, text) => page.waitForFunction(
  (t) => [...document.querySelectorAll('#chat-log li')].some((li) => li.textContent.includes(t)), text,
  { timeout: 10000 });

test('Chromium: the page\'s chat on two nodes is one room', async () => {
  const a = await joinChat(nodes[0], 'across');
  const b = await joinChat(nodes[1], 'across');
  // b's join, published on node 2, reaches a on node 1: a's log shows its own join and
  // then b's. (Waiting for the first join alone raced the second one.)
  const joinsIn = (page) => page.$$eval('#chat-log li',
    (lis) => lis.filter((li) => li.textContent.includes('"event":"join"')).length);
  await a.waitForFunction(() => [...document.querySelectorAll('#chat-log li')]
    .filter((li) => li.textContent.includes('"event":"join"')).length >= 2, null, { timeout: 10000 });
  assert.equal(await joinsIn(a), 2, 'its own join and the other node\'s, no more');
  await b.fill('#chat-text', 'typed on node 2');
  await b.click('#chat-form button[type=submit]');
  await logHas(a, '← typed on node 2');
  await logHas(b, '← typed on node 2');
  await a.fill('#chat-text', 'and back from node 1');
  await a.click('#chat-form button[type=submit]');
  await logHas(b, '← and back from node 1');
  await b.close();
  await logHas(a, '"event":"leave"');
});
