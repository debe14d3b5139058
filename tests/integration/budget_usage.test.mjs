// End-to-end: budgets hold whatever a request or a provider says (issue 12, items 2–4).
//   a. `n` choices: the output reservation and the imposed max_tokens cover every choice, so a
//      provider that writes every choice up to its limit never takes spend past the budget.
//   b. The per-request limit counts n × max_tokens, and a max_tokens of INT64_MAX is refused
//      like any other that is too large (no overflow).
//   c. Provider usage is not trusted blindly: negative counts are missing usage (the
//      reservation is charged), INT64_MAX counts are charged up to a sanity ceiling; both are
//      counted in pai_gateway_usage_invalid_total.
//   d. Prices as billed: Anthropic cache writes by TTL, cache reads, the long-context tier;
//      the audit record's and the access log's cost equal the bill computed by hand from
//      Anthropic's price page (not from the gateway's table).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { USER_MESSAGES, assertOpenAIErrorBody } from './lib/common.mjs';
import { waitForAccess } from './lib/harness.mjs';
import { waitForRecord } from './lib/audit.mjs';
import {
  NS, startBudgetStack, postChat, bodyBytes, scrape, metricValue, upstreamFor,
} from './lib/budget.mjs';
import { startProviderStack } from './lib/providers.mjs';

/** The LLM_CALL audit record of request `rid`. */
async function llmCall(gw, rid) {
  return waitForRecord(gw.stateDir, (r) => r.type === 'LLM_CALL' && r.detail.request_id === rid, 10000, `LLM_CALL of ${rid}`);
}

test('a. n: 50 under a 3,000-token daily budget: every choice is capped, spend never exceeds the budget', { timeout: 60000 }, async (t) => {
  const LIMIT = 3000;
  const S = await startBudgetStack({ agents: { multi: { models: ['up/fill'], tokens: { maxPerDay: LIMIT } } } });
  t.after(() => S.cleanup());
  const { gw, upstream, tokens } = S;
  const body = { model: 'up/fill', messages: USER_MESSAGES, n: 50 };
  let spent = 0;
  let calls = 0;
  for (;;) {
    const r = await postChat(gw, tokens.multi, body);
    if (r.status !== 200) {
      // Less than one output token per choice remains: refused, naming n.
      assert.equal(r.status, 400, r.text);
      assertOpenAIErrorBody(r.json);
      assert.equal(r.json.error.param, 'n', r.text);
      break;
    }
    calls++;
    await waitForAccess(gw, r.rid);
    const [rec] = upstreamFor(upstream, r.rid);
    assert.equal(rec.choices, 50);
    assert.equal(r.json.choices.length, 50);
    // The cap sent upstream is per choice: 50 of them fit in what remained.
    assert.ok(rec.outputLimit * 50 <= LIMIT - spent - r.bytes,
      `max_tokens ${rec.outputLimit} × 50 > remaining ${LIMIT - spent} − input bound ${r.bytes}`);
    spent += Number(rec.usage.total_tokens);
    assert.ok(spent <= LIMIT, `spent ${spent} > budget ${LIMIT} after ${calls} call(s)`);
    assert.ok(calls < 20, 'the budget never ran out');
  }
  assert.ok(calls >= 1, 'the first call fits');
  const samples = await scrape(gw);
  const remaining = metricValue(samples, 'pai_gateway_budget_remaining', { namespace: NS, agent: 'multi', budget: 'tokens' });
  assert.equal(remaining, LIMIT - spent, 'the gateway charged what the provider reported');

  // n = 1 still fits where 50 did not (the refusal was about n, not about the day).
  const one = await postChat(gw, tokens.multi, { ...body, n: 1, max_tokens: 1 });
  assert.ok(one.status === 200 || one.status === 429, one.text);
});

test('b. maxPerRequest counts n × max_tokens, and max_tokens: INT64_MAX is refused like 2,000', { timeout: 60000 }, async (t) => {
  const S = await startBudgetStack({
    agents: { perreq: { models: ['up/gpt-4o-mini'], tokens: { maxPerRequest: 2000 } } },
  });
  t.after(() => S.cleanup());
  const { gw, upstream, tokens } = S;
  const base = { model: 'up/gpt-4o-mini', messages: USER_MESSAGES };

  const ok = await postChat(gw, tokens.perreq, { ...base, max_tokens: 300 });
  assert.equal(ok.status, 200, ok.text);

  const tooMany = await postChat(gw, tokens.perreq, { ...base, n: 10, max_tokens: 300 });
  assert.equal(tooMany.status, 400, `10 choices × 300 tokens > 2000: ${tooMany.text}`);
  assert.equal(tooMany.json.error.code, 'context_length_exceeded');

  const big = await postChat(gw, tokens.perreq, { ...base, max_tokens: 2000 });
  assert.equal(big.status, 400, big.text);
  // JSON.stringify cannot write INT64_MAX exactly: send the text.
  const text = JSON.stringify({ ...base, max_tokens: 1 }).replace('"max_tokens":1', '"max_tokens":9223372036854775807');
  const before = upstream.requests.length;
  const res = await fetch(`${gw.baseURL}/chat/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${tokens.perreq}`, 'content-type': 'application/json' }, body: text,
  });
  const json = await res.json();
  assert.equal(res.status, 400, JSON.stringify(json));
  assert.equal(json.error.code, big.json.error.code);
  assert.equal(upstream.requests.length, before, 'nothing reached the provider');
});

test('c. negative and INT64_MAX usage: charged as missing / up to the ceiling, counted', { timeout: 60000 }, async (t) => {
  const LIMIT = 3000;
  const S = await startBudgetStack({
    agents: {
      neg: { models: ['up/usage-negative'], tokens: { maxPerDay: LIMIT } },
      huge: { models: ['up/usage-int64-max'], tokens: { maxPerDay: LIMIT } },
    },
  });
  t.after(() => S.cleanup());
  const { gw, tokens } = S;

  // Negative counts: the reservation (input bound + the output cap it imposed) is charged.
  const body = { model: 'up/usage-negative', messages: USER_MESSAGES, max_tokens: 100 };
  const r1 = await postChat(gw, tokens.neg, body);
  assert.equal(r1.status, 200, r1.text);
  const a1 = await waitForAccess(gw, r1.rid);
  assert.equal(a1.charged_tokens, bodyBytes(body) + 100, 'the reservation is charged');
  const rec1 = await llmCall(gw, r1.rid);
  assert.equal(rec1.detail.charged_tokens, bodyBytes(body) + 100);
  let samples = await scrape(gw);
  assert.equal(metricValue(samples, 'pai_gateway_budget_remaining', { namespace: NS, agent: 'neg', budget: 'tokens' }),
    LIMIT - bodyBytes(body) - 100, 'negative usage never credits the budget');
  assert.equal(metricValue(samples, 'pai_gateway_usage_invalid_total', { reason: 'negative' }), 1);

  // INT64_MAX counts: no wrap-around; charged up to the ceiling, the budget is spent.
  const body2 = { model: 'up/usage-int64-max', messages: USER_MESSAGES, max_tokens: 100 };
  const r2 = await postChat(gw, tokens.huge, body2);
  assert.equal(r2.status, 200, r2.text);
  const a2 = await waitForAccess(gw, r2.rid);
  assert.ok(a2.charged_tokens > LIMIT && a2.charged_tokens < 1e12, `charged ${a2.charged_tokens}`);
  samples = await scrape(gw);
  assert.equal(metricValue(samples, 'pai_gateway_budget_remaining', { namespace: NS, agent: 'huge', budget: 'tokens' }), 0);
  assert.equal(metricValue(samples, 'pai_gateway_usage_invalid_total', { reason: 'above_ceiling' }), 1);
  const r3 = await postChat(gw, tokens.huge, body2);
  assert.equal(r3.status, 429, `the budget is spent: ${r3.text}`);
});

test('d. Anthropic cache writes by TTL, cache reads and the long-context tier cost what Anthropic bills', { timeout: 60000 }, async (t) => {
  const S = await startProviderStack({
    agents: { cacher: { models: ['claude/claude-sonnet-4-5-cache-ttl', 'claude/claude-sonnet-4-5-long-context'] } },
  });
  t.after(() => S.cleanup());
  const { gw, tokens } = S;
  const client = new Anthropic({ apiKey: tokens.cacher, baseURL: gw.baseURL.replace(/\/v1$/, ''), maxRetries: 0, timeout: 30000 });
  const call = async (model) => {
    const { data, response } = await client.messages.create({
      model, max_tokens: 100, messages: [{ role: 'user', content: 'Hello' }],
    }).withResponse();
    const rid = response.headers.get('x-request-id');
    return { data, rec: await llmCall(gw, rid), access: await waitForAccess(gw, rid) };
  };

  // Claude Sonnet 4.5, anthropic.com/pricing (prompt caching table), ≤ 200k input tokens:
  //   input 1,000 × $3/MTok            = $0.003
  //   5-minute cache writes 1,000 × $3.75/MTok = $0.00375
  //   1-hour cache writes   2,000 × $6/MTok    = $0.012
  //   cache reads 5,000 × $0.30/MTok   = $0.0015
  //   output 4 × $15/MTok              = $0.00006
  //   bill                             = $0.02031
  const a = await call('claude/claude-sonnet-4-5-cache-ttl');
  assert.equal(a.data.usage.cache_creation.ephemeral_1h_input_tokens, 2000);
  assert.equal(a.data.usage.output_tokens, 4);
  assert.ok(Math.abs(a.rec.detail.cost_usd - 0.02031) < 1e-12, `audit cost_usd ${a.rec.detail.cost_usd} != 0.02031`);
  assert.ok(Math.abs(a.access.cost_usd - 0.02031) < 1e-12, `access cost_usd ${a.access.cost_usd} != 0.02031`);

  // The same usage streamed (message_start carries it), and through the chat route translated
  // to Anthropic: the same bill.
  const streamed = await client.messages.create({
    model: 'claude/claude-sonnet-4-5-cache-ttl', max_tokens: 100, messages: [{ role: 'user', content: 'Hello' }], stream: true,
  }).withResponse();
  for await (const ev of streamed.data) void ev;
  const srec = await llmCall(gw, streamed.response.headers.get('x-request-id'));
  assert.ok(Math.abs(srec.detail.cost_usd - 0.02031) < 1e-12, `streamed: audit cost_usd ${srec.detail.cost_usd} != 0.02031`);
  const chat = await postChat(gw, tokens.cacher, { model: 'claude/claude-sonnet-4-5-cache-ttl', messages: USER_MESSAGES, max_tokens: 100 });
  assert.equal(chat.status, 200, chat.text);
  const crec = await llmCall(gw, chat.rid);
  assert.ok(Math.abs(crec.detail.cost_usd - 0.02031) < 1e-12, `chat route: audit cost_usd ${crec.detail.cost_usd} != 0.02031`);

  // > 200k input tokens (150,000 + 1,000 written + 60,000 read = 211,000): every token at the
  // long-context rates (anthropic.com/pricing, "Long context pricing"):
  //   input 150,000 × $6/MTok          = $0.9
  //   5-minute cache writes 1,000 × $7.50/MTok = $0.0075
  //   cache reads 60,000 × $0.60/MTok  = $0.036
  //   output 4 × $22.50/MTok           = $0.00009
  //   bill                             = $0.94359
  const b = await call('claude/claude-sonnet-4-5-long-context');
  assert.ok(Math.abs(b.rec.detail.cost_usd - 0.94359) < 1e-12, `audit cost_usd ${b.rec.detail.cost_usd} != 0.94359`);
  assert.ok(Math.abs(b.access.cost_usd - 0.94359) < 1e-12, `access cost_usd ${b.access.cost_usd} != 0.94359`);
  // The provider reported more input than the reservation's bound: charged as reported, counted.
  const samples = await scrape(gw);
  assert.ok(metricValue(samples, 'pai_gateway_usage_invalid_total', { reason: 'above_reservation' }) >= 1);
});

test('e. n on a Gemini model: candidateCount with a per-candidate maxOutputTokens that fits the budget', { timeout: 60000 }, async (t) => {
  const LIMIT = 1000;
  const S = await startProviderStack({
    agents: { gemn: { models: ['gem/gemini-2.5-flash'], tokens: { maxPerDay: LIMIT } } },
  });
  t.after(() => S.cleanup());
  const body = { model: 'gem/gemini-2.5-flash', messages: USER_MESSAGES, n: 4 };
  const m = S.mark();
  const r = await postChat(S.gw, S.tokens.gemn, body);
  assert.equal(r.status, 200, r.text);
  const [rec] = S.since(m).gemini;
  const gc = rec.body.generationConfig;
  assert.equal(gc.candidateCount, 4);
  assert.equal(gc.maxOutputTokens, Math.floor((LIMIT - r.bytes) / 4), 'what remains after the input bound, per candidate');
});
