// End-to-end: two pai-gateway replicas sharing budgets in one real Redis (`--redis`,
// docs/budgets.md "Several replicas: Redis").
//  a. 1,000 concurrent calls (half streaming) split across both replicas against one agent's
//     token budget and USD budget: what the upstream reports as used stays within each budget,
//     refusals are 429, nothing stays reserved.
//  b. A replica killed with SIGKILL while its streams run: once its lease expires the other
//     replica charges those reservations in full (never refunds them) and nothing stays held.
//  c. Redis killed: budgeted calls get 503 budget_store_unavailable with Retry-After, /readyz
//     and pai_gateway_budget_store_up say so, calls under no limit still work; Redis restarted
//     on its append-only file: the day's spend is intact and service resumes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startOpenAIUpstream } from './upstream/openai_upstream.mjs';
import { startGateway, getClosedPort, byMsg } from './lib/gateway.mjs';
import { makeClient, collect } from './lib/common.mjs';
import {
  NS, budgetManifest, scrape, metricValue, outstanding, waitForAccessAll, upstreamFor, utcDay,
} from './lib/budget.mjs';
import { startRedis } from './lib/redis.mjs';

const MODEL = 'up/gpt-4o-mini';
const TOKENS_PER_DAY = 6000;
const USD_PER_DAY = 0.5;
// USD per 1M tokens → nano-USD per token: 10 → 1e4, 200 → 2e5. A call (11 prompt tokens, up to
// 5 completion tokens from the mock) costs ≤ $0.00111: both budgets end after ~400 calls.
const PRICE = { input: 1e4, output: 2e5 };
const LEASE_MS = 1000;

/** Redis + mock upstream + two gateway replicas; agents `shared` (both budgets) and `free`. */
async function startReplicas(t) {
  const redis = await startRedis();
  const upstream = await startOpenAIUpstream();
  const gateways = [];
  t.after(async () => {
    await Promise.allSettled(gateways.map((g) => g.stop('SIGKILL', 5000)));
    await upstream.close();
    await redis.kill().catch(() => {});
  });
  const manifest = budgetManifest({
    upstreamURL: upstream.url,
    downURL: `http://127.0.0.1:${await getClosedPort()}/v1`,
    providers: { up: { pricing: { 'gpt-4o-mini': { input: 10, output: 200 }, 'slow-stream': { input: 10, output: 200 } } } },
    agents: {
      shared: { models: [MODEL, 'up/slow-stream'], tokens: { maxPerDay: TOKENS_PER_DAY }, rateLimits: { maxCostPerDayUSD: USD_PER_DAY } },
      free: { models: [MODEL] },
    },
  });
  const args = (id) => ['--redis', redis.url, '--redis-replica-id', id, '--redis-lease-ms', String(LEASE_MS)];
  const gw1 = await startGateway({ manifest, extraArgs: args('gw1'), mintBefore: [`${NS}/shared`, `${NS}/free`] });
  gateways.push(gw1);
  const gw2 = await startGateway({ manifest, extraArgs: args('gw2'), tokensFrom: gw1 });
  gateways.push(gw2);
  const [shared, free] = gw1.tokens;
  for (const gw of [gw1, gw2]) await waitReady(gw, 200);
  return { redis, upstream, gw1, gw2, shared, free };
}

/** Waits until /readyz answers `status` (the replica's view of Redis changes asynchronously). */
async function waitReady(gw, status, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${gw.adminURL}/readyz`);
    const body = await res.text();
    if (res.status === status) return body;
    if (Date.now() > deadline) throw new Error(`/readyz stayed ${res.status} (${body.trim()}), expected ${status}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** One SDK call; resolves with its outcome (never rejects for an HTTP error). */
async function call(client, p) {
  try {
    const { data, response } = await client.chat.completions.create(p).withResponse();
    const rid = response.headers.get('x-request-id');
    if (p.stream) await collect(data);
    return { ok: true, rid };
  } catch (err) {
    if (!(err instanceof OpenAI.APIError) || err.status === undefined) throw err;
    return { ok: false, status: err.status, error: err.error, rid: err.headers?.get('x-request-id'), retryAfter: err.headers?.get('retry-after') };
  }
}

function spentTokens(redis, scope = `agent:${NS}/shared`) {
  return Number(redis.cli('HGET', `{pai}:s:${utcDay()}:${scope}`, 't') || 0);
}

test('a. 1,000 concurrent calls on two replicas: spend within the token and USD budgets', { timeout: 180000 }, async (t) => {
  const S = await startReplicas(t);
  const day = utcDay();
  const clients = [S.gw1, S.gw2].map((gw) => makeClient(gw.baseURL, S.shared, { timeout: 60000, maxRetries: 0 }));
  const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => {
    const p = { model: MODEL, messages: [{ role: 'user', content: `Say hello #${i}` }], max_tokens: 2 + (i % 7) };
    if (i % 2 === 1) p.stream = true;
    return call(clients[i % 2], p).then((r) => ({ ...r, gw: i % 2 ? S.gw2 : S.gw1 }));
  }));
  const ok = results.filter((r) => r.ok);
  const refused = results.filter((r) => !r.ok);
  for (const gw of [S.gw1, S.gw2]) await waitForAccessAll(gw, results.filter((r) => r.gw === gw).map((r) => r.rid));
  if (utcDay() !== day) return t.skip('the UTC day rolled over during the test');

  // Spend as the upstream counted it, not as Redis says.
  let tokens = 0;
  let nano = 0;
  for (const r of ok) {
    const [rec] = upstreamFor(S.upstream, r.rid);
    assert.ok(rec?.usage, `served call ${r.rid} has no upstream usage`);
    tokens += rec.usage.total_tokens;
    nano += rec.usage.prompt_tokens * PRICE.input + rec.usage.completion_tokens * PRICE.output;
  }
  const servedBy = [S.gw1, S.gw2].map((gw) => ok.filter((r) => r.gw === gw).length);
  t.diagnostic(`served ${ok.length} (${servedBy.join(' + ')}), refused ${refused.length}; ` +
    `${tokens} of ${TOKENS_PER_DAY} tokens, $${nano / 1e9} of $${USD_PER_DAY}`);
  assert.ok(tokens <= TOKENS_PER_DAY, `upstream usage ${tokens} exceeds tokens.maxPerDay ${TOKENS_PER_DAY}`);
  assert.ok(nano <= USD_PER_DAY * 1e9, `upstream cost $${nano / 1e9} exceeds maxCostPerDayUSD ${USD_PER_DAY}`);
  assert.ok(servedBy[0] > 0 && servedBy[1] > 0, 'both replicas served calls');
  assert.ok(refused.length > 0, 'the budgets never ran out: the test does not test them');
  // Near the end of a budget, not far from it: the replicas do not refuse early.
  assert.ok(tokens > TOKENS_PER_DAY * 0.85 || nano > USD_PER_DAY * 1e9 * 0.85,
    `only ${tokens} tokens / $${nano / 1e9} used before refusals`);
  for (const r of refused) {
    assert.equal(r.status, 429, JSON.stringify(r.error));
    assert.equal(r.error?.code, 'insufficient_quota', JSON.stringify(r.error));
    assert.equal(upstreamFor(S.upstream, r.rid).length, 0, 'a refused call reached the upstream');
  }
  // Both replicas settled everything into Redis: charged = the upstream's usage, nothing held.
  for (const gw of [S.gw1, S.gw2]) assert.equal(outstanding(await scrape(gw)), 0);
  const deadline = Date.now() + 10000;
  while (spentTokens(S.redis) !== tokens && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(spentTokens(S.redis), tokens, 'spend in Redis differs from the upstream usage');
  assert.equal(S.redis.cli('HGET', `{pai}:r:agent:${NS}/shared`, 't'), '0', 'tokens still reserved');
  assert.equal(S.redis.cli('HLEN', '{pai}:res:gw1'), '0');
  assert.equal(S.redis.cli('HLEN', '{pai}:res:gw2'), '0');
  // /usage of either replica reads the shared spend.
  for (const gw of [S.gw1, S.gw2]) {
    const usage = await (await fetch(`${gw.adminURL}/usage`)).json();
    assert.equal(usage.agents.find((a) => a.agent === 'shared').tokensToday, tokens);
  }
});

test('b. a replica killed mid-stream: its reservations are charged in full after its lease, nothing leaks', { timeout: 120000 }, async (t) => {
  const S = await startReplicas(t);
  const client = makeClient(S.gw2.baseURL, S.shared, { timeout: 60000, maxRetries: 0 });
  // Three streams of up to 200 chunks, 50 ms apart: still running when the replica dies.
  const streams = Array.from({ length: 3 }, (_, i) => client.chat.completions.create({
    model: 'up/slow-stream', messages: [{ role: 'user', content: `stream ${i}` }], max_tokens: 300, stream: true,
  }).then((s) => collect(s)).catch((e) => e));
  const deadline = Date.now() + 10000;
  while (S.redis.cli('HLEN', '{pai}:res:gw2') !== '3' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(S.redis.cli('HLEN', '{pai}:res:gw2'), '3', 'the three streams hold no reservation in Redis');
  const held = S.redis.cli('HGET', `{pai}:r:agent:${NS}/shared`, 't');
  assert.ok(Number(held) > 0, 'no reservation held while streams run');
  const before = spentTokens(S.redis);
  const mark = S.gw1.mark();
  await S.gw2.stop('SIGKILL');
  await Promise.all(streams);
  // The surviving replica sweeps once the lease (1 s) has run out.
  await S.gw1.waitForLog(byMsg('budget: swept an expired replica\'s reservations (charged in full)', (l) => l.replica === 'gw2'), 15000, mark);
  assert.equal(S.redis.cli('HGET', `{pai}:r:agent:${NS}/shared`, 't'), '0', 'reservations still held after the sweep');
  assert.equal(S.redis.cli('EXISTS', '{pai}:res:gw2'), '0');
  assert.equal(spentTokens(S.redis) - before, Number(held), 'the swept reservations were not charged in full');
  // The budget keeps working on the surviving replica.
  const r = await call(makeClient(S.gw1.baseURL, S.shared, { maxRetries: 0 }), { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
  assert.ok(r.ok, JSON.stringify(r));
});

test('c. Redis down: 503 budget_store_unavailable, /readyz and metrics say so; restarted on its append-only file, spend is intact', { timeout: 120000 }, async (t) => {
  const S = await startReplicas(t);
  const shared = makeClient(S.gw1.baseURL, S.shared, { maxRetries: 0 });
  const free = makeClient(S.gw1.baseURL, S.free, { maxRetries: 0 });
  const first = await call(shared, { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
  assert.ok(first.ok, JSON.stringify(first));
  await waitForAccessAll(S.gw1, [first.rid]);
  const usage = (gw) => fetch(`${gw.adminURL}/usage`).then((r) => r.json()).then((u) => u.agents.find((a) => a.agent === 'shared').tokensToday);
  const spent = await usage(S.gw1);
  assert.ok(spent > 0);

  await S.redis.kill('SIGKILL');
  // The first call after the loss finds it; the next ones are refused without waiting.
  let refused;
  for (let i = 0; i < 50 && !refused; i++) {
    const r = await call(shared, { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
    if (!r.ok) refused = r;
  }
  assert.ok(refused, 'calls kept being served with Redis down');
  assert.equal(refused.status, 503, JSON.stringify(refused));
  assert.equal(refused.error?.code, 'budget_store_unavailable');
  assert.equal(refused.retryAfter, '1');
  assert.equal(upstreamFor(S.upstream, refused.rid).length, 0, 'a refused call reached the upstream');
  assert.match(await waitReady(S.gw1, 503), /budget store \(Redis\) is unreachable/);
  const samples = await scrape(S.gw1);
  assert.equal(metricValue(samples, 'pai_gateway_budget_store_up'), 0);
  assert.ok(metricValue(samples, 'pai_gateway_budget_rejections_total', { reason: 'store_unavailable' }) >= 1);
  // An agent under no limit does not need Redis.
  const unlimited = await call(free, { model: MODEL, messages: [{ role: 'user', content: 'hi' }] });
  assert.ok(unlimited.ok, JSON.stringify(unlimited));

  await S.redis.restart();
  await waitReady(S.gw1, 200);
  await waitReady(S.gw2, 200);
  assert.equal(metricValue(await scrape(S.gw1), 'pai_gateway_budget_store_up'), 1);
  assert.equal(await usage(S.gw2), spent, 'spend lost across the Redis restart');
  const after = await call(makeClient(S.gw2.baseURL, S.shared, { maxRetries: 0 }), { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
  assert.ok(after.ok, JSON.stringify(after));
});
