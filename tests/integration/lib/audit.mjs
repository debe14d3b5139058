// Helpers for the audit chain tests (not a test file): reading <state-dir>/audit/chain.jsonl,
// an independent check of the canonical encoding and HMACs (docs/audit.md, "Record format"),
// GET /audit and /audit/verify, and the offline `pai-gateway audit verify`.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gatewayBin, withTimeout } from './gateway.mjs';

export const RECORD_MEMBERS = [
  'seq', 'time', 'source', 'source_seq', 'type', 'namespace', 'agent', 'detail', 'key_id', 'prev_mac', 'mac',
];
export const LLM_CALL_MEMBERS = [
  'request_id', 'route', 'model', 'provider', 'input_tokens', 'output_tokens', 'cached_tokens',
  'usage_reported', 'charged_tokens', 'cost_usd', 'latency_ms', 'status', 'stream', 'fallback_used',
];
export const TOOL_CALL_MEMBERS = ['request_id', 'model', 'tool_name', 'call_id', 'choice', 'index'];
export const BUDGET_MEMBERS = ['limit', 'limit_value', 'used', 'requested', 'model', 'provider', 'request_id'];
export const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export const auditDir = (stateDir) => path.join(stateDir, 'audit');
export const chainPath = (stateDir) => path.join(stateDir, 'audit', 'chain.jsonl');
export const checkpointsPath = (stateDir) => path.join(stateDir, 'audit', 'checkpoints.jsonl');

/** Raw text of chain.jsonl ('' when absent). */
export function chainText(stateDir) {
  try { return fs.readFileSync(chainPath(stateDir), 'utf8'); } catch { return ''; }
}

/** The complete lines of chain.jsonl (an incomplete final line is not a record). */
export function chainLines(stateDir) {
  const text = chainText(stateDir);
  const lines = text.split('\n');
  lines.pop(); // '' after the last newline, or the incomplete final line
  return lines;
}

/** The records of chain.jsonl, parsed. */
export function readChain(stateDir) {
  return chainLines(stateDir).map((l, i) => {
    try { return JSON.parse(l); } catch (e) { throw new Error(`chain.jsonl line ${i + 1} is not JSON: ${l}`); }
  });
}

/** Parsed checkpoints.jsonl (complete, parseable lines only). */
export function readCheckpoints(stateDir) {
  let text = '';
  try { text = fs.readFileSync(checkpointsPath(stateDir), 'utf8'); } catch { /* none */ }
  return text.split('\n').filter(Boolean).flatMap((l) => { try { return [JSON.parse(l)]; } catch { return []; } });
}

/** A key as the gateway reads it: the hex text of a key file -> {id, bytes}. */
export function keyFromHex(hex) {
  const bytes = Buffer.from(hex.trim().split('\n')[0], 'hex');
  return { id: createHash('sha256').update(bytes).digest('hex').slice(0, 8), bytes };
}

/** Reads a key file. */
export function readKeyFile(file) {
  return keyFromHex(fs.readFileSync(file, 'utf8'));
}

/** Writes a new random 256-bit hex key file in `dir`; returns {file, hex, id, bytes}. */
export function writeKeyFile(dir, name) {
  const hex = randomBytes(32).toString('hex');
  const file = path.join(dir, name);
  fs.writeFileSync(file, `${hex}\n`, { mode: 0o600 });
  return { file, hex, ...keyFromHex(hex) };
}

/** C's printf("%.15g", x) for a finite double. */
export function formatG15(x) {
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const exp = Number(x.toExponential(14).split('e')[1]);
  const strip = (s) => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);
  if (exp < -4 || exp >= 15) {
    const [m, e] = x.toExponential(14).split('e');
    const n = Number(e);
    return `${strip(m)}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  return strip(x.toFixed(14 - exp));
}

/**
 * Canonical JSON of a `detail` value as docs/audit.md defines it: object members sorted by key
 * (byte order), no whitespace, integers as they are, non-integers with 15 significant digits.
 * (A double that holds an integral value prints the same way under %.15g.)
 */
export function canonicalValue(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalValue).join(',')}]`;
  if (typeof v === 'object') {
    const keys = Object.keys(v).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalValue(v[k])}`).join(',')}}`;
  }
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 1e15 ? String(v) : formatG15(v);
  return JSON.stringify(v);
}

/** The canonical encoding of a parsed record (without its mac). */
export function canonicalRecord(r) {
  return `{"seq":${r.seq},"time":${JSON.stringify(r.time)},"source":${JSON.stringify(r.source)},` +
    `"source_seq":${r.source_seq},"type":${JSON.stringify(r.type)},"namespace":${JSON.stringify(r.namespace)},` +
    `"agent":${JSON.stringify(r.agent)},"detail":${canonicalValue(r.detail)},` +
    `"key_id":${JSON.stringify(r.key_id)},"prev_mac":${JSON.stringify(r.prev_mac)}}`;
}

/**
 * Independent check of chain.jsonl against docs/audit.md: members and their order, seq 1..n,
 * source_seq, time format, prev_mac links, the stored line being the canonical encoding with
 * `,"mac":"…"` before the final brace, and every MAC = HMAC-SHA256(key, canonical).
 * `keys` is a list of {id, bytes}. Returns the parsed records.
 */
export function checkChainIndependently(stateDir, keys) {
  const lines = chainLines(stateDir);
  const byId = new Map(keys.map((k) => [k.id, k]));
  const records = [];
  let prev = '';
  lines.forEach((line, i) => {
    const r = JSON.parse(line);
    const where = `chain.jsonl record ${i + 1}`;
    assert.deepEqual(Object.keys(r), RECORD_MEMBERS, `${where}: members (in this order)`);
    assert.equal(r.seq, i + 1, `${where}: seq`);
    assert.ok(Number.isInteger(r.source_seq) && r.source_seq >= 1, `${where}: source_seq`);
    if (i > 0) assert.ok(r.source_seq > records[i - 1].source_seq, `${where}: source_seq increases`);
    assert.match(r.time, TIME_RE, `${where}: time`);
    if (i > 0) assert.ok(r.time >= records[i - 1].time, `${where}: time order`);
    assert.equal(r.source, 'gateway', `${where}: source`);
    assert.equal(typeof r.detail, 'object', `${where}: detail`);
    assert.equal(r.prev_mac, prev, `${where}: prev_mac`);
    assert.match(r.mac, /^[0-9a-f]{64}$/, `${where}: mac`);
    const canonical = canonicalRecord(r);
    assert.equal(line, `${canonical.slice(0, -1)},"mac":"${r.mac}"}`,
      `${where}: the stored line is not the canonical encoding plus the mac`);
    const key = byId.get(r.key_id);
    assert.ok(key, `${where}: key_id ${r.key_id} is none of ${[...byId.keys()]}`);
    assert.equal(createHmac('sha256', key.bytes).update(canonical).digest('hex'), r.mac, `${where}: HMAC`);
    prev = r.mac;
    records.push(r);
  });
  return records;
}

/** GET `${gw.adminURL}${p}`; returns {status, contentType, text, json}. */
export async function adminGet(gw, p, { token } = {}) {
  const headers = token === undefined ? {} : { authorization: `Bearer ${token}` };
  const res = await fetch(`${gw.adminURL}${p}`, { headers, signal: AbortSignal.timeout(30000) });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text, json };
}

/** GET /audit with query `params` (an object); asserts 200 and a JSON array, returns it. */
export async function auditQuery(gw, params = {}) {
  const qs = new URLSearchParams(params).toString();
  const r = await adminGet(gw, `/audit${qs ? `?${qs}` : ''}`);
  assert.equal(r.status, 200, `/audit?${qs}: ${r.status} ${r.text}`);
  assert.match(r.contentType, /^application\/json/, `/audit?${qs}: content-type`);
  assert.ok(Array.isArray(r.json), `/audit?${qs} is not a JSON array: ${r.text.slice(0, 300)}`);
  return r.json;
}

/** GET /audit/verify; asserts 200, returns the JSON. */
export async function auditVerify(gw) {
  const r = await adminGet(gw, '/audit/verify');
  assert.equal(r.status, 200, `/audit/verify: ${r.status} ${r.text}`);
  assert.ok(r.json && typeof r.json === 'object', `/audit/verify: ${r.text}`);
  return r.json;
}

/**
 * `pai-gateway audit verify --state-dir DIR [--audit-key-file F ...]`.
 * Resolves with {code, stdout, stderr, json} (json: the parsed stdout, undefined if not JSON).
 */
export function verifyOffline(stateDir, keyFiles = [], timeoutMs = 30000) {
  const args = ['audit', 'verify', '--state-dir', stateDir];
  for (const f of keyFiles) args.push('--audit-key-file', f);
  const p = new Promise((resolve, reject) => {
    execFile(gatewayBin(), args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      let json;
      try { json = JSON.parse(stdout); } catch { json = undefined; }
      resolve({ code: err ? err.code : 0, stdout, stderr, json });
    });
  });
  return withTimeout(p, timeoutMs + 5000, `pai-gateway ${args.join(' ')}`);
}

/** Asserts a verify answer has exactly the documented members. */
export function assertVerifyShape(v, what) {
  assert.deepEqual(Object.keys(v).sort(), ['checkpoint_seq', 'first_bad_seq', 'ok', 'reason', 'records', 'torn_tail'],
    `${what}: members of ${JSON.stringify(v)}`);
}

/**
 * Waits until chain.jsonl holds a record matching `pred` (records written without waiting —
 * failures, refusals — reach the file a moment after the client's answer). Checks on every
 * change of the audit directory, and (fs.watch may coalesce events) every 50 ms.
 */
export async function waitForRecord(stateDir, pred, timeoutMs = 10000, what = 'an audit record') {
  const find = () => readChain(stateDir).find(pred);
  let found = find();
  if (found) return found;
  let watcher;
  let timer;
  try {
    found = await withTimeout(new Promise((resolve) => {
      const check = () => { const r = find(); if (r) resolve(r); };
      watcher = fs.watch(auditDir(stateDir), check);
      timer = setInterval(check, 50);
      check();
    }), timeoutMs, () => `${what} in ${chainPath(stateDir)}; records: ${chainText(stateDir).slice(-2000)}`);
  } finally {
    watcher?.close();
    clearInterval(timer);
  }
  return found;
}

/** Records of `type` whose detail.request_id is `rid`. */
export function recordsFor(records, rid, type) {
  return records.filter((r) => r.detail?.request_id === rid && (!type || r.type === type));
}
