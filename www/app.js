// The wslens page. Everything about bytes comes from the wasm module (the real wslens parser):
// this file only draws what it returns.
import init, { inspectFrames, inspectHandshake, buildFrame, acceptKey, decodeInput, explainDeflate } from './pkg/wslens_wasm.js';
import { tourText } from './tour-text.js';

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
};
const hex2 = (b) => b.toString(16).padStart(2, '0');
const hexOf = (bytes) => Array.from(bytes, hex2).join(' ');
const printable = (b) => (b >= 0x20 && b < 0x7f ? `'${String.fromCharCode(b)}'` : '');
// A field's or header line's lesson (wslens::inspect::Lesson): the why, folded, with the
// RFC's own sentence and a link to its section.
const extLink = (href, text) => el('a', { href, target: '_blank', rel: 'noopener' }, text);
const rfcLink = (lesson) => extLink(lesson.url, lesson.rfc);
// "RFC 6455 §5.4" → its section on rfc-editor.org (as the core's Lesson::url does).
const rfcUrl = (label) => {
  const [, number, section] = /^RFC (\d+) §([\d.]+)$/.exec(label) ?? [];
  return `https://www.rfc-editor.org/rfc/rfc${number}#section-${section}`;
};
const lessonDetails = (lesson) => el('details', { class: 'lesson' }, el('summary', {}, 'why?'),
  el('p', {}, lesson.why), el('blockquote', {}, `“${lesson.quote}”`, el('footer', {}, '— ', rfcLink(lesson))));

// ---- Tabs -------------------------------------------------------------------------------
const tabs = [...document.querySelectorAll('[role="tab"]')];
function selectTab(tab) {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute('aria-controls')).hidden = !on;
  }
  tab.focus();
}
tabs.forEach((t, i) => {
  t.addEventListener('click', () => selectTab(t));
  t.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowRight') selectTab(tabs[(i + 1) % tabs.length]);
    if (e.key === 'ArrowLeft') selectTab(tabs[(i + tabs.length - 1) % tabs.length]);
  });
});

// ---- Input ------------------------------------------------------------------------------
// Reading the input is the core's too (wslens::inspect::decode_input): hex, base64, text.
const hintFor = { hex: ' (choose base64 or text as the format)', base64: '', text: '' };

let state = { bytes: new Uint8Array(), ins: null, frame: 0, unmaskAt: 0, stepAt: 0 };

function currentBytes() {
  const format = $('format').value;
  try {
    return decodeInput($('input').value, format);
  } catch (e) {
    throw new Error(`${e.message}${hintFor[format] ?? ''}`);
  }
}

function inspect() {
  try {
    state.bytes = currentBytes();
  } catch (e) {
    $('status').textContent = e.message;
    return;
  }
  state.ins = inspectFrames(state.bytes, $('role').value, $('deflate').checked);
  // Show the frame that broke the rules, if one did.
  state.frame = state.ins.error ? Math.max(0, state.ins.frames.length - 1) : 0;
  state.unmaskAt = 0;
  state.stepAt = Math.min(state.stepAt, state.bytes.length);
  $('status').textContent = `${state.bytes.length} bytes, read by a ${state.ins.role}`;
  renderInspector();
  renderUnmask();
  renderStep();
}

// ---- Inspector --------------------------------------------------------------------------
/// Which field (kind and row) each byte offset belongs to.
function byteMap(ins) {
  const map = new Map();
  ins.frames.forEach((f, fi) => {
    for (const row of f.fields) {
      for (let i = 0; i < row.length; i++) {
        const at = row.offset + i;
        const entry = map.get(at) ?? { frame: fi, kinds: [], rows: [] };
        entry.kinds.push(row.kind);
        entry.rows.push(row);
        map.set(at, entry);
      }
    }
    for (const p of f.payload) map.set(p.offset, { frame: fi, kinds: ['payload'], rows: [], payload: p });
  });
  return map;
}

function highlight(offsets) {
  document.querySelectorAll('.hl').forEach((e) => e.classList.remove('hl'));
  for (const o of offsets) {
    document.querySelectorAll(`[data-offset="${o}"]`).forEach((e) => e.classList.add('hl'));
  }
}

function renderInspector() {
  const { ins, bytes } = state;
  const map = byteMap(ins);
  const grid = $('hexgrid');
  grid.replaceChildren();
  let lastFrame = 0;
  bytes.forEach((b, i) => {
    const info = map.get(i);
    if (info && info.frame !== lastFrame) {
      grid.append(el('span', { class: 'frame-break', 'aria-hidden': 'true' }));
      lastFrame = info.frame;
    }
    const kind = info ? info.kinds[0] : 'unread';
    const title = info?.payload
      ? `payload[${info.payload.index}]: ${hex2(info.payload.masked)} XOR key[${info.payload.keyIndex}] ${hex2(info.payload.keyByte)} = ${hex2(info.payload.plain)} ${printable(info.payload.plain)}`
      : info ? info.rows.map((r) => `${r.field} = ${r.value}: ${r.meaning}`).join('\n') : 'not read (after an error or past the input)';
    const span = el('span', { class: `byte k-${kind}`, 'data-offset': i, tabindex: '0', title, role: 'button', 'aria-label': `byte ${i}: ${hex2(b)}. ${title}` }, hex2(b));
    if (ins.error && ins.error.offset === i) span.classList.add('err');
    const offsets = [i];
    span.addEventListener('mouseenter', () => highlight(offsets));
    span.addEventListener('focus', () => highlight(offsets));
    span.addEventListener('keydown', (e) => {
      const next = e.key === 'ArrowRight' ? span.nextElementSibling : e.key === 'ArrowLeft' ? span.previousElementSibling : null;
      const target = next?.classList.contains('frame-break') ? (e.key === 'ArrowRight' ? next.nextElementSibling : next.previousElementSibling) : next;
      target?.focus();
    });
    grid.append(span);
  });

  // Bits of the first two bytes of the selected frame.
  const frame = ins.frames[state.frame];
  const bits = $('bits');
  bits.replaceChildren();
  for (const cell of frame?.headerBits ?? []) {
    bits.append(el('div', { class: `k-${cell.kind}`, style: `border-bottom:3px solid var(--${cell.kind})`, 'data-offset': cell.offset }, cell.bit === null ? '·' : String(cell.bit)));
  }
  for (const cell of frame?.headerBits ?? []) bits.append(el('div', { class: 'label' }, cell.label));

  // Timeline of frames and the messages they carried.
  const timeline = $('timeline');
  timeline.replaceChildren();
  ins.frames.forEach((f, i) => {
    const name = f.header ? f.header.opcodeName : 'incomplete header';
    const btn = el('button', { 'aria-pressed': String(i === state.frame), onclick: () => { state.frame = i; state.unmaskAt = 0; renderInspector(); renderUnmask(); } },
      `frame ${i}: ${name}${f.header ? `, ${f.header.payloadLength} B` : ''}${f.header && !f.header.fin ? ', FIN=0' : ''}${f.complete ? '' : ' …'}`);
    timeline.append(btn);
  });
  const messages = $('messages');
  messages.replaceChildren();
  for (const m of ins.messages) {
    const what = messageSays(m);
    const how = m.compressed ? ` (compressed: inflated from ${m.wireLength} bytes, RFC 7692 §7.2.2)` : '';
    messages.append(el('p', { class: 'message' }, `${m.type} of ${m.length} bytes${how} from frame${m.frames.length > 1 ? 's' : ''} ${m.frames.join(', ')}: ${what}`));
    if (m.compressed) messages.append(deflatePanel(ins, m));
  }

  // Verdict: error, partial, or valid.
  const verdict = $('verdict');
  if (ins.error) {
    verdict.replaceChildren(el('div', { class: 'error-box', id: 'error' },
      el('strong', {}, `Error at byte ${ins.error.offset}: `), `${ins.error.rule} (${ins.error.rfc}). `,
      el('strong', {}, `A server closes with ${ins.error.closeCode}`), ` (${ins.error.closeMeaning}).`));
  } else if (ins.needMore !== null) {
    verdict.replaceChildren(el('div', { class: 'info-box' }, `Incomplete: at least ${ins.needMore} more byte(s) needed; waiting for ${ins.waitingFor}.`));
  } else {
    verdict.replaceChildren(el('div', { class: 'ok-box' }, `Valid: every byte read.${ins.reply.length ? ` The receiver answers with ${hexOf(ins.reply)}.` : ''}`));
  }

  // Field table for the selected frame.
  const tbody = $('fields').tBodies[0];
  tbody.replaceChildren();
  for (const row of frame?.fields ?? []) {
    const offsets = Array.from({ length: row.length }, (_, i) => row.offset + i);
    const tr = el('tr', { 'data-offset': row.offset, tabindex: '0' },
      el('td', { class: 'mono' }, row.length > 1 ? `${row.offset}-${row.offset + row.length - 1}` : String(row.offset)),
      el('td', {}, el('span', { class: 'swatch', style: `background:var(--${row.kind})` }), row.field),
      el('td', { class: 'mono' }, row.bits),
      el('td', { class: 'mono' }, row.valueText),
      el('td', {}, row.meaning, row.remark ? el('div', { class: 'sys' }, `note: ${row.remark}`) : ''),
      el('td', {}, extLink(row.lesson.url, row.rfc)),
      el('td', {}, lessonDetails(row.lesson)));
    tr.addEventListener('mouseenter', () => highlight(offsets));
    tr.addEventListener('focus', () => highlight(offsets));
    tbody.append(tr);
  }
}

// What a message delivered: its text, its bytes, or its close code and reason.
function messageSays(m) {
  if (m.closeCode !== undefined) return m.closeCode === null ? 'no status code' : `code ${m.closeCode} (${m.closeMeaning}) ${JSON.stringify(m.text)}`;
  if (m.text !== undefined) return JSON.stringify(m.text);
  return m.data ? `${m.data.length} bytes: ${hexOf(m.data.slice(0, 32))}${m.data.length > 32 ? ' …' : ''}` : '';
}

// A compressed message opened up (RFC 7692 §7.2): its payload as received (unmasked), the
// same with the stripped 00 00 ff ff put back, the first DEFLATE block's header bits as the
// core reads them, and what it inflated to.
function deflatePanel(ins, m) {
  const wire = Uint8Array.from(m.frames.flatMap((i) => ins.frames[i].payload.map((p) => p.plain)));
  const d = explainDeflate(wire);
  const inflated = m.inflated ?? new Uint8Array();
  const ratio = inflated.length ? `${((100 * m.wireLength) / inflated.length).toFixed(0)}%` : '—';
  const box = el('div', { class: 'deflate', 'aria-label': 'the compressed message, opened up' });
  const bytesRow = (label, data, tailFrom = data.length) => el('div', { class: 'deflate-row' }, el('span', { class: 'label' }, label),
    el('span', { class: 'mono' }, ...Array.from(data, (b, i) => el('span', { class: i >= tailFrom ? 'tail' : '' }, `${hex2(b)} `))));
  box.append(el('div', { class: 'deflate-pair' },
    el('div', {}, el('h4', {}, `compressed: ${m.wireLength} B on the wire`),
      bytesRow('payload (unmasked)', wire),
      d ? bytesRow('+ 00 00 ff ff put back', d.withTail, wire.length) : el('p', {}, 'an empty payload'),
      el('p', { class: 'sys' }, 'The sender ended the message with a sync flush and removed its last four bytes (RFC 7692 §7.2.1); the receiver appends them before inflating (§7.2.2).')),
    el('div', {}, el('h4', {}, `inflated: ${inflated.length} B`),
      bytesRow('payload', inflated),
      el('p', { class: 'mono' }, m.text !== undefined ? JSON.stringify(m.text) : ''))));
  if (d) {
    const b0 = wire[0];
    box.append(el('p', { class: 'deflate-block' },
      `First DEFLATE block (RFC 1951 §3.2.3), read from the low bits of byte 0x${hex2(b0)} = ${b0.toString(2).padStart(8, '0')}: `,
      el('strong', {}, `BFINAL = ${d.bfinal ? 1 : 0}`), d.bfinal ? ' (the last block: the sender reset its compressor)' : ' (not the last block: the stream goes on into the next message)', '; ',
      el('strong', {}, `BTYPE = ${d.btypeMeaning}`), '.'));
  }
  box.append(el('p', {}, `Size: ${m.wireLength} B for ${inflated.length} B, ${ratio} of the original. `,
    'With context takeover (RFC 7692 §7.2.3.2) the compressor keeps its window from one message to the next: a repeat of an earlier message shrinks to a back-reference, which is why compressed messages must be read in order.'));
  return box;
}

// ---- Unmasking walkthrough --------------------------------------------------------------
function renderUnmask() {
  const frame = state.ins?.frames[state.frame];
  const payload = frame?.payload ?? [];
  const key = frame?.header?.key;
  if (!frame || !payload.length) {
    $('unmask-pos').textContent = 'no payload in this frame';
    $('unmask-key').textContent = $('unmask-step').textContent = $('unmask-so-far').textContent = '';
    return;
  }
  state.unmaskAt = Math.max(0, Math.min(state.unmaskAt, payload.length - 1));
  const p = payload[state.unmaskAt];
  $('unmask-pos').textContent = `frame ${state.frame}, payload byte ${p.index + 1} of ${payload.length}`;
  const keyLine = $('unmask-key');
  keyLine.replaceChildren('key: ');
  if (key) key.forEach((k, i) => keyLine.append(el('span', { class: `key${i}` }, `[${i}] ${hex2(k)} `)));
  else keyLine.append('none (this frame is not masked: plain = received)');
  $('unmask-step').replaceChildren(
    `masked[${p.index}] ${hex2(p.masked)} XOR `,
    el('span', { class: `key${p.keyIndex}` }, `key[${p.index} mod 4 = ${p.keyIndex}] ${hex2(p.keyByte)}`),
    ` = plain[${p.index}] ${hex2(p.plain)} ${printable(p.plain)}`);
  const soFar = payload.slice(0, state.unmaskAt + 1).map((b) => b.plain);
  $('unmask-so-far').textContent = `plain so far: ${hexOf(soFar)}  ${JSON.stringify(new TextDecoder().decode(Uint8Array.from(soFar)))}`;
}
$('unmask-prev').addEventListener('click', () => { state.unmaskAt--; renderUnmask(); });
$('unmask-next').addEventListener('click', () => { state.unmaskAt++; renderUnmask(); });

// ---- Parser step-through ----------------------------------------------------------------
function renderStep() {
  const n = Math.max(0, Math.min(state.stepAt, state.bytes.length));
  state.stepAt = n;
  const ins = inspectFrames(state.bytes.slice(0, n), state.ins?.role ?? 'auto', $('deflate').checked);
  $('step-pos').textContent = `fed ${n} of ${state.bytes.length} bytes`;
  const lines = [];
  if (ins.error) lines.push(`error at byte ${ins.error.offset}: ${ins.error.rule} → close ${ins.error.closeCode}`);
  else if (n === 0) lines.push(`nothing fed yet: waiting for ${ins.waitingFor}`);
  else if (ins.needMore !== null) lines.push(`waiting for ${ins.waitingFor}: at least ${ins.needMore} more byte(s)`);
  else lines.push(`every byte fed so far is read; next: ${ins.waitingFor}`);
  lines.push(`${ins.frames.length} frame(s) started, ${ins.messages.length} message(s) complete`);
  $('step-state').textContent = lines.join('\n');
  const tbody = $('step-fields').tBodies[0];
  tbody.replaceChildren();
  for (const f of ins.frames) {
    for (const r of f.fields) tbody.append(el('tr', {}, el('td', { class: 'mono' }, String(r.offset)), el('td', {}, r.field), el('td', { class: 'mono' }, String(r.value)), el('td', {}, r.meaning)));
    if (f.payload.length) tbody.append(el('tr', {}, el('td', { class: 'mono' }, `${f.payload[0].offset}…`), el('td', {}, 'payload'), el('td', { class: 'mono' }, `${f.payload.length} B`), el('td', {}, 'unmasked as they arrive')));
  }
}
$('step-back').addEventListener('click', () => { state.stepAt--; renderStep(); });
$('step-fwd').addEventListener('click', () => { state.stepAt++; renderStep(); });
$('step-fwd-n').addEventListener('click', () => { state.stepAt += Math.max(1, Number($('step-n').value) || 1); renderStep(); });
$('step-all').addEventListener('click', () => { state.stepAt = state.bytes.length; renderStep(); });

// ---- Error gallery ----------------------------------------------------------------------
// Malformed input worth seeing once: each item only fills the inspector, which runs the real
// parser; the offending byte, the rule broken and the close code are what it reports.
const gallery = [
  ['unmasked client frame', 'server', '81 05 48 65 6c 6c 6f'],
  ['masked server frame', 'client', '81 85 37 fa 21 3d 7f 9f 4d 51 58'],
  ['reserved opcode 0x3', 'server', '83 80 00 00 00 00'],
  ['RSV1 without an extension', 'server', 'c1 80 00 00 00 00'],
  ['fragmented ping (FIN = 0)', 'server', '09 80 00 00 00 00'],
  ['ping of 126 bytes', 'server', '89 fe 00 7e 00 00 00 00'],
  ['64-bit length with the top bit set', 'client', '82 7f 80 00 00 00 00 00 00 00'],
  ['continuation with nothing to continue', 'server', '80 80 00 00 00 00'],
  ['new message inside a fragmented one', 'server', '01 80 00 00 00 00 01 80 00 00 00 00'],
  ['invalid UTF-8 in a text fragment', 'server', '01 83 00 00 00 00 e2 82 28'],
  ['close code 1005 on the wire', 'server', '88 82 00 00 00 00 03 ed'],
  ['close frame of 1 byte', 'server', '88 81 00 00 00 00 03'],
  ['invalid UTF-8 in a close reason', 'server', '88 84 00 00 00 00 03 e8 ff fe'],
];
for (const [label, role, hex] of gallery) {
  $('gallery').append(el('button', { 'data-hex': hex, onclick: () => {
    $('input').value = hex; $('format').value = 'hex'; $('role').value = role; $('deflate').checked = false;
    inspect();
  } }, label));
}

// ---- Builder ----------------------------------------------------------------------------
let built = new Uint8Array();
function build() {
  try {
    const rsv = ($('b-rsv1').checked ? 4 : 0) | ($('b-rsv2').checked ? 2 : 0) | ($('b-rsv3').checked ? 1 : 0);
    const key = $('b-mask').checked ? decodeInput($('b-key').value, 'hex') : undefined;
    built = buildFrame($('b-fin').checked, rsv, Number($('b-opcode').value), key, decodeInput($('b-payload').value, 'text'));
    $('b-out').textContent = hexOf(built);
  } catch (e) {
    $('b-out').textContent = `cannot build: ${e.message}`;
  }
}
$('b-build').addEventListener('click', build);
$('b-copy').addEventListener('click', async () => { build(); await navigator.clipboard?.writeText(hexOf(built)).catch(() => {}); });
$('b-send').addEventListener('click', () => {
  build();
  $('input').value = hexOf(built);
  $('format').value = 'hex';
  $('role').value = 'auto';
  inspect();
  selectTab($('tab-inspect'));
});

// Every line of a head, the start line first, with its byte range and its lesson.
function headLines(hs, attrs = {}) {
  const row = (bytes, name, value, lesson) => el('tr', {}, el('td', { class: 'mono' }, bytes), el('td', {}, name),
    el('td', { class: 'mono' }, value), el('td', {}, lessonDetails(lesson)));
  const body = el('tbody');
  if (hs.startLine) body.append(row(`0..${hs.startLineEnd}`, hs.isResponse ? 'status line' : 'request line', hs.startLine, hs.startLineLesson));
  for (const h of hs.headers) body.append(row(`${h.start}..${h.end}`, h.name, h.value, h.lesson));
  return el('table', attrs, el('thead', {}, el('tr', {}, ...['bytes', 'line', 'value', 'why'].map((t) => el('th', {}, t)))), body);
}

// ---- Handshake --------------------------------------------------------------------------
function handshake() {
  const hs = inspectHandshake(decodeInput($('hs-input').value, 'head'));
  const out = $('hs-out');
  out.replaceChildren();
  if (hs.error) out.append(el('div', { class: 'error-box' }, `Refused: ${hs.error.reason}. The server answers HTTP ${hs.error.status}.`));
  else if (!hs.isResponse && hs.headLength !== null) out.append(el('div', { class: 'ok-box' }, 'Valid: the server answers 101 Switching Protocols.'));
  out.append(headLines(hs, { id: 'hs-lines' }));
  const steps = hs.accept;
  if (steps) {
    out.append(el('h3', {}, 'Sec-WebSocket-Accept, step by step (RFC 6455 §1.3)'),
      el('ol', { class: 'mono', id: 'accept-steps' },
        el('li', {}, `key: ${steps.key}`),
        el('li', {}, `key + GUID: ${steps.concatenated}`),
        el('li', {}, `SHA-1: ${steps.sha1Hex}`),
        el('li', {}, `base64: ${steps.accept}`)));
  }
}
$('hs-btn').addEventListener('click', handshake);

// ---- Live -------------------------------------------------------------------------------
const wsBase = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;
function log(list, cls, ...content) {
  list.append(el('li', { class: cls }, ...content));
  list.scrollTop = list.scrollHeight;
}
const spaced = (hex) => hex.match(/../g)?.join(' ') ?? '';
// Opens bytes in the inspector and selects frame `frame` (-1: the last). With
// permessage-deflate a message may refer back into earlier ones (context takeover, RFC 7692
// §7.2.3.2), so callers pass the whole stream up to the frame, not the frame alone.
function openInInspector(hex, role, deflate, frame) {
  $('input').value = spaced(hex); $('format').value = 'hex'; $('role').value = role; $('deflate').checked = deflate;
  inspect();
  if (frame !== undefined && !state.ins.error) {
    state.frame = frame < 0 ? Math.max(0, state.ins.frames.length - 1) : frame;
    renderInspector(); renderUnmask();
  }
  selectTab($('tab-inspect'));
}
function link(label, onclick) {
  return el('a', { class: 'inspect', tabindex: '0', role: 'button', onclick,
    onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); onclick(); } } }, label);
}
function client({ path, protocols, stateEl, list, onMessage, onClose }) {
  let ws = null;
  return {
    connect() {
      if (ws && ws.readyState <= WebSocket.OPEN) return;
      if (!location.host) { log(list, 'sys', 'open this page from wslens serve to use the live views'); return; }
      ws = new WebSocket(`${wsBase}${path()}`, protocols);
      ws.binaryType = 'arraybuffer';
      stateEl.textContent = 'connecting';
      this.deflate = false;
      ws.onopen = () => {
        this.deflate = ws.extensions.includes('permessage-deflate');
        stateEl.textContent = 'open';
        log(list, 'sys', `open (subprotocol: ${ws.protocol || 'none'}; extensions: ${ws.extensions || 'none'})`);
      };
      ws.onmessage = (e) => onMessage(e.data);
      ws.onerror = () => log(list, 'sys', 'error');
      ws.onclose = (e) => {
        stateEl.textContent = 'closed';
        log(list, 'sys', `closed: code ${e.code}${e.reason ? ` "${e.reason}"` : ''}${e.wasClean ? '' : ' (not clean)'}`);
        onClose?.();
      };
    },
    send(text) {
      if (!ws || ws.readyState !== WebSocket.OPEN) { log(list, 'sys', 'not connected'); return; }
      ws.send(text);
      log(list, 'out', `→ ${text}`);
    },
    close() { ws?.close(1000, 'bye'); },
  };
}
const echoLog = $('echo-log');
// ---- The wire tap: its records (see server/README.md) drawn as a ladder and a log -----------
// Each direction's bytes so far, and how many of their frames are drawn: every record is read
// by the core's inspector over the whole stream (a compressed message may refer back).
const ladder = $('ladder');
const lanes = { in: { hex: '', count: 0 }, out: { hex: '', count: 0 } };
const tap = { session: null, seen: 0 };
// The ladder, one component for the live view and the captures: an arrow per frame, from
// the client's side to the server's (`toServer`) or back, each a link that opens its bytes.
function ladderRung(list, toServer, t, label, onclick, kind = '') {
  list.append(el('li', { class: `rung ${toServer ? 'to-server' : 'to-client'}${kind ? ` ${kind}` : ''}` },
    el('span', { class: 't mono' }, typeof t === 'number' ? `+${t} ms` : t), link(label, onclick)));
  list.scrollTop = list.scrollHeight;
}
// What a frame's arrow says: its opcode, bits and length, and what its message said.
function rungLabel({ opcodeName, fin, compressed, masked, length }, msg) {
  const bits = [fin ? 'FIN' : 'FIN=0', compressed ? 'RSV1 (compressed)' : '', masked ? 'masked' : ''].filter(Boolean).join(', ');
  let what = '';
  if (msg?.closeCode !== undefined) what = ` · ${msg.closeCode ?? 'no code'}${msg.closeMeaning ? ` (${msg.closeMeaning})` : ''}`;
  else if (msg?.text !== undefined) what = ` · "${msg.text.length > 40 ? `${msg.text.slice(0, 40)}…` : msg.text}"`;
  if (msg && msg.frames > 1) what += ` · the last of ${msg.frames} frames`;
  return `${opcodeName} · ${bits} · ${length} B${what}`;
}
function rung(toServer, t, label, onclick, kind = '') {
  ladderRung(ladder, toServer, t, label, onclick, kind);
}
// A data frame that is one fragment of a longer message (FIN = 0, or a continuation).
const isFragment = ({ opcode, fin }) => opcode < 8 && (opcode === 0 || !fin);
// Under the last fragment of a message: a bracket that groups its frames and says what they
// carried, reassembled (RFC 6455 §5.4).
function messageRung(list, toServer, t, msg, count, onclick) {
  const what = msg.text !== undefined ? `"${msg.text.length > 60 ? `${msg.text.slice(0, 60)}…` : msg.text}"` : `${msg.length ?? '?'} B`;
  ladderRung(list, toServer, t, `⤷ one message from these ${count} frames, reassembled: ${what}`, onclick, 'message');
}
// Draws the frames `hex` completes in direction `dir`; returns the inspection of the stream.
function ladderFrames(dir, hex, t) {
  const lane = lanes[dir];
  lane.hex += hex;
  const role = dir === 'in' ? 'server' : 'client';
  const ins = inspectFrames(decodeInput(lane.hex, 'hex'), role, echo.deflate);
  for (let i = lane.count; i < ins.frames.length; i++) {
    const { header: h, complete, end } = ins.frames[i];
    if (!h || !complete) break;
    const msg = ins.messages.find((m) => m.frames.at(-1) === i);
    const upTo = lane.hex.slice(0, end * 2);
    const label = rungLabel({ opcodeName: h.opcodeName, fin: h.fin, compressed: h.rsv & 4, masked: h.masked, length: h.payloadLength },
      msg && { text: msg.text, closeCode: msg.closeCode, closeMeaning: msg.closeMeaning, frames: msg.frames.length });
    const open = () => openInInspector(upTo, role, echo.deflate, i);
    rung(dir === 'in', t, label, open, h.opcode >= 8 ? 'control' : isFragment(h) ? 'fragment' : '');
    if (msg && msg.frames.length > 1) messageRung(ladder, dir === 'in', t, { text: msg.text, length: msg.length }, msg.frames.length, open);
    lane.count = i + 1;
  }
  return ins;
}
const headText = (hex) => new TextDecoder().decode(decodeInput(hex, 'hex')).replace(/\r\n/g, '\n');
const openHandshake = (hex) => () => { $('hs-input').value = headText(hex); handshake(); selectTab($('tab-handshake')); };
// The tap's first record: the browser's own request and the server's 101, as read and
// written; the accept key is checked against the browser's real key.
function showHandshake(hs) {
  Object.assign(tap, { session: hs.session, seen: 1 });
  ladder.replaceChildren();
  for (const lane of Object.values(lanes)) Object.assign(lane, { hex: '', count: 0 });
  const request = inspectHandshake(decodeInput(hs.request, 'hex'));
  const response = inspectHandshake(decodeInput(hs.response, 'hex'));
  const accept = response.headers.find((h) => h.name.toLowerCase() === 'sec-websocket-accept')?.value;
  const ok = request.accept && accept === request.accept.accept;
  const key = request.accept?.key ?? '?';
  rung(true, 0, `${request.startLine} · Sec-WebSocket-Key ${key}`, openHandshake(hs.request));
  rung(false, 0, `${response.startLine} · Sec-WebSocket-Accept ${ok ? '✓ matches your key' : '✗ does not match'}`, openHandshake(hs.response));
  log(echoLog, 'handshake', `your browser's request (${request.startLine}, Sec-WebSocket-Key ${key}): `, link('open in the Handshake view', openHandshake(hs.request)));
  log(echoLog, 'handshake', `the server's answer (${response.startLine}; Sec-WebSocket-Accept ${accept}, ${ok ? 'which is base64(SHA-1(your key + GUID)): correct' : 'which does not match your key'}): `,
    link('open in the Handshake view', openHandshake(hs.response)));
}
function showWire(wire) {
  tap.seen += 1;
  const { deflate } = echo;
  const says = {
    in: (compressed) => `your browser sent (masked${compressed ? ', compressed' : ''})`,
    out: (compressed) => `the server wrote${compressed ? ' (compressed)' : ''}`,
  };
  for (const [dir, role] of [['in', 'server'], ['out', 'client']]) {
    const hex = wire[dir];
    if (!hex) continue;
    const ins = ladderFrames(dir, hex, wire.t);
    // Whether the newest message went compressed: read by the inspector from the stream so far.
    const compressed = deflate && ins.messages.at(-1)?.compressed;
    const stream = deflate ? lanes[dir].hex : hex;
    log(echoLog, 'wire', `${says[dir](compressed)}: `, link(spaced(hex), () => openInInspector(stream, role, deflate, deflate ? -1 : undefined)));
  }
}
const echo = client({
  path: () => '/echo', protocols: ['wslens.wire'], stateEl: $('echo-state'), list: echoLog,
  onClose: () => fetchTranscript(),
  onMessage(data) {
    const record = typeof data === 'string' && /^\{"(handshake|wire)":/.test(data) ? JSON.parse(data) : null;
    if (record?.handshake) showHandshake(record.handshake);
    else if (record) showWire(record.wire);
    else log(echoLog, 'in', `← ${typeof data === 'string' ? data : `[${data.byteLength} bytes]`}`);
  },
});
// After the close no more records can come over the socket: the server kept the whole session
// (GET /wire/<session>), so the closing handshake's frames are fetched from there. The
// transcript's record i is the session's record dropped + i.
async function fetchTranscript() {
  const { session, seen } = tap;
  if (!session) return;
  tap.session = null;
  const response = await fetch(`/wire/${session}`);
  if (!response.ok) { log(echoLog, 'sys', `the server no longer has this session's transcript (HTTP ${response.status})`); return; }
  const transcript = await response.json();
  for (const record of transcript.records.slice(Math.max(0, seen - transcript.dropped))) if (record.wire) showWire(record.wire);
  log(echoLog, 'sys', `the server's transcript of this session: ${transcript.records.length} records (/wire/${session})`);
}
$('echo-connect').addEventListener('click', () => echo.connect());
for (const [id, command] of [['tap-ping', () => '/ping hello'], ['tap-fragments', () => `/fragments ${$('tap-frames').value}`],
  ['tap-deflate', () => '/deflate'], ['tap-close', () => `/close ${$('tap-code').value} closed by the server`]]) {
  $(id).addEventListener('click', () => echo.send(command()));
}
$('echo-close').addEventListener('click', () => echo.close());
$('echo-form').addEventListener('submit', (e) => { e.preventDefault(); echo.send($('echo-text').value); });
const chatLog = $('chat-log');
const chat = client({
  path: () => `/chat/${encodeURIComponent($('chat-room').value || 'lobby')}`, protocols: [], stateEl: $('chat-state'), list: chatLog,
  onMessage(data) { log(chatLog, 'in', `← ${data}`); },
});
$('chat-connect').addEventListener('click', () => chat.connect());
$('chat-form').addEventListener('submit', (e) => { e.preventDefault(); chat.send($('chat-text').value); $('chat-text').value = ''; });

// ---- Captures: a dropped pcap, pcapng or HAR, read in a worker by the wasm capture module ----
// The worker hands on the events `wslens inspect --pcap --json` prints; the page keeps up to
// EVENTS_KEPT of each session's and draws the chosen one as a ladder.
const EVENTS_KEPT = 5000;
const captures = { worker: null, sessions: new Map(), current: null, asked: new Map(), next: 0, file: null };
const capStatus = $('capture-status');
function captureWorker() {
  if (captures.worker) return captures.worker;
  const w = new Worker(new URL('./capture-worker.js', import.meta.url), { type: 'module' });
  w.onmessage = ({ data }) => {
    if (data.events) for (const e of data.events) captureEvent(e);
    if (data.progress !== undefined) {
      capStatus.textContent = `${captures.file}: read ${(data.progress / 1e6).toFixed(1)} of ${(data.size / 1e6).toFixed(1)} MB · ${captures.sessions.size} WebSocket session(s)`;
    }
    if (data.done) {
      const d = data.done;
      capStatus.textContent = d.har
        ? `${captures.file}: a HAR with ${d.sessions} WebSocket session(s), reconstructed (a HAR keeps payloads, not frames)`
        : `${captures.file}: ${d.packets} packets (${d.format}), ${d.sessions} WebSocket session(s), ${d.other_connections} other TCP connection(s)${d.truncated ? '; the file is cut short' : ''}`;
      document.body.dataset.capture = 'done';
      if (!captures.current && captures.sessions.size) showSession(captures.sessions.keys().next().value);
    }
    if (data.error) { capStatus.textContent = `${captures.file}: ${data.error}`; document.body.dataset.capture = 'error'; }
    if (data.bytes) { captures.asked.get(data.bytes.id)?.(data.bytes.data); captures.asked.delete(data.bytes.id); }
  };
  captures.worker = w;
  return w;
}
function openCapture(file) {
  if (!file) return;
  Object.assign(captures, { sessions: new Map(), current: null, file: file.name });
  $('capture-sessions').replaceChildren();
  $('capture-ladder').replaceChildren();
  $('capture-title').textContent = '';
  document.body.dataset.capture = 'reading';
  capStatus.textContent = `${file.name}: reading…`;
  selectTab($('tab-captures'));
  captureWorker().postMessage({ open: file });
}
function captureEvent(e) {
  if (e.event === 'summary') return;
  if (e.event === 'session') {
    const s = { info: e, events: [], dropped: 0, deflate: false, heads: { client: 0, server: 0 }, messages: 0 };
    captures.sessions.set(e.session, s);
    const label = e.url ? `${e.url} (reconstructed from a HAR)` : `client ${e.client} → server ${e.server}`;
    const item = el('li', { 'data-session': String(e.session) }, link(`#${e.session} ${label}`, () => showSession(e.session)));
    $('capture-sessions').append(item);
    return;
  }
  const s = captures.sessions.get(e.session);
  if (!s) return;
  if (e.event === 'request') s.heads.client = e.len;
  if (e.event === 'response') s.heads.server = e.len;
  if (e.event === 'upgraded') s.deflate = !!e.deflate;
  if (e.event === 'message') s.messages += 1;
  if (s.events.length < EVENTS_KEPT) s.events.push(e); else s.dropped += 1;
  if (captures.current === e.session) drawSession(s);
}
function askBytes(session, fromClient, from, to) {
  return new Promise((resolve) => {
    const id = captures.next++;
    captures.asked.set(id, resolve);
    captures.worker.postMessage({ bytes: { id, session, fromClient, from, to } });
  });
}
function showSession(id) {
  captures.current = id;
  for (const li of $('capture-sessions').children) li.setAttribute('aria-current', String(li.dataset.session === String(id)));
  drawSession(captures.sessions.get(id));
}
function drawSession(s) {
  const list = $('capture-ladder');
  list.replaceChildren();
  const { info } = s;
  $('capture-title').textContent = `session #${info.session}: ${info.url ?? `${info.client} → ${info.server}`}${s.deflate ? ' · permessage-deflate' : ''}${info.reconstructed ? ' · reconstructed from a HAR' : ''}`;
  const ms = (e) => (e.time === undefined ? 'end' : `+${(e.time * 1000).toFixed(1)} ms`);
  const messages = s.events.filter((e) => e.event === 'message');
  for (const e of s.events) {
    const toServer = e.from === 'client';
    if (e.event === 'request' || e.event === 'response') {
      const text = `${e.start_line}${e.refused ? ` · refused: ${e.refused.reason} (${e.refused.status})` : ''}`;
      const from = e.from === 'client';
      ladderRung(list, from, ms(e), text, async () => {
        const bytes = await askBytes(info.session, from, 0, e.len);
        if (!bytes) return;
        $('hs-input').value = new TextDecoder().decode(bytes).replace(/\r\n/g, '\n');
        handshake();
        selectTab($('tab-handshake'));
      }, 'head');
    } else if (e.event === 'frame') {
      const m = messages.find((x) => x.from === e.from && x.frames.at(-1) === e.number);
      const close = m?.opcode === 8;
      const msg = m && { text: close ? undefined : m.text, closeCode: close ? m.code : undefined,
        closeMeaning: close && m.reason ? `"${m.reason}"` : '', frames: m.frames.length };
      const label = rungLabel({ opcodeName: e.opcode_name ?? 'cut short', fin: e.fin, compressed: e.rsv & 4, masked: !!e.mask, length: e.payload_len ?? 0 }, msg);
      const role = toServer ? 'server' : 'client';
      const open = async () => {
        const head = s.heads[e.from];
        const bytes = await askBytes(info.session, toServer, head, e.end);
        if (!bytes) { capStatus.textContent = 'the bytes of this frame were not kept (only the first MiB of each direction is): read it with wslens inspect --pcap'; return; }
        openInInspector(hexOf(bytes).replace(/ /g, ''), role, s.deflate, e.number);
      };
      ladderRung(list, toServer, ms(e), e.complete ? label : `${label} · cut short`, open,
        e.opcode >= 8 ? 'control' : isFragment(e) ? 'fragment' : '');
      if (m && m.frames.length > 1) messageRung(list, toServer, ms(e), { text: msg.text, length: m.len }, m.frames.length, open);
    } else if (['error', 'gap', 'incomplete'].includes(e.event)) {
      const text = e.event === 'error' ? `error at byte ${e.offset}: ${e.reason} (${e.rfc}) → close ${e.close_code}`
        : e.event === 'gap' ? `gap: ${e.len} bytes never captured at byte ${e.offset}; nothing after it is read`
          : `the bytes end here, waiting for ${e.waiting_for}`;
      ladderRung(list, toServer, ms(e), text, () => {}, 'problem');
    } else if (e.event === 'not_websocket') {
      ladderRung(list, false, ms(e), `not WebSocket: ${e.reason}`, () => {}, 'problem');
    }
  }
  if (s.dropped) list.append(el('li', {}, `… and ${s.dropped} more events (the page keeps ${EVENTS_KEPT} per session; wslens inspect --pcap shows all)`));
}
$('capture-file').addEventListener('change', (e) => openCapture(e.target.files[0]));
const drop = $('capture-drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); openCapture(e.dataTransfer.files[0]); });
const isCapture = (name) => /\.(pcap|pcapng|cap|har)$/i.test(name);

// ---- The guided tour: "Life of a WebSocket" ---------------------------------------------
// The session is the core's (wslens::inspect::record_tour: a real client and server
// connection talking), written to pkg/tour.json at build time; the prose is tour-text.js's.
// Each frame step is read by the inspector with the writer's stream before it, as a
// compressed message may refer back (context takeover).
const tour = { steps: [], at: 0 };
function tourStream(step) {
  const before = tour.steps.filter((s) => s.from === step.from && s.streamOffset !== null && s.streamOffset <= step.streamOffset);
  return Uint8Array.from(before.flatMap((s) => [...s.bytes]));
}
// The bytes of `frames` (from `stream`), each coloured by the field the decoder read it as
// (`map`: the inspection's byteMap).
function tourGrid(frames, stream, map) {
  const grid = el('div', { class: 'hexgrid', 'aria-label': 'the step\'s bytes, coloured by field' });
  frames.forEach((f, fi) => {
    if (fi) grid.append(el('span', { class: 'frame-break', 'aria-hidden': 'true' }));
    for (let at = f.start; at < f.end; at++) {
      const { kinds = ['unread'], rows = [], payload: p } = map.get(at) ?? {};
      const title = p ? `payload[${p.index}]: ${hex2(p.masked)} XOR ${hex2(p.keyByte)} = ${hex2(p.plain)} ${printable(p.plain)}`
        : rows.map((r) => `${r.field} = ${r.valueText}: ${r.meaning}`).join('\n');
      grid.append(el('span', { class: `byte k-${kinds[0]}`, title }, hex2(stream[at])));
    }
  });
  return grid;
}
function tourFrames(step) {
  const role = step.from === 'client' ? 'server' : 'client';
  const stream = tourStream(step);
  const ins = inspectFrames(stream, role, true);
  const first = ins.frames.findIndex((f) => f.start >= step.streamOffset);
  const frames = ins.frames.slice(first);
  const out = [tourGrid(frames, stream, byteMap(ins))];
  frames.forEach((f, k) => {
    const h = f.header;
    const table = el('table', { class: 'tour-fields' }, el('thead', {}, el('tr', {}, el('th', {}, 'field'), el('th', {}, 'bits'), el('th', {}, 'meaning'), el('th', {}, 'why'))));
    const body = el('tbody');
    for (const row of f.fields) body.append(el('tr', {}, el('td', {}, row.field), el('td', { class: 'mono' }, row.bits), el('td', {}, row.meaning), el('td', {}, lessonDetails(row.lesson))));
    const plain = f.payload.map((p) => p.plain);
    if (plain.length) body.append(el('tr', {}, el('td', {}, 'payload'), el('td', { class: 'mono' }, `${plain.length} B`),
      el('td', { class: 'mono' }, h.masked ? `unmasked: ${hexOf(plain)}` : hexOf(plain)), el('td', {})));
    table.append(body);
    out.push(el('h4', {}, `frame ${k + 1}: ${h.opcodeName}, FIN = ${h.fin ? 1 : 0}${h.rsv & 4 ? ', RSV1 = 1' : ''}, ${h.payloadLength} B`), table);
  });
  const indexes = new Set(frames.map((_, k) => first + k));
  for (const m of ins.messages.filter((x) => indexes.has(x.frames.at(-1)))) {
    out.push(el('p', { class: 'message' }, `delivered: ${m.type}${m.frames.length > 1 ? ` from ${m.frames.length} frames` : ''}: ${messageSays(m)}`));
    if (m.compressed) out.push(deflatePanel(ins, m));
  }
  out.push(el('p', {}, link('open these bytes in the Inspector', () => openInInspector(hexOf(stream).replace(/ /g, ''), role, true, first))));
  return out;
}
function tourHead(step) {
  const text = new TextDecoder().decode(step.bytes);
  const [from, to] = step.focus ?? [0, 0];
  const out = [el('div', { class: 'tour-head', 'aria-label': 'the head, as sent' }, text.slice(0, from), el('span', { class: 'focus' }, text.slice(from, to)), text.slice(to))];
  const hs = inspectHandshake(step.bytes);
  if (step.id === 'accept') {
    const a = hs.accept;
    out.push(el('ol', { class: 'mono', id: 'tour-accept' },
      el('li', {}, `the key: ${a.key}`), el('li', {}, `+ GUID: ${a.concatenated}`),
      el('li', {}, `SHA-1: ${a.sha1Hex}`), el('li', {}, `base64: ${a.accept}`)));
    return out;
  }
  out.push(headLines(hs));
  return out;
}
function renderTour() {
  const { steps } = tour;
  if (!steps.length) return;
  tour.at = Math.max(0, Math.min(tour.at, steps.length - 1));
  const step = steps[tour.at];
  const text = tourText[step.id] ?? { title: step.id, prose: '', rfc: '' };
  $('tour-pos').textContent = `step ${tour.at + 1} of ${steps.length}`;
  $('tour-back').disabled = tour.at === 0;
  $('tour-next').disabled = tour.at === steps.length - 1;
  // A focused button that becomes disabled drops the focus: keep it in the tour for the keys.
  if (document.activeElement?.disabled) $('view-tour').focus();
  const list = $('tour-ladder');
  list.replaceChildren();
  steps.slice(0, tour.at + 1).forEach((s, i) => {
    ladderRung(list, s.from === 'client', `step ${i + 1}`, tourText[s.id]?.title.replace(/^\d+\. /, '') ?? s.id, () => { tour.at = i; renderTour(); $('view-tour').focus(); },
      s.streamOffset === null ? 'head' : '');
  });
  list.lastElementChild?.setAttribute('aria-current', 'step');
  $('tour-step').replaceChildren(el('h3', {}, text.title), el('p', { class: 'prose' }, text.prose, ' ',
    extLink(rfcUrl(text.rfc), text.rfc)),
  el('p', { class: 'sys' }, `${step.from === 'client' ? 'the browser (client) → the server' : 'the server → the browser (client)'}, ${step.bytes.length} bytes`),
  ...(step.streamOffset === null ? tourHead(step) : tourFrames(step)));
}
$('tour-back').addEventListener('click', () => { tour.at--; renderTour(); });
$('tour-next').addEventListener('click', () => { tour.at++; renderTour(); });
$('view-tour').addEventListener('keydown', (e) => {
  if (e.target.matches('input, textarea, select')) return;
  if (e.key === 'ArrowRight' || e.key === 'PageDown') { tour.at++; renderTour(); e.preventDefault(); }
  if (e.key === 'ArrowLeft' || e.key === 'PageUp') { tour.at--; renderTour(); e.preventDefault(); }
  if (e.key === 'Home') { tour.at = 0; renderTour(); e.preventDefault(); }
  if (e.key === 'End') { tour.at = tour.steps.length - 1; renderTour(); e.preventDefault(); }
});

// ---- Start ------------------------------------------------------------------------------
$('inspect-btn').addEventListener('click', inspect);
$('deflate').addEventListener('change', inspect);
$('input').addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) inspect(); });
$('input').addEventListener('dragover', (e) => e.preventDefault());
$('input').addEventListener('drop', async (e) => {
  e.preventDefault();
  const file = e.dataTransfer.files[0];
  if (!file) return;
  if (isCapture(file.name)) { openCapture(file); return; }
  const data = new Uint8Array(await file.arrayBuffer());
  $('input').value = hexOf(data);
  $('format').value = 'hex';
  inspect();
});

await init();
globalThis.wslens = { inspectFrames, inspectHandshake, buildFrame, acceptKey, decodeInput, explainDeflate };
try {
  const steps = await (await fetch(new URL('./pkg/tour.json', import.meta.url))).json();
  tour.steps = steps.map((s) => ({ ...s, bytes: decodeInput(s.hex, 'hex') }));
  renderTour();
} catch (e) {
  $('tour-step').textContent = `the tour's session was not built (pkg/tour.json: ${e.message}); build the page with build_page (scripts/wasm.sh)`;
}
inspect();
build();
handshake();
document.body.dataset.ready = 'true';
