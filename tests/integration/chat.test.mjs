// End-to-end: OpenAI-compatible routes through pai-gateway to the mock upstream
// (chat non-stream/stream, tool calls, models, embeddings, auth and routing errors).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import OpenAI from 'openai';
import {
  NORMAL_CONTENT, PROMPT_TOKENS, COMPLETION_TOKENS, TOOL_NAME, TOOL_ARGUMENTS,
  EMBEDDING_DIM, expectedEmbedding,
} from './upstream/openai_upstream.mjs';
import {
  PROVIDER_KEY, CODER_MODELS, OTHER_MODELS, USER_MESSAGES, makeClient, expectAPIError,
  assertOpenAIErrorObject, collect, contentOf, WEATHER_TOOLS
} from './lib/common.mjs';
import { startStack, assertNoAgentToken, assertLogsClean, waitForAccess } from './lib/harness.mjs';

const MODEL = 'up/gpt-4o-mini';
let S; // {upstream, gw, token, client, tokens}

before(async () => {
  S = await startStack({ mintBefore: ['default/coder', 'default/other', 'default/only-500', 'default/only-429'] });
});
after(async () => { await S?.cleanup(); });

test('a. chat non-stream: content, usage, provider key upstream, bare model id, request id', { timeout: 30000 }, async () => {
  const { upstream, client, token, gw } = S;
  const n0 = upstream.requests.length;
  const { data, response } = await client.chat.completions
    .create({ model: MODEL, messages: USER_MESSAGES }).withResponse();

  assert.equal(response.status, 200);
  assert.equal(data.object, 'chat.completion');
  assert.equal(data.choices[0].message.role, 'assistant');
  assert.equal(data.choices[0].message.content, NORMAL_CONTENT);
  assert.equal(data.choices[0].finish_reason, 'stop');
  assert.equal(data.usage.prompt_tokens, PROMPT_TOKENS);
  assert.equal(data.usage.completion_tokens, COMPLETION_TOKENS);
  assert.equal(data.usage.total_tokens, PROMPT_TOKENS + COMPLETION_TOKENS);

  assert.equal(upstream.requests.length, n0 + 1, 'exactly one upstream request');
  const rec = upstream.requests.at(-1);
  assert.equal(rec.method, 'POST');
  assert.equal(rec.path, '/v1/chat/completions');
  assert.equal(rec.headers.authorization, `Bearer ${PROVIDER_KEY}`, 'upstream must get the provider key');
  assert.equal(rec.body.model, 'gpt-4o-mini', 'upstream must get the bare model id');
  assert.deepEqual(rec.body.messages, USER_MESSAGES);
  assertNoAgentToken(rec, token);

  const rid = response.headers.get('x-request-id');
  assert.ok(rid, 'response must carry x-request-id');
  assert.equal(rec.headers['x-request-id'], rid, 'the same x-request-id must reach the upstream');

  const respHeaders = JSON.stringify([...response.headers]);
  assert.ok(!respHeaders.includes(PROVIDER_KEY), 'provider key must not reach the client');

  const access = await waitForAccess(gw, rid);
  assert.equal(access.status, 200);
  assert.equal(access.input_tokens, PROMPT_TOKENS);
  assert.equal(access.output_tokens, COMPLETION_TOKENS);

  // A client-supplied x-request-id is kept.
  const myId = `it-client-${randomBytes(6).toString('hex')}`;
  const r2 = await client.chat.completions
    .create({ model: MODEL, messages: USER_MESSAGES }, { headers: { 'x-request-id': myId } }).withResponse();
  assert.equal(r2.response.headers.get('x-request-id'), myId);
  assert.equal(upstream.requests.at(-1).headers['x-request-id'], myId);
  assertNoAgentToken(upstream.requests.at(-1), token);
});

test('b. chat stream: deltas, include_usage forced upstream, usage chunk only when asked', { timeout: 30000 }, async () => {
  const { upstream, client, token } = S;
  const n0 = upstream.requests.length;
  const { data: stream, response } = await client.chat.completions
    .create({ model: MODEL, messages: USER_MESSAGES, stream: true }).withResponse();
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  const chunks = await collect(stream);

  assert.ok(chunks.length >= 2, `expected several chunks, got ${chunks.length}`);
  assert.equal(contentOf(chunks), NORMAL_CONTENT);
  assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'));
  const emptyChoices = chunks.filter((c) => !Array.isArray(c.choices) || c.choices.length === 0);
  assert.deepEqual(emptyChoices, [], 'a client that did not ask for usage must not get the usage-only chunk');
  assert.ok(chunks.every((c) => c.usage == null), 'no usage data for a client that did not ask');

  assert.equal(upstream.requests.length, n0 + 1);
  const rec = upstream.requests.at(-1);
  assert.equal(rec.body.stream, true);
  assert.equal(rec.body.model, 'gpt-4o-mini');
  assert.equal(rec.body.stream_options?.include_usage, true, 'gateway must ask upstream for usage');
  assert.equal(rec.headers.authorization, `Bearer ${PROVIDER_KEY}`);
  assertNoAgentToken(rec, token);

  // A client that asks for usage gets the usage chunk.
  const chunks2 = await collect(await client.chat.completions.create({
    model: MODEL, messages: USER_MESSAGES, stream: true, stream_options: { include_usage: true },
  }));
  assert.equal(contentOf(chunks2), NORMAL_CONTENT);
  const usageChunks = chunks2.filter((c) => Array.isArray(c.choices) && c.choices.length === 0);
  assert.equal(usageChunks.length, 1, 'exactly one usage-only chunk');
  assert.equal(usageChunks[0].usage.prompt_tokens, PROMPT_TOKENS);
  assert.equal(usageChunks[0].usage.completion_tokens, COMPLETION_TOKENS);
  assert.equal(usageChunks[0].usage.total_tokens, PROMPT_TOKENS + COMPLETION_TOKENS);
  assert.equal(chunks2.at(-1), usageChunks[0], 'the usage chunk is the last one');
});

test('c. tool calls: non-stream intact, stream assembled by the SDK', { timeout: 30000 }, async () => {
  const { upstream, client } = S;
  const r = await client.chat.completions.create({ model: 'up/tools', messages: USER_MESSAGES, tools: WEATHER_TOOLS });
  assert.equal(upstream.requests.at(-1).body.model, 'tools');
  assert.deepEqual(upstream.requests.at(-1).body.tools, WEATHER_TOOLS, 'tools must be forwarded unchanged');
  assert.equal(r.choices[0].finish_reason, 'tool_calls');
  const calls = r.choices[0].message.tool_calls;
  assert.equal(calls.length, 1);
  assert.match(calls[0].id, /^call_/);
  assert.equal(calls[0].type, 'function');
  assert.equal(calls[0].function.name, TOOL_NAME);
  assert.equal(calls[0].function.arguments, TOOL_ARGUMENTS);

  const s = client.chat.completions.stream({ model: 'up/tools', messages: USER_MESSAGES, tools: WEATHER_TOOLS });
  const final = await s.finalChatCompletion();
  assert.equal(final.choices[0].finish_reason, 'tool_calls');
  const sc = final.choices[0].message.tool_calls;
  assert.equal(sc.length, 1);
  assert.equal(sc[0].function.name, TOOL_NAME);
  assert.equal(sc[0].function.arguments, TOOL_ARGUMENTS);
  assert.deepEqual(JSON.parse(sc[0].function.arguments), { city: 'Paris' });
  assert.match(sc[0].id, /^call_/);
});

test('d. models list: exactly the agent\'s allowed models', { timeout: 30000 }, async () => {
  const { client, gw, tokens } = S;
  const list = [];
  for await (const m of client.models.list()) list.push(m);
  for (const m of list) {
    assert.equal(m.object, 'model', `object of ${JSON.stringify(m)}`);
    assert.equal(typeof m.id, 'string');
  }
  const ids = list.map((m) => m.id);
  assert.deepEqual([...ids].sort(), [...CODER_MODELS].sort());
  assert.equal(new Set(ids).size, ids.length, 'no duplicates');
  for (const other of OTHER_MODELS) assert.ok(!ids.includes(other), `must not list ${other}`);

  const otherClient = makeClient(gw.baseURL, tokens[1]);
  const otherIds = [];
  for await (const m of otherClient.models.list()) otherIds.push(m.id);
  assert.deepEqual(otherIds.sort(), [...OTHER_MODELS].sort());
});

test('e. embeddings: base64 (SDK default) and float', { timeout: 30000 }, async () => {
  const { client, upstream } = S;
  const r = await client.embeddings.create({ model: 'up/text-embedding-3-small', input: 'hi' });
  const rec = upstream.requests.at(-1);
  assert.equal(rec.path, '/v1/embeddings');
  assert.equal(rec.body.model, 'text-embedding-3-small');
  assert.equal(rec.headers.authorization, `Bearer ${PROVIDER_KEY}`);
  assert.equal(r.object, 'list');
  assert.equal(r.data.length, 1);
  assert.equal(r.data[0].object, 'embedding');
  assert.equal(r.data[0].embedding.length, EMBEDDING_DIM);
  assert.deepEqual(r.data[0].embedding, expectedEmbedding('hi'));
  assert.ok(r.usage && r.usage.prompt_tokens > 0);

  const f = await client.embeddings.create({ model: 'up/text-embedding-3-small', input: ['hi', 'there'], encoding_format: 'float' });
  assert.equal(f.data.length, 2);
  const exp = expectedEmbedding('there');
  assert.equal(f.data[1].embedding.length, EMBEDDING_DIM);
  f.data[1].embedding.forEach((v, i) => assert.ok(Math.abs(v - exp[i]) <= 1e-7, `component ${i}: ${v} != ${exp[i]}`));
});

test('f. auth and routing errors: 401/401/403/404, none reach the upstream', { timeout: 30000 }, async () => {
  const { upstream, gw, token } = S;
  const n0 = upstream.requests.length;
  const body = { model: MODEL, messages: USER_MESSAGES };

  // No Authorization header at all.
  const noAuth = makeClient(gw.baseURL, 'unused', { defaultHeaders: { Authorization: null } });
  const e1 = await expectAPIError(() => noAuth.chat.completions.create(body), 401);
  assert.ok(e1 instanceof OpenAI.AuthenticationError);
  assertOpenAIErrorObject(e1.error);

  // Well-formed but unknown token.
  const fake = `pai_0123456789ab_${randomBytes(32).toString('base64url')}`;
  const e2 = await expectAPIError(() => makeClient(gw.baseURL, fake).chat.completions.create(body), 401);
  assert.ok(e2 instanceof OpenAI.AuthenticationError);
  assertOpenAIErrorObject(e2.error, { code: 'invalid_api_key' });
  assert.ok(!JSON.stringify(e2.error).includes(fake), 'error must not echo the presented token');

  // Garbage token.
  const e3 = await expectAPIError(() => makeClient(gw.baseURL, 'sk-not-a-pai-token').chat.completions.create(body), 401);
  assert.ok(e3 instanceof OpenAI.AuthenticationError);
  assertOpenAIErrorObject(e3.error, { code: 'invalid_api_key' });

  // A model of a known provider that the agent may not use.
  const e4 = await expectAPIError(() => S.client.chat.completions.create({ ...body, model: 'up/other-model' }), 403);
  assert.ok(e4 instanceof OpenAI.PermissionDeniedError);
  assertOpenAIErrorObject(e4.error, { code: 'model_not_allowed' });

  // A model of an unknown provider.
  const e5 = await expectAPIError(() => S.client.chat.completions.create({ ...body, model: 'nope/gpt-4o' }), 404);
  assert.ok(e5 instanceof OpenAI.NotFoundError);
  assertOpenAIErrorObject(e5.error, { code: 'model_not_found' });

  // Same checks on the embeddings route.
  await expectAPIError(() => noAuth.embeddings.create({ model: 'up/text-embedding-3-small', input: 'x' }), 401);
  await expectAPIError(() => S.client.embeddings.create({ model: 'up/other-model', input: 'x' }), 403);

  assert.equal(upstream.requests.length, n0, 'no rejected request may reach the upstream');
  for (const e of [e1, e2, e3, e4, e5]) {
    const s = JSON.stringify(e.error);
    assert.ok(!s.includes(PROVIDER_KEY) && !s.includes(token), `error leaks a secret: ${s}`);
  }
});

test('no-usage upstream stream still completes', { timeout: 30000 }, async () => {
  const chunks = await collect(await S.client.chat.completions.create({
    model: 'up/no-usage', messages: USER_MESSAGES, stream: true, stream_options: { include_usage: true },
  }));
  assert.equal(contentOf(chunks), NORMAL_CONTENT);
  assert.equal(chunks.filter((c) => c.choices.length > 0).at(-1).choices[0].finish_reason, 'stop');
  // And the gateway keeps serving.
  const r = await S.client.chat.completions.create({ model: MODEL, messages: USER_MESSAGES });
  assert.equal(r.choices[0].message.content, NORMAL_CONTENT);
});

test('upstream HTTP 500 surfaces as an OpenAI-shaped 5xx without secrets', { timeout: 30000 }, async () => {
  // An agent whose only model fails: nothing to fall back to (the coder agent would fall back).
  const n0 = S.upstream.requests.length;
  let err;
  try {
    await makeClient(S.gw.baseURL, S.tokens[2]).chat.completions.create({ model: 'up/error-500', messages: USER_MESSAGES });
  } catch (e) { err = e; }
  assert.deepEqual(S.upstream.requests.slice(n0).map((r) => r.body.model), ['error-500'], 'one upstream attempt, no fallback');
  assert.ok(err instanceof OpenAI.APIError, `expected an APIError, got ${err}`);
  assert.ok([500, 502].includes(err.status), `expected 500 or 502, got ${err.status}`);
  assertOpenAIErrorObject(err.error);
  assert.ok(!JSON.stringify(err.error).includes(PROVIDER_KEY));
});

test('upstream HTTP 429 is relayed as 429 with Retry-After', { timeout: 30000 }, async () => {
  const n0 = S.upstream.requests.length;
  const err = await expectAPIError(
    () => makeClient(S.gw.baseURL, S.tokens[3]).chat.completions.create({ model: 'up/error-429', messages: USER_MESSAGES }), 429);
  assert.deepEqual(S.upstream.requests.slice(n0).map((r) => r.body.model), ['error-429'], 'one upstream attempt, no fallback');
  assert.ok(err instanceof OpenAI.RateLimitError);
  assertOpenAIErrorObject(err.error, { code: 'rate_limit_exceeded' });
  assert.ok(err.headers.get('retry-after'), 'a 429 carries Retry-After');
});

test('logs never contain the provider key or an agent token', () => {
  assertLogsClean(S.gw, S.tokens);
});
