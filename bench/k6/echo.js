// k6 as a second opinion on the echo benchmark: CONNECTIONS virtual users, each with one
// WebSocket that keeps one SIZE-byte binary message in flight (the next leaves when the echo
// arrived and matched), for WARMUP + DURATION seconds; only echoes after the warm-up count.
//
//   k6 run -e URL=ws://127.0.0.1:8765/echo -e CONNECTIONS=100 -e SIZE=20 \
//          -e WARMUP=1 -e DURATION=5 bench/k6/echo.js
//
// handleSummary prints one JSON line: echoes, msgs_per_s, mismatches, rtt_ms percentiles.
import { WebSocket } from 'k6/experimental/websockets'; // k6 1.1's name for it
import { Counter, Trend } from 'k6/metrics';

const URL = __ENV.URL || 'ws://127.0.0.1:8765/echo';
const CONNECTIONS = parseInt(__ENV.CONNECTIONS || '100', 10);
const SIZE = parseInt(__ENV.SIZE || '20', 10);
const WARMUP = parseFloat(__ENV.WARMUP || '1');
const DURATION = parseFloat(__ENV.DURATION || '5');

const echoes = new Counter('echoes');
const mismatches = new Counter('mismatches');
const rtt = new Trend('rtt', true);

export const options = {
  scenarios: {
    echo: {
      executor: 'per-vu-iterations',
      vus: CONNECTIONS,
      iterations: 1,
      maxDuration: `${Math.ceil(WARMUP + DURATION + 30)}s`,
    },
  },
  summaryTrendStats: ['med', 'p(90)', 'p(99)', 'max'],
};

const payload = new Uint8Array(SIZE);
for (let i = 0; i < SIZE; i++) payload[i] = (i * 31 + 7) & 0xff;

function same(buf) {
  const got = new Uint8Array(buf);
  if (got.length !== SIZE) return false;
  for (let i = 0; i < SIZE; i++) if (got[i] !== payload[i]) return false;
  return true;
}

export default function () {
  const ws = new WebSocket(URL);
  ws.binaryType = 'arraybuffer';
  let start = 0;
  let sent = 0;
  ws.onopen = () => {
    start = Date.now();
    sent = Date.now();
    ws.send(payload.buffer);
  };
  ws.onmessage = (e) => {
    const now = Date.now();
    const elapsed = (now - start) / 1000;
    if (elapsed >= WARMUP + DURATION) {
      ws.close();
      return;
    }
    if (elapsed >= WARMUP) {
      echoes.add(1);
      rtt.add(now - sent);
      if (!same(e.data)) mismatches.add(1);
    }
    sent = now;
    ws.send(payload.buffer);
  };
  ws.onerror = (e) => console.error(`websocket error: ${e.error}`);
}

export function handleSummary(data) {
  const m = data.metrics;
  const count = m.echoes ? m.echoes.values.count : 0;
  const t = m.rtt ? m.rtt.values : {};
  const out = {
    connections: CONNECTIONS,
    size: SIZE,
    seconds: DURATION,
    echoes: count,
    msgs_per_s: count / DURATION,
    mismatches: m.mismatches ? m.mismatches.values.count : 0,
    rtt_ms: { p50: t.med, p90: t['p(90)'], p99: t['p(99)'], max: t.max },
  };
  return { stdout: JSON.stringify(out) + '\n' };
}
