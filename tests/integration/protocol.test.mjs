// End-to-end: HTTP protocol correctness towards clients (raw TCP) and validation of what a
// provider answers (302, non-JSON 200, JSON for a stream) before anything is relayed.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { NORMAL_CONTENT, startOpenAIUpstream } from './upstream/openai_upstream.mjs';
import {
  USER_MESSAGES, rawHttp, buildRawRequest, assertOpenAIErrorBody, expectAPIError, buildManifest, makeClient, paiDoc,
} from './lib/common.mjs';
import { startGateway, stopAllGateways, getClosedPort } from './lib/gateway.mjs';

// One agent per misbehaving model, so that no fallback hides the failure.
const BAD_MODELS = ['redirect-302', 'html-200', 'json-for-stream'];
let S;
const clients = {};
before(async () => {
  const upstream = await startOpenAIUpstream();
  const downURL = `http://127.0.0.1:${await getClosedPort()}/v1`;
  const manifest = buildManifest({ upstreamURL: upstream.url, downURL }) + BAD_MODELS.map((m) =>
    '---\n' + paiDoc('Agent', { name: `p-${m}`, namespace: 'default' }, { models: [`up/${m}`] })).join('');
  const gw = await startGateway({ manifest, mintBefore: ['default/coder', ...BAD_MODELS.map((m) => `default/p-${m}`)] });
  BAD_MODELS.forEach((m, i) => { clients[m] = { token: gw.tokens[i + 1], client: makeClient(gw.baseURL, gw.tokens[i + 1]) }; });
  S = { upstream, gw, token: gw.tokens[0], client: makeClient(gw.baseURL, gw.tokens[0]) };
});
after(async () => {
  await stopAllGateways();
  await S?.upstream.close();
});

const chatBody = (extra = {}) => JSON.stringify({ model: 'up/gpt-4o-mini', messages: USER_MESSAGES, ...extra });

/** A raw request head + body; `lines` are the request line and header lines, in order. */
function raw(lines, body) {
  const b = Buffer.from(body ?? '');
  const all = [...lines];
  if (body !== undefined) all.push('Content-Type: application/json', `Content-Length: ${b.length}`);
  all.push('Connection: close');
  return Buffer.concat([Buffer.from(all.join('\r\n') + '\r\n\r\n', 'latin1'), b]);
}

/** Sends `data` and returns every byte the gateway writes until it closes the connection. */
function readUntilClose(data) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(S.gw.port, '127.0.0.1');
    const parts = [];
    sock.on('data', (d) => parts.push(d));
    sock.on('end', () => resolve(Buffer.concat(parts).toString('latin1')));
    sock.on('error', reject);
    sock.write(data);
  });
}

async function expectError(data, status, code) {
  const n0 = S.upstream.requests.length;
  const res = await rawHttp(S.gw.port, data);
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
  assertOpenAIErrorBody(res.json, code ? { code } : {});
  assert.equal(S.upstream.requests.length, n0, 'the request must not reach the provider');
  return res;
}

test('an HTTP/1.0 client asking for a stream gets a close-delimited body, never chunked', async () => {
  const text = await readUntilClose(raw([
    'POST /v1/chat/completions HTTP/1.0', `Host: 127.0.0.1:${S.gw.port}`, `Authorization: Bearer ${S.token}`,
  ], chatBody({ stream: true })));
  const headEnd = text.indexOf('\r\n\r\n');
  const head = text.slice(0, headEnd);
  assert.match(head, /^HTTP\/1\.[01] 200 /);
  assert.doesNotMatch(head, /transfer-encoding/i, `no Transfer-Encoding towards HTTP/1.0: ${head}`);
  assert.match(head, /connection: close/i);
  const body = text.slice(headEnd + 4);
  assert.match(body, /^data: /, 'the body starts with the first event (no chunk size line)');
  assert.ok(body.endsWith('data: [DONE]\n\n'), `the body ends with [DONE]: ${JSON.stringify(body.slice(-40))}`);
  const content = body.split('\n').filter((l) => l.startsWith('data: {'))
    .map((l) => JSON.parse(l.slice(6)).choices?.[0]?.delta?.content ?? '').join('');
  assert.equal(content, NORMAL_CONTENT);
});

test('an absolute-form request target is routed on its path', async () => {
  const res = await rawHttp(S.gw.port, raw([
    `POST http://127.0.0.1:${S.gw.port}/v1/chat/completions HTTP/1.1`, `Host: 127.0.0.1:${S.gw.port}`,
    `Authorization: Bearer ${S.token}`,
  ], chatBody()));
  assert.equal(res.status, 200, `got ${res.status}: ${res.text}`);
  assert.equal(res.json.choices[0].message.content, NORMAL_CONTENT);
});

test('a missing or duplicate Host → 400', async () => {
  await expectError(raw(['POST /v1/chat/completions HTTP/1.1', `Authorization: Bearer ${S.token}`], chatBody()), 400);
  await expectError(raw([
    'POST /v1/chat/completions HTTP/1.1', 'Host: a.example', 'Host: b.example', `Authorization: Bearer ${S.token}`,
  ], chatBody()), 400);
});

test('Transfer-Encoding with a coding other than chunked → 501', async () => {
  const body = chatBody();
  const data = Buffer.concat([
    buildRawRequest({ port: S.gw.port, token: S.token, contentLength: false, headers: ['Transfer-Encoding: gzip, chunked'] }),
    Buffer.from(`${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`),
  ]);
  await expectError(data, 501);
});

test('two Authorization headers → 400', async () => {
  await expectError(buildRawRequest({
    port: S.gw.port, token: S.token, body: chatBody(), headers: [`Authorization: Bearer ${S.token}`],
  }), 400);
  await expectError(buildRawRequest({
    port: S.gw.port, token: S.token, body: chatBody(), headers: ['Authorization: Bearer other'],
  }), 400);
});

test('a provider redirect (302) → 502 upstream_error, not relayed', async () => {
  const { client, token } = clients['redirect-302'];
  const err = await expectAPIError(() => client.chat.completions.create({ model: 'up/redirect-302', messages: USER_MESSAGES }), 502);
  assert.equal(err.code, 'upstream_error');
  assert.equal(err.headers?.location, undefined, 'no Location relayed');
  const res = await rawHttp(S.gw.port, buildRawRequest({ port: S.gw.port, token, body: chatBody({ model: 'up/redirect-302' }) }));
  assert.equal(res.status, 502);
  assertOpenAIErrorBody(res.json, { code: 'upstream_error' });
});

test('a provider 200 that is not JSON → 502 upstream_error', async () => {
  const { token } = clients['html-200'];
  const res = await rawHttp(S.gw.port, buildRawRequest({ port: S.gw.port, token, body: chatBody({ model: 'up/html-200' }) }));
  assert.equal(res.status, 502, `got ${res.status}: ${res.text}`);
  assertOpenAIErrorBody(res.json, { code: 'upstream_error' });
  assert.doesNotMatch(res.text, /<html>/);
});

test('a provider answering a stream request with JSON → 502 upstream_error', async () => {
  const { client } = clients['json-for-stream'];
  const err = await expectAPIError(async () => {
    const stream = await client.chat.completions.create({ model: 'up/json-for-stream', messages: USER_MESSAGES, stream: true });
    for await (const _ of stream) { /* drain */ }
  }, 502);
  assert.equal(err.code, 'upstream_error');
  // The same model without a stream works: only the mismatch is refused.
  const ok = await client.chat.completions.create({ model: 'up/json-for-stream', messages: USER_MESSAGES });
  assert.equal(ok.choices[0].message.content, NORMAL_CONTENT);
});

test('request JSON with trailing content or malformed in members the gateway does not read → 400 invalid_json', async () => {
  const good = chatBody();
  const bad = [
    good + ' {"x":1}',
    good + '}',
    good + ' x',
    good.replace(/}$/, ',"temperature": tru}'),
    good.replace(/}$/, ',"metadata": {"a": [1,,2]}}'),
    good.replace(/}$/, ',"metadata": {"a": 01}}'),
    good.replace('"content":"Say hello"', '"content":"Say \\q hello"'),
    good.replace('"content":"Say hello"', '"content":"Say hello","name":nul'),
  ];
  for (const body of bad) {
    const res = await expectError(buildRawRequest({ port: S.gw.port, token: S.token, body }), 400, 'invalid_json');
    assert.ok(res, body);
  }
  for (const body of [
    JSON.stringify({ model: 'up/text-embedding-3-small', input: 'hi' }) + ' []',
    JSON.stringify({ model: 'up/text-embedding-3-small', input: ['a', 'b'], user: 'x' }).replace('"x"', '"x\\z"'),
  ]) {
    await expectError(buildRawRequest({ port: S.gw.port, token: S.token, path: '/v1/embeddings', body }), 400, 'invalid_json');
  }
  const responses = JSON.stringify({ model: 'up/gpt-4o-mini', input: 'hi' });
  await expectError(buildRawRequest({ port: S.gw.port, token: S.token, path: '/v1/responses', body: responses + ' 1' }), 400, 'invalid_json');
});
