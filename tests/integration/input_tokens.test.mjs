// End-to-end: the input bound of a budget reservation is the model's own token count (o200k_base
// for gpt-4o-mini), not the body's size, so real-sized agent requests can spend their budget
// (issue 12 item 1, docs/budgets.md "Input upper bound") — and spend still never exceeds it.
// The mock provider reports what OpenAI bills for these requests (tiktoken's count by the
// cookbook's formulas, recorded in tests/tokenizer/vectors.json by gen_vectors.mjs).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startBudgetStack, spendUntilRefused, waitForBudgetEvent } from './lib/budget.mjs';

const root = new URL('../../', import.meta.url);
const vectors = JSON.parse(readFileSync(new URL('tests/tokenizer/vectors.json', root), 'utf8'));
const BILLED = vectors.encodings.o200k_base.cookbook; // prompt tokens OpenAI bills, per fixture
const SOURCE = readFileSync(new URL('bench/fixtures/source_40k.cc', root), 'utf8');
const AGENT_REQUEST = JSON.parse(readFileSync(new URL('bench/fixtures/agent_request_100k.json', root), 'utf8'));
const MODEL = 'up/gpt-4o-mini';

test('a 40 KB source file under tokens.maxPerDay 50000 is refused only when its real cost no longer fits', { timeout: 60000 }, async (t) => {
  const LIMIT = 50000;
  const billed = BILLED.source_40k;
  const S = await startBudgetStack({
    agents: { coder: { models: [MODEL], tokens: { maxPerDay: LIMIT } } },
    upstreamOptions: { promptTokens: () => billed },
  });
  t.after(() => S.cleanup());
  const body = {
    model: MODEL, max_tokens: 1024,
    messages: [{ role: 'user', content: 'Review this file and list its bugs.\n\n' + SOURCE }],
  };
  const { ok, spent, refusal } = await spendUntilRefused(S, 'coder', body);
  // The byte bound (≈ 40,100 tokens per call) refused the third call with 19,900 spent (40 %).
  assert.ok(ok >= 4, `only ${ok} calls admitted (spent ${spent} of ${LIMIT})`);
  assert.ok(spent <= LIMIT, `spent ${spent} > ${LIMIT}`);
  assert.ok(refusal, 'the budget ends the run');
  const ev = await waitForBudgetEvent(S.gw, refusal.headers.get('x-request-id'));
  assert.equal(ev.detail.limit, 'tokens_per_day');
  assert.equal(ev.detail.used, spent, 'every reservation was settled to the billed usage');
  // Refused only because what remains cannot hold the real input plus one output token.
  assert.ok(LIMIT - spent < billed + 1, `refused with ${LIMIT - spent} left for a ${billed}-token input`);
  assert.ok(ev.detail.requested >= billed + 1, `the bound ${ev.detail.requested} is below the billed input`);
});

test('a 100 KB agent request (tools + history) fits a 100k daily budget four times', { timeout: 60000 }, async (t) => {
  const LIMIT = 100000;
  const billed = BILLED.agent_request_100k;
  const S = await startBudgetStack({
    agents: { agent: { models: [MODEL], tokens: { maxPerDay: LIMIT } } },
    upstreamOptions: { promptTokens: () => billed },
  });
  t.after(() => S.cleanup());
  const body = { ...AGENT_REQUEST, model: MODEL };
  const { ok, spent, refusal } = await spendUntilRefused(S, 'agent', body);
  // The byte bound (98,549 + 4,096 output) refused the first call outright.
  assert.ok(ok >= 4, `only ${ok} calls admitted (spent ${spent} of ${LIMIT})`);
  assert.ok(spent <= LIMIT && spent >= 0.9 * LIMIT, `spent ${spent} of ${LIMIT}`);
  assert.ok(refusal);
  const upstreamMax = S.upstream.requests.filter((r) => r.path === '/v1/chat/completions')
    .map((r) => r.outputLimit);
  // The last admitted call was capped to what remained after its input bound.
  assert.ok(upstreamMax.at(-1) <= 4096);
});
