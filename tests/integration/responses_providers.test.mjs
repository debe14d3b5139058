// End-to-end: the OpenAI Responses API (POST /v1/responses, what OpenAI's Codex CLI speaks)
// for Agents whose model is served by an `anthropic` or a `gemini` ModelProvider. The official
// openai SDK calls `responses.create` (non-streamed and streamed) and `responses.stream`; the
// gateway translates to Anthropic Messages / Gemini generateContent and back. The mocks
// (upstream/anthropic_upstream.mjs, upstream/gemini_upstream.mjs) speak the real wire formats
// and validate requests like the real APIs. Each test has its own gateway and mocks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as A from './upstream/anthropic_upstream.mjs';
import * as G from './upstream/gemini_upstream.mjs';
import { collect, expectAPIError, assertOpenAIErrorObject } from './lib/common.mjs';
import { readChain, recordsFor, waitForRecord } from './lib/audit.mjs';
import { scrape, budgetRemaining, outstanding, utcDay } from './lib/budget.mjs';
import { startProviderStack, anthropicText, anthropicBlocks } from './lib/providers.mjs';

const SONNET = 'claude/claude-sonnet-4-6';
const CTOOLS = 'claude/claude-tools';
const FLASH = 'gem/gemini-2.5-flash';
const THINKING = 'gem/gemini-thinking';
const GTOOLS = 'gem/gemini-tools';
const SYSTEM = 'You are a terse assistant.';
const QUESTION = 'What is the weather in Paris?';
const TOOL_RESULT = '18°C, sunny';
const TOOLS = [{
  type: 'function', name: 'get_weather', description: 'Get the weather of a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
}];
const A_PROMPT = A.INPUT_TOKENS + A.CACHE_READ_TOKENS + A.CACHE_CREATION_TOKENS;
const MODELS = [SONNET, CTOOLS, FLASH, THINKING, GTOOLS];

function llmCallOf(stateDir, rid, what) {
  const recs = recordsFor(readChain(stateDir), rid, 'LLM_CALL');
  assert.equal(recs.length, 1, `${what}: the LLM_CALL of ${rid} is durable when the client has the answer`);
  return recs[0].detail;
}

function assertUsage(usage, input, output, cached, what, reasoning = 0) {
  assert.deepEqual(usage, {
    input_tokens: input, input_tokens_details: { cached_tokens: cached },
    output_tokens: output, output_tokens_details: { reasoning_tokens: reasoning }, total_tokens: input + output,
  }, `${what}: usage`);
}

/** Checks the shape of a Response object the gateway made (non-streamed or the final event's). */
function assertResponse(r, { status = 'completed', what }) {
  assert.equal(r.object, 'response', what);
  assert.match(r.id, /^resp_/, `${what}: id`);
  assert.ok(Number.isInteger(r.created_at), `${what}: created_at`);
  assert.equal(r.status, status, `${what}: status ${JSON.stringify(r)}`);
  assert.equal(r.error, null, what);
  for (const item of r.output) {
    assert.equal(item.status, 'completed', `${what}: item status`);
    if (item.type === 'message') {
      assert.match(item.id, /^msg_/);
      assert.equal(item.role, 'assistant');
      for (const p of item.content) assert.deepEqual(Object.keys(p).sort(), ['annotations', 'logprobs', 'text', 'type']);
    } else {
      assert.equal(item.type, 'function_call', `${what}: output item type`);
      assert.match(item.id, /^fc_/);
    }
  }
}

/**
 * Checks the documented event sequence of a streamed response and returns
 * {types, text, final, calls}: sequence numbers 0,1,2,..., response.created then in_progress
 * first, each item added → (deltas) → done, and the final event last.
 */
function assertEvents(events, what) {
  const types = events.map((e) => e.type);
  assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i), `${what}: sequence_number`);
  assert.deepEqual(types.slice(0, 2), ['response.created', 'response.in_progress'], `${what}: ${types}`);
  assert.equal(events[0].response.status, 'in_progress');
  assert.deepEqual(events[0].response.output, []);
  const final = events[events.length - 1];
  assert.ok(['response.completed', 'response.incomplete'].includes(final.type), `${what}: last event ${final.type}`);
  let text = '';
  const calls = [];
  const open = new Map();
  for (const e of events.slice(2, -1)) {
    if (e.type === 'response.output_item.added') {
      assert.equal(e.item.status, 'in_progress');
      open.set(e.output_index, { item: e.item, args: '', text: '' });
    } else if (e.type === 'response.output_text.delta') {
      assert.equal(e.content_index, 0);
      open.get(e.output_index).text += e.delta;
      text += e.delta;
    } else if (e.type === 'response.output_text.done') {
      assert.equal(e.text, open.get(e.output_index).text, `${what}: output_text.done carries the text`);
    } else if (e.type === 'response.function_call_arguments.delta') {
      open.get(e.output_index).args += e.delta;
    } else if (e.type === 'response.function_call_arguments.done') {
      assert.equal(e.arguments, open.get(e.output_index).args, `${what}: arguments.done`);
    } else if (e.type === 'response.output_item.done') {
      assert.equal(e.item.status, 'completed');
      if (e.item.type === 'function_call') calls.push(e.item);
      assert.deepEqual(e.item, final.response.output[e.output_index], `${what}: the done item is the final output item`);
      open.delete(e.output_index);
    } else {
      assert.ok(['response.content_part.added', 'response.content_part.done'].includes(e.type), `${what}: event ${e.type}`);
    }
  }
  assert.equal(open.size, 0, `${what}: every item added is done`);
  return { types, text, final: final.response, calls };
}

test('responses 1. anthropic: responses.create non-stream and stream, instructions, usage, LLM_CALL; max_output_tokens → incomplete', { timeout: 30000 }, async (t) => {
  const S = await startProviderStack({ agents: { coder: { models: MODELS } } });
  t.after(() => S.cleanup());
  const client = S.client('coder');

  let m = S.mark();
  const { data: r1, response: h1 } = await client.responses.create({
    model: SONNET, instructions: SYSTEM, input: 'Say hello', temperature: 0.5, max_output_tokens: 100,
  }).withResponse();
  const rec1 = S.since(m).anthropic[0];
  assert.equal(rec1?.status, 200, `the mock refused the request: ${JSON.stringify(rec1?.error)}\n${rec1?.raw}`);
  assert.equal(rec1.path, '/v1/messages');
  assert.equal(rec1.body.model, 'claude-sonnet-4-6');
  assert.equal(A.systemText(rec1.body), SYSTEM, 'instructions → system');
  assert.equal(rec1.body.messages.length, 1);
  assert.equal(anthropicText(rec1.body.messages[0].content), 'Say hello');
  assert.equal(rec1.body.max_tokens, 100, 'max_output_tokens → max_tokens');
  assert.equal(rec1.body.temperature, 0.5);
  assertResponse(r1, { what: 'non-stream' });
  assert.equal(r1.output_text, A.TEXT);
  assert.equal(r1.model, 'claude-sonnet-4-6');
  assert.equal(r1.instructions, SYSTEM);
  assertUsage(r1.usage, A_PROMPT, A.OUTPUT_TOKENS, A.CACHE_READ_TOKENS, 'non-stream');
  const rid1 = h1.headers.get('x-request-id');
  const d1 = llmCallOf(S.gw.stateDir, rid1, 'non-stream');
  assert.deepEqual([d1.route, d1.provider, d1.input_tokens, d1.output_tokens, d1.cached_tokens, d1.charged_tokens, d1.status, d1.stream],
    ['/v1/responses', 'claude', A_PROMPT, A.OUTPUT_TOKENS, A.CACHE_READ_TOKENS, A_PROMPT + A.OUTPUT_TOKENS, 200, false]);

  // Streamed (SDK iterator): the documented events.
  m = S.mark();
  const { data: s2, response: h2 } = await client.responses.create({ model: SONNET, input: [{ role: 'user', content: 'Say hello' }], stream: true }).withResponse();
  const ev2 = assertEvents(await collect(s2), 'stream');
  assert.equal(S.since(m).anthropic[0].body.stream, true);
  assert.equal(ev2.text, A.TEXT);
  assert.deepEqual(ev2.types.slice(2), [
    'response.output_item.added', 'response.content_part.added',
    ...A.TEXT_PARTS.map(() => 'response.output_text.delta'),
    'response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed',
  ]);
  assertResponse(ev2.final, { what: 'stream final' });
  assertUsage(ev2.final.usage, A_PROMPT, A.OUTPUT_TOKENS, A.CACHE_READ_TOKENS, 'stream');
  const d2 = llmCallOf(S.gw.stateDir, h2.headers.get('x-request-id'), 'stream');
  assert.deepEqual([d2.route, d2.input_tokens, d2.output_tokens, d2.stream], ['/v1/responses', A_PROMPT, A.OUTPUT_TOKENS, true]);

  // The SDK's stream helper.
  const final3 = await client.responses.stream({ model: SONNET, input: 'Say hello' }).finalResponse();
  assert.equal(final3.output_text, A.TEXT);

  // max_output_tokens reached: status incomplete (non-stream and stream).
  const r4 = await client.responses.create({ model: SONNET, input: 'Say hello', max_output_tokens: 2 });
  assertResponse(r4, { status: 'incomplete', what: 'cut' });
  assert.deepEqual(r4.incomplete_details, { reason: 'max_output_tokens' });
  assert.equal(r4.output_text, 'Hello from');
  const ev5 = assertEvents(await collect(await client.responses.create({ model: SONNET, input: 'Say hello', max_output_tokens: 2, stream: true })), 'cut stream');
  assert.equal(ev5.types[ev5.types.length - 1], 'response.incomplete');
  assert.deepEqual(ev5.final.incomplete_details, { reason: 'max_output_tokens' });
});

test('responses 2. anthropic: function tool round trip (function_call → tool_use, function_call_output → tool_result), non-stream and stream, TOOL_CALL', { timeout: 30000 }, async (t) => {
  const S = await startProviderStack({ agents: { coder: { models: MODELS } } });
  t.after(() => S.cleanup());
  const client = S.client('coder');

  let m = S.mark();
  const { data: r1, response: h1 } = await client.responses.create({
    model: CTOOLS, instructions: SYSTEM, input: QUESTION, tools: TOOLS, tool_choice: 'auto',
  }).withResponse();
  const rec1 = S.since(m).anthropic[0];
  assert.equal(rec1?.status, 200, `the mock refused the request: ${JSON.stringify(rec1?.error)}\n${rec1?.raw}`);
  assert.deepEqual(rec1.body.tools, [{ name: 'get_weather', description: TOOLS[0].description, input_schema: TOOLS[0].parameters }]);
  assert.deepEqual(rec1.body.tool_choice, { type: 'auto' });
  assertResponse(r1, { what: 'tool turn' });
  assert.deepEqual(r1.output.map((o) => o.type), ['message', 'function_call']);
  assert.equal(r1.output_text, A.TOOL_PREAMBLE);
  const call = r1.output[1];
  assert.match(call.call_id, /^toolu_/);
  assert.equal(call.name, A.TOOL_NAME);
  assert.deepEqual(JSON.parse(call.arguments), A.TOOL_INPUT);
  assertUsage(r1.usage, A_PROMPT, A.TOOL_TURN_TOKENS, A.CACHE_READ_TOKENS, 'tool turn');
  const rid1 = h1.headers.get('x-request-id');
  const tc = recordsFor(readChain(S.gw.stateDir), rid1, 'TOOL_CALL');
  assert.deepEqual(tc.map((r) => [r.detail.tool_name, r.detail.call_id]), [[A.TOOL_NAME, call.call_id]], 'TOOL_CALL record');

  // The output items go back as input, with the function_call_output.
  m = S.mark();
  const r2 = await client.responses.create({
    model: CTOOLS, instructions: SYSTEM, tools: TOOLS,
    input: [{ role: 'user', content: [{ type: 'input_text', text: QUESTION }] }, ...r1.output,
      { type: 'function_call_output', call_id: call.call_id, output: TOOL_RESULT }],
  });
  const rec2 = S.since(m).anthropic[0];
  assert.equal(rec2?.status, 200, `the mock refused the tool result turn: ${JSON.stringify(rec2?.error)}\n${rec2?.raw}`);
  assert.deepEqual(rec2.body.messages.map((x) => x.role), ['user', 'assistant', 'user']);
  const uses = anthropicBlocks(rec2.body.messages[1].content).filter((b) => b.type === 'tool_use');
  assert.deepEqual(uses, [{ type: 'tool_use', id: call.call_id, name: A.TOOL_NAME, input: A.TOOL_INPUT }]);
  assert.equal(anthropicText(rec2.body.messages[1].content), A.TOOL_PREAMBLE, 'the output_text goes back as assistant text');
  const results = anthropicBlocks(rec2.body.messages[2].content).filter((b) => b.type === 'tool_result');
  assert.deepEqual(results.map((b) => [b.tool_use_id, A.toolResultText(b)]), [[call.call_id, TOOL_RESULT]]);
  assert.equal(r2.output_text, A.toolAnswerParts(TOOL_RESULT).join(''));

  // Streamed function call: function_call_arguments deltas, the item done with the arguments.
  const { data: s3, response: h3 } = await client.responses.create({ model: CTOOLS, input: QUESTION, tools: TOOLS, stream: true }).withResponse();
  const ev3 = assertEvents(await collect(s3), 'streamed tool turn');
  assert.equal(ev3.text, A.TOOL_PREAMBLE);
  assert.ok(ev3.types.filter((x) => x === 'response.function_call_arguments.delta').length >= 2, 'the arguments arrive in fragments');
  assert.equal(ev3.calls.length, 1);
  assert.deepEqual(JSON.parse(ev3.calls[0].arguments), A.TOOL_INPUT);
  const tc3 = recordsFor(readChain(S.gw.stateDir), h3.headers.get('x-request-id'), 'TOOL_CALL');
  assert.deepEqual(tc3.map((r) => r.detail.call_id), [ev3.calls[0].call_id]);
  const final4 = await client.responses.stream({
    model: CTOOLS, tools: TOOLS,
    input: [{ role: 'user', content: QUESTION }, ...ev3.final.output, { type: 'function_call_output', call_id: ev3.calls[0].call_id, output: TOOL_RESULT }],
  }).finalResponse();
  assert.equal(final4.output_text, A.toolAnswerParts(TOOL_RESULT).join(''));
});

test('responses 3. gemini: text, reasoning tokens, stream, function tool round trip (functionCall / functionResponse)', { timeout: 30000 }, async (t) => {
  const S = await startProviderStack({ agents: { coder: { models: MODELS } } });
  t.after(() => S.cleanup());
  const client = S.client('coder');

  let m = S.mark();
  const { data: r1, response: h1 } = await client.responses.create({ model: FLASH, instructions: SYSTEM, input: 'Say hello', top_p: 0.9 }).withResponse();
  const rec1 = S.since(m).gemini[0];
  assert.equal(rec1?.status, 200, `the mock refused the request: ${JSON.stringify(rec1?.error)}\n${rec1?.raw}`);
  assert.equal(rec1.url, '/v1beta/models/gemini-2.5-flash:generateContent');
  assert.equal(G.systemText(rec1.body), SYSTEM);
  assert.deepEqual(rec1.body.contents, [{ role: 'user', parts: [{ text: 'Say hello' }] }]);
  assert.equal(rec1.body.generationConfig?.topP, 0.9);
  assertResponse(r1, { what: 'gemini' });
  assert.equal(r1.output_text, G.TEXT);
  assertUsage(r1.usage, G.PROMPT_TOKENS, G.TEXT_PARTS.length, 0, 'gemini');
  const d1 = llmCallOf(S.gw.stateDir, h1.headers.get('x-request-id'), 'gemini');
  assert.deepEqual([d1.route, d1.provider, d1.input_tokens, d1.output_tokens], ['/v1/responses', 'gem', G.PROMPT_TOKENS, G.TEXT_PARTS.length]);

  const r2 = await client.responses.create({ model: THINKING, input: 'Say hello', reasoning: { effort: 'low' } });
  assert.equal(r2.output_text, G.TEXT);
  assert.equal(r2.usage.output_tokens, G.TEXT_PARTS.length + G.THOUGHTS_TOKENS, 'thinking tokens are output tokens');

  m = S.mark();
  const { data: s3, response: h3 } = await client.responses.create({ model: FLASH, input: 'Say hello', stream: true }).withResponse();
  const ev3 = assertEvents(await collect(s3), 'gemini stream');
  assert.equal(S.since(m).gemini[0].url, '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
  assert.equal(ev3.text, G.TEXT);
  assertUsage(ev3.final.usage, G.PROMPT_TOKENS, G.TEXT_PARTS.length, 0, 'gemini stream');
  assert.equal(llmCallOf(S.gw.stateDir, h3.headers.get('x-request-id'), 'gemini stream').output_tokens, G.TEXT_PARTS.length);

  // Function tool: tool_choice required → ANY; the call goes back as functionCall + functionResponse.
  m = S.mark();
  const r4 = await client.responses.create({ model: GTOOLS, input: QUESTION, tools: TOOLS, tool_choice: 'required' });
  const rec4 = S.since(m).gemini[0];
  assert.equal(rec4?.status, 200, `the mock refused the request: ${JSON.stringify(rec4?.error)}\n${rec4?.raw}`);
  assert.equal(rec4.body.toolConfig?.functionCallingConfig?.mode, 'ANY');
  const call = r4.output.find((o) => o.type === 'function_call');
  assert.ok(call, JSON.stringify(r4.output));
  assert.equal(call.name, G.TOOL_NAME);
  assert.deepEqual(JSON.parse(call.arguments), G.TOOL_ARGS);
  assertUsage(r4.usage, G.TOOL_PROMPT_TOKENS, G.TOOL_CALL_TOKENS, 0, 'gemini tool turn');
  m = S.mark();
  const r5 = await client.responses.create({
    model: GTOOLS, tools: TOOLS,
    input: [{ role: 'user', content: QUESTION }, ...r4.output, { type: 'function_call_output', call_id: call.call_id, output: TOOL_RESULT }],
  });
  const rec5 = S.since(m).gemini[0];
  assert.equal(rec5?.status, 200, `the mock refused the function response turn: ${JSON.stringify(rec5?.error)}\n${rec5?.raw}`);
  assert.deepEqual(rec5.body.contents.map((c) => c.role), ['user', 'model', 'user']);
  const fr = rec5.body.contents[2].parts.map((p) => p.functionResponse).filter(Boolean);
  assert.deepEqual(fr.map((f) => [f.name, f.response]), [[G.TOOL_NAME, { content: TOOL_RESULT }]]);
  assert.equal(r5.output_text, G.toolAnswerParts(TOOL_RESULT).join(''));

  // Streamed function call.
  const { data: s6, response: h6 } = await client.responses.create({ model: GTOOLS, input: QUESTION, tools: TOOLS, stream: true }).withResponse();
  const ev6 = assertEvents(await collect(s6), 'gemini streamed tool turn');
  assert.equal(ev6.calls.length, 1);
  assert.deepEqual(JSON.parse(ev6.calls[0].arguments), G.TOOL_ARGS);
  const tc6 = recordsFor(readChain(S.gw.stateDir), h6.headers.get('x-request-id'), 'TOOL_CALL');
  assert.deepEqual(tc6.map((r) => r.detail.call_id), [ev6.calls[0].call_id]);
});

test('responses 4. what cannot be translated is a clear 400 before any provider call; provider errors in OpenAI\'s shape', { timeout: 30000 }, async (t) => {
  const S = await startProviderStack({
    agents: {
      coder: { models: MODELS },
      over: { models: ['claude/claude-overloaded'] },
      cut: { models: ['claude/claude-stream-overloaded'] },
      g429: { models: ['gem/gemini-429'] },
    },
  });
  t.after(() => S.cleanup());
  const client = S.client('coder');
  let m = S.mark();
  const cases = [
    [{ model: SONNET, input: 'Hi', previous_response_id: 'resp_123' }, 'previous_response_id'],
    [{ model: FLASH, input: 'Hi', tools: [{ type: 'web_search' }] }, 'tools[0].type'],
    [{ model: SONNET, input: [{ type: 'item_reference', id: 'msg_1' }] }, 'input[0].type'],
    [{ model: FLASH, input: 'Hi', background: true }, 'background'],
  ];
  for (const [body, param] of cases) {
    const err = await expectAPIError(() => client.responses.create(body), 400);
    assertOpenAIErrorObject(err.error, { param });
  }
  assert.deepEqual(S.since(m), { anthropic: [], gemini: [] }, 'refused requests reach no provider');

  // Provider errors before the answer: the chat route's mapping, in OpenAI's error shape.
  for (const [agent, model, status, code] of [['over', 'claude/claude-overloaded', 503, 'upstream_overloaded'],
    ['g429', 'gem/gemini-429', 429, 'rate_limit_exceeded']]) {
    for (const stream of [false, true]) {
      const err = await expectAPIError(() => S.client(agent).responses.create({ model, input: 'Hi', stream }), status);
      assertOpenAIErrorObject(err.error, { code });
    }
  }
  // An error event in the provider's stream: `error`, then `response.failed`; recorded with its status.
  m = S.mark();
  const { data: s1, response: h1 } = await S.client('cut').responses.create({ model: 'claude/claude-stream-overloaded', input: 'Hi', stream: true }).withResponse();
  const events = await collect(s1);
  assert.equal(S.since(m).anthropic.length, 1);
  const types = events.map((e) => e.type);
  assert.deepEqual(types.slice(0, 2), ['response.created', 'response.in_progress'], `${types}`);
  assert.deepEqual(types.slice(-2), ['error', 'response.failed'], `${types}`);
  assert.equal(events.at(-2).code, 'upstream_overloaded');
  assert.equal(events.at(-1).response.status, 'failed');
  assert.equal(events.at(-1).response.error.code, 'upstream_overloaded');
  const rec = await waitForRecord(S.gw.stateDir, (x) => x.type === 'LLM_CALL' && x.detail.request_id === h1.headers.get('x-request-id'), 10000, 'the LLM_CALL of the failed stream');
  assert.equal(rec.detail.status, 503);
  assert.equal(rec.detail.route, '/v1/responses');
});

test('responses 5. budgets: the reserved output caps max_tokens / maxOutputTokens; charged = the translated usage, streams too; an exhausted budget is refused', { timeout: 30000 }, async (t) => {
  const LIMIT = 3000;
  const S = await startProviderStack({
    agents: { daily: { models: [SONNET, FLASH], tokens: { maxPerDay: LIMIT } }, tiny: { models: [SONNET], tokens: { maxPerDay: 10 } } },
  });
  t.after(() => S.cleanup());
  const client = S.client('daily');
  const day = utcDay();
  let spent = 0;
  for (const [model, stream] of [[SONNET, false], [SONNET, true], [FLASH, false], [FLASH, true]]) {
    const what = `${model} stream=${stream}`;
    const m = S.mark();
    const { data, response } = await client.responses.create({ model, input: 'Say hello', max_output_tokens: 10000, stream }).withResponse();
    if (stream) await collect(data);
    const up = S.since(m);
    const rec = [...up.anthropic, ...up.gemini];
    assert.equal(rec.length, 1, what);
    const cap = model === SONNET ? rec[0].body.max_tokens : rec[0].body.generationConfig?.maxOutputTokens;
    assert.ok(Number.isInteger(cap) && cap > 0 && cap < LIMIT - spent, `${what}: the output limit sent (${cap}) is capped by what remains of ${LIMIT - spent}`);
    const expected = model === SONNET ? A_PROMPT + A.OUTPUT_TOKENS : G.PROMPT_TOKENS + G.TEXT_PARTS.length;
    assert.equal(llmCallOf(S.gw.stateDir, response.headers.get('x-request-id'), what).charged_tokens, expected, `${what}: charged`);
    spent += expected;
  }
  const samples = await scrape(S.gw);
  if (utcDay() !== day) return t.skip('the UTC day rolled over during the test');
  assert.equal(budgetRemaining(samples, 'daily', 'tokens'), LIMIT - spent, 'the budget is charged the translated usage');
  assert.equal(outstanding(samples), 0, 'no reservation left');
  const m = S.mark();
  await expectAPIError(() => S.client('tiny').responses.create({ model: SONNET, input: 'Say hello' }), 429);
  assert.deepEqual(S.since(m), { anthropic: [], gemini: [] }, 'a refused call reaches no provider');
});

test('responses 6. a Codex CLI-shaped conversation (developer message, store false, include, reasoning items, streamed) with a Claude and a Gemini model', { timeout: 30000 }, async (t) => {
  const S = await startProviderStack({ agents: { coder: { models: MODELS } } });
  t.after(() => S.cleanup());
  const client = S.client('coder');
  // The members OpenAI's Codex CLI sends on every turn (openai/codex, codex-rs: its Responses request).
  const codex = (model, input) => ({
    model, instructions: SYSTEM, input, tools: TOOLS.map((x) => ({ ...x, strict: false })), tool_choice: 'auto',
    parallel_tool_calls: false, reasoning: { effort: 'medium', summary: 'auto' }, store: false, stream: true,
    include: ['reasoning.encrypted_content'], prompt_cache_key: '0d2c8f7e-codex-session', text: { verbosity: 'medium' },
  });
  const developer = { type: 'message', role: 'developer', content: [{ type: 'input_text', text: '<permissions>workspace-write</permissions>' }] };
  const user = { type: 'message', role: 'user', content: [{ type: 'input_text', text: QUESTION }] };
  for (const [model, mock, answer] of [[CTOOLS, 'anthropic', A.toolAnswerParts(TOOL_RESULT).join('')], [GTOOLS, 'gemini', G.toolAnswerParts(TOOL_RESULT).join('')]]) {
    let m = S.mark();
    const ev1 = assertEvents(await collect(await client.responses.create(codex(model, [developer, user]))), `${model} turn 1`);
    const rec1 = S.since(m)[mock][0];
    assert.equal(rec1?.status, 200, `${model}: the mock refused turn 1: ${JSON.stringify(rec1?.error)}\n${rec1?.raw}`);
    assert.equal(ev1.calls.length, 1, `${model}: a function call`);
    // Turn 2, as Codex builds it: the previous output items (a reasoning item among them), the tool output.
    const reasoning = { type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: 'gAAAA-opaque' };
    m = S.mark();
    const ev2 = assertEvents(await collect(await client.responses.create(codex(model, [developer, user, reasoning, ...ev1.final.output,
      { type: 'function_call_output', call_id: ev1.calls[0].call_id, output: TOOL_RESULT }]))), `${model} turn 2`);
    const rec2 = S.since(m)[mock][0];
    assert.equal(rec2?.status, 200, `${model}: the mock refused turn 2: ${JSON.stringify(rec2?.error)}\n${rec2?.raw}`);
    assert.equal(ev2.text, answer, `${model}: the answer after the tool output`);
    assert.equal(ev2.final.status, 'completed');
  }
});
