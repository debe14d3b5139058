// End-to-end: Sessions on the gateway side (docs/sessions.md) — the official OpenAI SDK against
// the real pai-gateway with the in-process `mock` provider (no upstream):
//   - the mock's tool script drives a streamed tool loop: write → bash → answer, the tools run
//     for real in a temporary workspace;
//   - a token minted with a session (tokens.json "session") is attributed: `session` in the
//     LLM_CALL / TOOL_CALL / BUDGET_EXCEEDED records and the access log, per-session totals in
//     GET /usage "sessions"; an Agent's own token carries none;
//   - all Sessions of an Agent share its budget ("loop forever" runs it out).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { startGateway, stopAllGateways, byMsg } from './lib/gateway.mjs';
import { makeClient, expectAPIError, assertOpenAIErrorObject } from './lib/common.mjs';
import { assertLogsClean, waitForAccess } from './lib/harness.mjs';
import { adminGet, auditQuery, auditVerify, readChain, waitForRecord, recordsFor } from './lib/audit.mjs';

const MODEL = 'mock/gpt-4o-mini';
const LOOP_BUDGET = 2500; // tokens.maxPerDay of the looper agent

const MANIFEST = `apiVersion: pai.io/v1
kind: ModelProvider
metadata: {name: mock}
spec: {provider: mock}
---
apiVersion: pai.io/v1
kind: Agent
metadata: {name: coder, namespace: default}
spec: {models: [${MODEL}]}
---
apiVersion: pai.io/v1
kind: Agent
metadata: {name: looper, namespace: team}
spec: {models: [${MODEL}], tokens: {maxPerDay: ${LOOP_BUDGET}}}
`;

// The tools a coding harness offers (OpenAI function tools).
const TOOLS = [
  {
    type: 'function',
    function: {
      name: 'write',
      description: 'Write a file in the workspace',
      parameters: {
        type: 'object',
        properties: { path: { type: 'string' }, content: { type: 'string' } },
        required: ['path', 'content'],
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'bash',
      description: 'Run a shell command in the workspace',
      parameters: { type: 'object', properties: { command: { type: 'string' } }, required: ['command'] },
    },
  },
];

let gw;
let ownToken; // default/coder, no session
const sessionTokens = {}; // name -> token

/** A token record as MintToken(state_dir, agent, session) writes it (src/auth/token_store.h). */
function tokenRecord(agent, session) {
  const id = randomBytes(6).toString('hex');
  const token = `pai_${id}_${randomBytes(32).toString('base64url')}`;
  const rec = { id, agent, sha256: createHash('sha256').update(token).digest('hex'), created: new Date().toISOString() };
  if (session) rec.session = session;
  return { token, rec };
}

before(async () => {
  gw = await startGateway({ manifest: MANIFEST, mintBefore: ['default/coder'] });
  ownToken = gw.tokens[0];
  // Session tokens go into the token file the way pai-server's MintToken(dir, agent, session)
  // writes them: the gateway picks them up on its token-file reload.
  const file = path.join(gw.stateDir, 'tokens.json');
  const doc = JSON.parse(await fsp.readFile(file, 'utf8'));
  for (const [name, agent, session] of [
    ['one', 'default/coder', 'fix-bug-1'],
    ['two', 'default/coder', 'fix-bug-2'],
    ['loopA', 'team/looper', 'loop-a'],
    ['loopB', 'team/looper', 'loop-b'],
  ]) {
    const { token, rec } = tokenRecord(agent, session);
    sessionTokens[name] = token;
    doc.tokens.push(rec);
  }
  const mark = gw.mark();
  await fsp.writeFile(`${file}.tmp`, JSON.stringify(doc));
  await fsp.rename(`${file}.tmp`, file);
  await gw.waitForLog(byMsg('tokens reloaded', (l) => l.tokens === 5), 5000, mark);
});
after(async () => { await stopAllGateways(); });

/** Streams one turn with the SDK; returns {message, finish, chunks, toolChunks, usage, rid}. */
async function streamTurn(client, messages) {
  const { data: stream, response } = await client.chat.completions.create({
    model: MODEL, messages, tools: TOOLS, stream: true, stream_options: { include_usage: true },
  }).withResponse();
  assert.equal(response.status, 200);
  const message = { role: 'assistant', content: '', tool_calls: [] };
  let finish = null;
  let usage = null;
  const toolChunks = [];
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    if (choice.finish_reason) finish = choice.finish_reason;
    const d = choice.delta ?? {};
    if (typeof d.content === 'string') message.content += d.content;
    for (const tc of d.tool_calls ?? []) {
      toolChunks.push(tc);
      const slot = (message.tool_calls[tc.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } });
      if (tc.id) slot.id = tc.id;
      if (tc.type) slot.type = tc.type;
      if (tc.function?.name) slot.function.name += tc.function.name;
      if (tc.function?.arguments) slot.function.arguments += tc.function.arguments;
    }
  }
  if (message.tool_calls.length === 0) delete message.tool_calls;
  else message.content = null;
  return { message, finish, chunks, toolChunks, usage, rid: response.headers.get('x-request-id') };
}

/** Runs a tool call for real in `dir`. */
function runTool(dir, call) {
  const args = JSON.parse(call.function.arguments);
  if (call.function.name === 'write') {
    fs.writeFileSync(path.join(dir, args.path), args.content);
    return `wrote ${Buffer.byteLength(args.content)} bytes to ${args.path}`;
  }
  if (call.function.name === 'bash') {
    return execFileSync('/bin/sh', ['-c', args.command], { cwd: dir, encoding: 'utf8' });
  }
  throw new Error(`unknown tool ${call.function.name}`);
}

test('a streamed tool loop with the SDK: write → bash → answer, attributed to the session', { timeout: 60000 }, async () => {
  const client = makeClient(gw.baseURL, sessionTokens.one);
  const workspace = await fsp.mkdtemp(path.join(os.tmpdir(), 'pai-sess-ws-'));
  try {
    const messages = [
      { role: 'system', content: 'You are a coding agent.' },
      { role: 'user', content: 'Create hello.txt and show me it.' },
    ];
    const turns = [];
    for (let i = 0; i < 5; i++) {
      const turn = await streamTurn(client, messages);
      turns.push(turn);
      messages.push(turn.message);
      if (turn.finish !== 'tool_calls') break;
      // OpenAI's streamed tool call: the first delta names it, the arguments follow in pieces.
      assert.ok(turn.toolChunks.length >= 2, `tool call in ${turn.toolChunks.length} chunks`);
      assert.ok(turn.toolChunks[0].id && turn.toolChunks[0].function.name, 'first delta: id and name');
      assert.equal(turn.toolChunks[0].type, 'function');
      assert.equal(turn.toolChunks[0].function.arguments, '');
      assert.ok(turn.toolChunks.slice(1).every((c) => !c.id && c.function.arguments), 'then argument fragments');
      assert.ok(turn.usage && turn.usage.completion_tokens > 0, 'usage chunk');
      for (const call of turn.message.tool_calls) {
        messages.push({ role: 'tool', tool_call_id: call.id, content: runTool(workspace, call) });
      }
    }
    assert.deepEqual(turns.map((t) => t.finish), ['tool_calls', 'tool_calls', 'stop']);
    assert.deepEqual(turns.slice(0, 2).map((t) => t.message.tool_calls[0].function.name), ['write', 'bash']);
    assert.deepEqual(JSON.parse(turns[0].message.tool_calls[0].function.arguments),
      { path: 'hello.txt', content: 'Hello from Pai!\n' });
    assert.deepEqual(JSON.parse(turns[1].message.tool_calls[0].function.arguments),
      { command: 'cat hello.txt && ls -l' });
    assert.equal(fs.readFileSync(path.join(workspace, 'hello.txt'), 'utf8'), 'Hello from Pai!\n');
    const answer = turns[2].message.content;
    assert.match(answer, /hello\.txt/);
    assert.match(answer, /Hello from Pai!/, 'the answer quotes the tool result');

    // The SDK's stream helper assembles the same call.
    const helper = client.chat.completions.stream({ model: MODEL, messages: messages.slice(0, 2), tools: TOOLS });
    const final = await helper.finalChatCompletion();
    assert.equal(final.choices[0].finish_reason, 'tool_calls');
    assert.equal(final.choices[0].message.tool_calls[0].function.name, 'write');
    assert.deepEqual(JSON.parse(final.choices[0].message.tool_calls[0].function.arguments),
      { path: 'hello.txt', content: 'Hello from Pai!\n' });

    // Non-streamed: message.tool_calls.
    const ns = await client.chat.completions.create({ model: MODEL, messages: messages.slice(0, 4), tools: TOOLS });
    assert.equal(ns.choices[0].finish_reason, 'tool_calls');
    assert.equal(ns.choices[0].message.tool_calls[0].function.name, 'bash');

    // Audit: every call and tool call of the session carries it; the chain still verifies.
    for (const t of turns) {
      const rec = await waitForRecord(gw.stateDir, (r) => r.type === 'LLM_CALL' && r.detail.request_id === t.rid);
      assert.equal(rec.detail.session, 'fix-bug-1');
      assert.equal(rec.namespace, 'default');
      assert.equal(rec.agent, 'coder');
    }
    const chain = readChain(gw.stateDir);
    const tools = turns.slice(0, 2).flatMap((t) => recordsFor(chain, t.rid, 'TOOL_CALL'));
    assert.deepEqual(tools.map((r) => r.detail.tool_name), ['write', 'bash']);
    assert.ok(tools.every((r) => r.detail.session === 'fix-bug-1'));
    const viaAdmin = await auditQuery(gw, { agent: 'default/coder', type: 'llm_call,tool_call' });
    assert.ok(viaAdmin.filter((r) => r.detail.session === 'fix-bug-1').length >= 5 + 2);
    const v = await auditVerify(gw);
    assert.equal(v.ok, true, JSON.stringify(v));

    // Access log.
    const access = await waitForAccess(gw, turns[0].rid);
    assert.equal(access.session, 'fix-bug-1');
    assert.equal(access.agent, 'default/coder');
  } finally {
    await fsp.rm(workspace, { recursive: true, force: true });
  }
});

test('the Agent\'s own token carries no session; /usage has per-session totals', { timeout: 30000 }, async () => {
  const own = makeClient(gw.baseURL, ownToken);
  const { data, response } = await own.chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'hi' }],
  }).withResponse();
  assert.equal(data.choices[0].finish_reason, 'stop', 'without tools, the fixed text');
  const rid = response.headers.get('x-request-id');
  const rec = await waitForRecord(gw.stateDir, (r) => r.type === 'LLM_CALL' && r.detail.request_id === rid);
  assert.ok(!('session' in rec.detail), `no session member: ${JSON.stringify(rec.detail)}`);
  assert.ok(!('session' in await waitForAccess(gw, rid)));

  const two = makeClient(gw.baseURL, sessionTokens.two);
  const r2 = await two.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(r2.choices[0].finish_reason, 'stop');

  const u = await adminGet(gw, '/usage');
  assert.equal(u.status, 200);
  const sessions = u.json.sessions;
  assert.ok(sessions && typeof sessions === 'object', u.text);
  const one = sessions['default/fix-bug-1'];
  assert.ok(one, `default/fix-bug-1 in ${u.text}`);
  assert.equal(one.calls, 3 + 1 + 1, 'three loop turns, the stream helper, the non-streamed call');
  assert.ok(one.tokens > 0 && Number.isInteger(one.tokens));
  assert.equal(typeof one.costUSD, 'number');
  assert.deepEqual(Object.keys(sessions['default/fix-bug-2']).filter((k) => ['tokens', 'calls', 'costUSD'].includes(k)).sort(),
    ['calls', 'costUSD', 'tokens']);
  assert.equal(sessions['default/fix-bug-2'].calls, 1);
  // The agent's totals include every session's calls (one budget).
  const coder = u.json.agents.find((a) => a.agent === 'coder');
  assert.ok(coder.tokensToday >= one.tokens + sessions['default/fix-bug-2'].tokens);
});

test('"loop forever": all Sessions of an Agent share its budget; BUDGET_EXCEEDED names the session', { timeout: 60000 }, async () => {
  const a = makeClient(gw.baseURL, sessionTokens.loopA);
  const messages = [{ role: 'user', content: 'Please loop forever.' }];
  let refused = null;
  let calls = 0;
  for (let i = 0; i < 40 && !refused; i++) {
    try {
      const r = await a.chat.completions.create({ model: MODEL, messages, tools: TOOLS });
      calls++;
      const call = r.choices[0].message.tool_calls?.[0];
      assert.ok(call, `turn ${i}: a tool call (${r.choices[0].finish_reason})`);
      assert.equal(call.function.name, 'bash');
      messages.push(r.choices[0].message);
      messages.push({ role: 'tool', tool_call_id: call.id, content: 'still looping\n' });
    } catch (err) {
      if (!(err instanceof OpenAI.APIError)) throw err;
      refused = err;
    }
  }
  assert.ok(refused, 'the loop must end on the budget');
  assert.ok(calls >= 2, `calls before the refusal: ${calls}`);
  assert.equal(refused.status, 429);
  assertOpenAIErrorObject(refused.error, { code: 'insufficient_quota' });
  const rec = await waitForRecord(gw.stateDir, (r) => r.type === 'BUDGET_EXCEEDED' && r.detail.session === 'loop-a');
  assert.equal(rec.namespace, 'team');
  assert.equal(rec.agent, 'looper');

  // Another Session of the same Agent finds the budget spent.
  const b = makeClient(gw.baseURL, sessionTokens.loopB);
  const err = await expectAPIError(() => b.chat.completions.create({ model: MODEL, messages, tools: TOOLS }), 429);
  assertOpenAIErrorObject(err.error, { code: 'insufficient_quota' });
  await waitForRecord(gw.stateDir, (r) => r.type === 'BUDGET_EXCEEDED' && r.detail.session === 'loop-b');

  const u = await adminGet(gw, '/usage');
  assert.equal(u.json.sessions['team/loop-a'].calls, calls);
  assert.ok(!('team/loop-b' in u.json.sessions), 'a refused call is not a call');
  assert.ok(u.json.sessions['team/loop-a'].tokens <= LOOP_BUDGET);

  assertLogsClean(gw, [ownToken, ...Object.values(sessionTokens)]);
});
