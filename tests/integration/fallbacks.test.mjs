// End-to-end: a ModelProvider's daily token cap shared by agents, and fallbacks along an
// agent's spec.models (upstream 429 / 5xx / timeout / unreachable, over budget), at most
// 3 provider attempts. Each test has its own gateway and mock upstream.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NORMAL_CONTENT, PROMPT_TOKENS, COMPLETION_TOKENS } from './upstream/openai_upstream.mjs';
import { USER_MESSAGES, collect, contentOf, assertOpenAIErrorBody } from './lib/common.mjs';
import { byMsg } from './lib/gateway.mjs';
import { waitForAccess } from './lib/harness.mjs';
import {
  NS, startBudgetStack, postChat, scrape, metricValue, budgetRemaining, outstanding,
  waitForBudgetEvent, upstreamFor, assertRetryAfterMidnight, utcDay,
} from './lib/budget.mjs';

const MINI = 'up/gpt-4o-mini';
const CALL_TOKENS = PROMPT_TOKENS + COMPLETION_TOKENS;

test('g. provider maxTokensDay is shared: agent A spends it, agent B is refused 429 insufficient_quota (provider_tokens_per_day)', { timeout: 60000 }, async (t) => {
  const CAP = 400;
  const S = await startBudgetStack({
    providers: { capped: { maxTokensDay: CAP } },
    agents: {
      a: { models: ['capped/cap-model'] },
      b: { models: ['capped/cap-model'] },
      c: { models: ['capped/cap-model', MINI] }, // falls back to another provider
    },
  });
  t.after(() => S.cleanup());
  const { gw, upstream, tokens } = S;
  const day = utcDay();
  const body = { model: 'capped/cap-model', messages: USER_MESSAGES, max_tokens: 5 };

  // B can call while the provider has room.
  const b1 = await postChat(gw, tokens.b, body);
  assert.equal(b1.status, 200, b1.text);
  await waitForAccess(gw, b1.rid);

  // A spends the rest until the provider refuses it.
  let aServed = 0;
  let aRefused;
  for (let i = 0; i < 60 && !aRefused; i++) {
    const r = await postChat(gw, tokens.a, body);
    await waitForAccess(gw, r.rid);
    if (r.status === 200) aServed++; else aRefused = r;
  }
  assert.ok(aRefused, 'the provider cap never refused agent A');
  assert.ok(aServed >= 10, `A served only ${aServed} calls`);
  const capRecords = upstream.requests.filter((r) => r.body?.model === 'cap-model');
  const spent = capRecords.reduce((n, r) => n + r.usage.total_tokens, 0);
  t.diagnostic(`provider spend ${spent} of ${CAP} (B 1 call, A ${aServed} calls)`);
  assert.ok(spent <= CAP, `provider spend ${spent} exceeds maxTokensDay ${CAP}`);

  // B, which has no limit of its own, is now refused too.
  const t0 = Date.now();
  const b2 = await postChat(gw, tokens.b, body);
  const t1 = Date.now();
  assert.equal(b2.status, 429, b2.text);
  assertOpenAIErrorBody(b2.json, { code: 'insufficient_quota' });
  assert.equal(b2.json.error.type, 'insufficient_quota');
  assertRetryAfterMidnight(b2.headers.get('retry-after'), t0, t1);
  const ev = await waitForBudgetEvent(gw, b2.rid);
  assert.equal(ev.namespace, NS);
  assert.equal(ev.agent, 'b');
  assert.equal(ev.detail.limit, 'provider_tokens_per_day');
  assert.equal(ev.detail.provider, 'capped');
  assert.equal(ev.detail.model, 'capped/cap-model');
  assert.equal(ev.detail.limit_value, CAP);
  if (utcDay() !== day) return t.skip('the UTC day rolled over during the test');
  assert.equal(ev.detail.used, spent, 'provider usage in the event = what the upstream reported');
  assert.ok(ev.detail.used + ev.detail.requested > CAP);
  assert.equal(upstreamFor(upstream, b2.rid).length, 0);

  // C falls back to its next model (another provider) when the capped one is over budget.
  const c1 = await postChat(gw, tokens.c, { ...body });
  assert.equal(c1.status, 200, c1.text);
  assert.equal(c1.json.model, 'gpt-4o-mini');
  assert.deepEqual(upstreamFor(upstream, c1.rid).map((r) => r.body.model), ['gpt-4o-mini'], 'no call to the capped provider');
  await waitForAccess(gw, c1.rid); // settled

  const samples = await scrape(gw);
  assert.equal(metricValue(samples, 'pai_gateway_budget_rejections_total', { reason: 'provider_tokens_per_day' }), 3);
  assert.equal(metricValue(samples, 'pai_gateway_fallbacks_total', { reason: 'over_budget' }), 1);
  assert.equal(outstanding(samples), 0);
});

test('h. fallbacks: upstream 429 / 5xx / timeout / unreachable / over budget → next model; chain from the named model; at most 3 attempts', { timeout: 60000 }, async (t) => {
  const TOKENS_DAY = 100000;
  const S = await startBudgetStack({
    extraArgs: ['--upstream-first-byte-timeout-ms', '300'],
    providers: {
      up: { pricing: { pricey: { input: 100000, output: 100000 }, cheap: { input: 1, output: 2 } } },
    },
    agents: {
      fb429: { models: ['up/error-429', MINI], tokens: { maxPerDay: TOKENS_DAY } },
      fb500: { models: ['up/error-500', MINI] },
      fbslow: { models: ['up/slow', MINI] },
      fbdown: { models: ['down/gpt-4o-mini', MINI] },
      fbusd: { models: ['up/pricey', 'up/cheap'], rateLimits: { maxCostPerDayUSD: 1 } },
      chain: { models: ['up/error-500', 'up/error-429', 'down/gpt-4o-mini', MINI] },
      tail: { models: [MINI, 'up/error-500'] },
      usdtail: { models: ['up/cheap', 'up/pricey'], rateLimits: { maxCostPerDayUSD: 1 } },
    },
  });
  t.after(() => S.cleanup());
  const { gw, upstream } = S;
  const day = utcDay();
  const fallbacks = async () => {
    const s = await scrape(gw);
    return Object.fromEntries(['over_budget', 'upstream_429', 'upstream_5xx', 'upstream_timeout', 'upstream_error']
      .map((r) => [r, metricValue(s, 'pai_gateway_fallbacks_total', { reason: r })]));
  };
  const delta = (before, after) => Object.fromEntries(Object.keys(after)
    .map((k) => [k, after[k] - before[k]]).filter(([, v]) => v !== 0));

  /** One SDK call (non-stream) that must succeed; returns its upstream models, access line, fallback lines. */
  const served = async (agent, model, { stream = false } = {}) => {
    const mark = gw.mark();
    const client = S.client(agent);
    let content; let answerModel; let rid;
    if (stream) {
      const { data, response } = await client.chat.completions.create({ model, messages: USER_MESSAGES, stream: true }).withResponse();
      const chunks = await collect(data);
      content = contentOf(chunks);
      answerModel = chunks[0].model;
      rid = response.headers.get('x-request-id');
    } else {
      const { data, response } = await client.chat.completions.create({ model, messages: USER_MESSAGES }).withResponse();
      content = data.choices[0].message.content;
      answerModel = data.model;
      rid = response.headers.get('x-request-id');
    }
    assert.equal(content, NORMAL_CONTENT);
    const access = await waitForAccess(gw, rid);
    const lines = gw.logs.slice(mark).filter(byMsg('fallback', (l) => l.request_id === rid));
    return { answerModel, rid, access, upstreamModels: upstreamFor(upstream, rid).map((r) => r.body.model), lines };
  };

  // Upstream 429.
  let before = await fallbacks();
  let r = await served('fb429', 'up/error-429');
  assert.equal(r.answerModel, 'gpt-4o-mini', 'the answer names the model that served');
  assert.deepEqual(r.upstreamModels, ['error-429', 'gpt-4o-mini'], 'the upstream saw both attempts');
  assert.equal(r.access.model, MINI);
  assert.equal(r.access.attempts, 2);
  assert.equal(r.lines.length, 1);
  assert.equal(r.lines[0].from, 'up/error-429');
  assert.equal(r.lines[0].to, MINI);
  assert.equal(r.lines[0].upstream_status, 429);
  // The failed attempt is charged 0: only the serving call counts against maxPerDay.
  assert.equal(r.access.charged_tokens, CALL_TOKENS);
  let samples = await scrape(gw);
  if (utcDay() === day) assert.equal(budgetRemaining(samples, 'fb429', 'tokens'), TOKENS_DAY - CALL_TOKENS);
  // The same for a stream (nothing was sent to the client before the fallback).
  r = await served('fb429', 'up/error-429', { stream: true });
  assert.deepEqual(r.upstreamModels, ['error-429', 'gpt-4o-mini']);
  assert.equal(r.answerModel, 'gpt-4o-mini');
  assert.deepEqual(delta(before, await fallbacks()), { upstream_429: 2 });

  // Upstream 5xx.
  before = await fallbacks();
  r = await served('fb500', 'up/error-500');
  assert.deepEqual(r.upstreamModels, ['error-500', 'gpt-4o-mini']);
  assert.equal(r.answerModel, 'gpt-4o-mini');
  assert.equal(r.lines[0]?.upstream_status, 500);
  assert.deepEqual(delta(before, await fallbacks()), { upstream_5xx: 1 });

  // No first byte within the timeout.
  before = await fallbacks();
  r = await served('fbslow', 'up/slow');
  assert.deepEqual(r.upstreamModels, ['slow', 'gpt-4o-mini']);
  assert.deepEqual(delta(before, await fallbacks()), { upstream_timeout: 1 });

  // Provider unreachable.
  before = await fallbacks();
  r = await served('fbdown', 'down/gpt-4o-mini');
  assert.deepEqual(r.upstreamModels, ['gpt-4o-mini']);
  assert.equal(r.access.attempts, 2);
  assert.deepEqual(delta(before, await fallbacks()), { upstream_error: 1 });

  // Over budget: the primary's input bound alone costs more than $1, the fallback is cheap.
  before = await fallbacks();
  r = await served('fbusd', 'up/pricey');
  assert.deepEqual(r.upstreamModels, ['cheap'], 'no call may be made to the over-budget primary');
  assert.equal(r.answerModel, 'cheap');
  assert.equal(r.access.model, 'up/cheap');
  assert.deepEqual(delta(before, await fallbacks()), { over_budget: 1 });
  samples = await scrape(gw);
  const cheapCost = (PROMPT_TOKENS * 1000 + COMPLETION_TOKENS * 2000) / 1e9; // nano-USD per token: 1000, 2000
  assert.ok(Math.abs(metricValue(samples, 'pai_gateway_cost_usd_total', { namespace: NS, agent: 'fbusd', model: 'up/cheap' }) - cheapCost) <= 1e-9);
  assert.equal(metricValue(samples, 'pai_gateway_cost_usd_total', { namespace: NS, agent: 'fbusd', model: 'up/pricey' }), 0);
  const refusal = gw.logs.find(byMsg('event', (l) => l.type === 'BUDGET_EXCEEDED' && l.detail?.request_id === r.rid));
  assert.equal(refusal?.detail.limit, 'cost_per_day', 'the over-budget model is a BUDGET_EXCEEDED event');
  assert.equal(refusal.detail.model, 'up/pricey');

  // The chain starts at the named model: naming the second model skips the first.
  before = await fallbacks();
  r = await served('chain', 'up/error-429');
  assert.deepEqual(r.upstreamModels, ['error-429', 'gpt-4o-mini'], 'fallback from the named model onward (down/ is the 2nd attempt)');
  assert.equal(r.access.attempts, 3);
  assert.deepEqual(delta(before, await fallbacks()), { upstream_429: 1, upstream_error: 1 });

  // At most 3 attempts: error-500, error-429, down → the client gets the last failure.
  before = await fallbacks();
  const mark = gw.mark();
  const e = await postChat(gw, S.tokens.chain, { model: 'up/error-500', messages: USER_MESSAGES });
  assert.equal(e.status, 502, e.text);
  assertOpenAIErrorBody(e.json, { code: 'upstream_error' });
  await waitForAccess(gw, e.rid); // log lines before it have been read too
  assert.deepEqual(upstreamFor(upstream, e.rid).map((x) => x.body.model), ['error-500', 'error-429'], 'the 4th model is never tried');
  assert.equal(gw.logs.slice(mark).filter(byMsg('fallback', (l) => l.request_id === e.rid)).length, 2);
  assert.deepEqual(delta(before, await fallbacks()), { upstream_5xx: 1, upstream_429: 1 });

  // Naming the last model of a chain: no fallback.
  before = await fallbacks();
  const last = await postChat(gw, S.tokens.tail, { model: 'up/error-500', messages: USER_MESSAGES });
  assert.equal(last.status, 500, last.text);
  assertOpenAIErrorBody(last.json);
  assert.deepEqual(upstreamFor(upstream, last.rid).map((x) => x.body.model), ['error-500']);
  const lastUsd = await postChat(gw, S.tokens.usdtail, { model: 'up/pricey', messages: USER_MESSAGES });
  assert.equal(lastUsd.status, 429, lastUsd.text);
  assertOpenAIErrorBody(lastUsd.json, { code: 'insufficient_quota' });
  assert.equal(upstreamFor(upstream, lastUsd.rid).length, 0);
  assert.deepEqual(delta(before, await fallbacks()), {});

  await waitForAccess(gw, last.rid);
  await waitForAccess(gw, lastUsd.rid);
  assert.equal(outstanding(await scrape(gw)), 0);
});
