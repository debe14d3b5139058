// End-to-end: daily budgets under a burst of 500 concurrent calls (half streaming), in tokens
// and in USD. Whatever the concurrency, what the upstream reports as used never exceeds the
// budget, the gateway charges exactly that, refusals are 429 insufficient_quota with
// Retry-After, and no reservation is left behind.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { contentFor } from './upstream/openai_upstream.mjs';
import { collect, contentOf } from './lib/common.mjs';
import {
  NS, startBudgetStack, scrape, metricValue, agentTokens, budgetRemaining, outstanding,
  budgetEvents, waitForBudgetEvent, waitForAccessAll, upstreamFor, assertRetryAfterMidnight,
  utcDay,
} from './lib/budget.mjs';

const BURST = 500;
const MODEL = 'up/gpt-4o-mini';
// The client's output limits cycle through these. A call with no limit (or a huge one) reserves
// all that remains until it settles (docs/budgets.md), so only a few calls are like that:
// the others keep many small reservations in flight at once.
const CLIENT_LIMITS = [3, 5, 8, 2, 40];

function paramsFor(i) {
  const p = { model: MODEL, messages: [{ role: 'user', content: `Say hello #${i}` }] };
  let lim = CLIENT_LIMITS[Math.floor(i / 2) % CLIENT_LIMITS.length];
  // Last in the burst, so that the small reservations overlap first.
  if (i === BURST - 10 || i === BURST - 7) lim = undefined; // the gateway inserts one
  if (i === BURST - 6 || i === BURST - 3) lim = 100000; // the gateway lowers it
  if (lim !== undefined) p[i % 3 === 0 ? 'max_tokens' : 'max_completion_tokens'] = lim;
  if (i % 2 === 1) {
    p.stream = true;
    if (i % 4 === 1) p.stream_options = { include_usage: true };
  }
  return p;
}

/** One SDK call; resolves with its outcome (never rejects for an HTTP error). */
async function call(client, p) {
  const t0 = Date.now();
  try {
    const { data, response } = await client.chat.completions.create(p).withResponse();
    const rid = response.headers.get('x-request-id');
    if (!p.stream) {
      return {
        ok: true, p, rid, usage: data.usage, content: data.choices[0].message.content,
        finish: data.choices[0].finish_reason, model: data.model,
      };
    }
    const chunks = await collect(data);
    const withChoices = chunks.filter((c) => c.choices.length > 0);
    return {
      ok: true, p, rid, usage: chunks.filter((c) => c.usage).at(-1)?.usage ?? null,
      content: contentOf(chunks), finish: withChoices.at(-1)?.choices[0].finish_reason, model: chunks[0]?.model,
    };
  } catch (err) {
    if (!(err instanceof OpenAI.APIError) || err.status === undefined) throw err;
    return {
      ok: false, p, status: err.status, error: err.error, rid: err.headers?.get('x-request-id'),
      retryAfter: err.headers?.get('retry-after'), t0, t1: Date.now(),
    };
  }
}

/** Usage cost in nano-USD under integer nano-USD-per-token prices. */
function nanoCost(usage, price) {
  return usage.prompt_tokens * price.input + usage.completion_tokens * price.output;
}

/**
 * The burst, then sequential calls until the first refusal, then the checks shared by the
 * token and the USD budget. `kind`: 'tokens' | 'usd'; `limit` in tokens or USD.
 */
async function burstAndCheck(t, S, agent, kind, limit) {
  const { gw, upstream } = S;
  const client = S.client(agent);

  const results = await Promise.all(Array.from({ length: BURST }, (_, i) => call(client, paramsFor(i))));
  const ok = results.filter((r) => r.ok);
  const refused = results.filter((r) => !r.ok);
  // A call is settled when its access line is logged (the client may see its last byte a
  // moment before the gateway settles it).
  await waitForAccessAll(gw, results.map((r) => r.rid));

  // Then sequentially until refused: the budget is usable to its end, not just under a burst.
  let sequential = 0;
  let final;
  for (let k = 0; k < 400 && !final; k++) {
    // Its input bound (o200k tokens + framing) holds the mock's PROMPT_TOKENS, as a real count would.
    const r = await call(client, { model: MODEL, messages: [{ role: 'user', content: 'Say hello to the mock, politely.' }], max_tokens: 5 });
    await waitForAccessAll(gw, [r.rid]);
    if (r.ok) { ok.push(r); sequential++; } else { refused.push(r); final = r; }
  }
  const burstServed = results.filter((r) => r.ok).length;
  t.diagnostic(`burst of ${BURST}: ${burstServed} served, then ${sequential} sequential; ${refused.length} refused`);
  assert.ok(final, 'the budget never ran out');
  // Small reservations overlap: several calls are admitted at once (not one at a time).
  assert.ok(burstServed >= 3, `only ${burstServed} calls of the burst were served`);
  assert.ok(refused.length >= BURST / 2, `only ${refused.length} of ${BURST} refused: the budget is not enforced`);

  // Every refusal: 429 insufficient_quota with Retry-After to 00:00 UTC, never reaching the upstream.
  for (const r of refused) {
    assert.equal(r.status, 429, `refusal status: ${r.status} ${JSON.stringify(r.error)}`);
    assert.equal(r.error?.code, 'insufficient_quota', JSON.stringify(r.error));
    assert.equal(r.error?.type, 'insufficient_quota', JSON.stringify(r.error));
    assert.ok(r.retryAfter, 'a 429 carries Retry-After');
    assertRetryAfterMidnight(r.retryAfter, r.t0, r.t1);
    assert.ok(r.rid, 'a refusal carries x-request-id');
    assert.equal(upstreamFor(upstream, r.rid).length, 0, 'a refused call must not reach the upstream');
  }

  // Every served call reached the upstream exactly once and relayed its answer (cut to the limit).
  await waitForAccessAll(gw, ok.map((r) => r.rid));
  const servedIds = new Set(ok.map((r) => r.rid));
  assert.equal(servedIds.size, ok.length, 'distinct request ids');
  const chatRecords = upstream.requests.filter((r) => r.path === '/v1/chat/completions');
  for (const rec of chatRecords) {
    assert.ok(servedIds.has(rec.headers['x-request-id']), `upstream call ${rec.headers['x-request-id']} belongs to no served call`);
  }
  assert.equal(chatRecords.length, ok.length, 'one upstream call per served call');
  for (const r of ok) {
    const [rec] = upstreamFor(upstream, r.rid);
    assert.ok(rec.usage, `the upstream reported no usage for ${r.rid} (include_usage not forced?)`);
    assert.ok(rec.completed, 'upstream response completed');
    // The provider is held to an output limit: the client's (or less), inserted when absent.
    const clientLimit = r.p.max_completion_tokens ?? r.p.max_tokens;
    assert.ok(Number.isInteger(rec.outputLimit) && rec.outputLimit >= 1,
      `the upstream call carried no output limit (client: ${clientLimit}): ${rec.raw}`);
    if (clientLimit !== undefined) assert.ok(rec.outputLimit <= clientLimit, 'output limit raised above the client\'s');
    assert.equal(r.content, contentFor(rec.outputLimit), 'content relayed as produced');
    assert.equal(r.model, 'gpt-4o-mini');
    if (!r.p.stream || r.p.stream_options?.include_usage) {
      assert.deepEqual(r.usage, rec.usage, `client-visible usage of ${r.rid} differs from the upstream's`);
    } else {
      assert.equal(r.usage, null, 'no usage chunk for a client that did not ask');
    }
  }

  // The gateway's accounting equals what the upstream reported.
  const upstreamTokens = ok.reduce((n, r) => n + upstreamFor(upstream, r.rid)[0].usage.total_tokens, 0);
  const samples = await scrape(gw);
  assert.equal(outstanding(samples), 0, 'reservations outstanding after every call ended');
  assert.equal(agentTokens(samples, agent), upstreamTokens,
    'pai_gateway_tokens_total (input+output) differs from the usage the upstream reported');
  const access = await waitForAccessAll(gw, ok.map((r) => r.rid));
  assert.equal(access.reduce((n, l) => n + (l.charged_tokens ?? 0), 0), upstreamTokens,
    'sum of access-log charged_tokens differs from the upstream usage');
  for (const l of access) {
    const [rec] = upstreamFor(upstream, l.request_id);
    assert.equal(l.charged_tokens, rec.usage.total_tokens, `charged_tokens of ${l.request_id}`);
  }

  // Refusals are events and counted.
  const events = budgetEvents(gw);
  const reason = kind === 'usd' ? 'cost_per_day' : 'tokens_per_day';
  assert.equal(events.length, refused.length, 'one BUDGET_EXCEEDED event per refusal');
  assert.equal(metricValue(samples, 'pai_gateway_budget_rejections_total', { reason }), refused.length);
  const refusedIds = new Set(refused.map((r) => r.rid));
  for (const ev of events) {
    assert.equal(ev.namespace, NS);
    assert.equal(ev.agent, agent);
    assert.equal(ev.detail.limit, reason, JSON.stringify(ev));
    assert.equal(kind === 'usd' ? ev.detail.limit_value_usd : ev.detail.limit_value, limit, JSON.stringify(ev));
    assert.ok(refusedIds.has(ev.detail.request_id), `event for an unknown request ${ev.detail.request_id}`);
    assert.equal(ev.detail.model, MODEL);
    assert.equal(ev.detail.provider, 'up');
  }
  const finalEvent = await waitForBudgetEvent(gw, final.rid);
  return { ok, refused, samples, upstreamTokens, finalEvent, sequential };
}

test('a. tokens.maxPerDay under 500 concurrent calls (half streaming): never exceeded, charged exactly, refusals 429 insufficient_quota', { timeout: 120000 }, async (t) => {
  // A call uses 13-16 tokens and reserves ~13-50 (input bound + output limit) while it runs.
  const LIMIT = 1500;
  const S = await startBudgetStack({
    agents: { burst: { models: [MODEL, 'up/gpt-4o'], tokens: { maxPerDay: LIMIT } } },
  });
  t.after(() => S.cleanup());
  const day = utcDay();
  const { ok, samples, upstreamTokens, finalEvent, sequential } = await burstAndCheck(t, S, 'burst', 'tokens', LIMIT);
  if (utcDay() !== day) return t.skip('the UTC day rolled over during the test');

  t.diagnostic(`upstream usage ${upstreamTokens} of ${LIMIT} tokens over ${ok.length} calls`);
  assert.ok(upstreamTokens <= LIMIT, `upstream usage ${upstreamTokens} exceeds maxPerDay ${LIMIT}`);
  // An agent-wide token limit ends the fallback walk: the fallback model was never used.
  assert.ok(S.upstream.requests.every((r) => r.body?.model === 'gpt-4o-mini'), 'no fallback on an agent-wide token limit');
  // The last refusal came with nothing in flight: it saw exactly the spend, and could not fit.
  assert.equal(finalEvent.detail.limit_value, LIMIT);
  assert.equal(finalEvent.detail.used, upstreamTokens, 'BUDGET_EXCEEDED "used" with nothing in flight = spend');
  assert.ok(finalEvent.detail.used + finalEvent.detail.requested > LIMIT, JSON.stringify(finalEvent.detail));
  // The gauge is set as each call settles; the last sequential call settled alone.
  assert.ok(sequential > 0, 'no sequential call fitted after the burst');
  const rem = budgetRemaining(samples, 'burst', 'tokens');
  assert.equal(rem, LIMIT - upstreamTokens, 'pai_gateway_budget_remaining{budget="tokens"} once idle');
});

test('b. maxCostPerDayUSD under 500 concurrent calls: cost from the upstream usage never exceeds it, pai_gateway_cost_usd_total matches', { timeout: 120000 }, async (t) => {
  // USD per 1M tokens → nano-USD per token: 100 → 1e5, 10000 → 1e7. A call costs $0.021-0.051
  // and reserves ~$0.01-0.05 (input bound × input price + output limit × output price).
  const PRICE = { input: 1e5, output: 1e7 };
  const BUDGET_USD = 2;
  const S = await startBudgetStack({
    providers: { up: { pricing: { 'gpt-4o-mini': { input: 100, output: 10000 } } } },
    agents: { spender: { models: [MODEL], rateLimits: { maxCostPerDayUSD: BUDGET_USD } } },
  });
  t.after(() => S.cleanup());
  const day = utcDay();
  const { ok, samples, finalEvent, sequential } = await burstAndCheck(t, S, 'spender', 'usd', BUDGET_USD);
  if (utcDay() !== day) return t.skip('the UTC day rolled over during the test');

  const nano = ok.reduce((n, r) => n + nanoCost(upstreamFor(S.upstream, r.rid)[0].usage, PRICE), 0);
  t.diagnostic(`upstream cost $${nano / 1e9} of $${BUDGET_USD} over ${ok.length} calls`);
  assert.ok(nano <= BUDGET_USD * 1e9, `cost $${nano / 1e9} exceeds maxCostPerDayUSD ${BUDGET_USD}`);
  const cost = metricValue(samples, 'pai_gateway_cost_usd_total', { namespace: NS, agent: 'spender' });
  assert.ok(Math.abs(cost - nano / 1e9) <= 1e-9,
    `pai_gateway_cost_usd_total ${cost} != cost from the upstream usage ${nano / 1e9}`);
  assert.equal(metricValue(samples, 'pai_gateway_cost_usd_total', { namespace: NS, agent: 'spender', model: MODEL, provider: 'up' }), cost);
  const access = await waitForAccessAll(S.gw, ok.map((r) => r.rid));
  for (const l of access) {
    const c = nanoCost(upstreamFor(S.upstream, l.request_id)[0].usage, PRICE) / 1e9;
    assert.ok(Math.abs(l.cost_usd - c) <= 1e-12, `access cost_usd ${l.cost_usd} != ${c}`);
  }
  // The last refusal saw exactly the spend and could not fit.
  const d = finalEvent.detail;
  assert.equal(d.limit_value_usd, BUDGET_USD);
  assert.ok(Math.abs(d.used_usd - nano / 1e9) <= 1e-9, `used_usd ${d.used_usd} != spend ${nano / 1e9}`);
  assert.ok(Math.round(d.used_usd * 1e9) + Math.round(d.requested_usd * 1e9) > BUDGET_USD * 1e9, JSON.stringify(d));
  assert.ok(sequential > 0, 'no sequential call fitted after the burst');
  const rem = budgetRemaining(samples, 'spender', 'usd');
  assert.ok(Math.abs(rem - (BUDGET_USD - nano / 1e9)) <= 1e-9, `pai_gateway_budget_remaining{budget="usd"} ${rem}`);
  // No token budget: no token headers/gauge.
  assert.equal(budgetRemaining(samples, 'spender', 'tokens'), undefined);
});
