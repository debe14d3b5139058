// End-to-end: token minting and revocation while the gateway runs (hot reload of the token file).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
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
