// Starts the real `wslens serve` on a free 127.0.0.1 port and stops it with SIGTERM.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function binary() {
  const bin = process.env.WSLENS_BIN || path.join(root, 'target', 'debug', 'wslens');
  if (!existsSync(bin)) throw new Error(`${bin} missing: run cargo build -p wslens-server`);
  return bin;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

// With { tls: true }: also a TLS listener with a self-signed development certificate
// (--tls-self-signed), whose PEM is returned as `certPem`.
export async function startServer(args = [], { tls = false } = {}) {
  const port = await freePort();
  const tlsPort = tls ? await freePort() : null;
  const certPath = tls ? path.join(mkdtempSync(path.join(tmpdir(), 'wslens-node-')), 'cert.pem') : null;
  const tlsArgs = tls
    ? ['--tls-self-signed', '--tls-port', String(tlsPort), '--tls-cert-out', certPath]
    : [];
  const child = spawn(binary(), ['serve', '--port', String(port), '--www', path.join(root, 'www'), ...tlsArgs, ...args], {
    env: { ...process.env, RUST_LOG: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(`http://${base}/healthz`);
      if (r.ok) break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const tlsBase = `127.0.0.1:${tlsPort}`;
  return {
    port,
    http: `http://${base}`,
    ws: `ws://${base}`,
    ...(tls && {
      https: `https://${tlsBase}`,
      wss: `wss://${tlsBase}`,
      certPem: readFileSync(certPath, 'utf8'),
    }),
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
      child.kill('SIGTERM');
      return exited;
    },
  };
}

// Debian's chromium, headless, driven by playwright-core (a fresh temporary profile each
// launch); `extraArgs` adds flags (a certificate pin, say).
export async function launchChromium(extraArgs = []) {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs],
  });
}
