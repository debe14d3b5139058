// End-to-end: SIGTERM drains in-flight streams, refuses new work, exits 0.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { slowStreamShortContent, SLOW_STREAM_SHORT_CHUNKS } from './upstream/openai_upstream.mjs';
import { byMsg } from './lib/gateway.mjs';
import { USER_MESSAGES, contentOf, rawHttp, buildRawRequest } from './lib/common.mjs';
import { startStack } from './lib/harness.mjs';

let S;
before(async () => { S = await startStack({ mintBefore: ['default/coder'] }); });
after(async () => { await S?.cleanup(); });

/** A fresh TCP connection + request: 'refused', or {status} of the response; throws otherwise. */
async function newConnectionAttempt(port, token) {
  const body = JSON.stringify({ model: 'up/gpt-4o-mini', messages: USER_MESSAGES });
  try {
    const res = await rawHttp(port, buildRawRequest({ port, token, body }), { timeoutMs: 5000 });
    return { status: res.status, text: res.text };
  } catch (err) {
    if (err.code === 'ECONNREFUSED') return 'refused';
    throw new Error(`new connection during drain was neither refused nor answered: ${err.message}`);
  }
}

test('m. SIGTERM: in-flight stream completes, new connections refused or 503, exit code 0', { timeout: 60000 }, async (t) => {
  const { gw, client } = S;
  const stream = await client.chat.completions.create({ model: 'up/slow-stream-short', messages: USER_MESSAGES, stream: true });
  const it = stream[Symbol.asyncIterator]();
  const chunks = [];
  const first = await it.next();
  assert.equal(first.done, false, 'expected a first chunk');
  chunks.push(first.value);

  const mark = gw.mark();
  gw.proc.kill('SIGTERM');
  await gw.waitForLog(byMsg('draining'), 5000, mark);

  // /readyz reports not-ready while draining (or the admin listener is already closed).
  let ready;
  try {
    const r = await fetch(`${gw.adminURL}/readyz`);
    await r.arrayBuffer();
    ready = r.status;
  } catch (err) {
    ready = err.cause?.code ?? err.message;
  }
  assert.ok(ready === 503 || ready === 'ECONNREFUSED', `/readyz during drain: ${ready}`);
  t.diagnostic(`/readyz during drain: ${ready}`);

  // A new connection after the drain started is refused, or answered 503.
  const attempt = await newConnectionAttempt(gw.port, S.token);
  assert.ok(attempt === 'refused' || attempt.status === 503,
    `new request during drain: expected refused or 503, got ${JSON.stringify(attempt)}`);
  t.diagnostic(`new connection during drain: ${attempt === 'refused' ? 'refused' : attempt.status}`);

  // The in-flight stream still completes fully.
  for (;;) {
    const n = await it.next();
    if (n.done) break;
    chunks.push(n.value);
  }
  const contentChunks = chunks.filter((c) => c.choices?.[0]?.delta?.content);
  assert.equal(contentChunks.length, SLOW_STREAM_SHORT_CHUNKS, 'all content chunks arrive');
  assert.equal(contentOf(chunks), slowStreamShortContent());
  assert.equal(chunks.filter((c) => c.choices.length > 0).at(-1).choices[0].finish_reason, 'stop',
    'the stream ends with finish_reason stop (not cut off)');

  const { code, signal } = await gw.waitExit(15000);
  assert.equal(signal, null, `gateway was killed by ${signal}`);
  assert.equal(code, 0, `exit code ${code}`);
  assert.ok(gw.logs.slice(mark).some(byMsg('stopped')), 'a "stopped" log line');
});
