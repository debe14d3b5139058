// End-to-end: the provider key never reaches a client, however the provider echoes it (JSON
// escapes, partial runs, 200 bodies, streams, copied headers), and client-facing 502/504
// messages name the ModelProvider, never its internal address (which stays in the logs).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startOpenAIUpstream } from './upstream/openai_upstream.mjs';
import {
  PROVIDER_KEY, USER_MESSAGES, rawHttp, buildRawRequest, buildManifest, paiDoc, assertOpenAIErrorBody,
} from './lib/common.mjs';
import { startGateway, stopAllGateways, getClosedPort, byMsg } from './lib/gateway.mjs';

const LEAK_MODELS = ['leak-error', 'leak-200', 'leak-stream', 'slow'];
let S;
const tokens = {};
before(async () => {
  const upstream = await startOpenAIUpstream();
  const downPort = await getClosedPort();
  const manifest = buildManifest({ upstreamURL: upstream.url, downURL: `http://127.0.0.1:${downPort}/v1` }) +
    LEAK_MODELS.map((m) => '---\n' + paiDoc('Agent', { name: `s-${m}`, namespace: 'default' }, { models: [`up/${m}`] })).join('');
  const agents = [...LEAK_MODELS.map((m) => `default/s-${m}`), 'default/only-down'];
  const gw = await startGateway({
    manifest, mintBefore: agents, extraArgs: ['--upstream-first-byte-timeout-ms', '300'],
  });
  agents.forEach((a, i) => { tokens[a.slice('default/'.length)] = gw.tokens[i]; });
  S = { upstream, gw, downPort };
});
after(async () => {
  await stopAllGateways();
  await S?.upstream.close();
});

/** Every run of >= 8 consecutive characters of `key` found in `text`. */
function keyRuns(text, key = PROVIDER_KEY) {
  const found = [];
  for (let i = 0; i + 8 <= key.length; i++) {
    if (text.includes(key.slice(i, i + 8))) found.push(key.slice(i, i + 8));
  }
  return found;
}

/** Asserts that neither the raw response (head and body) nor its decoded JSON holds a key run. */
function assertNoKey(res, what) {
  assert.deepEqual(keyRuns(res.rawHead), [], `${what}: response head leaks the key: ${res.rawHead}`);
  assert.deepEqual(keyRuns(res.text), [], `${what}: raw body leaks the key: ${res.text}`);
  // What the agent's JSON parser recovers: every escape decoded.
  const decoded = [];
  const walk = (v) => {
    if (typeof v === 'string') decoded.push(v);
    else if (v && typeof v === 'object') Object.entries(v).forEach(([k, x]) => { decoded.push(k); walk(x); });
  };
  if (res.json !== undefined) walk(res.json);
  for (const line of res.text.split('\n')) {
    if (line.startsWith('data: {')) walk(JSON.parse(line.slice(6)));
  }
  assert.deepEqual(keyRuns(decoded.join('\u0000')), [], `${what}: decoded JSON leaks the key: ${JSON.stringify(decoded)}`);
}

const send = (agent, body) => rawHttp(S.gw.port, buildRawRequest({ port: S.gw.port, token: tokens[agent], body: JSON.stringify(body) }));

test('a provider error echoing the key with JSON escapes or in part is scrubbed, and so are its headers', async () => {
  const res = await send('s-leak-error', { model: 'up/leak-error', messages: USER_MESSAGES });
  assert.equal(res.status, 400, res.text);
  assertOpenAIErrorBody(res.json, { code: 'invalid_api_key' });
  assert.match(res.json.error.message, /\[redacted\]/);
  assertNoKey(res, 'error');
  assert.match(res.headers['content-type'][0], /^application\/json/);
  // The operator learns that the provider echoes the key; the log does not hold it either.
  await S.gw.waitForLog(byMsg('provider key redacted from a provider answer', (l) => l.stretches >= 1));
});


test('a 200 body echoing the key is scrubbed', async () => {
  const res = await send('s-leak-200', { model: 'up/leak-200', messages: USER_MESSAGES });
  assert.equal(res.status, 200, res.text);
  assert.match(res.json.choices[0].message.content, /^plain \[redacted\] escaped \[redacted\] partial \[redacted\] end$/);
  assertNoKey(res, '200');
});

test('a stream echoing the key is scrubbed, also across read boundaries', async () => {
  const res = await send('s-leak-stream', { model: 'up/leak-stream', messages: USER_MESSAGES, stream: true });
  assert.equal(res.status, 200, res.text);
  assert.ok(res.text.includes('data: [DONE]'), res.text);
  assertNoKey(res, 'stream');
  const content = res.text.split('\n').filter((l) => l.startsWith('data: {'))
    .map((l) => JSON.parse(l.slice(6)).choices?.[0]?.delta?.content ?? '').join('');
  assert.equal(content, 'escaped [redacted] partial [redacted] plain [redacted] ');
});

test('502 and 504 messages name the ModelProvider, not its address; the log keeps the address', async () => {
  const down = await send('only-down', { model: 'down/gpt-4o-mini', messages: USER_MESSAGES });
  assert.equal(down.status, 502, down.text);
  assertOpenAIErrorBody(down.json, { code: 'upstream_error' });
  assert.doesNotMatch(down.json.error.message, new RegExp(`127\\.0\\.0\\.1|:${S.downPort}\\b`), down.json.error.message);
  assert.match(down.json.error.message, /ModelProvider (default\/)?down\b/);
  await S.gw.waitForLog((l) => JSON.stringify(l).includes(`127.0.0.1:${S.downPort}`), 5000);

  const slow = await send('s-slow', { model: 'up/slow', messages: USER_MESSAGES });
  assert.equal(slow.status, 504, slow.text);
  assert.doesNotMatch(slow.json.error.message, new RegExp(`127\\.0\\.0\\.1|:${S.upstream.port}\\b`), slow.json.error.message);
  assert.match(slow.json.error.message, /ModelProvider (default\/)?up\b/);
});

test('no gateway log line holds a run of the key', () => {
  S.gw.logs.forEach((line, i) => {
    const text = typeof line === 'string' ? line : JSON.stringify(line);
    assert.deepEqual(keyRuns(text), [], `log line ${i}: ${text}`);
  });
});
