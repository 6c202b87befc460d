// Starts the real `wslens serve` on a free 127.0.0.1 port and stops it with SIGTERM.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
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

export async function startServer(args = []) {
  const port = await freePort();
  const child = spawn(binary(), ['serve', '--port', String(port), '--www', path.join(root, 'www'), ...args], {
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
  return {
    port,
    http: `http://${base}`,
    ws: `ws://${base}`,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
      child.kill('SIGTERM');
      return exited;
    },
  };
}
