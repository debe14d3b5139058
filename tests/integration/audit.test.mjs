// End-to-end: the gateway audit chain (docs/audit.md) — the records of each kind of call
// (checked independently: canonical encoding, HMACs, links), durable before the client sees
// success, nothing secret in them; GET /audit filters; GET /audit/verify and the offline
// `pai-gateway audit verify` against tampering; key files and rotation; --no-audit.
// The crash test is in audit_crash.test.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  PROMPT_TOKENS, COMPLETION_TOKENS, TOOL_NAME,
} from './upstream/openai_upstream.mjs';
import { PROVIDER_KEY, USER_MESSAGES, collect, contentOf, expectAPIError, WEATHER_TOOLS } from './lib/common.mjs';
import { startGateway, tokenSecret } from './lib/gateway.mjs';
import { NS, startBudgetStack, postChat, scrape, metricValue } from './lib/budget.mjs';
import {
  LLM_CALL_MEMBERS, TOOL_CALL_MEMBERS, BUDGET_MEMBERS, auditDir, chainPath, checkpointsPath,
  chainText, chainLines, readChain, readCheckpoints, readKeyFile, writeKeyFile,
  checkChainIndependently, adminGet, auditQuery, auditVerify, verifyOffline, assertVerifyShape,
  waitForRecord, recordsFor,
} from './lib/audit.mjs';

const MINI = 'up/gpt-4o-mini';
/** Asserts chain.jsonl already holds the LLM_CALL of `rid` (and returns the request's records). */
function assertDurableNow(stateDir, rid, what) {
  const recs = recordsFor(readChain(stateDir), rid);
  assert.ok(recs.some((r) => r.type === 'LLM_CALL'),
    `${what}: the client saw success before the LLM_CALL record of ${rid} was written`);
  return recs;
}

function assertLLMCall(rec, expected, what) {
  assert.equal(rec.type, 'LLM_CALL', what);
  const members = [...LLM_CALL_MEMBERS];
  if (expected.requested_model !== undefined) members.push('requested_model');
  if (expected.error_code !== undefined) members.push('error_code');
  assert.deepEqual(Object.keys(rec.detail).sort(), members.sort(), `${what}: detail members`);
  for (const [k, v] of Object.entries(expected)) {
    if (v === '*') continue;
    assert.deepEqual(rec.detail[k], v, `${what}: detail.${k} in ${JSON.stringify(rec)}`);
  }
  assert.ok(Number.isInteger(rec.detail.latency_ms) && rec.detail.latency_ms >= 0, `${what}: latency_ms`);
  assert.equal(typeof rec.detail.cost_usd, 'number', `${what}: cost_usd`);
}

test('audit 1. records of chat, stream, tool calls, embeddings, a refusal, a failure, a fallback: durable before success, canonical, signed, nothing secret', { timeout: 60000 }, async (t) => {
  const S = await startBudgetStack({
    providers: { up: { pricing: { 'gpt-4o-mini': { input: 0.15, output: 0.6 } } } },
    agents: {
      coder: { models: [MINI, 'up/tools', 'up/text-embedding-3-small'] },
      tiny: { models: [MINI], tokens: { maxPerDay: 5 } }, // below any request's input bound
      broken: { models: ['up/error-500'] },
      fb: { models: ['up/error-500', MINI] },
    },
  });
  t.after(() => S.cleanup());
  const { gw } = S;
  const sd = gw.stateDir;
  const client = S.client('coder');
  const secretPrompt = `audit-prompt-${randomBytes(8).toString('hex')}`;
  const messages = [{ role: 'user', content: secretPrompt }];
  const t0 = new Date().toISOString();

  // The key was created on first start: 256 bits, hex, mode 0600.
  const keyFile = path.join(auditDir(sd), 'key');
  const keyText = fs.readFileSync(keyFile, 'utf8');
  assert.match(keyText.trim(), /^[0-9a-f]{64}$/, 'the created key is 256 bits of hex');
  assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600, 'key file mode');
  const key = readKeyFile(keyFile);

  // 1. Chat, non-stream.
  const r1 = await client.chat.completions.create({ model: MINI, messages }).withResponse();
  const rid1 = r1.response.headers.get('x-request-id');
  assertDurableNow(sd, rid1, 'chat');

  // 2. Chat, stream (the SDK has read up to [DONE]).
  const r2 = await client.chat.completions.create({ model: MINI, messages, stream: true }).withResponse();
  const rid2 = r2.response.headers.get('x-request-id');
  const chunks2 = await collect(r2.data);
  assert.ok(contentOf(chunks2).length > 0);
  assertDurableNow(sd, rid2, 'stream');

  // 3. Tool call, non-stream.
  const r3 = await client.chat.completions.create({ model: 'up/tools', messages, tools: WEATHER_TOOLS }).withResponse();
  const rid3 = r3.response.headers.get('x-request-id');
  const callId3 = r3.data.choices[0].message.tool_calls[0].id;
  assert.ok(assertDurableNow(sd, rid3, 'tools').some((r) => r.type === 'TOOL_CALL'), 'TOOL_CALL durable before success');

  // 4. Tool call, streamed: the SDK assembles the call from the deltas.
  const s4 = client.chat.completions.stream({ model: 'up/tools', messages, tools: WEATHER_TOOLS });
  const final4 = await s4.finalChatCompletion();
  const callId4 = final4.choices[0].message.tool_calls[0].id;
  assert.match(callId4, /^call_/);
  const llm4 = readChain(sd).filter((r) => r.type === 'LLM_CALL' && r.detail.model === 'up/tools' && r.detail.stream === true);
  assert.equal(llm4.length, 1, 'the streamed tool call has its LLM_CALL once the SDK has [DONE]');
  const rid4 = llm4[0].detail.request_id;
  assert.ok(recordsFor(readChain(sd), rid4, 'TOOL_CALL').length === 1, 'streamed TOOL_CALL durable before [DONE]');

  // 5. Embeddings.
  const r5 = await client.embeddings.create({ model: 'up/text-embedding-3-small', input: secretPrompt }).withResponse();
  const rid5 = r5.response.headers.get('x-request-id');
  assertDurableNow(sd, rid5, 'embeddings');

  // 6. A budget refusal (not admitted: BUDGET_EXCEEDED only, recorded without waiting).
  const e6 = await expectAPIError(() => S.client('tiny').chat.completions.create({ model: MINI, messages }), 429);
  const rid6 = e6.headers.get('x-request-id');
  await waitForRecord(sd, (r) => r.type === 'BUDGET_EXCEEDED' && r.detail.request_id === rid6, 10000, 'BUDGET_EXCEEDED');

  // 7. A failure (recorded without waiting).
  const r7 = await postChat(gw, S.tokens.broken, { model: 'up/error-500', messages });
  assert.ok(r7.status >= 500, `${r7.status} ${r7.text}`);
  await waitForRecord(sd, (r) => r.type === 'LLM_CALL' && r.detail.request_id === r7.rid, 10000, 'the failed call\'s LLM_CALL');

  // 8. A fallback: error-500 fails, gpt-4o-mini serves.
  const r8 = await S.client('fb').chat.completions.create({ model: 'up/error-500', messages }).withResponse();
  const rid8 = r8.response.headers.get('x-request-id');
  assert.equal(r8.data.model, 'gpt-4o-mini');
  assertDurableNow(sd, rid8, 'fallback');

  // The whole chain: exactly these records, in this order, checked independently.
  const recs = checkChainIndependently(sd, [key]);
  const summary = recs.map((r) => `${r.type}:${r.detail.request_id}`);
  assert.deepEqual(summary, [
    `LLM_CALL:${rid1}`, `LLM_CALL:${rid2}`, `LLM_CALL:${rid3}`, `TOOL_CALL:${rid3}`,
    `LLM_CALL:${rid4}`, `TOOL_CALL:${rid4}`, `LLM_CALL:${rid5}`, `BUDGET_EXCEEDED:${rid6}`,
    `LLM_CALL:${r7.rid}`, `LLM_CALL:${rid8}`,
  ], 'records');
  assert.ok(new Set([rid1, rid2, rid3, rid4, rid5, rid6, r7.rid, rid8]).size === 8, 'distinct request ids');
  for (const r of recs) {
    assert.equal(r.key_id, key.id, 'key_id is the first 8 hex digits of SHA-256(key)');
    assert.equal(r.namespace, NS);
    assert.equal(r.source_seq, r.seq, 'a single writer: source_seq = seq');
    assert.ok(r.time >= t0.slice(0, 23), `record time ${r.time} before the test started ${t0}`);
  }
  const byAgent = (i) => recs[i].agent;
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map(byAgent), Array(7).fill('coder'));
  assert.equal(byAgent(7), 'tiny');
  assert.equal(byAgent(8), 'broken');
  assert.equal(byAgent(9), 'fb');

  const chat = { route: '/v1/chat/completions', provider: 'up', input_tokens: PROMPT_TOKENS, output_tokens: COMPLETION_TOKENS, cached_tokens: 0, usage_reported: true, charged_tokens: PROMPT_TOKENS + COMPLETION_TOKENS, status: 200, fallback_used: false };
  assertLLMCall(recs[0], { ...chat, request_id: rid1, model: MINI, stream: false }, 'chat');
  assertLLMCall(recs[1], { ...chat, request_id: rid2, model: MINI, stream: true }, 'stream');
  assertLLMCall(recs[2], { ...chat, request_id: rid3, model: 'up/tools', stream: false }, 'tools');
  assertLLMCall(recs[4], { ...chat, request_id: rid4, model: 'up/tools', stream: true }, 'tools stream');
  // Priced model: 11 in at $0.15/M + 5 out at $0.6/M (a double that needs the %.15g encoding).
  assert.ok(Math.abs(recs[0].detail.cost_usd - (11 * 0.15 + 5 * 0.6) / 1e6) < 1e-12, `cost_usd ${recs[0].detail.cost_usd}`);
  assert.equal(recs[2].detail.cost_usd, 0, 'unpriced model');
  const embedTokens = Math.ceil(secretPrompt.length / 4);
  assert.equal(r5.data.usage.prompt_tokens, embedTokens);
  assertLLMCall(recs[6], {
    request_id: rid5, route: '/v1/embeddings', model: 'up/text-embedding-3-small', provider: 'up',
    input_tokens: embedTokens, output_tokens: 0, cached_tokens: 0, usage_reported: true, charged_tokens: embedTokens,
    status: 200, stream: false, fallback_used: false,
  }, 'embeddings');
  assertLLMCall(recs[8], {
    request_id: r7.rid, route: '/v1/chat/completions', model: 'up/error-500', provider: 'up',
    status: r7.status, stream: false, fallback_used: false, error_code: r7.json?.error?.code ?? '*',
  }, 'failure');
  assert.ok(typeof recs[8].detail.error_code === 'string' && recs[8].detail.error_code.length > 0, 'error_code');
  assertLLMCall(recs[9], {
    ...chat, request_id: rid8, model: MINI, stream: false, fallback_used: true, requested_model: 'up/error-500',
  }, 'fallback');

  for (const [i, rid, callId] of [[3, rid3, callId3], [5, rid4, callId4]]) {
    const tc = recs[i];
    assert.deepEqual(Object.keys(tc.detail).sort(), [...TOOL_CALL_MEMBERS].sort(), 'TOOL_CALL detail members');
    assert.deepEqual(tc.detail, { request_id: rid, model: 'up/tools', tool_name: TOOL_NAME, call_id: callId, choice: 0, index: 0 },
      'TOOL_CALL detail (call_id is the id the client saw)');
  }
  const be = recs[7];
  assert.deepEqual(Object.keys(be.detail).sort(), [...BUDGET_MEMBERS].sort(), 'BUDGET_EXCEEDED detail members');
  assert.equal(be.detail.limit, 'tokens_per_day');
  assert.equal(be.detail.limit_value, 5);
  assert.equal(be.detail.used, 0);
  assert.ok(be.detail.requested > 10, `requested ${be.detail.requested}`);
  assert.equal(be.detail.model, MINI);
  assert.equal(be.detail.provider, 'up');

  // Nothing secret on disk: no prompt, no agent token, no provider key, no key.
  const onDisk = chainText(sd) + fs.readFileSync(checkpointsPath(sd), 'utf8');
  assert.ok(!onDisk.includes(secretPrompt), 'the prompt text is in the audit files');
  assert.ok(!onDisk.includes('Paris') && !onDisk.includes('Hello from'), 'tool arguments / completion text in the audit files');
  assert.ok(!onDisk.includes(PROVIDER_KEY), 'the provider key is in the audit files');
  for (const tok of Object.values(S.tokens)) {
    assert.ok(!onDisk.includes(tokenSecret(tok)), 'an agent token is in the audit files');
  }
  assert.ok(!onDisk.includes(keyText.trim()), 'the HMAC key is in the audit files');

  // The gateway agrees: /audit is the chain, /audit/verify is ok, the metrics say so.
  assert.deepEqual(await auditQuery(gw), recs);
  const v = await auditVerify(gw);
  assertVerifyShape(v, '/audit/verify');
  assert.equal(v.ok, true, JSON.stringify(v));
  assert.equal(v.records, recs.length);
  assert.equal(v.first_bad_seq, null);
  assert.equal(v.reason, null);
  assert.equal(v.torn_tail, false);
  assert.ok(v.checkpoint_seq <= recs.length, `checkpoint_seq ${v.checkpoint_seq}`);
  const m = await scrape(gw);
  assert.equal(metricValue(m, 'pai_gateway_audit_durable_seq'), recs.length, 'durable seq after the last success');
  assert.equal(metricValue(m, 'pai_gateway_audit_healthy'), 1);
  // Every successful admitted call waited once (6 of them).
  assert.ok(metricValue(m, 'pai_gateway_audit_wait_seconds_count') >= 6, 'audit wait observed per success');
  const ready = await adminGet(gw, '/readyz');
  assert.equal(ready.status, 200);
});

test('audit 2. GET /audit: agent, type, limit (after filtering, newest first then oldest first), since, format; bad parameters are 400', { timeout: 60000 }, async (t) => {
  const S = await startBudgetStack({
    agents: {
      alpha: { models: [MINI, 'up/tools'] },
      beta: { models: [MINI] },
      tiny: { models: [MINI], tokens: { maxPerDay: 5 } }, // below any request's input bound
    },
  });
  t.after(() => S.cleanup());
  const { gw } = S;
  const sd = gw.stateDir;
  const ok = async (agent, model = MINI) => {
    const r = await postChat(gw, S.tokens[agent], { model, messages: USER_MESSAGES });
    assert.equal(r.status, 200, r.text);
  };
  await ok('alpha'); // 1 LLM alpha
  await ok('beta'); // 2 LLM beta
  await ok('alpha', 'up/tools'); // 3 LLM alpha, 4 TOOL alpha
  const refused = await postChat(gw, S.tokens.tiny, { model: MINI, messages: USER_MESSAGES });
  assert.equal(refused.status, 429);
  await waitForRecord(sd, (r) => r.type === 'BUDGET_EXCEEDED' && r.detail.request_id === refused.rid); // 5
  await ok('beta'); // 6 LLM beta
  await ok('alpha'); // 7 LLM alpha

  const all = readChain(sd);
  assert.deepEqual(all.map((r) => `${r.seq}:${r.agent}:${r.type}`), [
    '1:alpha:LLM_CALL', '2:beta:LLM_CALL', '3:alpha:LLM_CALL', '4:alpha:TOOL_CALL',
    '5:tiny:BUDGET_EXCEEDED', '6:beta:LLM_CALL', '7:alpha:LLM_CALL',
  ]);
  const seqs = async (params) => (await auditQuery(gw, params)).map((r) => r.seq);

  assert.deepEqual(await auditQuery(gw), all, 'no filter: every record, as stored');
  // agent: name or namespace/name.
  assert.deepEqual(await seqs({ agent: 'alpha' }), [1, 3, 4, 7]);
  assert.deepEqual(await seqs({ agent: `${NS}/alpha` }), [1, 3, 4, 7]);
  assert.deepEqual(await seqs({ agent: 'beta' }), [2, 6]);
  assert.deepEqual(await seqs({ agent: 'elsewhere/alpha' }), []);
  assert.deepEqual(await seqs({ agent: 'alph' }), [], 'agent is not a substring match');
  // type: comma-separated case-insensitive substrings.
  assert.deepEqual(await seqs({ type: 'llm,budget' }), [1, 2, 3, 5, 6, 7]);
  assert.deepEqual(await seqs({ type: 'TOOL' }), [4]);
  assert.deepEqual(await seqs({ type: 'Call' }), [1, 2, 3, 4, 6, 7]);
  assert.deepEqual(await seqs({ type: 'exceeded' }), [5]);
  assert.deepEqual(await seqs({ type: 'guard' }), []);
  // limit: the newest N matches, oldest first; filters apply first.
  assert.deepEqual(await seqs({ limit: '2' }), [6, 7]);
  assert.deepEqual(await seqs({ limit: '1' }), [7]);
  assert.deepEqual(await seqs({ agent: 'beta', limit: '1' }), [6]);
  assert.deepEqual(await seqs({ type: 'tool', limit: '1' }), [4]);
  assert.deepEqual(await seqs({ agent: 'alpha', type: 'llm', limit: '2' }), [3, 7]);
  assert.deepEqual(await seqs({ limit: '100000' }), [1, 2, 3, 4, 5, 6, 7]);
  // since: an RFC 3339 time or a duration.
  const future = new Date(Date.now() + 86400000).toISOString();
  assert.deepEqual(await seqs({ since: future }), [], 'since in the future');
  assert.deepEqual(await seqs({ since: '1h' }), [1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(await seqs({ since: '90s', agent: 'beta' }), [2, 6]);
  const past = new Date(Date.now() - 3600000).toISOString();
  assert.deepEqual(await seqs({ since: past }), [1, 2, 3, 4, 5, 6, 7]);
  const cut = all[4].time; // the refusal's time: it and everything after (records are in time order)
  assert.deepEqual(await seqs({ since: cut }), all.filter((r) => r.time >= cut).map((r) => r.seq));
  assert.ok((await seqs({ since: cut })).includes(5));
  assert.deepEqual(await seqs({ since: cut, type: 'llm', limit: '1' }), [7]);
  // format.
  assert.deepEqual(await auditQuery(gw, { format: 'json', agent: 'beta' }), all.filter((r) => r.agent === 'beta'));
  const jl = await adminGet(gw, '/audit?format=jsonl&type=llm');
  assert.equal(jl.status, 200, jl.text);
  assert.match(jl.contentType, /^application\/x-ndjson/);
  assert.ok(jl.text.endsWith('\n'), 'jsonl ends with a newline');
  assert.deepEqual(jl.text.trimEnd().split('\n').map((l) => JSON.parse(l)), all.filter((r) => r.type === 'LLM_CALL'));
  const empty = await adminGet(gw, `/audit?format=jsonl&since=${encodeURIComponent(future)}`);
  assert.equal(empty.status, 200);
  assert.equal(empty.text, '');

  // Bad parameters: 400 with a JSON error.
  for (const q of ['limit=0', 'limit=-1', 'limit=abc', 'limit=100001', 'limit=2.5', 'since=yesterday',
    'since=2026-13-45T00:00:00Z', 'since=1x', 'format=xml', 'format=csv']) {
    const r = await adminGet(gw, `/audit?${q}`);
    assert.equal(r.status, 400, `/audit?${q}: ${r.status} ${r.text}`);
    assert.equal(typeof r.json?.error?.message, 'string', `/audit?${q}: JSON error body: ${r.text}`);
  }
});

test('audit 3. offline verify after SIGTERM: intact, final checkpoint; tampered copies (edit, deletion, swap, truncation, wrong key) are caught', { timeout: 60000 }, async (t) => {
  const S = await startBudgetStack({ agents: { coder: { models: [MINI, 'up/tools'] } } });
  t.after(() => S.cleanup());
  const { gw } = S;
  const client = S.client('coder');
  await client.chat.completions.create({ model: MINI, messages: USER_MESSAGES });
  await collect(await client.chat.completions.create({ model: MINI, messages: USER_MESSAGES, stream: true }));
  await client.chat.completions.create({ model: 'up/tools', messages: USER_MESSAGES, tools: WEATHER_TOOLS });
  await client.chat.completions.create({ model: MINI, messages: USER_MESSAGES, max_tokens: 3 });
  assert.equal(await gw.stop('SIGTERM'), 0, 'exit code after SIGTERM');

  const sd = gw.stateDir;
  const key = readKeyFile(path.join(auditDir(sd), 'key'));
  const recs = checkChainIndependently(sd, [key]);
  assert.equal(recs.length, 5);
  assert.deepEqual(recs.map((r) => r.type), ['LLM_CALL', 'LLM_CALL', 'LLM_CALL', 'TOOL_CALL', 'LLM_CALL']);

  // The clean shutdown wrote a checkpoint of the head, signed like the records.
  const cps = readCheckpoints(sd);
  assert.ok(cps.length >= 1, 'at least one checkpoint');
  const last = cps.at(-1);
  assert.deepEqual(Object.keys(last), ['seq', 'head_mac', 'time', 'key_id', 'mac']);
  assert.equal(last.seq, 5);
  assert.equal(last.head_mac, recs[4].mac);
  assert.equal(last.key_id, key.id);
  const cpCanonical = `{"seq":${last.seq},"head_mac":${JSON.stringify(last.head_mac)},"time":${JSON.stringify(last.time)},"key_id":${JSON.stringify(last.key_id)}}`;
  assert.equal(createHmac('sha256', key.bytes).update(cpCanonical).digest('hex'), last.mac, 'checkpoint MAC');

  const good = await verifyOffline(sd);
  assert.equal(good.code, 0, `${good.stdout}${good.stderr}`);
  assert.ok(good.json, `stdout is JSON: ${good.stdout}`);
  assertVerifyShape(good.json, 'audit verify');
  assert.deepEqual(good.json, { ok: true, records: 5, first_bad_seq: null, reason: null, checkpoint_seq: 5, torn_tail: false });

  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'pai-audit-tamper-'));
  t.after(() => fsp.rm(tmp, { recursive: true, force: true }));
  let n = 0;
  /** A copy of the state dir with chain.jsonl's lines transformed by `edit`; returns the verify result. */
  const tampered = async (edit, keyFiles) => {
    const dir = path.join(tmp, `copy${n++}`);
    fs.cpSync(sd, dir, { recursive: true });
    if (edit) {
      const lines = chainLines(dir);
      fs.writeFileSync(chainPath(dir), edit(lines).map((l) => `${l}\n`).join(''));
    }
    return verifyOffline(dir, keyFiles?.(dir));
  };
  const expectBroken = (res, firstBad, what) => {
    assert.equal(res.code, 1, `${what}: exit code; ${res.stdout}${res.stderr}`);
    assert.ok(res.json, `${what}: stdout is JSON: ${res.stdout}`);
    assertVerifyShape(res.json, what);
    assert.equal(res.json.ok, false, what);
    assert.equal(res.json.first_bad_seq, firstBad, `${what}: ${res.stdout}`);
    assert.equal(typeof res.json.reason, 'string', what);
  };

  // The untouched copy verifies (the copy itself is not what breaks it).
  assert.equal((await tampered(null)).code, 0);
  // One detail value changed in record 2.
  expectBroken(await tampered((ls) => {
    assert.ok(ls[1].includes('"output_tokens":5'));
    ls[1] = ls[1].replace('"output_tokens":5', '"output_tokens":4');
    return ls;
  }), 2, 'edited detail');
  // One detail value changed in the last record (only the MAC can tell).
  expectBroken(await tampered((ls) => {
    assert.ok(ls[4].includes('"input_tokens":11'));
    ls[4] = ls[4].replace('"input_tokens":11', '"input_tokens":1');
    return ls;
  }), 5, 'edited last record');
  // A record deleted.
  expectBroken(await tampered((ls) => ls.filter((_, i) => i !== 2)), 3, 'deleted record');
  // Two records swapped.
  expectBroken(await tampered((ls) => [ls[0], ls[2], ls[1], ls[3], ls[4]]), 2, 'swapped records');
  // The last two records deleted, the checkpoint kept: truncation.
  expectBroken(await tampered((ls) => ls.slice(0, 3)), 4, 'truncated chain');
  // A wrong key.
  expectBroken(await tampered(null, (dir) => [writeKeyFile(dir, 'wrong.key').file]), 1, 'wrong key');
  // Several keys: all verify.
  const both = await tampered(null, (dir) => [writeKeyFile(dir, 'other.key').file, path.join(auditDir(dir), 'key')]);
  assert.equal(both.code, 0, `${both.stdout}${both.stderr}`);

  // A member added to record 3; (another copy) a member removed (the reason names it in quotes).
  expectBroken(await tampered((ls) => {
    ls[2] = ls[2].replace('"source":"gateway",', '"source":"gateway","extra":1,');
    return ls;
  }), 3, 'record with an extra member');
  expectBroken(await tampered((ls) => {
    ls[2] = ls[2].replace(/"time":"[^"]*",/, '');
    return ls;
  }), 3, 'record without "time"');

  // The gateway starts again on the untouched dir and its /audit/verify agrees.
  await S.restart();
  const v = await auditVerify(S.gw);
  assert.deepEqual(v, { ok: true, records: 5, first_bad_seq: null, reason: null, checkpoint_seq: 5, torn_tail: false });
});

test('audit 4. --audit-key-file signs; a second start with a new key first keeps the old one verifiable (rotation); a short key is refused', { timeout: 60000 }, async (t) => {
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'pai-audit-keys-'));
  t.after(() => fsp.rm(tmp, { recursive: true, force: true }));
  const k1 = writeKeyFile(tmp, 'k1');
  const k2 = writeKeyFile(tmp, 'k2');
  const S = await startBudgetStack({ agents: { coder: { models: [MINI] } }, extraArgs: ['--audit-key-file', k1.file] });
  t.after(() => S.cleanup());
  const sd = S.gw.stateDir;
  const call = async (gw) => {
    const r = await postChat(gw, S.tokens.coder, { model: MINI, messages: USER_MESSAGES });
    assert.equal(r.status, 200, r.text);
    return r.rid;
  };
  const ridA = await call(S.gw);
  assert.ok(!fs.existsSync(path.join(auditDir(sd), 'key')), 'no key is created when --audit-key-file is given');
  assert.equal(await S.gw.stop('SIGTERM'), 0);

  const gw2 = await startGateway({ reuse: S.gw, extraArgs: ['--audit-key-file', k2.file, '--audit-key-file', k1.file] });
  t.after(() => gw2.stop('SIGKILL', 5000));
  const ridB = await call(gw2);
  const recs = checkChainIndependently(sd, [k1, k2]);
  assert.deepEqual(recs.map((r) => [r.detail.request_id, r.key_id]), [[ridA, k1.id], [ridB, k2.id]],
    'the first key file signs');
  assert.equal(recs[1].prev_mac, recs[0].mac, 'the chain continues across the restart');
  const v = await auditVerify(gw2);
  assert.equal(v.ok, true, JSON.stringify(v));
  assert.equal(v.records, 2);
  assert.equal(await gw2.stop('SIGTERM'), 0);

  assert.equal((await verifyOffline(sd, [k2.file, k1.file])).code, 0);
  assert.equal((await verifyOffline(sd, [k1.file, k2.file])).code, 0);
  const onlyNew = await verifyOffline(sd, [k2.file]);
  assert.equal(onlyNew.code, 1, onlyNew.stdout);
  assert.equal(onlyNew.json?.first_bad_seq, 1);
  const onlyOld = await verifyOffline(sd, [k1.file]);
  assert.equal(onlyOld.code, 1, onlyOld.stdout);
  assert.equal(onlyOld.json?.first_bad_seq, 2);

  // A key shorter than 256 bits: the gateway refuses to start.
  const short = path.join(tmp, 'short');
  fs.writeFileSync(short, `${randomBytes(16).toString('hex')}\n`);
  await assert.rejects(startGateway({ reuse: gw2, extraArgs: ['--audit-key-file', short], startTimeoutMs: 15000 }),
    /audit key/);
});

test('audit 5. --no-audit: no chain files, /audit and /audit/verify are 404, calls work', { timeout: 60000 }, async (t) => {
  const S = await startBudgetStack({ agents: { coder: { models: [MINI] } }, extraArgs: ['--no-audit'] });
  t.after(() => S.cleanup());
  const r = await postChat(S.gw, S.tokens.coder, { model: MINI, messages: USER_MESSAGES });
  assert.equal(r.status, 200, r.text);
  const r2 = await postChat(S.gw, S.tokens.coder, { model: MINI, messages: USER_MESSAGES, stream: true });
  assert.equal(r2.status, 200);
  assert.ok(r2.text.includes('data: [DONE]'));
  for (const p of ['/audit', '/audit/verify', '/audit?type=llm']) {
    const a = await adminGet(S.gw, p);
    assert.equal(a.status, 404, `${p}: ${a.status} ${a.text}`);
  }
  assert.equal((await adminGet(S.gw, '/readyz')).status, 200);
  assert.equal(await S.gw.stop('SIGTERM'), 0);
  const dir = auditDir(S.gw.stateDir);
  const files = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
  assert.deepEqual(files, [], `--no-audit created ${files.join(', ')} in ${dir}`);
});
