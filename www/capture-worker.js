// The page's capture worker: reads a dropped .pcap, .pcapng or .har with the wasm capture
// module (the CLI's own readers: `wslens inspect --pcap`/`--har`), off the page's thread. A
// capture is read slice by slice (FileReaderSync), never whole; events go to the page in
// batches; each session direction's first bytes are kept (bounded) so a frame can be opened
// in the byte inspector.
import init, { readCapture, readHar } from './pkg-capture/wslens_capture.js';

const KEEP_PER_DIRECTION = 1 << 20; // bytes kept of each session direction
const KEEP_IN_ALL = 64 << 20;
const ready = init();
let kept = new Map(); // `${session}:${fromClient}` -> { chunks: [Uint8Array], length }
let keptInAll = 0;

function keep(session, fromClient, offset, bytes) {
  const key = `${session}:${fromClient}`;
  let k = kept.get(key);
  if (!k) { k = { chunks: [], length: 0 }; kept.set(key, k); }
  if (offset !== k.length) return; // after a gap: nothing more is kept
  const room = Math.min(KEEP_PER_DIRECTION - k.length, KEEP_IN_ALL - keptInAll);
  if (room <= 0) return;
  const part = bytes.length > room ? bytes.slice(0, room) : bytes;
  k.chunks.push(part);
  k.length += part.length;
  keptInAll += part.length;
}

function bytesOf(session, fromClient, from, to) {
  const k = kept.get(`${session}:${fromClient}`);
  if (!k || to > k.length) return null;
  const out = new Uint8Array(to - from);
  let at = 0;
  for (const c of k.chunks) {
    const lo = Math.max(from, at), hi = Math.min(to, at + c.length);
    if (lo < hi) out.set(c.subarray(lo - at, hi - at), lo - from);
    at += c.length;
    if (at >= to) break;
  }
  return out;
}

function read(file) {
  kept = new Map();
  keptInAll = 0;
  let batch = [];
  const flush = () => { if (batch.length) { postMessage({ events: batch }); batch = []; } };
  const emit = (json) => { batch.push(JSON.parse(json)); if (batch.length >= 500) flush(); };
  const size = file.size;
  let lastProgress = 0;
  try {
    const head = new Uint8Array(new FileReaderSync().readAsArrayBuffer(file.slice(0, 1)));
    if (/\.har$/i.test(file.name) || head[0] === 0x7b) {
      const sessions = readHar(new FileReaderSync().readAsText(file), emit, keep);
      flush();
      postMessage({ done: { har: true, sessions } });
      return;
    }
    const reader = new FileReaderSync();
    const slice = (offset, length) => {
      if (offset - lastProgress >= (4 << 20)) { flush(); postMessage({ progress: offset, size }); lastProgress = offset; }
      return new Uint8Array(reader.readAsArrayBuffer(file.slice(offset, offset + length)));
    };
    const summary = JSON.parse(readCapture(slice, emit, keep));
    flush();
    postMessage({ progress: size, size });
    postMessage({ done: summary });
  } catch (e) {
    flush();
    postMessage({ error: e.message ?? String(e) });
  }
}

onmessage = async ({ data }) => {
  await ready;
  if (data.open) read(data.open);
  else if (data.bytes) {
    const { id, session, fromClient, from, to } = data.bytes;
    postMessage({ bytes: { id, data: bytesOf(session, fromClient, from, to) } });
  }
};
