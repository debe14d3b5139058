// End-to-end: how a budget bounds one call — the output cap the provider receives, the charge
// of a stream the client aborted, the per-request context limit, a model without a price.
// Each test has its own gateway and mock upstream.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NORMAL_CONTENT, PROMPT_TOKENS, contentFor,
} from './upstream/openai_upstream.mjs';
import { USER_MESSAGES, assertOpenAIErrorBody } from './lib/common.mjs';
import { waitForEvent } from './lib/gateway.mjs';
import { waitForAccess } from './lib/harness.mjs';
import {
  NS, startBudgetStack, postChat, inputBound, inputEstimate, scrape, metricValue, agentTokens, budgetRemaining,
  outstanding, waitForBudgetEvent, upstreamFor, parseResetDuration, secondsToMidnightUTC, utcDay,
} from './lib/budget.mjs';

const MODEL = 'up/gpt-4o-mini';

test('c. output cap: the provider is held to what remains of maxPerDay (rewritten or inserted), and honours it', { timeout: 60000 }, async (t) => {
  const LIMIT = 300;
  // Its input bound must hold the mock's PROMPT_TOKENS (11) — a real prompt's count is within
  // its bound — so that the spend stays within TIGHT.
  const probe = { model: MODEL, messages: [{ role: 'user', content: 'Say hello to the upstream mock, politely.' }] };
  const TIGHT = inputBound(probe) + 3; // leaves an output limit of exactly 3 tokens
  const S = await startBudgetStack({
    providers: { orouter: { provider: 'openrouter' } },
    agents: {
      capped: { models: [MODEL, 'orouter/gpt-4o-mini'], tokens: { maxPerDay: LIMIT } },
      tight: { models: [MODEL], tokens: { maxPerDay: TIGHT } },
    },
  });
  t.after(() => S.cleanup());
  const { gw, upstream, tokens } = S;
  const day = utcDay();
  let spent = 0;
  const chat = async (agent, body) => {
    const r = await postChat(gw, tokens[agent], body);
    assert.equal(r.status, 200, `${r.status} ${r.text}`);
    await waitForAccess(gw, r.rid);
    const recs = upstreamFor(upstream, r.rid);
    assert.equal(recs.length, 1);
    return { r, rec: recs[0] };
  };

  // 1. The client asks for 10000 tokens: the gateway rewrites its max_tokens to what remains.
  const b1 = { model: MODEL, messages: USER_MESSAGES, max_tokens: 10000 };
  const t0 = Date.now();
  const { r: r1, rec: rec1 } = await chat('capped', b1);
  assert.equal(rec1.outputLimitField, 'max_tokens', 'the client\'s field is rewritten');
  assert.ok(!('max_completion_tokens' in rec1.body), 'no second limit field');
  assert.ok(rec1.outputLimit <= LIMIT - inputBound(b1), `upstream max_tokens ${rec1.outputLimit} > remaining − input bound`);
  assert.equal(rec1.outputLimit, LIMIT - inputBound(b1), 'the cap is what remains after the input bound');
  assert.equal(r1.json.choices[0].message.content, NORMAL_CONTENT);
  assert.equal(r1.headers.get('x-ratelimit-limit-tokens'), String(LIMIT));
  assert.equal(r1.headers.get('x-ratelimit-remaining-tokens'), String(LIMIT), 'remaining when admitted');
  const reset = parseResetDuration(r1.headers.get('x-ratelimit-reset-tokens'));
  assert.ok(Math.abs(reset - secondsToMidnightUTC(t0)) <= 2, `x-ratelimit-reset-tokens ${reset}s is not the time to 00:00 UTC`);
  assert.equal(r1.headers.get('x-ratelimit-limit-requests'), null, 'no request limit: no request headers');
  spent += rec1.usage.total_tokens;

  // 2. No client limit: the gateway inserts max_completion_tokens (OpenAI provider).
  const b2 = { model: MODEL, messages: USER_MESSAGES };
  const { r: r2, rec: rec2 } = await chat('capped', b2);
  assert.equal(rec2.outputLimitField, 'max_completion_tokens', 'inserted as max_completion_tokens for provider kind openai');
  assert.ok(!('max_tokens' in rec2.body));
  assert.equal(rec2.outputLimit, LIMIT - spent - inputBound(b2));
  assert.equal(r2.headers.get('x-ratelimit-remaining-tokens'), String(LIMIT - spent));
  spent += rec2.usage.total_tokens;

  // 3. A client limit below what remains is left alone — and the provider's cut answer is relayed.
  const b3 = { model: MODEL, messages: USER_MESSAGES, max_completion_tokens: 2 };
  const { r: r3, rec: rec3 } = await chat('capped', b3);
  assert.equal(rec3.outputLimit, 2);
  assert.equal(rec3.raw.match(/"max_completion_tokens":\s*2\b/g)?.length, 1, rec3.raw);
  assert.equal(r3.json.choices[0].message.content, contentFor(2));
  assert.equal(r3.json.choices[0].finish_reason, 'length');
  assert.equal(r3.json.usage.completion_tokens, 2);
  spent += rec3.usage.total_tokens;

  // 4. A stream asking for 10000: capped too, usage still forced.
  const b4 = { model: MODEL, messages: USER_MESSAGES, stream: true, max_completion_tokens: 10000 };
  const { r: r4, rec: rec4 } = await chat('capped', b4);
  assert.equal(rec4.outputLimitField, 'max_completion_tokens');
  assert.equal(rec4.outputLimit, LIMIT - spent - inputBound(b4));
  assert.equal(rec4.body.stream_options?.include_usage, true);
  assert.equal(r4.events.map((e) => e.choices[0]?.delta?.content ?? '').join(''), NORMAL_CONTENT);
  spent += rec4.usage.total_tokens;

  // 5. Another provider kind gets max_tokens inserted.
  const b5 = { model: 'orouter/gpt-4o-mini', messages: USER_MESSAGES };
  const { rec: rec5 } = await chat('capped', b5);
  assert.equal(rec5.outputLimitField, 'max_tokens', 'inserted as max_tokens for a non-OpenAI provider kind');
  assert.ok(!('max_completion_tokens' in rec5.body));
  assert.equal(rec5.outputLimit, LIMIT - spent - inputBound(b5, { provider: 'openrouter' }));
  spent += rec5.usage.total_tokens;
  assert.ok(spent <= LIMIT);

  // 6. An output limit of 3: the provider stops at 3 tokens, the client sees finish_reason length.
  const { r: r6, rec: rec6 } = await chat('tight', probe);
  assert.equal(rec6.outputLimit, 3);
  assert.equal(r6.json.choices[0].message.content, contentFor(3));
  assert.equal(r6.json.choices[0].finish_reason, 'length');
  assert.equal(r6.json.usage.completion_tokens, 3);
  assert.equal(r6.json.usage.prompt_tokens, PROMPT_TOKENS);

  const samples = await scrape(gw);
  if (utcDay() !== day) return t.skip('the UTC day rolled over during the test');
  assert.equal(budgetRemaining(samples, 'capped', 'tokens'), LIMIT - spent);
  assert.equal(budgetRemaining(samples, 'tight', 'tokens'), TIGHT - PROMPT_TOKENS - 3);
  assert.equal(outstanding(samples), 0);
});

test('d. a client abort mid-stream settles the reservation and charges the call (never 0)', { timeout: 60000 }, async (t) => {
  const LIMIT = 100000;
  const S = await startBudgetStack({
    agents: { streamer: { models: ['up/slow-stream'], tokens: { maxPerDay: LIMIT } } },
  });
  t.after(() => S.cleanup());
  const { gw, upstream, tokens } = S;
  const day = utcDay();
  assert.equal(metricValue(await scrape(gw), 'pai_gateway_requests_in_flight'), 0, 'nothing in flight yet');

  const body = { model: 'up/slow-stream', messages: USER_MESSAGES, stream: true, stream_options: { include_usage: true } };
  const ac = new AbortController();
  const res = await fetch(`${gw.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokens.streamer}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: ac.signal,
  });
  assert.equal(res.status, 200);
  const rid = res.headers.get('x-request-id');
  const reader = res.body.getReader();
  const first = await reader.read();
  assert.equal(first.done, false);
  assert.match(Buffer.from(first.value).toString(), /chunk-0/);

  // While the stream runs, its reservation is outstanding and it is a request in flight (both
  // read from the gateway's state when /metrics is scraped).
  const running = await scrape(gw);
  assert.equal(outstanding(running), 1, 'a running stream holds one reservation');
  assert.equal(metricValue(running, 'pai_gateway_requests_in_flight'), 1, 'a running stream is in flight');

  const closed = waitForEvent(upstream.events, 'client-closed', 10000, (e) => e.record.headers['x-request-id'] === rid,
    'the gateway to close its upstream call after the client aborted');
  ac.abort();
  await reader.read().catch(() => {});
  const ev = await closed;
  const access = await waitForAccess(gw, rid, 10000);

  const rec = ev.record;
  assert.equal(rec.usage, null, 'the upstream never sent its usage chunk');
  assert.equal(rec.outputLimitField, 'max_completion_tokens');
  const samples = await scrape(gw);
  assert.equal(outstanding(samples), 0, 'reservation settled after the abort');
  // No usage seen: charged input upper bound + the output limit.
  const expected = inputBound(body) + rec.outputLimit;
  assert.ok(access.charged_tokens > 0, `an aborted stream was charged ${access.charged_tokens}`);
  assert.equal(access.charged_tokens, expected, `charged ${access.charged_tokens}, documented rule: input bound + output limit = ${expected}`);
  if (utcDay() !== day) return t.skip('the UTC day rolled over during the test');
  assert.equal(budgetRemaining(samples, 'streamer', 'tokens'), LIMIT - expected, 'pai_gateway_budget_remaining moved by the charge');
  assert.equal(agentTokens(samples, 'streamer'), 0, 'no usage was reported, so no tokens_total');
});

test('d2. a provider stream without usage is charged input bound + output limit', { timeout: 60000 }, async (t) => {
  const LIMIT = 100000;
  const S = await startBudgetStack({
    agents: { quiet: { models: ['up/no-usage'], tokens: { maxPerDay: LIMIT } } },
  });
  t.after(() => S.cleanup());
  const body = { model: 'up/no-usage', messages: USER_MESSAGES, stream: true, max_tokens: 50 };
  const r = await postChat(S.gw, S.tokens.quiet, body);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.events.map((e) => e.choices[0]?.delta?.content ?? '').join(''), NORMAL_CONTENT);
  const access = await waitForAccess(S.gw, r.rid);
  const [rec] = upstreamFor(S.upstream, r.rid);
  assert.equal(rec.usage, null);
  assert.equal(rec.outputLimit, 50, 'the client limit fits: kept');
  assert.equal(access.charged_tokens, inputBound(body) + 50);
  const samples = await scrape(S.gw);
  assert.equal(outstanding(samples), 0);
  assert.ok(metricValue(samples, 'pai_gateway_usage_missing_total') >= 1);
  assert.equal(budgetRemaining(samples, 'quiet', 'tokens'), LIMIT - inputBound(body) - 50);
});

test('j. tokens.maxPerRequest: too large → 400 context_length_exceeded + BUDGET_EXCEEDED tokens_per_request; otherwise output capped to fit', { timeout: 60000 }, async (t) => {
  const PER_REQUEST = 100;
  const S = await startBudgetStack({
    agents: {
      ctx: { models: [MODEL], tokens: { maxPerRequest: PER_REQUEST } },
      usd: { models: ['up/tools', MODEL], rateLimits: { maxCostPerDayUSD: 5 } },
    },
  });
  t.after(() => S.cleanup());
  const { gw, upstream, tokens } = S;
  const estimate = (body) => inputEstimate(body);

  // A prompt too large for the context limit.
  const big = { model: MODEL, messages: [{ role: 'user', content: 'x'.repeat(1000) }] };
  const r1 = await postChat(gw, tokens.ctx, big);
  assert.equal(r1.status, 400, r1.text);
  assertOpenAIErrorBody(r1.json, { code: 'context_length_exceeded', param: 'messages' });
  assert.equal(r1.json.error.type, 'invalid_request_error');
  const ev1 = await waitForBudgetEvent(gw, r1.rid);
  assert.equal(ev1.namespace, NS);
  assert.equal(ev1.agent, 'ctx');
  assert.equal(ev1.detail.limit, 'tokens_per_request');
  assert.equal(ev1.detail.limit_value, PER_REQUEST);
  assert.equal(ev1.detail.requested, estimate(big) + 1);
  assert.equal(ev1.detail.model, MODEL);
  assert.equal(ev1.detail.provider, 'up');

  // A small prompt asking for more output than fits.
  const greedy = { model: MODEL, messages: USER_MESSAGES, max_tokens: PER_REQUEST - 5 };
  const r2 = await postChat(gw, tokens.ctx, greedy);
  assert.equal(r2.status, 400, r2.text);
  assertOpenAIErrorBody(r2.json, { code: 'context_length_exceeded' });
  assert.ok(estimate(greedy) + PER_REQUEST - 5 > PER_REQUEST, 'the test needs an input estimate above 5');
  assert.equal((await waitForBudgetEvent(gw, r2.rid)).detail.requested, estimate(greedy) + PER_REQUEST - 5);
  assert.equal(upstream.requests.length, 0, 'refused requests never reach the upstream');

  // Fitting requests pass; without a client limit the output is capped to the rest of the window.
  const plain = { model: MODEL, messages: USER_MESSAGES };
  const r3 = await postChat(gw, tokens.ctx, plain);
  assert.equal(r3.status, 200, r3.text);
  const [rec3] = upstreamFor(upstream, r3.rid);
  assert.equal(rec3.outputLimit, PER_REQUEST - estimate(plain), 'output capped to maxPerRequest − input estimate');
  const modest = { model: MODEL, messages: USER_MESSAGES, max_tokens: 50 };
  const r4 = await postChat(gw, tokens.ctx, modest);
  assert.equal(r4.status, 200, r4.text);
  assert.equal(upstreamFor(upstream, r4.rid)[0].outputLimit, 50, 'a fitting client limit is kept');

  // A USD budget and a model without a price: refused for that model (BUDGET_EXCEEDED
  // price_unknown), so the next model of the chain, which has a price, serves.
  const usdOnly = { model: 'up/tools', messages: USER_MESSAGES };
  const r5 = await postChat(gw, tokens.usd, usdOnly);
  const ev5 = await waitForBudgetEvent(gw, r5.rid);
  assert.equal(ev5.detail.limit, 'price_unknown');
  assert.equal(ev5.detail.model, 'up/tools');
  assert.equal(r5.status, 200, `the priced fallback serves: ${r5.text}`);
  assert.equal(r5.json.model, 'gpt-4o-mini');
  assert.equal(upstreamFor(upstream, r5.rid).map((r) => r.body.model).join(), 'gpt-4o-mini', 'the unpriced model was never called');

  for (const r of [r3, r4, r5]) await waitForAccess(gw, r.rid); // settled
  const samples = await scrape(gw);
  assert.equal(metricValue(samples, 'pai_gateway_budget_rejections_total', { reason: 'tokens_per_request' }), 2);
  assert.equal(metricValue(samples, 'pai_gateway_budget_rejections_total', { reason: 'price_unknown' }), 1);
  assert.equal(metricValue(samples, 'pai_gateway_fallbacks_total', { reason: 'over_budget' }), 1);
  assert.equal(outstanding(samples), 0);
});

test('j2. a USD budget on a model without a price (no fallback) → 400 model_price_unknown', { timeout: 60000 }, async (t) => {
  const S = await startBudgetStack({
    agents: { usd: { models: ['up/tools'], rateLimits: { maxCostPerDayUSD: 5 } } },
  });
  t.after(() => S.cleanup());
  const r = await postChat(S.gw, S.tokens.usd, { model: 'up/tools', messages: USER_MESSAGES });
  assert.equal(r.status, 400, r.text);
  assertOpenAIErrorBody(r.json, { code: 'model_price_unknown', param: 'model' });
  const ev = await waitForBudgetEvent(S.gw, r.rid);
  assert.equal(ev.detail.limit, 'price_unknown');
  assert.equal(S.upstream.requests.length, 0);
});
