// End-to-end: ModelProviders of kind `anthropic` and `gemini` are called with their native APIs
// (Anthropic Messages, Gemini generateContent / streamGenerateContent) while agents keep
// calling the OpenAI-compatible /v1/chat/completions with the official openai SDK: request
// translation (headers, keys, system, turns, tools, limits), response and stream translation
// (content, tool calls, finish reasons, usage incl. cache / thinking tokens), error mapping,
// fallbacks across providers, audit records and budget caps in the providers' own fields.
// The mocks (upstream/anthropic_upstream.mjs, upstream/gemini_upstream.mjs) validate requests
// like the real APIs do. Each test has its own gateway and mocks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import * as A from './upstream/anthropic_upstream.mjs';
import * as G from './upstream/gemini_upstream.mjs';
import {
  USER_MESSAGES, WEATHER_TOOLS, collect, expectAPIError, assertOpenAIErrorBody, assertOpenAIErrorObject,
} from './lib/common.mjs';
import { byMsg } from './lib/gateway.mjs';
import { waitForAccess } from './lib/harness.mjs';
import { postChat, bodyBytes, scrape, metricValue, budgetRemaining, outstanding, utcDay } from './lib/budget.mjs';
import { LLM_CALL_MEMBERS, TOOL_CALL_MEMBERS, readChain, recordsFor, waitForRecord } from './lib/audit.mjs';
import {
  ANTHROPIC_KEY, GEMINI_KEY, WRONG_KEY, startProviderStack, sdkCreate, anthropicText, anthropicBlocks,
  assertUpstreamCredentials, rawStream, assembleStream, assertUsage,
} from './lib/providers.mjs';

const SONNET = 'claude/claude-sonnet-4-6';
const CTOOLS = 'claude/claude-tools';
const FLASH = 'gem/gemini-2.5-flash';
const THINKING = 'gem/gemini-thinking';
const GTOOLS = 'gem/gemini-tools';
const SYSTEM = 'You are a terse assistant.';
const QUESTION = 'What is the weather in Paris?';
const TOOL_RESULT = '18°C, sunny';
const TOOL_ARGUMENTS = '{"city":"Paris"}';
// Anthropic: prompt_tokens = input + cache read + cache creation.
const A_PROMPT = A.INPUT_TOKENS + A.CACHE_READ_TOKENS + A.CACHE_CREATION_TOKENS;
const ALL_MODELS = [SONNET, CTOOLS, FLASH, THINKING, GTOOLS];

/** The LLM_CALL record of `rid` (already durable: the client saw success). */
function llmCallOf(stateDir, rid, what) {
  const recs = recordsFor(readChain(stateDir), rid, 'LLM_CALL');
  assert.equal(recs.length, 1, `${what}: the LLM_CALL of ${rid} is durable when the client has the answer`);
  return recs[0];
}

/** Asserts the members and values of an LLM_CALL record (`extra`: optional members expected). */
function assertLLMCall(rec, expected, what, extra = []) {
  assert.deepEqual(Object.keys(rec.detail).sort(), [...LLM_CALL_MEMBERS, ...extra].sort(), `${what}: detail members of ${JSON.stringify(rec.detail)}`);
  for (const [k, v] of Object.entries(expected)) {
    assert.deepEqual(rec.detail[k], v, `${what}: detail.${k} in ${JSON.stringify(rec.detail)}`);
  }
}

/** Asserts the TOOL_CALL records of `rid` are exactly one get_weather call with `callId`. */
function assertToolCallRecord(stateDir, rid, model, callId, what) {
  const recs = recordsFor(readChain(stateDir), rid, 'TOOL_CALL');
  assert.equal(recs.length, 1, `${what}: one TOOL_CALL record durable when the client has the answer, got ${JSON.stringify(recs)}`);
  assert.deepEqual(Object.keys(recs[0].detail).sort(), [...TOOL_CALL_MEMBERS].sort(), `${what}: TOOL_CALL members`);
  assert.deepEqual(recs[0].detail, { request_id: rid, model, tool_name: A.TOOL_NAME, call_id: callId, choice: 0, index: 0 },
    `${what}: TOOL_CALL detail (call_id is the id the client saw)`);
}

test('providers 0. the mocks validate like the real APIs (no gateway)', async (t) => {
  const a = await A.startAnthropicUpstream({ apiKey: ANTHROPIC_KEY });
  const g = await G.startGeminiUpstream({ apiKey: GEMINI_KEY });
  t.after(async () => { await a.close(); await g.close(); });
  const ok = { model: 'claude-sonnet-4-6', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] };
  const post = async (url, body, headers) => {
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return { status: r.status, json: await r.json() };
  };
  const ah = { 'x-api-key': ANTHROPIC_KEY, 'anthropic-version': A.ANTHROPIC_VERSION };
  const msgs = `${a.url}/messages`;
  assert.equal((await post(msgs, ok, ah)).status, 200);
  const e401 = await post(msgs, ok, { 'anthropic-version': A.ANTHROPIC_VERSION });
  assert.equal(e401.status, 401);
  assert.equal(e401.json.error.type, 'authentication_error');
  const bad = [
    ['no max_tokens', { ...ok, max_tokens: undefined }],
    ['starts with assistant', { ...ok, messages: [{ role: 'assistant', content: 'x' }, { role: 'user', content: 'y' }] }],
    ['two user turns', { ...ok, messages: [{ role: 'user', content: 'x' }, { role: 'user', content: 'y' }] }],
    ['orphan tool_result', { ...ok, messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'y' }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'z' }] }] }],
    ['an OpenAI member', { ...ok, stream_options: { include_usage: true } }],
    ['temperature 1.5', { ...ok, temperature: 1.5 }],
  ];
  for (const [what, body] of bad) {
    const r = await post(msgs, body, ah);
    assert.equal(r.status, 400, `anthropic mock accepts ${what}`);
    assert.equal(r.json.type, 'error');
    assert.equal(r.json.error.type, 'invalid_request_error', what);
  }
  assert.equal((await post(msgs, { ...ok, model: 'claude-overloaded' }, ah)).status, 529);

  const gen = `${g.url}/models/gemini-2.5-flash:generateContent`;
  const gok = { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] };
  assert.equal((await post(gen, gok, { 'x-goog-api-key': GEMINI_KEY })).status, 200);
  const e403 = await post(gen, gok, {});
  assert.equal(e403.status, 403);
  assert.equal(e403.json.error.status, 'PERMISSION_DENIED');
  assert.equal((await post(`${gen}?key=${GEMINI_KEY}`, gok, { 'x-goog-api-key': GEMINI_KEY })).status, 400, 'key in the query');
  for (const [what, body] of [
    ['unknown member', { ...gok, max_tokens: 3 }],
    ['role assistant', { contents: [{ role: 'assistant', parts: [{ text: 'x' }] }] }],
    ['orphan functionResponse', { contents: [{ role: 'user', parts: [{ functionResponse: { name: 'f', response: { content: 'x' } } }] }] }],
  ]) {
    const r = await post(gen, body, { 'x-goog-api-key': GEMINI_KEY });
    assert.equal(r.status, 400, `gemini mock accepts ${what}`);
    assert.equal(r.json.error.status, 'INVALID_ARGUMENT');
  }
});

test('providers 1. anthropic text, non-stream and stream: x-api-key, anthropic-version, system, max_tokens 4096, usage with cache tokens', { timeout: 30000 }, async (t) => {
  const S = await startProviderStack({ agents: { coder: { models: ALL_MODELS } } });
  t.after(() => S.cleanup());
  const { gw, tokens } = S;
  const client = S.client('coder');
  const messages = [{ role: 'system', content: SYSTEM }, { role: 'user', content: 'Say hello' }];

  // Non-stream; temperature 1.5 is outside Anthropic's range [0, 1] (the mock rejects it).
  let m = S.mark();
  const r1 = await sdkCreate(client, { model: SONNET, messages, temperature: 1.5 });
  let up = S.since(m);
  assert.equal(up.anthropic.length, 1, 'one call to the Anthropic upstream');
  assert.equal(up.gemini.length, 0);
  const rec1 = up.anthropic[0];
  assert.equal(rec1.method, 'POST');
  assert.equal(rec1.path, '/v1/messages');
  assert.equal(rec1.query, '');
  assert.equal(rec1.status, 200, `the mock refused the request: ${JSON.stringify(rec1.error)}\n${rec1.raw}`);
  assertUpstreamCredentials(rec1, { token: tokens.coder, key: ANTHROPIC_KEY, keyHeader: 'x-api-key' });
  assert.equal(rec1.headers['anthropic-version'], '2023-06-01');
  assert.match(rec1.headers['content-type'] ?? '', /^application\/json/);
  assert.equal(rec1.body.model, 'claude-sonnet-4-6', 'the bare model id');
  assert.equal(rec1.body.max_tokens, 4096, 'max_tokens 4096 when the client set none (and no budget)');
  assert.equal(A.systemText(rec1.body), SYSTEM, 'system from the system message');
  assert.equal(rec1.body.messages.length, 1, `only the user turn in messages: ${JSON.stringify(rec1.body.messages)}`);
  assert.equal(rec1.body.messages[0].role, 'user');
  assert.equal(anthropicText(rec1.body.messages[0].content), 'Say hello');
  assert.equal(rec1.body.temperature, 1, 'temperature clamped to 1');
  assert.ok(rec1.body.stream === undefined || rec1.body.stream === false, 'no stream');

  const d1 = r1.data;
  assert.equal(d1.object, 'chat.completion');
  assert.equal(typeof d1.id, 'string');
  assert.ok(Number.isInteger(d1.created));
  assert.equal(d1.choices.length, 1);
  assert.equal(d1.choices[0].index, 0);
  assert.equal(d1.choices[0].message.role, 'assistant');
  assert.equal(d1.choices[0].message.content, A.TEXT);
  assert.equal(d1.choices[0].finish_reason, 'stop', 'end_turn → stop');
  assertUsage(d1.usage, A_PROMPT, A.OUTPUT_TOKENS, 'non-stream');
  assert.deepEqual([rec1.usage.input_tokens, rec1.usage.output_tokens], [A.INPUT_TOKENS, A.OUTPUT_TOKENS]);
  assertLLMCall(llmCallOf(gw.stateDir, r1.rid, 'non-stream'), {
    request_id: r1.rid, route: '/v1/chat/completions', model: SONNET, provider: 'claude', input_tokens: A_PROMPT,
    output_tokens: A.OUTPUT_TOKENS, cached_tokens: A.CACHE_READ_TOKENS, usage_reported: true,
    charged_tokens: A_PROMPT + A.OUTPUT_TOKENS, status: 200, stream: false, fallback_used: false,
  }, 'LLM_CALL non-stream');

  // Stream with the usage chunk (SDK).
  m = S.mark();
  const { data: s2, response: resp2 } = await client.chat.completions.create({
    model: SONNET, messages, stream: true, stream_options: { include_usage: true },
  }).withResponse();
  const st2 = assembleStream(await collect(s2), { includeUsage: true });
  const rid2 = resp2.headers.get('x-request-id');
  const rec2 = S.since(m).anthropic[0];
  assert.equal(rec2?.status, 200, `the mock refused the stream request: ${JSON.stringify(rec2?.error)}\n${rec2?.raw}`);
  assert.equal(rec2.body.stream, true, 'stream: true upstream');
  assert.equal(rec2.body.max_tokens, 4096);
  assert.equal(A.systemText(rec2.body), SYSTEM);
  assert.deepEqual(rec2.events.filter((e) => e !== 'content_block_delta'),
    ['message_start', 'content_block_start', 'ping', 'content_block_stop', 'message_delta', 'message_stop'], 'the mock sent the documented sequence');
  assert.equal(st2.content, A.TEXT);
  assert.equal(st2.finish, 'stop');
  assertUsage(st2.usage, A_PROMPT, A.OUTPUT_TOKENS, 'stream usage chunk (message_start input + message_delta output)');
  assertLLMCall(llmCallOf(gw.stateDir, rid2, 'stream'), {
    model: SONNET, provider: 'claude', input_tokens: A_PROMPT, output_tokens: A.OUTPUT_TOKENS,
    charged_tokens: A_PROMPT + A.OUTPUT_TOKENS, status: 200, stream: true, fallback_used: false,
  }, 'LLM_CALL stream');

  // Raw stream without include_usage: no usage chunk, ends with data: [DONE].
  const raw = await rawStream(gw, tokens.coder, { model: SONNET, messages: USER_MESSAGES });
  assert.equal(raw.status, 200, raw.text);
  assert.match(raw.contentType, /^text\/event-stream/);
  assert.equal(raw.data[raw.data.length - 1], '[DONE]', `the stream ends with data: [DONE]: ${raw.text.slice(-200)}`);
  assert.ok(/data: \[DONE\]\n\n$/.test(raw.text), 'data: [DONE] is the last event');
  const st3 = assembleStream(raw.data.slice(0, -1).map((d) => JSON.parse(d)), { includeUsage: false });
  assert.equal(st3.content, A.TEXT);
  assert.ok(!raw.text.includes('event: '), 'no Anthropic event names leak into the OpenAI stream');

  // stop → stop_sequences, max_completion_tokens → max_tokens (the answer ends at the stop sequence).
  m = S.mark();
  const r4 = await sdkCreate(client, { model: SONNET, messages: USER_MESSAGES, stop: ['Claude'], max_completion_tokens: 3 });
  const rec4 = S.since(m).anthropic[0];
  assert.equal(rec4.status, 200, JSON.stringify(rec4.error));
  assert.deepEqual(rec4.body.stop_sequences, ['Claude']);
  assert.equal(rec4.body.max_tokens, 3, 'the client\'s max_completion_tokens');
  assert.equal(rec4.body.system, undefined, 'no system without a system message');
  assert.equal(r4.data.choices[0].message.content, 'Hello from ');
  assert.equal(r4.data.choices[0].finish_reason, 'stop', 'stop_sequence → stop');

  // A stream cut by max_tokens: finish_reason length.
  m = S.mark();
  const { data: s5 } = await client.chat.completions.create({ model: SONNET, messages: USER_MESSAGES, stream: true, max_tokens: 2, stream_options: { include_usage: true } }).withResponse();
  const st5 = assembleStream(await collect(s5), { includeUsage: true });
  assert.equal(S.since(m).anthropic[0].body.max_tokens, 2);
  assert.equal(st5.content, 'Hello from');
  assert.equal(st5.finish, 'length', 'max_tokens → length');
  assertUsage(st5.usage, A_PROMPT, 2, 'cut stream');
});

test('providers 2. anthropic tool call round trip (tool_use / tool_result), non-stream and stream, TOOL_CALL records', { timeout: 30000 }, async (t) => {
  const S = await startProviderStack({ agents: { coder: { models: ALL_MODELS } } });
  t.after(() => S.cleanup());
  const { gw } = S;
  const client = S.client('coder');
  const ask = [{ role: 'system', content: SYSTEM }, { role: 'user', content: QUESTION }];

  // 1. The model calls the tool.
  let m = S.mark();
  const r1 = await sdkCreate(client, { model: CTOOLS, messages: ask, tools: WEATHER_TOOLS, tool_choice: 'auto' });
  const rec1 = S.since(m).anthropic[0];
  assert.equal(rec1.status, 200, `the mock refused the request: ${JSON.stringify(rec1.error)}\n${rec1.raw}`);
  assert.deepEqual(rec1.body.tools, [{
    name: A.TOOL_NAME, description: WEATHER_TOOLS[0].function.description, input_schema: WEATHER_TOOLS[0].function.parameters,
  }], 'tools → {name, description, input_schema}');
  assert.deepEqual(rec1.body.tool_choice, { type: 'auto' });
  const msg1 = r1.data.choices[0].message;
  assert.equal(r1.data.choices[0].finish_reason, 'tool_calls', 'tool_use → tool_calls');
  assert.equal(msg1.content, A.TOOL_PREAMBLE, 'the text block before the tool_use');
  assert.equal(msg1.tool_calls?.length, 1, JSON.stringify(msg1));
  const call = msg1.tool_calls[0];
  assert.match(call.id, /^toolu_/, 'the tool_use id');
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, A.TOOL_NAME);
  assert.equal(call.function.arguments, TOOL_ARGUMENTS, 'input serialised as the arguments string');
  assertUsage(r1.data.usage, A_PROMPT, A.TOOL_TURN_TOKENS, 'tool turn');
  assertToolCallRecord(gw.stateDir, r1.rid, CTOOLS, call.id, 'non-stream');
  assert.equal(llmCallOf(gw.stateDir, r1.rid, 'tool turn').detail.provider, 'claude');

  // 2. The client sends the tool result back (the assistant message as the SDK returned it).
  m = S.mark();
  const turn2 = [...ask, msg1, { role: 'tool', tool_call_id: call.id, content: TOOL_RESULT }];
  const r2 = await sdkCreate(client, { model: CTOOLS, messages: turn2, tools: WEATHER_TOOLS });
  const rec2 = S.since(m).anthropic[0];
  assert.equal(rec2.status, 200, `the mock refused the tool result turn: ${JSON.stringify(rec2.error)}\n${rec2.raw}`);
  const [u, asst, res] = rec2.body.messages;
  assert.equal(rec2.body.messages.length, 3, JSON.stringify(rec2.body.messages));
  assert.equal(u.role, 'user');
  assert.equal(asst.role, 'assistant');
  const uses = anthropicBlocks(asst.content).filter((b) => b.type === 'tool_use');
  assert.deepEqual(uses, [{ type: 'tool_use', id: call.id, name: A.TOOL_NAME, input: A.TOOL_INPUT }], 'assistant tool_calls → tool_use');
  assert.equal(anthropicText(asst.content), A.TOOL_PREAMBLE, 'the assistant text is kept');
  assert.equal(res.role, 'user', 'tool messages → a user turn');
  const results = anthropicBlocks(res.content).filter((b) => b.type === 'tool_result');
  assert.equal(results.length, 1, JSON.stringify(res));
  assert.equal(results[0].tool_use_id, call.id);
  assert.equal(A.toolResultText(results[0]), TOOL_RESULT);
  assert.equal(r2.data.choices[0].message.content, A.toolAnswerParts(TOOL_RESULT).join(''));
  assert.equal(r2.data.choices[0].finish_reason, 'stop');
  assert.equal(r2.data.choices[0].message.tool_calls ?? undefined, undefined, 'no tool call in the answer');
  assert.equal(recordsFor(readChain(gw.stateDir), r2.rid, 'TOOL_CALL').length, 0);

  // 3. Streamed: the tool call is assembled from the deltas (id + name first, then argument fragments).
  m = S.mark();
  const { data: s3, response: resp3 } = await client.chat.completions.create({
    model: CTOOLS, messages: ask, tools: WEATHER_TOOLS, stream: true, stream_options: { include_usage: true },
  }).withResponse();
  const rid3 = resp3.headers.get('x-request-id');
  const st3 = assembleStream(await collect(s3), { includeUsage: true });
  const rec3 = S.since(m).anthropic[0];
  assert.equal(rec3.status, 200, JSON.stringify(rec3.error));
  assert.ok(rec3.events.includes('content_block_start') && rec3.events.filter((e) => e === 'content_block_start').length === 2);
  assert.equal(st3.content, A.TOOL_PREAMBLE);
  assert.equal(st3.finish, 'tool_calls');
  assert.equal(st3.toolCalls.length, 1, JSON.stringify(st3.toolCalls));
  const call3 = st3.toolCalls[0];
  assert.match(call3.id, /^toolu_/);
  assert.equal(call3.name, A.TOOL_NAME);
  assert.deepEqual(JSON.parse(call3.arguments), A.TOOL_INPUT, `assembled arguments ${call3.arguments}`);
  assert.ok(call3.fragments >= 2, `the arguments arrive as fragments (input_json_delta), got ${call3.fragments} delta(s)`);
  assertUsage(st3.usage, A_PROMPT, A.TOOL_TURN_TOKENS, 'streamed tool turn');
  assertToolCallRecord(gw.stateDir, rid3, CTOOLS, call3.id, 'stream');

  // 4. The SDK's stream helper runs the round trip on the streamed call.
  m = S.mark();
  const assistant3 = { role: 'assistant', content: st3.content, tool_calls: [{ id: call3.id, type: 'function', function: { name: call3.name, arguments: call3.arguments } }] };
  const final4 = await client.chat.completions.stream({
    model: CTOOLS, messages: [...ask, assistant3, { role: 'tool', tool_call_id: call3.id, content: TOOL_RESULT }], tools: WEATHER_TOOLS,
  }).finalChatCompletion();
  const rec4 = S.since(m).anthropic[0];
  assert.equal(rec4.status, 200, `the mock refused the streamed tool result turn: ${JSON.stringify(rec4.error)}\n${rec4.raw}`);
  const uses4 = anthropicBlocks(rec4.body.messages[1].content).filter((b) => b.type === 'tool_use');
  assert.deepEqual(uses4.map((b) => [b.id, b.input]), [[call3.id, A.TOOL_INPUT]], 'the streamed arguments parsed back into input');
  assert.equal(final4.choices[0].message.content, A.toolAnswerParts(TOOL_RESULT).join(''));
  assert.equal(final4.choices[0].finish_reason, 'stop');
});

test('providers 3. gemini: text, thinking tokens, stream, tool call round trip (functionCall / functionResponse), key only in x-goog-api-key', { timeout: 30000 }, async (t) => {
  const S = await startProviderStack({ agents: { coder: { models: ALL_MODELS } } });
  t.after(() => S.cleanup());
  const { gw, tokens } = S;
  const client = S.client('coder');
  const messages = [{ role: 'system', content: SYSTEM }, { role: 'user', content: 'Say hello' }];
  const G_USAGE = [G.PROMPT_TOKENS, G.TEXT_PARTS.length];

  // Non-stream.
  let m = S.mark();
  const r1 = await sdkCreate(client, { model: FLASH, messages, temperature: 0.5, top_p: 0.9 });
  let up = S.since(m);
  assert.equal(up.gemini.length, 1);
  assert.equal(up.anthropic.length, 0);
  const rec1 = up.gemini[0];
  assert.equal(rec1.status, 200, `the mock refused the request: ${JSON.stringify(rec1.error)}\n${rec1.raw}`);
  assert.equal(rec1.method, 'POST');
  assert.equal(rec1.url, '/v1beta/models/gemini-2.5-flash:generateContent', 'path, and nothing in the query');
  assertUpstreamCredentials(rec1, { token: tokens.coder, key: GEMINI_KEY, keyHeader: 'x-goog-api-key' });
  assert.ok(!('x-api-key' in rec1.headers));
  assert.match(rec1.headers['content-type'] ?? '', /^application\/json/);
  assert.equal(G.systemText(rec1.body), SYSTEM, 'systemInstruction from the system message');
  assert.deepEqual(rec1.body.contents, [{ role: 'user', parts: [{ text: 'Say hello' }] }]);
  assert.equal(rec1.body.generationConfig?.temperature, 0.5);
  assert.equal(rec1.body.generationConfig?.topP, 0.9);
  assert.equal(rec1.body.generationConfig?.maxOutputTokens, undefined, 'no limit without a client limit or a budget');
  const d1 = r1.data;
  assert.equal(d1.object, 'chat.completion');
  assert.equal(d1.choices[0].message.role, 'assistant');
  assert.equal(d1.choices[0].message.content, G.TEXT);
  assert.equal(d1.choices[0].finish_reason, 'stop', 'STOP → stop');
  assertUsage(d1.usage, ...G_USAGE, 'gemini non-stream');
  assertLLMCall(llmCallOf(gw.stateDir, r1.rid, 'gemini'), {
    request_id: r1.rid, route: '/v1/chat/completions', model: FLASH, provider: 'gem', input_tokens: G.PROMPT_TOKENS,
    output_tokens: G.TEXT_PARTS.length, cached_tokens: 0, usage_reported: true,
    charged_tokens: G.PROMPT_TOKENS + G.TEXT_PARTS.length, status: 200, stream: false, fallback_used: false,
  }, 'LLM_CALL gemini');

  // Thinking tokens count as completion tokens.
  const r2 = await sdkCreate(client, { model: THINKING, messages: USER_MESSAGES });
  assert.equal(r2.data.choices[0].message.content, G.TEXT);
  assertUsage(r2.data.usage, G.PROMPT_TOKENS, G.TEXT_PARTS.length + G.THOUGHTS_TOKENS, 'completion = candidates + thoughts');
  assert.equal(llmCallOf(gw.stateDir, r2.rid, 'thinking').detail.output_tokens, G.TEXT_PARTS.length + G.THOUGHTS_TOKENS);

  // Stream (SDK) with the usage chunk.
  m = S.mark();
  const { data: s3, response: resp3 } = await client.chat.completions.create({
    model: FLASH, messages, stream: true, stream_options: { include_usage: true },
  }).withResponse();
  const st3 = assembleStream(await collect(s3), { includeUsage: true });
  const rec3 = S.since(m).gemini[0];
  assert.equal(rec3.status, 200, JSON.stringify(rec3.error));
  assert.equal(rec3.url, '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
  assertUpstreamCredentials(rec3, { token: tokens.coder, key: GEMINI_KEY, keyHeader: 'x-goog-api-key' });
  assert.ok(rec3.chunks >= 3, 'the mock streamed several chunks');
  assert.equal(st3.content, G.TEXT);
  assert.equal(st3.finish, 'stop');
  assertUsage(st3.usage, ...G_USAGE, 'gemini stream usage (the last usageMetadata, not a sum)');
  assertLLMCall(llmCallOf(gw.stateDir, resp3.headers.get('x-request-id'), 'gemini stream'), {
    provider: 'gem', input_tokens: G.PROMPT_TOKENS, output_tokens: G.TEXT_PARTS.length, stream: true, status: 200,
  }, 'LLM_CALL gemini stream');
  const raw = await rawStream(gw, tokens.coder, { model: FLASH, messages: USER_MESSAGES });
  assert.equal(raw.status, 200, raw.text);
  assert.equal(raw.data[raw.data.length - 1], '[DONE]', `ends with data: [DONE]: ${raw.text.slice(-200)}`);
  assert.equal(assembleStream(raw.data.slice(0, -1).map((d) => JSON.parse(d)), { includeUsage: false }).content, G.TEXT);

  // A client limit → maxOutputTokens; the cut answer is finish_reason length.
  m = S.mark();
  const r4 = await sdkCreate(client, { model: FLASH, messages: USER_MESSAGES, max_tokens: 2, stop: ['END'] });
  const rec4 = S.since(m).gemini[0];
  assert.equal(rec4.body.generationConfig?.maxOutputTokens, 2);
  assert.deepEqual(rec4.body.generationConfig?.stopSequences, ['END']);
  assert.equal(r4.data.choices[0].message.content, 'Hello from');
  assert.equal(r4.data.choices[0].finish_reason, 'length', 'MAX_TOKENS → length');
  assertUsage(r4.data.usage, G.PROMPT_TOKENS, 2, 'cut');

  // Tool call: tool_choice required → functionCallingConfig ANY.
  const ask = [{ role: 'system', content: SYSTEM }, { role: 'user', content: QUESTION }];
  m = S.mark();
  const r5 = await sdkCreate(client, { model: GTOOLS, messages: ask, tools: WEATHER_TOOLS, tool_choice: 'required' });
  const rec5 = S.since(m).gemini[0];
  assert.equal(rec5.status, 200, `the mock refused the request: ${JSON.stringify(rec5.error)}\n${rec5.raw}`);
  assert.deepEqual(rec5.body.tools, [{ functionDeclarations: [{
    name: G.TOOL_NAME, description: WEATHER_TOOLS[0].function.description, parametersJsonSchema: WEATHER_TOOLS[0].function.parameters,
  }] }], 'tools → functionDeclarations with parametersJsonSchema');
  assert.equal(rec5.body.toolConfig?.functionCallingConfig?.mode, 'ANY', 'tool_choice required → ANY');
  const msg5 = r5.data.choices[0].message;
  assert.equal(r5.data.choices[0].finish_reason, 'tool_calls', 'a candidate that called a function → tool_calls');
  assert.equal(msg5.tool_calls?.length, 1, JSON.stringify(msg5));
  const call = msg5.tool_calls[0];
  assert.ok(typeof call.id === 'string' && call.id.length > 0, 'a tool call id (Gemini sent none)');
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, G.TOOL_NAME);
  assert.equal(call.function.arguments, TOOL_ARGUMENTS, 'args serialised as the arguments string');
  assertUsage(r5.data.usage, G.TOOL_PROMPT_TOKENS, G.TOOL_CALL_TOKENS, 'gemini tool turn');
  assertToolCallRecord(gw.stateDir, r5.rid, GTOOLS, call.id, 'gemini non-stream');

  // The tool result goes back as a functionResponse right after the functionCall turn.
  m = S.mark();
  const r6 = await sdkCreate(client, {
    model: GTOOLS, messages: [...ask, msg5, { role: 'tool', tool_call_id: call.id, content: TOOL_RESULT }], tools: WEATHER_TOOLS,
  });
  const rec6 = S.since(m).gemini[0];
  assert.equal(rec6.status, 200, `the mock refused the function response turn: ${JSON.stringify(rec6.error)}\n${rec6.raw}`);
  const contents = rec6.body.contents;
  assert.deepEqual(contents.map((c) => c.role), ['user', 'model', 'user'], JSON.stringify(contents));
  const fc = contents[1].parts.map((p) => p.functionCall).filter(Boolean);
  assert.equal(fc.length, 1);
  assert.equal(fc[0].name, G.TOOL_NAME);
  assert.deepEqual(fc[0].args, G.TOOL_ARGS, 'arguments parsed back into args');
  const fr = contents[2].parts.map((p) => p.functionResponse).filter(Boolean);
  assert.equal(fr.length, 1, JSON.stringify(contents[2]));
  assert.equal(fr[0].name, G.TOOL_NAME, 'functionResponse named after the call');
  assert.deepEqual(fr[0].response, { content: TOOL_RESULT });
  if (fr[0].id !== undefined || fc[0].id !== undefined) assert.equal(fr[0].id, fc[0].id, 'functionCall / functionResponse ids agree');
  assert.equal(r6.data.choices[0].message.content, G.toolAnswerParts(TOOL_RESULT).join(''));
  assert.equal(r6.data.choices[0].finish_reason, 'stop');

  // Streamed tool call.
  const { data: s7, response: resp7 } = await client.chat.completions.create({
    model: GTOOLS, messages: ask, tools: WEATHER_TOOLS, stream: true,
  }).withResponse();
  const st7 = assembleStream(await collect(s7), { includeUsage: false });
  assert.equal(st7.finish, 'tool_calls');
  assert.equal(st7.toolCalls.length, 1);
  assert.equal(st7.toolCalls[0].name, G.TOOL_NAME);
  assert.deepEqual(JSON.parse(st7.toolCalls[0].arguments), G.TOOL_ARGS);
  assertToolCallRecord(gw.stateDir, resp7.headers.get('x-request-id'), GTOOLS, st7.toolCalls[0].id, 'gemini stream');
});

test('providers 4. upstream errors in OpenAI\'s shape: anthropic 529 → 503, 429 → 429, 400 → 400; gemini 429 → 429, 503 → 503, 400 → 400', { timeout: 30000 }, async (t) => {
  const S = await startProviderStack({
    agents: {
      over: { models: ['claude/claude-overloaded'] },
      c429: { models: ['claude/claude-429'] },
      csonnet: { models: [SONNET] },
      g429: { models: ['gem/gemini-429'] },
      g503: { models: ['gem/gemini-503'] },
      g400: { models: ['gem/gemini-400'] },
    },
  });
  t.after(() => S.cleanup());
  const { gw, tokens } = S;
  const cases = [
    ['over', 'claude/claude-overloaded', 503, 'upstream_overloaded', 'anthropic'],
    ['c429', 'claude/claude-429', 429, 'rate_limit_exceeded', 'anthropic'],
    ['g429', 'gem/gemini-429', 429, 'rate_limit_exceeded', 'gemini'],
    ['g503', 'gem/gemini-503', 503, 'upstream_overloaded', 'gemini'],
  ];
  for (const [agent, model, status, code, mock] of cases) {
    // SDK, non-stream and stream (the error comes before any byte of the stream).
    for (const stream of [false, true]) {
      const m = S.mark();
      const err = await expectAPIError(() => S.client(agent).chat.completions.create({ model, messages: USER_MESSAGES, stream }), status);
      if (status === 503) assert.ok(err instanceof OpenAI.InternalServerError, `${model}: ${err.constructor.name}`);
      if (status === 429) assert.ok(err instanceof OpenAI.RateLimitError, `${model}: ${err.constructor.name}`);
      assertOpenAIErrorObject(err.error, { code });
      assert.equal(err.code, code, `${model}: error.code`);
      assert.equal(S.since(m)[mock].length, 1, `${model}: one upstream call (no retry, no fallback)`);
    }
    // Raw: the whole body is {error:{message,type,param,code}}, and holds no key.
    const r = await postChat(gw, tokens[agent], { model, messages: USER_MESSAGES });
    assert.equal(r.status, status, r.text);
    assertOpenAIErrorBody(r.json, { code });
    assert.ok(!r.text.includes(ANTHROPIC_KEY) && !r.text.includes(GEMINI_KEY), 'a key in the error body');
    const rec = await waitForRecord(gw.stateDir, (x) => x.type === 'LLM_CALL' && x.detail.request_id === r.rid, 10000, `the LLM_CALL of ${model}`);
    assert.equal(rec.detail.status, status, `${model}: LLM_CALL status`);
    assert.equal(rec.detail.charged_tokens, 0, `${model}: an error answer is charged 0`);
  }
  const r429 = await postChat(gw, tokens.c429, { model: 'claude/claude-429', messages: USER_MESSAGES });
  assert.equal(r429.headers.get('retry-after'), '1', 'anthropic retry-after relayed');
  // Gemini sends the delay as RetryInfo.retryDelay ("1s") in the body: it becomes Retry-After.
  const g429 = await postChat(gw, tokens.g429, { model: 'gem/gemini-429', messages: USER_MESSAGES });
  assert.equal(g429.status, 429, g429.text);
  assert.equal(g429.headers.get('retry-after'), '1', 'gemini retryDelay → retry-after');

  // Anthropic 400 (a stop sequence of whitespace only is refused by the API) → 400.
  const m = S.mark();
  const e400 = await postChat(gw, tokens.csonnet, { model: SONNET, messages: USER_MESSAGES, stop: [' '] });
  const rec400 = S.since(m).anthropic[0];
  assert.equal(rec400?.status, 400, `the mock got ${JSON.stringify(rec400?.body)}`);
  assert.equal(e400.status, 400, e400.text);
  assertOpenAIErrorBody(e400.json);
  assert.equal(e400.json.error.type, 'invalid_request_error');
  assert.ok(e400.json.error.message.includes('stop_sequences'), `the provider's message is relayed: ${e400.text}`);

  // Gemini 400 INVALID_ARGUMENT → 400.
  const g400 = await postChat(gw, tokens.g400, { model: 'gem/gemini-400', messages: USER_MESSAGES });
  assert.equal(g400.status, 400, g400.text);
  assertOpenAIErrorBody(g400.json);
  assert.equal(g400.json.error.type, 'invalid_request_error');
});

test('providers 4b. a provider rejecting the gateway\'s key (anthropic 401; gemini 400 API_KEY_INVALID, as the real API answers) → 502 upstream_auth_error', { timeout: 30000 }, async (t) => {
  const S = await startProviderStack({
    providers: { cbad: { kind: 'anthropic', wrongKey: true }, gbad: { kind: 'gemini', wrongKey: true } },
    agents: { a: { models: ['cbad/claude-sonnet-4-6'] }, g: { models: ['gbad/gemini-2.5-flash'] } },
  });
  t.after(() => S.cleanup());
  const ra = await postChat(S.gw, S.tokens.a, { model: 'cbad/claude-sonnet-4-6', messages: USER_MESSAGES });
  assert.equal(S.anthropic.requests[0]?.status, 401);
  assert.equal(S.anthropic.requests[0].headers['x-api-key'], WRONG_KEY);
  assert.equal(ra.status, 502, ra.text);
  assertOpenAIErrorBody(ra.json, { code: 'upstream_auth_error' });
  assert.ok(!ra.text.includes(WRONG_KEY), 'the key is in the error');
  const rg = await postChat(S.gw, S.tokens.g, { model: 'gbad/gemini-2.5-flash', messages: USER_MESSAGES });
  assert.equal(S.gemini.requests[0]?.status, 400);
  assert.equal(S.gemini.requests[0].error.details?.[0]?.reason, 'API_KEY_INVALID');
  assert.ok(!rg.text.includes(WRONG_KEY), 'the key is in the error');
  assert.equal(rg.status, 502, `a bad Gemini key is the gateway's problem, not the client's: ${rg.status} ${rg.text}`);
  assertOpenAIErrorBody(rg.json, { code: 'upstream_auth_error' });
});

test('providers 5. fallback across providers: anthropic 529 → gemini answers (and gemini 429 → anthropic), stream too; LLM_CALL fallback_used, provider', { timeout: 30000 }, async (t) => {
  const S = await startProviderStack({
    agents: {
      fb: { models: ['claude/claude-overloaded', FLASH] },
      back: { models: ['gem/gemini-429', SONNET] },
    },
  });
  t.after(() => S.cleanup());
  const { gw } = S;
  const fallbacks = async () => {
    const s = await scrape(gw);
    return { '5xx': metricValue(s, 'pai_gateway_fallbacks_total', { reason: 'upstream_5xx' }), 429: metricValue(s, 'pai_gateway_fallbacks_total', { reason: 'upstream_429' }) };
  };
  const before = await fallbacks();

  // Anthropic overloaded → Gemini.
  let m = S.mark();
  const mark = gw.mark();
  const r1 = await sdkCreate(S.client('fb'), { model: 'claude/claude-overloaded', messages: USER_MESSAGES });
  let up = S.since(m);
  assert.deepEqual(up.anthropic.map((r) => [r.body.model, r.status]), [['claude-overloaded', 529]]);
  assert.deepEqual(up.gemini.map((r) => [r.model, r.status]), [['gemini-2.5-flash', 200]]);
  assert.equal(r1.data.choices[0].message.content, G.TEXT, 'answered by Gemini');
  assert.match(r1.data.model, /gemini-2\.5-flash/, 'the answer names the model that served');
  assertUsage(r1.data.usage, G.PROMPT_TOKENS, G.TEXT_PARTS.length, 'fallback answer');
  assertLLMCall(llmCallOf(gw.stateDir, r1.rid, 'fallback'), {
    model: FLASH, requested_model: 'claude/claude-overloaded', provider: 'gem', fallback_used: true, status: 200,
    input_tokens: G.PROMPT_TOKENS, output_tokens: G.TEXT_PARTS.length, charged_tokens: G.PROMPT_TOKENS + G.TEXT_PARTS.length,
  }, 'LLM_CALL fallback', ['requested_model']);
  const access = await waitForAccess(gw, r1.rid);
  assert.equal(access.attempts, 2, `access line: ${JSON.stringify(access)}`);
  const line = gw.logs.slice(mark).find(byMsg('fallback', (l) => l.request_id === r1.rid));
  assert.ok(line, 'a fallback log line');
  assert.deepEqual([line.from, line.to], ['claude/claude-overloaded', FLASH]);
  t.diagnostic(`fallback log line: ${JSON.stringify(line)}`);

  // The same for a stream (nothing reached the client before the fallback).
  m = S.mark();
  const { data: s2, response: resp2 } = await S.client('fb').chat.completions.create({
    model: 'claude/claude-overloaded', messages: USER_MESSAGES, stream: true, stream_options: { include_usage: true },
  }).withResponse();
  const st2 = assembleStream(await collect(s2), { includeUsage: true });
  up = S.since(m);
  assert.deepEqual([up.anthropic.length, up.gemini.length], [1, 1]);
  assert.equal(up.gemini[0].action, 'streamGenerateContent');
  assert.equal(st2.content, G.TEXT);
  assertUsage(st2.usage, G.PROMPT_TOKENS, G.TEXT_PARTS.length, 'streamed fallback');
  assertLLMCall(llmCallOf(gw.stateDir, resp2.headers.get('x-request-id'), 'stream fallback'), {
    model: FLASH, provider: 'gem', fallback_used: true, stream: true,
  }, 'LLM_CALL stream fallback', ['requested_model']);

  // Gemini rate limited → Anthropic.
  m = S.mark();
  const r3 = await sdkCreate(S.client('back'), { model: 'gem/gemini-429', messages: USER_MESSAGES });
  up = S.since(m);
  assert.deepEqual(up.gemini.map((r) => r.status), [429]);
  assert.deepEqual(up.anthropic.map((r) => r.status), [200]);
  assert.equal(r3.data.choices[0].message.content, A.TEXT);
  assertLLMCall(llmCallOf(gw.stateDir, r3.rid, 'fallback to claude'), {
    model: SONNET, requested_model: 'gem/gemini-429', provider: 'claude', fallback_used: true,
    input_tokens: A_PROMPT, charged_tokens: A_PROMPT + A.OUTPUT_TOKENS,
  }, 'LLM_CALL fallback to claude', ['requested_model']);

  await waitForAccess(gw, r3.rid);
  const after = await fallbacks();
  assert.deepEqual({ '5xx': after['5xx'] - before['5xx'], 429: after[429] - before[429] }, { '5xx': 2, 429: 1 },
    'pai_gateway_fallbacks_total: 529 counts as upstream_5xx, Gemini 429 as upstream_429');
});

test('providers 6. budgets: the cap goes in max_tokens (anthropic) / maxOutputTokens (gemini); charged = translated usage', { timeout: 30000 }, async (t) => {
  const PER_REQUEST = 100;
  const LIMIT = 3000;
  const probeC = { model: SONNET, messages: USER_MESSAGES };
  const probeG = { model: FLASH, messages: USER_MESSAGES };
  const S = await startProviderStack({
    agents: {
      perreq: { models: [SONNET, FLASH], tokens: { maxPerRequest: PER_REQUEST } },
      daily: { models: [SONNET, FLASH, THINKING], tokens: { maxPerDay: LIMIT } },
      tightc: { models: [SONNET], tokens: { maxPerDay: bodyBytes(probeC) + 2 } },
      tightg: { models: [FLASH], tokens: { maxPerDay: bodyBytes(probeG) + 2 } },
      big: { models: [SONNET, FLASH], tokens: { maxPerDay: 1000000 } },
    },
  });
  t.after(() => S.cleanup());
  const { gw, tokens } = S;
  const day = utcDay();
  const estimate = (body) => Math.ceil(bodyBytes(body) / 4);
  /** One raw call that must succeed; returns {r, rec (the mock's record), llm (LLM_CALL), access}. */
  const call = async (agent, body) => {
    const m = S.mark();
    const r = await postChat(gw, tokens[agent], body);
    const up = S.since(m);
    const recs = [...up.anthropic, ...up.gemini];
    assert.equal(recs.length, 1, `${agent}: one upstream call`);
    assert.equal(r.status, 200, `${agent} ${body.model}: ${r.status} ${r.text}; the mock got ${recs[0]?.raw} and answered ${JSON.stringify(recs[0]?.error)}`);
    const access = await waitForAccess(gw, r.rid);
    return { r, rec: recs[0], llm: llmCallOf(gw.stateDir, r.rid, `${agent} ${body.model}`), access };
  };

  // maxPerRequest: no client limit → the limit is maxPerRequest − the input estimate.
  let x = await call('perreq', probeC);
  assert.equal(x.rec.body.max_tokens, PER_REQUEST - estimate(probeC), 'anthropic max_tokens = maxPerRequest − input estimate');
  x = await call('perreq', probeG);
  assert.equal(x.rec.body.generationConfig?.maxOutputTokens, PER_REQUEST - estimate(probeG), 'gemini maxOutputTokens = maxPerRequest − input estimate');
  const fitting = { ...probeC, max_tokens: 50 };
  x = await call('perreq', fitting);
  assert.equal(x.rec.body.max_tokens, 50, 'a fitting client limit is kept');

  // Daily budget: the client asks for more than remains → capped to what remains after the input bound.
  let spent = 0;
  const b1 = { ...probeC, max_tokens: 10000 };
  x = await call('daily', b1);
  assert.equal(x.rec.body.max_tokens, LIMIT - bodyBytes(b1), 'anthropic max_tokens capped by the daily budget');
  assertUsage(x.r.json.usage, A_PROMPT, A.OUTPUT_TOKENS, 'daily claude');
  assert.equal(x.llm.detail.charged_tokens, A_PROMPT + A.OUTPUT_TOKENS, 'charged = prompt (incl. cache) + completion');
  assert.equal(x.access.charged_tokens, A_PROMPT + A.OUTPUT_TOKENS, 'access line charged_tokens');
  spent += A_PROMPT + A.OUTPUT_TOKENS;
  const b2 = { ...probeG };
  x = await call('daily', b2);
  assert.equal(x.rec.body.generationConfig?.maxOutputTokens, LIMIT - spent - bodyBytes(b2), 'gemini maxOutputTokens inserted from the daily budget');
  assert.equal(x.llm.detail.charged_tokens, G.PROMPT_TOKENS + G.TEXT_PARTS.length);
  spent += G.PROMPT_TOKENS + G.TEXT_PARTS.length;
  const b3 = { ...probeC, stream: true, stream_options: { include_usage: true }, max_completion_tokens: 10000 };
  x = await call('daily', b3);
  assert.equal(x.rec.body.max_tokens, LIMIT - spent - bodyBytes(b3), 'a stream is capped too');
  assert.equal(x.llm.detail.charged_tokens, A_PROMPT + A.OUTPUT_TOKENS, 'stream charged = translated usage');
  spent += A_PROMPT + A.OUTPUT_TOKENS;
  const b4 = { ...probeG, model: THINKING, stream: true };
  x = await call('daily', b4);
  assert.equal(x.rec.body.generationConfig?.maxOutputTokens, LIMIT - spent - bodyBytes(b4));
  assert.equal(x.llm.detail.charged_tokens, G.PROMPT_TOKENS + G.TEXT_PARTS.length + G.THOUGHTS_TOKENS, 'thinking tokens are charged (stream without include_usage)');
  spent += G.PROMPT_TOKENS + G.TEXT_PARTS.length + G.THOUGHTS_TOKENS;

  // Output cap of 2: the providers stop at 2 tokens, the client sees finish_reason length.
  x = await call('tightc', probeC);
  assert.equal(x.rec.body.max_tokens, 2);
  assert.equal(x.r.json.choices[0].message.content, 'Hello from');
  assert.equal(x.r.json.choices[0].finish_reason, 'length');
  x = await call('tightg', probeG);
  assert.equal(x.rec.body.generationConfig?.maxOutputTokens, 2);
  assert.equal(x.r.json.choices[0].message.content, 'Hello from');
  assert.equal(x.r.json.choices[0].finish_reason, 'length');

  // A large budget and no client limit: what is sent must be a limit the provider accepts.
  x = await call('big', probeC);
  t.diagnostic(`large budget, no client limit: anthropic max_tokens ${x.rec.body.max_tokens}`);
  assert.ok(x.rec.body.max_tokens <= A.MAX_OUTPUT_TOKENS, `max_tokens ${x.rec.body.max_tokens}`);
  x = await call('big', probeG);
  t.diagnostic(`large budget, no client limit: gemini maxOutputTokens ${x.rec.body.generationConfig?.maxOutputTokens}`);

  const samples = await scrape(gw);
  if (utcDay() !== day) return t.skip('the UTC day rolled over during the test');
  assert.equal(budgetRemaining(samples, 'daily', 'tokens'), LIMIT - spent, 'the daily budget is charged the translated usage');
  assert.equal(outstanding(samples), 0);
});
