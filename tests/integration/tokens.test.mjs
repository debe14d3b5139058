// End-to-end: token minting and revocation while the gateway runs (hot reload of the token file).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import OpenAI from 'openai';
import { NORMAL_CONTENT } from './upstream/openai_upstream.mjs';
import { byMsg, tokenId } from './lib/gateway.mjs';
import { USER_MESSAGES, makeClient, expectAPIError, assertOpenAIErrorObject } from './lib/common.mjs';
import { startStack, assertLogsClean } from './lib/harness.mjs';

let S;
before(async () => { S = await startStack({ mintBefore: ['default/coder'] }); });
after(async () => { await S?.cleanup(); });

const RELOAD_TIMEOUT_MS = 3000;
const chat = (client) => client.chat.completions.create({ model: 'up/gpt-4o-mini', messages: USER_MESSAGES });

test('i. mint while running → accepted after "tokens reloaded"; revoke → 401 after the next reload', { timeout: 30000 }, async () => {
  const { gw } = S;

  // The token minted before start works.
  assert.equal((await chat(S.client)).choices[0].message.content, NORMAL_CONTENT);

  let mark = gw.mark();
  const fresh = await gw.mintToken('default/coder');
  assert.match(fresh, /^pai_[^_]+_.+$/, 'token format pai_<id>_<secret>');
  assert.notEqual(fresh, S.token);
  await gw.waitForLog(byMsg('tokens reloaded'), RELOAD_TIMEOUT_MS, mark);

  const freshClient = makeClient(gw.baseURL, fresh);
  assert.equal((await chat(freshClient)).choices[0].message.content, NORMAL_CONTENT);

  const id = tokenId(fresh);
  assert.match(id, /^[0-9a-f]+$/, `token id ${id}`);
  mark = gw.mark();
  await gw.revokeToken(id);
  await gw.waitForLog(byMsg('tokens reloaded'), RELOAD_TIMEOUT_MS, mark);

  const err = await expectAPIError(() => chat(freshClient), 401);
  assert.ok(err instanceof OpenAI.AuthenticationError);
  assertOpenAIErrorObject(err.error, { code: 'invalid_api_key' });

  // Revoking one token leaves the others valid.
  assert.equal((await chat(S.client)).choices[0].message.content, NORMAL_CONTENT);

  assertLogsClean(gw, [S.token, fresh]);
});

test('i2. revoking an unknown token id fails (non-zero exit)', { timeout: 15000 }, async () => {
  await assert.rejects(S.gw.revokeToken('ffffffffffff'), /command failed/);
});

// One keep-alive connection of our own: requests written on the same socket, answers read one
// at a time (Content-Length framed). `closed` settles when the gateway closes it.
function keepAliveConnection(baseURL) {
  const u = new URL(baseURL);
  const sock = net.connect(Number(u.port), u.hostname);
  let buf = Buffer.alloc(0);
  const waiters = [];
  const closed = new Promise((resolve) => sock.on('close', resolve));
  sock.on('error', () => {});
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (waiters.length) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      const len = m ? Number(m[1]) : 0;
      if (buf.length < end + 4 + len) return;
      const body = buf.subarray(end + 4, end + 4 + len).toString();
      buf = buf.subarray(end + 4 + len);
      waiters.shift()({ status: Number(head.split(' ')[1]), body });
    }
  });
  return {
    closed,
    chat(token) {
      const body = JSON.stringify({ model: 'up/gpt-4o-mini', messages: USER_MESSAGES });
      sock.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: ${u.host}\r\nAuthorization: Bearer ${token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      return new Promise((resolve) => waiters.push(resolve));
    },
    close() { sock.destroy(); },
  };
}

// A connection checks a credential once per token-store snapshot (ProvenIdentity()): the token
// it proved last, revoked while the connection stays open, is refused on that connection's next
// request; switching tokens on one connection checks each.
test('i3. one keep-alive connection: tokens switched are each checked, a token revoked meanwhile is refused', { timeout: 30000 }, async () => {
  const { gw } = S;
  let mark = gw.mark();
  const fresh = await gw.mintToken('default/coder');
  await gw.waitForLog(byMsg('tokens reloaded'), RELOAD_TIMEOUT_MS, mark);

  const conn = keepAliveConnection(gw.baseURL);
  let closed = false;
  conn.closed.then(() => { closed = true; });
  try {
    assert.equal((await conn.chat(S.token)).status, 200);
    assert.equal((await conn.chat(fresh)).status, 200);
    assert.equal((await conn.chat(fresh)).status, 200);

    mark = gw.mark();
    await gw.revokeToken(tokenId(fresh));
    await gw.waitForLog(byMsg('tokens reloaded'), RELOAD_TIMEOUT_MS, mark);
    assert.equal(closed, false, 'the connection stayed open across the reload');
    const refused = await conn.chat(fresh);  // the token this connection proved last
    assert.equal(refused.status, 401);
    assert.equal(JSON.parse(refused.body).error.code, 'invalid_api_key');

    // A second connection: a wrong secret after a proven token is refused too.
    const other = keepAliveConnection(gw.baseURL);
    try {
      assert.equal((await other.chat(S.token)).status, 200);
      const wrong = S.token.slice(0, -1) + (S.token.endsWith('A') ? 'B' : 'A');  // same id, another secret
      assert.equal((await other.chat(wrong)).status, 401);
    } finally {
      other.close();
    }
  } finally {
    conn.close();
  }
  assertLogsClean(gw, [S.token, fresh]);
});
