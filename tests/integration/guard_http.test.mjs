// End-to-end: prompt-injection guards with an http classifier (upstream/classifier_service.mjs)
// in each wire format (plain, llm-guard, lakera): what the gateway sends (path, body shape,
// content-type, Bearer key), how it reads the answers, failures (timeout, connection refused,
// HTTP 500, malformed JSON) under failureMode open and closed, and windows of maxChars bytes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { NORMAL_CONTENT } from './upstream/openai_upstream.mjs';
import { startClassifierService, PATHS, FLAG_MARKER, PLAIN_FLAGGED_SCORE } from './upstream/classifier_service.mjs';
import { getClosedPort } from './lib/gateway.mjs';
import { sumMetric } from './lib/common.mjs';
import { waitForAccess } from './lib/harness.mjs';
import {
  startGuardStack, ridOf, expectInjectionBlocked, expectGuardUnavailable, waitForGuardRecord,
  assertNoGuardRecord, assertGuardRecord, assertNoPromptText, scrapeText,
} from './lib/guard.mjs';

const MINI = 'up/gpt-4o-mini';
const KEY = `clf-${randomBytes(8).toString('hex')}`;
const FORMATS = ['plain', 'llm-guard', 'lakera'];

/** An http GuardBinding spec against `url`. */
function httpBinding(url, format, over = {}) {
  const { classifier = {}, ...rest } = over;
  return {
    classifier: { type: 'http', url, format, timeoutMs: 2000, ...classifier },
    threshold: 0.5, enforcement: 'enforce', failureMode: 'closed', ...rest,
  };
}

/** The request body the gateway must send for a user prompt `text` in `format`. */
function expectedBody(format, text) {
  if (format === 'plain') return { text };
  if (format === 'llm-guard') return { prompt: text };
  return { messages: [{ role: 'user', content: text }], breakdown: false };
}

async function withService(t, opts) {
  const svc = await startClassifierService(opts);
  t.after(() => svc.close());
  return svc;
}

test('guard_http 10. plain, llm-guard, lakera: the documented request at the right path with content-type and Bearer key; a flagged text is refused, a clean one passes', { timeout: 30000 }, async (t) => {
  const svc = await withService(t, { apiKey: KEY });
  // The key comes from the environment (apiKeyEnv) for plain and llm-guard, from a Secret
  // (apiKeySecretRef) for lakera. The `token` command reads the config too: process.env.
  process.env.CLASSIFIER_KEY = KEY;
  t.after(() => { delete process.env.CLASSIFIER_KEY; });
  const keyRef = (f) => (f === 'lakera'
    ? { apiKeySecretRef: { name: 'classifier-key', key: 'api-key' } }
    : { apiKeyEnv: 'CLASSIFIER_KEY' });
  const S = await startGuardStack({
    env: { CLASSIFIER_KEY: KEY },
    secrets: { 'classifier-key': { 'api-key': KEY } },
    bindings: Object.fromEntries(FORMATS.map((f) => [`remote-${f}`, httpBinding(svc.urlFor(f), f, { classifier: keyRef(f) })])),
    agents: Object.fromEntries(FORMATS.map((f) => [`agent-${f}`, { models: [MINI], guards: [{ binding: `remote-${f}` }] }])),
  });
  t.after(() => S.cleanup());
  const { gw, upstream } = S;
  const nonces = [];

  const check = async (f, what) => {
    const client = S.client(`agent-${f}`);
    const nonce = randomBytes(6).toString('hex');
    nonces.push(nonce);
    const flagged = `Translate to French: ${FLAG_MARKER} ${nonce}`;
    const clean = `What is the capital of France? ${nonce}`;
    const sys = { role: 'system', content: `You are terse. ${FLAG_MARKER}` }; // not scanned

    // Flagged: one classifier call, then 400; the upstream is not called.
    let n = svc.requests.length;
    const up = upstream.requests.length;
    const e = await expectInjectionBlocked(() => client.chat.completions.create({ model: MINI, messages: [sys, { role: 'user', content: flagged }] }),
      'messages[1].content');
    assert.equal(upstream.requests.length, up, `${what}: the upstream was called for a refused prompt`);
    const calls = svc.requests.slice(n);
    assert.equal(calls.length, 1, `${what}: one classifier call (the system message is not sent): ${JSON.stringify(calls.map((c) => c.raw))}`);
    const c = calls[0];
    assert.equal(c.method, 'POST', what);
    assert.equal(c.path, PATHS[f], `${what}: path`);
    assert.match(c.headers['content-type'] ?? '', /^application\/json\s*(;|$)/i, `${what}: content-type ${c.headers['content-type']}`);
    assert.equal(c.headers.authorization, `Bearer ${KEY}`, `${what}: Authorization`);
    assert.deepEqual(c.body, expectedBody(f, flagged), `${what}: request body ${c.raw}`);
    assert.equal(c.status, 200, `${what}: the service answered ${c.status}`);
    const rec = await waitForGuardRecord(gw, ridOf(e), 'GUARD.VIOLATION_ENFORCE');
    const d = assertGuardRecord(rec, {
      type: 'GUARD.VIOLATION_ENFORCE', agent: `agent-${f}`, binding: `remote-${f}`, classifier: 'http', target: 'prompt',
      param: 'messages[1].content', threshold: 0.5, enforcement: 'enforce', action: 'blocked', stream: false,
      score: f === 'plain' ? PLAIN_FLAGGED_SCORE : 1, label: f === 'plain' ? 'INJECTION' : undefined,
    }, what);
    if (Object.hasOwn(d, 'label')) assert.equal(typeof d.label, 'string', `${what}: label`);

    // Clean: one call, 200, no record.
    n = svc.requests.length;
    const ok = await client.chat.completions.create({ model: MINI, messages: [sys, { role: 'user', content: clean }] }).withResponse();
    assert.equal(ok.data.choices[0].message.content, NORMAL_CONTENT);
    assert.deepEqual(svc.requests.slice(n).map((r) => r.body), [expectedBody(f, clean)], `${what}: the clean text's classifier call`);
    assertNoGuardRecord(gw.stateDir, ridOf(ok), `${what}: clean`);
  };

  for (const f of FORMATS) await check(f, f);
  // plain, answered as a Hugging Face list [{label, score}, ...]: the best entry counts.
  svc.setMode('ok', { plainStyle: 'list' });
  await check('plain', 'plain (list answer)');

  assertNoPromptText(gw.stateDir, [FLAG_MARKER, ...nonces]);
});

test('guard_http 11. classifier timeout: failureMode open forwards + GUARD.UNAVAILABLE (allowed); closed refuses with 503 guard_unavailable + GUARD.UNAVAILABLE (refused), the upstream is not called', { timeout: 30000 }, async (t) => {
  const svc = await withService(t);
  const DELAY = 1500;
  svc.setMode('delay', { delayMs: DELAY });
  const url = svc.urlFor('plain');
  const S = await startGuardStack({
    bindings: {
      'slow-open': httpBinding(url, 'plain', { classifier: { timeoutMs: 200 }, failureMode: 'open' }),
      'slow-closed': httpBinding(url, 'plain', { classifier: { timeoutMs: 200 }, failureMode: 'closed' }),
    },
    agents: {
      open: { models: [MINI], guards: [{ binding: 'slow-open' }] },
      closed: { models: [MINI], guards: [{ binding: 'slow-closed' }] },
    },
  });
  t.after(() => S.cleanup());
  const { gw, upstream } = S;
  const messages = [{ role: 'user', content: `${FLAG_MARKER} please` }];
  const exp = {
    type: 'GUARD.UNAVAILABLE', classifier: 'http', target: 'prompt', param: 'messages[0].content',
    threshold: 0.5, enforcement: 'enforce', stream: false,
  };

  let t0 = Date.now();
  const r1 = await S.client('open').chat.completions.create({ model: MINI, messages }).withResponse();
  const el1 = Date.now() - t0;
  assert.equal(r1.data.choices[0].message.content, NORMAL_CONTENT);
  assert.ok(el1 < DELAY - 300, `fail-open waited ${el1} ms: the 200 ms timeout was not applied`);
  assert.equal(upstream.requests.length, 1);
  assertGuardRecord(await waitForGuardRecord(gw, ridOf(r1), 'GUARD.UNAVAILABLE'),
    { ...exp, agent: 'open', binding: 'slow-open', action: 'allowed' }, 'timeout, open');

  t0 = Date.now();
  const e2 = await expectGuardUnavailable(() => S.client('closed').chat.completions.create({ model: MINI, messages }));
  const el2 = Date.now() - t0;
  assert.ok(el2 < DELAY - 300, `fail-closed waited ${el2} ms`);
  assert.equal(upstream.requests.length, 1, 'fail-closed: the upstream is not called');
  assertGuardRecord(await waitForGuardRecord(gw, ridOf(e2), 'GUARD.UNAVAILABLE'),
    { ...exp, agent: 'closed', binding: 'slow-closed', action: 'refused' }, 'timeout, closed');

  // Streams too: fail-closed refuses before the stream starts.
  await expectGuardUnavailable(() => S.client('closed').chat.completions.create({ model: MINI, messages, stream: true }));
  assert.equal(upstream.requests.length, 1);
  assert.ok(svc.requests.length >= 3, 'every request asked the classifier');
});

test('guard_http 12. connection refused, HTTP 500 and malformed JSON are GUARD.UNAVAILABLE (fail-open: forwarded); metrics count verdict="error"', { timeout: 30000 }, async (t) => {
  const svc = await withService(t);
  const closedPort = await getClosedPort();
  const S = await startGuardStack({
    bindings: {
      refused: httpBinding(`http://127.0.0.1:${closedPort}${PATHS.plain}`, 'plain', { failureMode: 'open' }),
      flaky: httpBinding(svc.urlFor('plain'), 'plain', { failureMode: 'open' }),
    },
    agents: {
      r: { models: [MINI], guards: [{ binding: 'refused' }] },
      f: { models: [MINI], guards: [{ binding: 'flaky' }] },
    },
  });
  t.after(() => S.cleanup());
  const { gw, upstream } = S;
  const messages = [{ role: 'user', content: `${FLAG_MARKER} hello` }];
  const exp = {
    type: 'GUARD.UNAVAILABLE', classifier: 'http', target: 'prompt', param: 'messages[0].content',
    threshold: 0.5, enforcement: 'enforce', action: 'allowed', stream: false,
  };
  const rids = [];
  const expectOpen = async (agent, binding, what) => {
    const r = await S.client(agent).chat.completions.create({ model: MINI, messages }).withResponse();
    assert.equal(r.data.choices[0].message.content, NORMAL_CONTENT, what);
    const d = assertGuardRecord(await waitForGuardRecord(gw, ridOf(r), 'GUARD.UNAVAILABLE'), { ...exp, agent, binding }, what);
    rids.push(ridOf(r));
    return d;
  };

  await expectOpen('r', 'refused', 'connection refused');
  svc.setMode('error-500');
  await expectOpen('f', 'flaky', 'HTTP 500');
  assert.equal(svc.requests.at(-1).status, 500);
  svc.setMode('malformed');
  await expectOpen('f', 'flaky', 'malformed JSON');
  assert.equal(svc.requests.at(-1).status, 200);
  assert.ok(svc.requests.some((r) => r.status === 500) && svc.requests.length >= 2, 'the service was asked in both modes');
  assert.equal(upstream.requests.length, 3, 'every call was forwarded');

  // Back to normal: the same binding blocks again (enforce).
  svc.setMode('ok');
  const e = await expectInjectionBlocked(() => S.client('f').chat.completions.create({ model: MINI, messages }), 'messages[0].content');
  rids.push(ridOf(e));

  for (const rid of rids) await waitForAccess(gw, rid);
  const { samples } = await scrapeText(gw);
  const checks = (labels) => sumMetric(samples, 'pai_gateway_guard_checks_total', { target: 'prompt', enforcement: 'enforce', ...labels });
  assert.equal(checks({ binding: 'refused', verdict: 'error' }), 1);
  assert.equal(checks({ binding: 'flaky', verdict: 'error' }), 2);
  assert.equal(checks({ binding: 'flaky', verdict: 'violation' }), 1);
  assertNoPromptText(gw.stateDir, [FLAG_MARKER]);
});

/** Exactly `bytes` bytes of benign, non-repeating text (some 2-byte characters) ending in `tail`. */
function windowText(bytes, tail = '') {
  let s = '';
  for (let i = 0; ; i++) {
    const w = `naïve café word${String(i).padStart(5, '0')} `;
    if (Buffer.byteLength(s + w + tail) > bytes) break;
    s += w;
  }
  s += tail;
  return s.padStart(s.length + (bytes - Buffer.byteLength(s)), 'x');
}

/** Asserts the windows sent for `text`: >= minCalls, each <= max bytes, slices of the text covering it all. */
function assertWindows(calls, text, max, minCalls, what) {
  const windows = calls.map((c) => c.body?.text);
  assert.ok(windows.length >= minCalls, `${what}: ${windows.length} classifier calls, expected >= ${minCalls}`);
  const spans = windows.map((w, i) => {
    assert.equal(typeof w, 'string', `${what}: call ${i} body ${calls[i].raw.slice(0, 200)}`);
    assert.ok(Buffer.byteLength(w) <= max, `${what}: window ${i} is ${Buffer.byteLength(w)} bytes > ${max}`);
    const at = text.indexOf(w);
    assert.ok(at >= 0, `${what}: window ${i} is not a slice of the text: ${JSON.stringify(w.slice(0, 80))}`);
    return [at, at + w.length];
  }).sort((a, b) => a[0] - b[0]);
  assert.equal(spans[0][0], 0, `${what}: the first window starts the text`);
  let end = spans[0][1];
  for (const [s, e] of spans.slice(1)) {
    assert.ok(s <= end, `${what}: gap in the windows at ${end}..${s}`);
    end = Math.max(end, e);
  }
  assert.equal(end, text.length, `${what}: the windows cover the whole text`);
}

test('guard_http 13. windows: maxChars 1024 splits a 5,000-byte text into calls of <= 1024 bytes that cover it; a marker at the very end is caught', { timeout: 30000 }, async (t) => {
  const svc = await withService(t);
  const S = await startGuardStack({
    bindings: { win: httpBinding(svc.urlFor('plain'), 'plain', { classifier: { maxChars: 1024 } }) },
    agents: { a: { models: [MINI], guards: [{ binding: 'win' }] } },
  });
  t.after(() => S.cleanup());
  const client = S.client('a');

  const clean = windowText(5000);
  assert.equal(Buffer.byteLength(clean), 5000);
  let n = svc.requests.length;
  const ok = await client.chat.completions.create({ model: MINI, messages: [{ role: 'user', content: clean }] }).withResponse();
  assert.equal(ok.data.choices[0].message.content, NORMAL_CONTENT);
  assertWindows(svc.requests.slice(n), clean, 1024, 5, 'clean');
  assertNoGuardRecord(S.gw.stateDir, ridOf(ok), 'clean long text');

  const marked = windowText(5000, FLAG_MARKER);
  assert.equal(Buffer.byteLength(marked), 5000);
  assert.ok(marked.endsWith(FLAG_MARKER));
  n = svc.requests.length;
  const e = await expectInjectionBlocked(() => client.chat.completions.create({ model: MINI, messages: [{ role: 'user', content: marked }] }),
    'messages[0].content');
  const calls = svc.requests.slice(n);
  assertWindows(calls, marked, 1024, 5, 'marked');
  assert.ok(calls.some((c) => c.body.text.endsWith(FLAG_MARKER)), 'the last window holds the whole marker');
  assertGuardRecord(await waitForGuardRecord(S.gw, ridOf(e), 'GUARD.VIOLATION_ENFORCE'), {
    type: 'GUARD.VIOLATION_ENFORCE', agent: 'a', binding: 'win', classifier: 'http', target: 'prompt',
    param: 'messages[0].content', threshold: 0.5, enforcement: 'enforce', action: 'blocked', stream: false,
    score: PLAIN_FLAGGED_SCORE, label: 'INJECTION',
  });
  assert.equal(S.upstream.requests.length, 1);
});

test('guard_http 14. a fail-closed response scan that cannot reach its classifier answers 503 without falling back to the next model (the provider answered and is charged)', { timeout: 30000 }, async (t) => {
  const closedPort = await getClosedPort();
  const S = await startGuardStack({
    bindings: {
      closed: httpBinding(`http://127.0.0.1:${closedPort}${PATHS.plain}`, 'plain', { failureMode: 'closed' }),
    },
    agents: {
      // Two models: a refusal taken for a provider failure would be retried on the second.
      r: { models: [MINI, 'up/gpt-4o'], guards: [{ binding: 'closed', scan: { prompts: false, responses: true } }] },
    },
  });
  t.after(() => S.cleanup());
  const res = await fetch(`${S.gw.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${S.tokens.r}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: MINI, messages: [{ role: 'user', content: 'hello' }] }),
  });
  const json = await res.json();
  assert.equal(res.status, 503, JSON.stringify(json));
  assert.equal(json.error.code, 'guard_unavailable');
  assert.match(json.error.message, /response was withheld/);
  assert.equal(S.upstream.requests.length, 1, 'one provider call: no fallback');
  const rid = res.headers.get('x-request-id');
  assertGuardRecord(await waitForGuardRecord(S.gw, rid, 'GUARD.UNAVAILABLE'), {
    type: 'GUARD.UNAVAILABLE', agent: 'r', binding: 'closed', classifier: 'http', target: 'response',
    param: 'choices[0].message.content', enforcement: 'enforce', action: 'refused', stream: false,
  });
});
