// End-to-end: upstream failures (down → 502, slow first byte → 504) and
// client aborts (the gateway must close its upstream connection).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { NORMAL_CONTENT } from './upstream/openai_upstream.mjs';
import { waitForEvent } from './lib/gateway.mjs';
import { PROVIDER_KEY, USER_MESSAGES, makeClient, expectAPIError, assertOpenAIErrorObject } from './lib/common.mjs';
import { startStack, assertLogsClean } from './lib/harness.mjs';

const FIRST_BYTE_TIMEOUT_MS = 500;
let S;

before(async () => {
  S = await startStack({
    extraArgs: ['--upstream-first-byte-timeout-ms', String(FIRST_BYTE_TIMEOUT_MS)],
    mintBefore: ['default/coder', 'default/only-down', 'default/only-slow'],
  });
});
after(async () => { await S?.cleanup(); });

function assertNoSecrets(err) {
  const s = JSON.stringify(err.error) + err.message;
  assert.ok(!s.includes(PROVIDER_KEY), `error leaks the provider key: ${s}`);
  for (const t of S.tokens) assert.ok(!s.includes(t), `error leaks an agent token: ${s}`);
}

test('g1. upstream down → 502 upstream_error', { timeout: 30000 }, async () => {
  // An agent whose only model is on the dead provider: nothing to fall back to.
  const client = makeClient(S.gw.baseURL, S.tokens[1]);
  const n0 = S.upstream.requests.length;
  const err = await expectAPIError(
    () => client.chat.completions.create({ model: 'down/gpt-4o-mini', messages: USER_MESSAGES }), 502);
  assert.ok(err instanceof OpenAI.InternalServerError);
  assertOpenAIErrorObject(err.error, { code: 'upstream_error' });
  assertNoSecrets(err);

  // Streaming request to the same dead upstream: the error comes before any SSE byte.
  const err2 = await expectAPIError(
    () => client.chat.completions.create({ model: 'down/gpt-4o-mini', messages: USER_MESSAGES, stream: true }), 502);
  assertOpenAIErrorObject(err2.error, { code: 'upstream_error' });
  assertNoSecrets(err2);
  assert.equal(S.upstream.requests.length, n0, 'no fallback to the live upstream');
});

test('g2. upstream slow (no first byte within the timeout) → 504 upstream_timeout', { timeout: 30000 }, async () => {
  const client = makeClient(S.gw.baseURL, S.tokens[2]);  // only up/slow: nothing to fall back to
  const n0 = S.upstream.requests.length;
  const t0 = Date.now();
  const err = await expectAPIError(
    () => client.chat.completions.create({ model: 'up/slow', messages: USER_MESSAGES }), 504);
  const elapsed = Date.now() - t0;
  assertOpenAIErrorObject(err.error, { code: 'upstream_timeout' });
  assertNoSecrets(err);
  assert.ok(elapsed >= FIRST_BYTE_TIMEOUT_MS - 50, `504 came too early (${elapsed} ms)`);
  assert.ok(elapsed < 2500, `504 must come after ~${FIRST_BYTE_TIMEOUT_MS} ms, not after the upstream's 3 s (took ${elapsed} ms)`);
  assert.deepEqual(S.upstream.requests.slice(n0).map((r) => r.body.model), ['slow'], 'one upstream attempt, no fallback');
});

test('h. client abort mid-stream → gateway closes the upstream connection', { timeout: 30000 }, async () => {
  const { client, upstream } = S;
  const stream = await client.chat.completions.create({ model: 'up/slow-stream', messages: USER_MESSAGES, stream: true });
  const closed = waitForEvent(upstream.events, 'client-closed', 5000, (e) => e.model === 'slow-stream',
    "upstream 'client-closed' for slow-stream (gateway did not close its upstream connection after the client aborted)");
  closed.catch(() => {}); // handled below
  const it = stream[Symbol.asyncIterator]();
  const first = await it.next();
  assert.equal(first.done, false, 'expected a first chunk');
  assert.ok(first.value.choices[0].delta.content, 'first chunk carries content');
  stream.controller.abort();
  const ev = await closed;
  assert.equal(ev.stream, true);

  // The gateway keeps serving afterwards.
  const r = await client.chat.completions.create({ model: 'up/gpt-4o-mini', messages: USER_MESSAGES });
  assert.equal(r.choices[0].message.content, NORMAL_CONTENT);
});

test('logs never contain the provider key or an agent token', () => {
  assertLogsClean(S.gw, S.tokens);
});
