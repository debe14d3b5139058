// End-to-end: where a model's tokenizer is not public (Anthropic, Gemini), the input bound of a
// reservation is the body's size in bytes; when that bound does not fit what remains of a daily
// budget, the gateway asks the provider's token-counting endpoint (Anthropic
// POST /v1/messages/count_tokens, Gemini POST models/{model}:countTokens) and reserves the count
// plus a margin instead (issue 12 item 1, docs/budgets.md "Provider counts") — and only then.
// The mocks bill `-counted` models exactly what their count endpoint answers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Anthropic from '@anthropic-ai/sdk';
import * as A from './upstream/anthropic_upstream.mjs';
import { waitForAccess } from './lib/harness.mjs';
import { scrape, spendUntilRefused, waitForBudgetEvent } from './lib/budget.mjs';
import { sumMetric } from './lib/common.mjs';
import { startProviderStack, assertUpstreamCredentials, ANTHROPIC_KEY, GEMINI_KEY } from './lib/providers.mjs';

const root = new URL('../../', import.meta.url);
const SOURCE = readFileSync(new URL('bench/fixtures/source_40k.cc', root), 'utf8');
const PROMPT = 'Review this file and list its bugs.\n\n' + SOURCE;
const BIG = (model) => ({ model, max_tokens: 1024, messages: [{ role: 'user', content: PROMPT }] });
const LIMIT = 30000; // below the 40 KB file's byte bound (~41k), far above its count (~10k)
const MARGIN = 2;    // --count-margin-percent default
const bound = (n) => n + Math.ceil((n * MARGIN) / 100) + 4; // admission.h kCountSlack

async function counts(gw) {
  const m = await scrape(gw);
  return {
    ok: sumMetric(m, 'pai_gateway_input_counts_total', { result: 'ok' }),
    error: sumMetric(m, 'pai_gateway_input_counts_total', { result: 'error' }),
  };
}

test('Anthropic: a request whose byte bound exceeds the budget is counted by count_tokens and admitted; small ones are not counted', { timeout: 60000 }, async (t) => {
  const S = await startProviderStack({
    agents: { coder: { models: ['claude/claude-counted'], tokens: { maxPerDay: LIMIT } } },
  });
  t.after(() => S.cleanup());
  const client = S.client('coder');

  // Far from the limit the byte bound fits: no count is asked.
  let m = S.mark();
  await client.chat.completions.create({ model: 'claude/claude-counted', messages: [{ role: 'user', content: 'Hi' }] });
  assert.deepEqual(S.since(m).anthropic.map((r) => r.path), ['/v1/messages'], 'no count when the byte bound fits');
  assert.deepEqual(await counts(S.gw), { ok: 0, error: 0 });

  // The 40 KB file: its byte bound (~41k) exceeds 30k, its count (~10k) does not.
  // A beta header on the chat route is not what the call sends: the count must not carry it.
  m = S.mark();
  const withBeta = S.client('coder', { defaultHeaders: { 'anthropic-beta': 'token-efficient-tools-2025-02-19' } });
  const { data, response } = await withBeta.chat.completions.create(BIG('claude/claude-counted')).withResponse();
  const seen = S.since(m).anthropic;
  assert.deepEqual(seen.map((r) => r.path), ['/v1/messages/count_tokens', '/v1/messages']);
  const [count, call] = seen;
  assert.equal(count.status, 200, JSON.stringify(count.error));
  assert.deepEqual(Object.keys(count.body).sort(), ['messages', 'model'], 'only the prompt members are counted');
  assert.equal(count.body.model, 'claude-counted');
  assert.equal(count.headers['anthropic-version'], '2023-06-01');
  assert.equal(count.headers['anthropic-beta'], undefined, 'the count carries the call\'s headers');
  assert.equal(call.headers['anthropic-beta'], undefined);
  assertUpstreamCredentials(count, { token: S.tokens.coder, key: ANTHROPIC_KEY, keyHeader: 'x-api-key' });
  assert.ok(count.counted > 9000 && count.counted < 12000, `count ${count.counted}`);
  assert.equal(data.usage.prompt_tokens, count.counted, 'the mock bills what it counted');
  // The reservation (and so the output limit) was sized from the count: what remains after it.
  await waitForAccess(S.gw, response.headers.get('x-request-id'));
  assert.ok(call.maxTokens <= 1024, `max_tokens ${call.maxTokens}`);
  assert.deepEqual(await counts(S.gw), { ok: 1, error: 0 });

  // Spend never exceeds the budget; the refusal comes when the counted bound no longer fits.
  const { ok, refusal } = await spendUntilRefused(S, 'coder', BIG('claude/claude-counted'));
  assert.ok(refusal, 'the budget ends the run');
  const ev = await waitForBudgetEvent(S.gw, refusal.headers.get('x-request-id'));
  assert.equal(ev.detail.limit, 'tokens_per_day');
  assert.equal(ev.detail.requested, bound(count.counted) + 1, 'the refusal names the counted bound');
  const used = Number(ev.detail.used);
  assert.ok(used <= LIMIT, `used ${used} > ${LIMIT}`);
  assert.ok(LIMIT - used < bound(count.counted) + 1, `refused although ${LIMIT - used} remained`);
  assert.ok(ok >= 1, `${ok} more calls admitted`);
});

test('Anthropic /v1/messages (official SDK, streamed): the count gets the native body without max_tokens or stream', { timeout: 60000 }, async (t) => {
  const S = await startProviderStack({
    agents: { coder: { models: ['claude/claude-counted'], tokens: { maxPerDay: LIMIT } } },
  });
  t.after(() => S.cleanup());
  const anthropic = new Anthropic({ apiKey: S.tokens.coder, baseURL: S.gw.baseURL.replace(/\/v1$/, ''), maxRetries: 0 });
  const m = S.mark();
  const stream = anthropic.messages.stream({
    model: 'claude/claude-counted', max_tokens: 1024, system: 'You review C++.',
    messages: [{ role: 'user', content: PROMPT }],
  });
  const final = await stream.finalMessage();
  const [count, call] = S.since(m).anthropic;
  assert.equal(count.path, '/v1/messages/count_tokens');
  assert.deepEqual(Object.keys(count.body).sort(), ['messages', 'model', 'system']);
  assert.equal(call.path, '/v1/messages');
  assert.equal(final.usage.input_tokens, count.counted);
});

test('Gemini: countTokens with the whole generateContentRequest, then the call', { timeout: 60000 }, async (t) => {
  const S = await startProviderStack({
    agents: { coder: { models: ['gem/gemini-counted'], tokens: { maxPerDay: LIMIT } } },
  });
  t.after(() => S.cleanup());
  const m = S.mark();
  const data = await S.client('coder').chat.completions.create(BIG('gem/gemini-counted'));
  const seen = S.since(m).gemini;
  assert.deepEqual(seen.map((r) => r.path),
    ['/v1beta/models/gemini-counted:countTokens', '/v1beta/models/gemini-counted:generateContent']);
  const [count] = seen;
  assert.equal(count.status, 200, JSON.stringify(count.error));
  assert.equal(count.body.generateContentRequest.model, 'models/gemini-counted');
  assertUpstreamCredentials(count, { token: S.tokens.coder, key: GEMINI_KEY, keyHeader: 'x-goog-api-key' });
  assert.equal(data.usage.prompt_tokens, count.counted);
  assert.deepEqual(await counts(S.gw), { ok: 1, error: 0 });
});

test('a USD budget the byte bound exceeds is counted too; a failed count leaves the byte bound (429, no call)', { timeout: 60000 }, async (t) => {
  const S = await startProviderStack({
    providers: { claude: { kind: 'anthropic', pricing: { 'claude-counted': { input: 3, output: 15 }, 'claude-count-error': { input: 3, output: 15 } } } },
    agents: {
      usd: { models: ['claude/claude-counted'], rateLimits: { maxCostPerDayUSD: 0.06 } },
      broken: { models: ['claude/claude-count-error'], tokens: { maxPerDay: LIMIT } },
    },
  });
  t.after(() => S.cleanup());
  // ~41k bytes × $3/M = $0.124 > $0.06; ~10.3k counted × $3/M ≈ $0.031 fits.
  let m = S.mark();
  const data = await S.client('usd').chat.completions.create(BIG('claude/claude-counted'));
  assert.deepEqual(S.since(m).anthropic.map((r) => r.path), ['/v1/messages/count_tokens', '/v1/messages']);
  assert.ok(data.usage.prompt_tokens > 9000);

  m = S.mark();
  const err = await S.client('broken').chat.completions.create(BIG('claude/claude-count-error')).catch((e) => e);
  assert.equal(err.status, 429, String(err));
  assert.equal(err.error?.code ?? err.code, 'insufficient_quota');
  assert.deepEqual(S.since(m).anthropic.map((r) => [r.path, r.status]), [['/v1/messages/count_tokens', 500]],
    'the count failed, and no model call was made');
  assert.deepEqual(await counts(S.gw), { ok: 1, error: 1 });
  const log = await S.gw.waitForLog((l) => l.msg?.startsWith('provider input count failed'));
  assert.ok(!JSON.stringify(log).includes(ANTHROPIC_KEY));
});
