// End-to-end: provider protocol corner cases — interim 1xx responses, a stream cut mid-event.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { NORMAL_CONTENT } from './upstream/openai_upstream.mjs';
import { USER_MESSAGES } from './lib/common.mjs';
import { startStack } from './lib/harness.mjs';

let S;
before(async () => { S = await startStack(); });
after(async () => { await S?.cleanup(); });

test('interim 100/103 responses from the provider are skipped and the pooled connection stays in sync', async () => {
  // Several calls in a row reuse the pooled connection: each must get its own final answer.
  const ids = new Set();
  for (let i = 0; i < 4; i++) {
    const r = await S.client.chat.completions.create({ model: 'up/interim-100', messages: USER_MESSAGES });
    assert.equal(r.choices[0].message.content, NORMAL_CONTENT);
    ids.add(r.id);
    const plain = await S.client.chat.completions.create({ model: 'up/gpt-4o-mini', messages: USER_MESSAGES });
    assert.equal(plain.model, 'gpt-4o-mini');
    ids.add(plain.id);
  }
  assert.equal(ids.size, 8, 'every call received a distinct completion (no response served twice)');
});

test('a pooled connection the provider closed is retried on a new one, not failed', async () => {
  // Back-to-back calls: the gateway takes the pooled connection without probing it (idle for
  // less than a second), its request meets the closed connection, and the call is retried once
  // on a new connection.
  const ids = new Set();
  for (let i = 0; i < 5; i++) {
    const r = await S.client.chat.completions.create({ model: 'up/close-after', messages: USER_MESSAGES });
    assert.equal(r.choices[0].message.content, NORMAL_CONTENT);
    ids.add(r.id);
  }
  assert.equal(ids.size, 5);
});

test('a provider that drops the connection mid-stream yields an APIError event, not a parse error', async () => {
  const stream = await S.client.chat.completions.create({ model: 'up/die-mid-stream', messages: USER_MESSAGES, stream: true });
  const seen = [];
  let caught;
  try {
    for await (const chunk of stream) seen.push(chunk);
  } catch (err) {
    caught = err;
  }
  assert.ok(seen.length >= 2, `the chunks before the failure arrive (${seen.length})`);
  assert.ok(caught, 'the stream ends with an error');
  assert.ok(caught instanceof OpenAI.APIError, `an APIError, got ${caught?.constructor?.name}: ${caught?.message}`);
  assert.match(caught.message, /model provider/i);
  // The gateway is still healthy afterwards.
  const r = await S.client.chat.completions.create({ model: 'up/gpt-4o-mini', messages: USER_MESSAGES });
  assert.equal(r.choices[0].message.content, NORMAL_CONTENT);
});
