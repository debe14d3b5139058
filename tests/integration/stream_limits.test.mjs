// Issue 12 item 5: a provider stream is bounded. A provider that sends `data:` lines without
// ever ending an event, one that ignores the output limit, and one that streams too long are
// cut by the gateway: the client gets the API's error event, the call is recorded with the
// error (access log, LLM_CALL record, pai_gateway_stream_limit_exceeded_total), the reservation
// is settled, and the gateway's memory stays bounded.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { APIError } from 'openai';
import { startBudgetStack, scrape, metricValue, outstanding } from './lib/budget.mjs';
import { waitForAccess } from './lib/harness.mjs';
import { readChain, recordsFor, waitForRecord } from './lib/audit.mjs';
import Anthropic from '@anthropic-ai/sdk';
import { USER_MESSAGES, paiDoc } from './lib/common.mjs';
import { startGateway } from './lib/gateway.mjs';
import { startAnthropicUpstream } from './upstream/anthropic_upstream.mjs';

const MODELS = ['up/endless-line', 'up/ignore-limit', 'up/slow-stream', 'up/gpt-4o-mini'];

/** Resident memory of process `pid` in KiB (Linux /proc). */
function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]);
}

/**
 * Streams a chat completion with the official SDK until it ends or throws. Failure bounds (not
 * synchronisation): the call is aborted when the gateway grows by `maxGrowthKiB` or after
 * `maxMs`, so that the unbounded behaviour fails the test instead of exhausting the machine.
 */
async function streamUntilEnd(S, agent, body, { maxGrowthKiB = 256 * 1024, maxMs = 10000 } = {}) {
  const pid = S.gw.proc.pid;
  const base = rssKiB(pid);
  let peak = base;
  const ac = new AbortController();
  let why = null;
  const t0 = Date.now();
  const watchdog = setInterval(() => {
    peak = Math.max(peak, rssKiB(pid));
    if (peak - base > maxGrowthKiB) why = `gateway RSS grew by ${peak - base} KiB`;
    else if (Date.now() - t0 > maxMs) why = `stream still running after ${maxMs} ms`;
    if (why) ac.abort();
  }, 50);
  const chunks = [];
  let error = null;
  let rid = null;
  try {
    const res = await S.client(agent).chat.completions.create(body, { signal: ac.signal }).withResponse();
    rid = res.response.headers.get('x-request-id');
    for await (const c of res.data) chunks.push(c);
  } catch (e) {
    error = e;
  } finally {
    clearInterval(watchdog);
  }
  peak = Math.max(peak, rssKiB(pid));
  assert.equal(why, null, why ?? '');
  return { chunks, error, rid, growthKiB: peak - base };
}

async function startStack(t, extraArgs = []) {
  const S = await startBudgetStack({
    agents: { bounded: { models: MODELS, tokens: { maxPerDay: 10_000_000 } } },
    extraArgs,
  });
  t.after(() => S.cleanup());
  return S;
}

/** The client got the gateway's error event (the SDK raises it as an APIError). */
function assertErrorEvent(r, code) {
  assert.ok(r.error instanceof APIError, `expected an APIError from the stream, got ${r.error}`);
  assert.equal(r.error.error?.code ?? r.error.code, code, JSON.stringify(r.error.error));
}

async function assertRecorded(S, rid, { status, code, limit }) {
  const access = await waitForAccess(S.gw, rid, 10000);
  assert.equal(access.status, status);
  assert.equal(access.error_code, code);
  const rec = await waitForRecord(S.gw.stateDir, (r) => r.type === 'LLM_CALL' && r.detail?.request_id === rid);
  assert.equal(rec.detail.status, status);
  assert.equal(recordsFor(readChain(S.gw.stateDir), rid, 'LLM_CALL').length, 1);
  const samples = await scrape(S.gw);
  assert.equal(metricValue(samples, 'pai_gateway_stream_limit_exceeded_total', { limit }), 1);
  assert.equal(outstanding(samples), 0, 'the reservation was settled');
  return access;
}

test('a provider streaming data lines without a blank line is cut at the event limit', { timeout: 60000 }, async (t) => {
  const S = await startStack(t, ['--max-sse-event-bytes', String(1 << 20)]);
  const body = { model: 'up/endless-line', messages: USER_MESSAGES, stream: true };
  const r = await streamUntilEnd(S, 'bounded', body);
  assertErrorEvent(r, 'upstream_event_too_large');
  assert.equal(r.chunks.length, 0);
  assert.ok(r.growthKiB < 64 * 1024, `gateway RSS grew by ${r.growthKiB} KiB`);
  await assertRecorded(S, r.rid, { status: 502, code: 'upstream_event_too_large', limit: 'event_bytes' });
  const [rec] = S.upstream.requests.filter((q) => q.body?.model === 'endless-line');
  assert.ok(rec.bytesSent < 32 << 20, `the provider sent ${rec.bytesSent} bytes before the cut`);
});

test('a provider ignoring max_tokens is cut at the stream-bytes bound of the output limit', { timeout: 60000 }, async (t) => {
  const S = await startStack(t);
  const body = { model: 'up/ignore-limit', messages: USER_MESSAGES, stream: true, max_tokens: 16 };
  const r = await streamUntilEnd(S, 'bounded', body);
  assertErrorEvent(r, 'upstream_stream_too_large');
  assert.ok(r.chunks.length > 16, 'the client got the stream up to the bound');
  await assertRecorded(S, r.rid, { status: 502, code: 'upstream_stream_too_large', limit: 'stream_bytes' });
  // Documented bound: 1 MiB + 4 × request bytes + 16 tokens × 4096 bytes (docs/configuration.md).
  const bound = (1 << 20) + 4 * Buffer.byteLength(JSON.stringify(body)) + 16 * 4096;
  const relayed = r.chunks.reduce((n, c) => n + JSON.stringify(c).length, 0);
  assert.ok(relayed <= bound, `relayed ${relayed} > bound ${bound}`);
  const [rec] = S.upstream.requests.filter((q) => q.body?.model === 'ignore-limit');
  assert.ok(rec.bytesSent < bound + (32 << 20), `the provider sent ${rec.bytesSent} bytes (bound ${bound})`);
});

test('a stream running past --max-stream-duration-ms ends with an error event', { timeout: 60000 }, async (t) => {
  const S = await startStack(t, ['--max-stream-duration-ms', '300']);
  const body = { model: 'up/slow-stream', messages: USER_MESSAGES, stream: true };
  const t0 = Date.now();
  const r = await streamUntilEnd(S, 'bounded', body);
  assertErrorEvent(r, 'upstream_stream_timeout');
  assert.ok(r.chunks.length >= 1 && r.chunks.length < 200, `${r.chunks.length} chunks`);
  assert.ok(Date.now() - t0 < 9000, 'ended well before the 10 s stream');
  await assertRecorded(S, r.rid, { status: 504, code: 'upstream_stream_timeout', limit: 'duration' });
});

test('an Anthropic stream past its bound ends with an Anthropic error event', { timeout: 60000 }, async (t) => {
  const KEY = 'sk-ant-test-stream-limits';
  const anthropic = await startAnthropicUpstream({ apiKey: KEY });
  t.after(() => anthropic.close());
  const manifest = [
    'apiVersion: v1\nkind: Secret\nmetadata: {name: k}\nstringData: {api-key: ' + KEY + '}\n',
    paiDoc('ModelProvider', { name: 'claude' }, { provider: 'anthropic', baseURL: anthropic.url, apiKeySecretRef: { name: 'k', key: 'api-key' } }),
    paiDoc('Agent', { name: 'writer', namespace: 'default' }, { models: ['claude/claude-ignore-limit'], tokens: { maxPerDay: 10_000_000 } }),
  ].join('---\n');
  const gw = await startGateway({ manifest, mintBefore: ['default/writer'] });
  t.after(() => gw.stop('SIGKILL', 5000).catch(() => {}));
  const claude = new Anthropic({ apiKey: gw.tokens[0], baseURL: gw.baseURL.replace(/\/v1$/, ''), maxRetries: 0, timeout: 20000 });
  const ac = new AbortController();
  const failSafe = setTimeout(() => ac.abort(), 10000);  // failure bound, not synchronisation
  let error = null;
  let deltas = 0;
  let rid = null;
  try {
    const { data, response } = await claude.messages.create(
      { model: 'claude/claude-ignore-limit', max_tokens: 16, messages: USER_MESSAGES, stream: true },
      { signal: ac.signal }).withResponse();
    rid = response.headers.get('x-request-id');
    for await (const ev of data) if (ev.type === 'content_block_delta') deltas++;
  } catch (e) {
    error = e;
  } finally {
    clearTimeout(failSafe);
  }
  assert.ok(error instanceof Anthropic.APIError, `expected the SDK to raise the error event, got ${error}`);
  assert.equal(error.error?.type, 'error', JSON.stringify(error.error));
  assert.match(error.error?.error?.message ?? '', /stream exceeded/);
  assert.ok(deltas > 16);
  const access = await waitForAccess(gw, rid, 10000);
  assert.equal(access.status, 502);
  assert.equal(access.error_code, 'upstream_stream_too_large');
});

test('a stream cut with an error event ends its body properly: the same connection serves the next call', { timeout: 60000 }, async (t) => {
  const S = await startStack(t, ['--max-sse-event-bytes', String(1 << 20)]);
  const http = await import('node:http');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const url = new URL(`${S.gw.baseURL}/chat/completions`);
  const post = (body) => new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent,
      headers: { authorization: `Bearer ${S.tokens.bounded}`, 'content-type': 'application/json' },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text, reused: req.reusedSocket,
        connection: res.headers.connection }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
  const cut = await post({ model: 'up/endless-line', messages: USER_MESSAGES, stream: true });
  assert.equal(cut.status, 200);
  assert.match(cut.text, /upstream_event_too_large/);
  assert.notEqual(cut.connection, 'close');
  const next = await post({ model: 'up/gpt-4o-mini', messages: USER_MESSAGES });
  assert.equal(next.status, 200, next.text);
  assert.equal(next.reused, true, 'the second call went over the connection of the cut stream');
});
