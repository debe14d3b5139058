// End-to-end: malformed HTTP and invalid request bodies (raw HTTP over TCP, valid token).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { NORMAL_CONTENT } from './upstream/openai_upstream.mjs';
import { USER_MESSAGES, rawHttp, buildRawRequest, assertOpenAIErrorBody } from './lib/common.mjs';
import { startStack } from './lib/harness.mjs';

const MAX_BODY = 1024;
let S;
before(async () => { S = await startStack({ extraArgs: ['--max-body-bytes', String(MAX_BODY)] }); });
after(async () => { await S?.cleanup(); });

const req = (o) => buildRawRequest({ port: S.gw.port, token: S.token, ...o });
const send = (data) => rawHttp(S.gw.port, data);

/** If the response has a JSON body (or claims to), it must be an OpenAI error. */
function assertErrorShapeIfJSON(res, expected = {}) {
  const ct = (res.headers['content-type'] ?? []).join(',');
  if (ct.includes('json') || res.text.trim().startsWith('{')) {
    assert.ok(res.json !== undefined, `body is not valid JSON: ${JSON.stringify(res.text)}`);
    assertOpenAIErrorBody(res.json, expected);
  }
}

async function expectJSONError(data, status, expected = {}) {
  const res = await send(data);
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
  assert.match((res.headers['content-type'] ?? []).join(','), /application\/json/, 'error content-type');
  assert.ok(res.json !== undefined, `body is not JSON: ${JSON.stringify(res.text)}`);
  assertOpenAIErrorBody(res.json, expected);
  return res;
}

test('l1. malformed JSON → 400 invalid_json', async () => {
  const n0 = S.upstream.requests.length;
  await expectJSONError(req({ body: '{"model": "up/gpt-4o-mini", "messages": [' }), 400, { code: 'invalid_json' });
  await expectJSONError(req({ body: 'not json at all' }), 400, { code: 'invalid_json' });
  assert.equal(S.upstream.requests.length, n0);
});

test('l2. field errors → 400 naming the param', async () => {
  const n0 = S.upstream.requests.length;
  await expectJSONError(req({ body: JSON.stringify({ messages: USER_MESSAGES }) }), 400, { param: 'model' });
  await expectJSONError(req({ body: JSON.stringify({ model: 5, messages: USER_MESSAGES }) }), 400);
  await expectJSONError(req({ body: JSON.stringify({ model: 'up/gpt-4o-mini' }) }), 400, { param: 'messages' });
  await expectJSONError(req({ body: '[1,2,3]' }), 400);
  assert.equal(S.upstream.requests.length, n0);
});

test('l3. body over --max-body-bytes → 413', async () => {
  // A valid JSON body of exactly 4096 bytes.
  let body = JSON.stringify({ model: 'up/gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(4096 - 100) }] });
  body += ' '.repeat(4096 - Buffer.byteLength(body));
  assert.equal(Buffer.byteLength(body), 4096);
  const n0 = S.upstream.requests.length;
  const res = await send(req({ body }));
  assert.equal(res.status, 413, `got ${res.status}: ${res.text}`);
  assertErrorShapeIfJSON(res);
  assert.equal(S.upstream.requests.length, n0);

  // Same with a chunked body that exceeds the limit (no Content-Length to check up front).
  const head = req({ contentLength: false, headers: ['Transfer-Encoding: chunked'] });
  const chunked = Buffer.concat([head, Buffer.from(`${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`)]);
  const res2 = await send(chunked);
  assert.equal(res2.status, 413, `chunked: got ${res2.status}: ${res2.text}`);
  assertErrorShapeIfJSON(res2);
});

test('l4. 100 KiB header → 431', async () => {
  const res = await send(req({ body: JSON.stringify({ model: 'up/gpt-4o-mini', messages: USER_MESSAGES }), headers: [`X-Big: ${'a'.repeat(100 * 1024)}`] }));
  assert.equal(res.status, 431, `got ${res.status}: ${res.text}`);
  assertErrorShapeIfJSON(res);
});

test('l5. request smuggling guards: CL+TE and conflicting Content-Length → 400', async () => {
  const body = JSON.stringify({ model: 'up/gpt-4o-mini', messages: USER_MESSAGES });
  const n0 = S.upstream.requests.length;

  const clte = Buffer.concat([
    req({ contentLength: false, headers: [`Content-Length: ${Buffer.byteLength(body) + 10}`, 'Transfer-Encoding: chunked'] }),
    Buffer.from(`${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`),
  ]);
  const r1 = await send(clte);
  assert.equal(r1.status, 400, `CL+TE: got ${r1.status}: ${r1.text}`);
  assertErrorShapeIfJSON(r1);

  const twoCL = Buffer.concat([
    req({ contentLength: false, headers: [`Content-Length: ${Buffer.byteLength(body)}`, `Content-Length: ${Buffer.byteLength(body) - 5}`] }),
    Buffer.from(body),
  ]);
  const r2 = await send(twoCL);
  assert.equal(r2.status, 400, `two Content-Length: got ${r2.status}: ${r2.text}`);
  assertErrorShapeIfJSON(r2);

  assert.equal(S.upstream.requests.length, n0, 'ambiguous requests must not be forwarded');
});

test('l6. wrong method → 405, unknown route → 404', async () => {
  const body = JSON.stringify({ model: 'up/gpt-4o-mini', messages: USER_MESSAGES });
  const r1 = await send(req({ method: 'PUT', body }));
  assert.equal(r1.status, 405, `got ${r1.status}: ${r1.text}`);
  assertErrorShapeIfJSON(r1);
  const r2 = await send(req({ method: 'GET', path: '/v1/nope' }));
  assert.equal(r2.status, 404, `got ${r2.status}: ${r2.text}`);
  assertErrorShapeIfJSON(r2);
});

test('l7. a well-formed raw request still works on the same gateway, which is alive', async () => {
  assert.equal(S.gw.exitInfo, null, 'gateway must still be running');
  const res = await send(req({ body: JSON.stringify({ model: 'up/gpt-4o-mini', messages: USER_MESSAGES }) }));
  assert.equal(res.status, 200, `got ${res.status}: ${res.text}`);
  assert.equal(res.json.choices[0].message.content, NORMAL_CONTENT);
  const r = await S.client.chat.completions.create({ model: 'up/gpt-4o-mini', messages: USER_MESSAGES });
  assert.equal(r.choices[0].message.content, NORMAL_CONTENT);
});

test('l-smuggling. a non-chunked Transfer-Encoding (alone or with Content-Length) → 400', async () => {
  const body = JSON.stringify({ model: 'up/gpt-4o-mini', messages: USER_MESSAGES });
  const n0 = S.upstream.requests.length;
  await expectJSONError(req({ body, headers: ['Transfer-Encoding: gzip'] }), 400);
  await expectJSONError(req({ body, contentLength: false, headers: ['Transfer-Encoding: gzip'] }), 400);
  assert.equal(S.upstream.requests.length, n0);
});

test('l-preauth. an unauthenticated request is refused on its headers, before its body is read', async () => {
  // Declares a large body and waits for 100 Continue: the 401 must arrive without the body.
  const head = [
    'POST /v1/chat/completions HTTP/1.1', `Host: 127.0.0.1:${S.gw.port}`,
    'Content-Type: application/json', 'Content-Length: 900', 'Expect: 100-continue', '', '',
  ].join('\r\n');
  const res = await send(Buffer.from(head, 'latin1'));
  assert.equal(res.status, 401, `got ${res.status}: ${res.text}`);
  assertOpenAIErrorBody(res.json, { code: 'invalid_api_key' });
});

test('l-head. HEAD gets headers only', async () => {
  // Read the raw bytes until the gateway closes: nothing may follow the header block.
  const raw = await new Promise((resolve, reject) => {
    const sock = net.connect(S.gw.port, '127.0.0.1');
    const parts = [];
    sock.on('data', (d) => parts.push(d));
    sock.on('end', () => resolve(Buffer.concat(parts).toString('latin1')));
    sock.on('error', reject);
    sock.write(req({ method: 'HEAD', path: '/v1/models' }));
  });
  assert.match(raw, /^HTTP\/1\.1 405 /);
  assert.match(raw, /content-length: \d+/i, 'Content-Length of the body a GET would have had');
  assert.ok(raw.endsWith('\r\n\r\n'), `no body after the headers: ${JSON.stringify(raw.slice(-60))}`);
});
