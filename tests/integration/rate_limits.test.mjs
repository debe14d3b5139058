// End-to-end: requests per minute (fixed window, x-ratelimit-* headers) and concurrent
// requests (a stream holds its slot until it ends). Each test has its own gateway.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import OpenAI from 'openai';
import { NORMAL_CONTENT, slowStreamShortContent } from './upstream/openai_upstream.mjs';
import { USER_MESSAGES, expectAPIError, assertOpenAIErrorObject, collect, contentOf } from './lib/common.mjs';
import { waitForAccess } from './lib/harness.mjs';
import {
  NS, startBudgetStack, scrape, metricValue, outstanding, waitForBudgetEvent, upstreamFor,
  parseResetDuration,
} from './lib/budget.mjs';

const MODEL = 'up/gpt-4o-mini';
const minuteOf = (ms) => Math.floor(ms / 60000);
const secondsToMinuteEnd = (ms) => 60 - (Math.floor(ms / 1000) % 60);

test('e. maxRequestsPerMinute 3: x-ratelimit-remaining-requests 2,1,0, then 429 rate_limit_exceeded with Retry-After', { timeout: 60000 }, async (t) => {
  // Two agents: a run that straddles a wall-clock minute (the window resets) is redone on the
  // second one, which is fresh; two runs of ~100 ms cannot both straddle one.
  const S = await startBudgetStack({
    agents: {
      'rpm-a': { models: [MODEL], rateLimits: { maxRequestsPerMinute: 3 } },
      'rpm-b': { models: [MODEL], rateLimits: { maxRequestsPerMinute: 3 } },
    },
  });
  t.after(() => S.cleanup());
  const { gw, upstream } = S;

  for (const agent of ['rpm-a', 'rpm-b']) {
    const client = S.client(agent);
    // The counter is per reason, not per agent: a run redone after a straddle starts from what
    // the first run left.
    const rejectedBefore = metricValue(await scrape(gw), 'pai_gateway_budget_rejections_total', { reason: 'requests_per_minute' });
    const t0 = Date.now();
    const ok = [];
    for (let i = 0; i < 3; i++) {
      ok.push(await client.chat.completions.create({ model: MODEL, messages: USER_MESSAGES }).withResponse());
    }
    const t1 = Date.now();
    const err = await expectAPIError(() => client.chat.completions.create({ model: MODEL, messages: USER_MESSAGES }), 429);
    const t2 = Date.now();
    if (minuteOf(t0) !== minuteOf(t2)) {
      t.diagnostic(`${agent}: the calls straddled a minute boundary; redoing on a fresh agent`);
      continue;
    }

    ok.forEach(({ data, response }, i) => {
      assert.equal(data.choices[0].message.content, NORMAL_CONTENT);
      const h = response.headers;
      assert.equal(h.get('x-ratelimit-limit-requests'), '3');
      assert.equal(h.get('x-ratelimit-remaining-requests'), String(2 - i), `call ${i + 1}: x-ratelimit-remaining-requests`);
      const reset = parseResetDuration(h.get('x-ratelimit-reset-requests'));
      assert.ok(reset >= 1 && reset <= 60, `x-ratelimit-reset-requests ${reset}s`);
      assert.ok(reset >= secondsToMinuteEnd(t1) - 1 && reset <= secondsToMinuteEnd(t0) + 1,
        `x-ratelimit-reset-requests ${reset}s is not the time to the end of the minute`);
      assert.equal(h.get('x-ratelimit-limit-tokens'), null, 'no token budget: no token headers');
    });

    assert.ok(err instanceof OpenAI.RateLimitError);
    assertOpenAIErrorObject(err.error, { code: 'rate_limit_exceeded' });
    assert.equal(err.error.type, 'requests');
    const ra = err.headers.get('retry-after');
    assert.match(ra ?? '', /^\d+$/, `Retry-After: ${ra}`);
    assert.ok(Number(ra) >= 1 && Number(ra) <= 60, `Retry-After ${ra} must be within the minute`);
    assert.ok(Number(ra) >= secondsToMinuteEnd(t2) - 1 && Number(ra) <= secondsToMinuteEnd(t1) + 1,
      `Retry-After ${ra} is not the time to the end of the minute`);
    const rid = err.headers.get('x-request-id');
    assert.equal(upstreamFor(upstream, rid).length, 0, 'a refused call never reaches the upstream');
    const ev = await waitForBudgetEvent(gw, rid);
    assert.equal(ev.namespace, NS);
    assert.equal(ev.agent, agent);
    assert.equal(ev.detail.limit, 'requests_per_minute');
    assert.equal(ev.detail.limit_value, 3);
    assert.equal(ev.detail.used, 3);

    // A refused call does not use up the window either: still refused, still 3 upstream calls.
    await expectAPIError(() => client.chat.completions.create({ model: MODEL, messages: USER_MESSAGES }), 429);
    if (minuteOf(Date.now()) === minuteOf(t0)) {
      const samples = await scrape(gw);
      assert.equal(metricValue(samples, 'pai_gateway_budget_rejections_total', { reason: 'requests_per_minute' }) - rejectedBefore, 2);
    }
    return;
  }
  assert.fail('both runs straddled a minute boundary');
});

test('f. maxConcurrentRequests 2: two open streams hold both slots; a third call gets 429 until one ends', { timeout: 60000 }, async (t) => {
  const S = await startBudgetStack({
    agents: { conc: { models: [MODEL, 'up/slow-stream', 'up/slow-stream-short'], rateLimits: { maxConcurrentRequests: 2 } } },
  });
  t.after(() => S.cleanup());
  const { gw, upstream } = S;
  const client = S.client('conc');

  const open = async (model) => {
    const { data, response } = await client.chat.completions
      .create({ model, messages: USER_MESSAGES, stream: true }).withResponse();
    const it = data[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(first.done, false, `${model}: a first chunk`);
    return { stream: data, it, first: first.value, rid: response.headers.get('x-request-id') };
  };
  const short = await open('up/slow-stream-short');
  const long = await open('up/slow-stream');

  // Both slots are held by running streams.
  const err = await expectAPIError(() => client.chat.completions.create({ model: MODEL, messages: USER_MESSAGES }), 429);
  assertOpenAIErrorObject(err.error, { code: 'rate_limit_exceeded' });
  assert.equal(err.error.type, 'requests');
  assert.equal(err.headers.get('retry-after'), '1');
  const rid3 = err.headers.get('x-request-id');
  assert.equal(upstreamFor(upstream, rid3).length, 0);
  const ev = await waitForBudgetEvent(gw, rid3);
  assert.equal(ev.detail.limit, 'concurrent_requests');
  assert.equal(ev.detail.limit_value, 2);
  assert.equal(ev.detail.used, 2);
  // A stream refused the same way before its first byte.
  await expectAPIError(() => client.chat.completions.create({ model: MODEL, messages: USER_MESSAGES, stream: true }), 429);

  // The short stream finishes: its slot is free once the request has ended (access line).
  const rest = [short.first];
  for (let n = await short.it.next(); !n.done; n = await short.it.next()) rest.push(n.value);
  assert.equal(contentOf(rest), slowStreamShortContent());
  await waitForAccess(gw, short.rid);
  const r4 = await client.chat.completions.create({ model: MODEL, messages: USER_MESSAGES }).withResponse();
  assert.equal(r4.data.choices[0].message.content, NORMAL_CONTENT);
  await waitForAccess(gw, r4.response.headers.get('x-request-id'));

  // Again full: the long stream plus one more stream.
  const another = await open('up/slow-stream');
  await expectAPIError(() => client.chat.completions.create({ model: MODEL, messages: USER_MESSAGES }), 429);

  // Aborting both streams frees both slots: two calls at once are admitted.
  long.stream.controller.abort();
  another.stream.controller.abort();
  await waitForAccess(gw, long.rid, 10000);
  await waitForAccess(gw, another.rid, 10000);
  const both = await Promise.all([0, 1].map(() => client.chat.completions.create({ model: MODEL, messages: USER_MESSAGES }).withResponse()));
  both.forEach((r) => assert.equal(r.data.choices[0].message.content, NORMAL_CONTENT));
  for (const r of both) await waitForAccess(gw, r.response.headers.get('x-request-id'));
  // And a stream after that, consumed fully.
  const last = await client.chat.completions.create({ model: MODEL, messages: USER_MESSAGES, stream: true }).withResponse();
  assert.equal(contentOf(await collect(last.data)), NORMAL_CONTENT);
  await waitForAccess(gw, last.response.headers.get('x-request-id'));

  const samples = await scrape(gw);
  assert.equal(metricValue(samples, 'pai_gateway_budget_rejections_total', { reason: 'concurrent_requests' }), 3);
  assert.equal(outstanding(samples), 0, 'no reservation left once every stream ended');
});

/** POST on a fresh TCP connection (no keep-alive), resolving when the whole response has arrived. */
function postFresh(port, token, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, path: '/v1/chat/completions', method: 'POST', agent: false,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('f2. a strictly sequential client is never refused by its own finished calls (maxConcurrentRequests 1)', {
  timeout: 60000,
}, async (t) => {
  const S = await startBudgetStack({
    agents: { one: { models: [MODEL], rateLimits: { maxConcurrentRequests: 1 } } },
  });
  t.after(() => S.cleanup());
  const body = JSON.stringify({ model: MODEL, messages: USER_MESSAGES });
  const refused = [];
  for (let i = 0; i < 200; i++) {
    const r = await postFresh(S.gw.port, S.tokens.one, body);
    if (r.status !== 200) refused.push(r);
  }
  assert.deepEqual(refused.map((r) => `${r.status} ${r.text}`), [], 'a call made after the previous one ended was refused');
});
