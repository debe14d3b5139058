// Self-test of the mock OpenAI upstream: the official SDK talks to it directly
// (no gateway involved). Guards the mock's wire format, so that gateway test
// failures are not caused by a mock the SDK would not understand.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import {
  startOpenAIUpstream, NORMAL_CONTENT, PROMPT_TOKENS, COMPLETION_TOKENS, TOOL_NAME,
  TOOL_ARGUMENTS, TOOL_ARGUMENT_PARTS, EMBEDDING_DIM, expectedEmbedding, slowStreamShortContent,
  slowChunkText,
} from './upstream/openai_upstream.mjs';
import { waitForEvent } from './lib/gateway.mjs';
import { collect, contentOf, USER_MESSAGES } from './lib/common.mjs';

let up;
let client;

before(async () => {
  up = await startOpenAIUpstream();
  client = new OpenAI({ baseURL: up.url, apiKey: 'sk-direct', maxRetries: 0, timeout: 10000 });
});
after(async () => { await up?.close(); });

test('mock: non-stream chat completion', async () => {
  const { data, response } = await client.chat.completions
    .create({ model: 'gpt-4o-mini', messages: USER_MESSAGES }).withResponse();
  assert.equal(response.status, 200);
  assert.equal(data.object, 'chat.completion');
  assert.equal(data.choices[0].message.content, NORMAL_CONTENT);
  assert.equal(data.choices[0].finish_reason, 'stop');
  assert.equal(data.usage.prompt_tokens, PROMPT_TOKENS);
  assert.equal(data.usage.completion_tokens, COMPLETION_TOKENS);
  assert.equal(data.usage.total_tokens, PROMPT_TOKENS + COMPLETION_TOKENS);
  const rec = up.requests.at(-1);
  assert.equal(rec.headers.authorization, 'Bearer sk-direct');
  assert.equal(rec.body.model, 'gpt-4o-mini');
});

test('mock: stream with and without include_usage', async () => {
  const plain = await collect(await client.chat.completions.create({ model: 'gpt-4o-mini', messages: USER_MESSAGES, stream: true }));
  assert.equal(contentOf(plain), NORMAL_CONTENT);
  assert.equal(plain[0].choices[0].delta.role, 'assistant');
  assert.ok(plain.every((c) => c.object === 'chat.completion.chunk'));
  assert.ok(plain.every((c) => c.choices.length === 1));
  assert.ok(plain.every((c) => !('usage' in c)), 'no usage field unless include_usage');
  assert.equal(plain.at(-1).choices[0].finish_reason, 'stop');

  const withUsage = await collect(await client.chat.completions.create({
    model: 'gpt-4o-mini', messages: USER_MESSAGES, stream: true, stream_options: { include_usage: true },
  }));
  const last = withUsage.at(-1);
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.prompt_tokens, PROMPT_TOKENS);
  assert.equal(last.usage.completion_tokens, COMPLETION_TOKENS);
  assert.ok(withUsage.slice(0, -1).every((c) => c.usage === null), 'other chunks carry usage:null');
  assert.equal(contentOf(withUsage), NORMAL_CONTENT);

  const noUsage = await collect(await client.chat.completions.create({
    model: 'no-usage', messages: USER_MESSAGES, stream: true, stream_options: { include_usage: true },
  }));
  assert.ok(noUsage.every((c) => c.choices.length === 1), 'no-usage never sends the usage chunk');
  assert.equal(contentOf(noUsage), NORMAL_CONTENT);
});

test('mock: raw SSE framing ends with data: [DONE]', async () => {
  const res = await fetch(`${up.url}/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer x', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: USER_MESSAGES, stream: true }),
  });
  assert.match(res.headers.get('content-type'), /^text\/event-stream/);
  const text = await res.text();
  assert.ok(text.endsWith('data: [DONE]\n\n'));
  for (const ev of text.split('\n\n').filter(Boolean)) assert.match(ev, /^data: /);
});

test('mock: tool calls (non-stream and SDK-assembled stream)', async () => {
  const tools = [{ type: 'function', function: { name: TOOL_NAME, parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  const r = await client.chat.completions.create({ model: 'tools', messages: USER_MESSAGES, tools });
  assert.equal(r.choices[0].finish_reason, 'tool_calls');
  const tc = r.choices[0].message.tool_calls[0];
  assert.equal(tc.type, 'function');
  assert.equal(tc.function.name, TOOL_NAME);
  assert.equal(tc.function.arguments, TOOL_ARGUMENTS);

  const s = client.chat.completions.stream({ model: 'tools', messages: USER_MESSAGES, tools });
  const final = await s.finalChatCompletion();
  assert.equal(final.choices[0].finish_reason, 'tool_calls');
  assert.equal(final.choices[0].message.tool_calls[0].function.arguments, TOOL_ARGUMENTS);
  assert.equal(final.choices[0].message.tool_calls[0].function.name, TOOL_NAME);
  assert.match(final.choices[0].message.tool_calls[0].id, /^call_/);
});

test('mock: embeddings, float and base64', async () => {
  const b64 = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hi' });
  assert.equal(up.requests.at(-1).body.encoding_format, 'base64', 'SDK v6 asks for base64 by default');
  assert.equal(b64.object, 'list');
  assert.equal(b64.data[0].embedding.length, EMBEDDING_DIM);
  assert.deepEqual(b64.data[0].embedding, expectedEmbedding('hi'));
  const fl = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['hi', 'there'], encoding_format: 'float' });
  assert.equal(fl.data.length, 2);
  assert.deepEqual(fl.data[1].embedding, expectedEmbedding('there'));
  assert.ok(fl.usage.prompt_tokens > 0);
});

test('mock: models list and errors', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes('gpt-4o-mini'));
  for (const [model, status] of [['error-500', 500], ['error-429', 429]]) {
    await assert.rejects(
      client.chat.completions.create({ model, messages: USER_MESSAGES }),
      (err) => err.status === status && typeof err.error.message === 'string' && 'param' in err.error && 'code' in err.error);
  }
});

test('mock: slow-stream-short completes; slow-stream abort emits client-closed', async () => {
  const chunks = await collect(await client.chat.completions.create({ model: 'slow-stream-short', messages: USER_MESSAGES, stream: true }));
  assert.equal(contentOf(chunks), slowStreamShortContent());

  const stream = await client.chat.completions.create({ model: 'slow-stream', messages: USER_MESSAGES, stream: true });
  const closed = waitForEvent(up.events, 'client-closed', 5000, (e) => e.model === 'slow-stream');
  const it = stream[Symbol.asyncIterator]();
  const first = await it.next();
  assert.equal(first.done, false);
  stream.controller.abort();
  await closed;
});

test('mock: slow delays headers; closing the connection early emits client-closed', async () => {
  const ac = new AbortController();
  const closed = waitForEvent(up.events, 'client-closed', 5000, (e) => e.model === 'slow');
  const seen = waitForEvent(up.events, 'request', 5000, (r) => r.body?.model === 'slow');
  const call = client.chat.completions.create({ model: 'slow', messages: USER_MESSAGES }, { signal: ac.signal });
  call.catch(() => {});
  await seen;
  ac.abort();
  await assert.rejects(call, (e) => e instanceof OpenAI.APIUserAbortError);
  const ev = await closed;
  assert.equal(ev.stream, false);
});

test('mock: output limits (max_completion_tokens / max_tokens) truncate like OpenAI and are recorded', async () => {
  // No limit: full answer, recorded as such.
  const full = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: USER_MESSAGES });
  assert.equal(full.choices[0].message.content, NORMAL_CONTENT);
  assert.equal(up.requests.at(-1).outputLimit, null);
  assert.equal(up.requests.at(-1).outputLimitField, null);
  assert.deepEqual(up.requests.at(-1).usage, full.usage, 'the record holds the usage sent');
  assert.equal(up.requests.at(-1).status, 200);

  // A limit above the answer's length changes nothing but is recorded.
  const big = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: USER_MESSAGES, max_completion_tokens: 10000 });
  assert.equal(big.choices[0].message.content, NORMAL_CONTENT);
  assert.equal(big.choices[0].finish_reason, 'stop');
  assert.equal(big.usage.completion_tokens, COMPLETION_TOKENS);
  assert.equal(up.requests.at(-1).outputLimit, 10000);
  assert.equal(up.requests.at(-1).outputLimitField, 'max_completion_tokens');

  // max_tokens 2: two tokens, finish_reason length.
  const two = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: USER_MESSAGES, max_tokens: 2 });
  assert.equal(two.choices[0].message.content, 'Hello from');
  assert.equal(two.choices[0].finish_reason, 'length');
  assert.equal(two.usage.completion_tokens, 2);
  assert.equal(two.usage.total_tokens, PROMPT_TOKENS + 2);
  assert.equal(up.requests.at(-1).outputLimit, 2);
  assert.equal(up.requests.at(-1).outputLimitField, 'max_tokens');
  assert.equal(up.requests.at(-1).finishReason, 'length');

  // Streaming, with usage.
  const chunks = await collect(await client.chat.completions.create({
    model: 'gpt-4o-mini', messages: USER_MESSAGES, stream: true, stream_options: { include_usage: true }, max_completion_tokens: 3,
  }));
  assert.equal(contentOf(chunks), 'Hello from up');
  assert.equal(chunks.filter((c) => c.choices.length > 0).at(-1).choices[0].finish_reason, 'length');
  assert.equal(chunks.at(-1).usage.completion_tokens, 3);
  assert.deepEqual(up.requests.at(-1).usage, chunks.at(-1).usage);
  assert.equal(up.requests.at(-1).completed, true);

  // Tool calls are cut too.
  const tools = [{ type: 'function', function: { name: TOOL_NAME, parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  const tc = await client.chat.completions.create({ model: 'tools', messages: USER_MESSAGES, tools, max_tokens: 2 });
  assert.equal(tc.choices[0].finish_reason, 'length');
  assert.equal(tc.choices[0].message.tool_calls[0].function.arguments, TOOL_ARGUMENT_PARTS.slice(0, 2).join(''));
  const tcFull = await client.chat.completions.create({ model: 'tools', messages: USER_MESSAGES, tools, max_tokens: 50 });
  assert.equal(tcFull.choices[0].message.tool_calls[0].function.arguments, TOOL_ARGUMENTS);

  // Slow streams stop after `limit` chunks.
  const slow = await collect(await client.chat.completions.create({ model: 'slow-stream-short', messages: USER_MESSAGES, stream: true, max_tokens: 2 }));
  assert.equal(contentOf(slow), slowChunkText(0) + slowChunkText(1));
  assert.equal(slow.at(-1).choices[0].finish_reason, 'length');

  // Invalid limits are refused like OpenAI does.
  await assert.rejects(client.chat.completions.create({ model: 'gpt-4o-mini', messages: USER_MESSAGES, max_tokens: 0 }),
    (e) => e.status === 400 && e.error.code === 'integer_below_min_value' && e.error.param === 'max_tokens');
  await assert.rejects(client.chat.completions.create({ model: 'gpt-4o-mini', messages: USER_MESSAGES, max_completion_tokens: '5' }),
    (e) => e.status === 400 && e.error.code === 'invalid_type');
});

test('mock: an aborted stream is recorded as not completed and without usage', async () => {
  const stream = await client.chat.completions.create({
    model: 'slow-stream', messages: USER_MESSAGES, stream: true, stream_options: { include_usage: true },
  });
  const closed = waitForEvent(up.events, 'client-closed', 5000, (e) => e.model === 'slow-stream');
  const it = stream[Symbol.asyncIterator]();
  assert.equal((await it.next()).done, false);
  stream.controller.abort();
  const ev = await closed;
  assert.equal(ev.record.completed, false);
  assert.equal(ev.record.usage, null);
  assert.equal(ev.record.status, 200);
});
