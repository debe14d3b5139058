// End-to-end: prompt-injection guards with the builtin (offline) classifier — what is scanned
// (user prompts, listed tool results, responses, embeddings input; not system/developer/
// assistant messages), what enforce / audit do (400 prompt_injection_detected before the
// upstream is called, or forwarded + GUARD.VIOLATION_AUDIT), the Agent override that may only
// tighten, metrics, a long prompt. Each test has its own gateway and mock upstream; the client
// is the official openai SDK. The http classifiers are in guard_http.test.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { NORMAL_CONTENT, INJECTED_REPLY, expectedEmbedding } from './upstream/openai_upstream.mjs';
import { collect, contentOf, sumMetric } from './lib/common.mjs';
import { byMsg } from './lib/gateway.mjs';
import { waitForAccess } from './lib/harness.mjs';
import { auditQuery, readChain } from './lib/audit.mjs';
import {
  ATTACK, BENIGN, GUARD_TYPES, startGuardStack, startExpectingFailure, ridOf, expectInjectionBlocked,
  waitForGuardRecord, guardRecordsFor, assertNoGuardRecord, assertGuardRecord, assertNoPromptText,
  scrapeText, promtoolCheck,
} from './lib/guard.mjs';

const MINI = 'up/gpt-4o-mini';
const EMBED = 'up/text-embedding-3-small';
const BUILTIN_ENFORCE = { classifier: { type: 'builtin' }, threshold: 0.8, enforcement: 'enforce', failureMode: 'open' };
const BUILTIN_AUDIT = { classifier: { type: 'builtin' }, enforcement: 'audit' }; // threshold: default 0.8

/** Common expectations of a builtin prompt violation record. */
const builtinPrompt = (over) => ({
  classifier: 'builtin', target: 'prompt', threshold: 0.8, stream: false, ...over,
});

test('guard 1. enforce: an injected user message is refused with 400 prompt_injection_detected at its index, the upstream is not called, GUARD.VIOLATION_ENFORCE; a benign one passes', { timeout: 30000 }, async (t) => {
  const S = await startGuardStack({
    bindings: { 'builtin-guard': BUILTIN_ENFORCE },
    agents: { a: { models: [MINI], guards: [{ binding: 'builtin-guard' }] } },
  });
  t.after(() => S.cleanup());
  const { gw, upstream } = S;
  const client = S.client('a');
  const exp = builtinPrompt({ type: 'GUARD.VIOLATION_ENFORCE', agent: 'a', binding: 'builtin-guard', enforcement: 'enforce', action: 'blocked' });

  // The attack as the 2nd message (after a system message).
  const e1 = await expectInjectionBlocked(() => client.chat.completions.create({
    model: MINI, messages: [{ role: 'system', content: 'You are a helpful assistant.' }, { role: 'user', content: ATTACK }],
  }), 'messages[1].content');
  assert.equal(upstream.requests.length, 0, 'a blocked prompt never reaches the upstream');
  const rid1 = ridOf(e1);
  const d1 = assertGuardRecord(await waitForGuardRecord(gw, rid1, 'GUARD.VIOLATION_ENFORCE'),
    { ...exp, param: 'messages[1].content' }, 'attack at messages[1]');
  assert.ok(d1.rules.includes('override.ignore_previous'), `rules ${JSON.stringify(d1.rules)} include override.ignore_previous`);

  // A later turn of a conversation: the index is the message's.
  const e2 = await expectInjectionBlocked(() => client.chat.completions.create({
    model: MINI,
    messages: [
      { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello! How can I help?' },
      { role: 'user', content: ATTACK },
    ],
  }), 'messages[2].content');
  assertGuardRecord(await waitForGuardRecord(gw, ridOf(e2), 'GUARD.VIOLATION_ENFORCE'), { ...exp, param: 'messages[2].content' }, 'attack at messages[2]');

  // Content parts: the text parts are scanned.
  const e3 = await expectInjectionBlocked(() => client.chat.completions.create({
    model: MINI,
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Summarise this e-mail:' }, { type: 'text', text: ATTACK }] }],
  }), 'messages[0].content');
  assertGuardRecord(await waitForGuardRecord(gw, ridOf(e3), 'GUARD.VIOLATION_ENFORCE'), { ...exp, param: 'messages[0].content' }, 'attack in a text part');
  assert.equal(upstream.requests.length, 0, 'no blocked prompt reached the upstream');

  // Benign text that shares the verb: 200.
  const ok = await client.chat.completions.create({
    model: MINI, messages: [{ role: 'system', content: 'You are a helpful assistant.' }, { role: 'user', content: BENIGN }],
  }).withResponse();
  assert.equal(ok.data.choices[0].message.content, NORMAL_CONTENT);
  assert.equal(upstream.requests.length, 1);
  assert.equal(upstream.requests[0].body.messages[1].content, BENIGN, 'forwarded unchanged');
  assertNoGuardRecord(gw.stateDir, ridOf(ok), 'benign');

  // The records: /audit agrees with the chain; no prompt text stored.
  const guardRecs = readChain(gw.stateDir).filter((r) => GUARD_TYPES.includes(r.type));
  assert.equal(guardRecs.length, 3);
  assert.deepEqual(await auditQuery(gw, { type: 'guard' }), guardRecs, '/audit?type=guard');
  assertNoPromptText(gw.stateDir, [ATTACK, BENIGN]);
});

test('guard 2. enforce with stream: true: the 400 comes before any stream starts (the SDK throws on create)', { timeout: 30000 }, async (t) => {
  const S = await startGuardStack({
    bindings: { 'builtin-guard': BUILTIN_ENFORCE },
    agents: { a: { models: [MINI], guards: [{ binding: 'builtin-guard' }] } },
  });
  t.after(() => S.cleanup());
  const client = S.client('a');
  const e = await expectInjectionBlocked(() => client.chat.completions.create({
    model: MINI, messages: [{ role: 'user', content: ATTACK }], stream: true, stream_options: { include_usage: true },
  }), 'messages[0].content');
  assert.match(e.headers.get('content-type') ?? '', /^application\/json/, 'a JSON error, not an event stream');
  assert.equal(S.upstream.requests.length, 0, 'a blocked stream never reaches the upstream');
  assertGuardRecord(await waitForGuardRecord(S.gw, ridOf(e), 'GUARD.VIOLATION_ENFORCE'), builtinPrompt({
    type: 'GUARD.VIOLATION_ENFORCE', agent: 'a', binding: 'builtin-guard', param: 'messages[0].content',
    enforcement: 'enforce', action: 'blocked', stream: true,
  }));

  // A benign stream is relayed whole.
  const chunks = await collect(await client.chat.completions.create({
    model: MINI, messages: [{ role: 'user', content: BENIGN }], stream: true,
  }));
  assert.equal(contentOf(chunks), NORMAL_CONTENT);
  assert.equal(S.upstream.requests.length, 1);
});

test('guard 3. audit: a violation is forwarded unchanged (200) and recorded as GUARD.VIOLATION_AUDIT', { timeout: 30000 }, async (t) => {
  const S = await startGuardStack({
    bindings: { 'audit-guard': BUILTIN_AUDIT },
    agents: { a: { models: [MINI], guards: [{ binding: 'audit-guard' }] } },
  });
  t.after(() => S.cleanup());
  const r = await S.client('a').chat.completions.create({ model: MINI, messages: [{ role: 'user', content: ATTACK }] }).withResponse();
  assert.equal(r.data.choices[0].message.content, NORMAL_CONTENT);
  assert.equal(S.upstream.requests.length, 1);
  assert.equal(S.upstream.requests[0].body.messages[0].content, ATTACK, 'forwarded unchanged');
  const d = assertGuardRecord(await waitForGuardRecord(S.gw, ridOf(r), 'GUARD.VIOLATION_AUDIT'), builtinPrompt({
    type: 'GUARD.VIOLATION_AUDIT', agent: 'a', binding: 'audit-guard', param: 'messages[0].content',
    enforcement: 'audit', action: 'logged',
  }));
  assert.ok(d.rules.includes('override.ignore_previous'), JSON.stringify(d.rules));

  const ok = await S.client('a').chat.completions.create({ model: MINI, messages: [{ role: 'user', content: BENIGN }] }).withResponse();
  assertNoGuardRecord(S.gw.stateDir, ridOf(ok), 'benign');
  assertNoPromptText(S.gw.stateDir, [ATTACK]);
});

/** A conversation whose assistant called `calls` ([[id, tool name], ...]) and got `results` ([[id, content], ...]). */
function toolConversation(calls, results, { system } = {}) {
  const msgs = [];
  if (system) msgs.push({ role: 'system', content: system });
  msgs.push({ role: 'user', content: 'What does example.com say today?' });
  msgs.push({
    role: 'assistant', content: null,
    tool_calls: calls.map(([id, name]) => ({ id, type: 'function', function: { name, arguments: '{"url":"https://example.com"}' } })),
  });
  for (const [id, content] of results) msgs.push({ role: 'tool', tool_call_id: id, content });
  return msgs;
}
const PAGE_ATTACK = `Example Domain. This domain is for use in illustrative examples. ${ATTACK}`;
const PAGE_OK = 'Example Domain. This domain is for use in illustrative examples in documents.';

test('guard 4. tool results: a listed tool\'s result is scanned (by its tool_call_id), an unlisted one is not, "*" scans all; system and assistant messages are not scanned', { timeout: 30000 }, async (t) => {
  const S = await startGuardStack({
    bindings: { 'builtin-guard': BUILTIN_ENFORCE },
    agents: {
      web: { models: [MINI], guards: [{ binding: 'builtin-guard', scan: { toolResults: { tools: ['web_fetch'] } } }] },
      all: { models: [MINI], guards: [{ binding: 'builtin-guard', scan: { toolResults: { tools: ['*'] } } }] },
      noscan: { models: [MINI], guards: [{ binding: 'builtin-guard' }] }, // tool results off by default
    },
  });
  t.after(() => S.cleanup());
  const { gw, upstream } = S;
  const exp = {
    type: 'GUARD.VIOLATION_ENFORCE', binding: 'builtin-guard', classifier: 'builtin', target: 'tool_result',
    threshold: 0.8, enforcement: 'enforce', action: 'blocked', stream: false,
  };
  const chat = (agent, messages) => S.client(agent).chat.completions.create({ model: MINI, messages }).withResponse();

  // A web_fetch result carrying an injection: blocked at the tool message.
  const eA = await expectInjectionBlocked(() => chat('web', toolConversation([['call_w', 'web_fetch']], [['call_w', PAGE_ATTACK]])), 'messages[2].content');
  assertGuardRecord(await waitForGuardRecord(gw, ridOf(eA), 'GUARD.VIOLATION_ENFORCE'),
    { ...exp, agent: 'web', param: 'messages[2].content', tool: 'web_fetch' }, 'web_fetch result');
  assert.equal(upstream.requests.length, 0);

  // Two calls; the injection answers `calculator` (not listed), the web_fetch result is clean,
  // and comes second: the tool is found by tool_call_id, not by position.
  const two = toolConversation([['call_w', 'web_fetch'], ['call_c', 'calculator']], [['call_c', PAGE_ATTACK], ['call_w', PAGE_OK]]);
  const okB = await chat('web', two);
  assert.equal(okB.data.choices[0].message.content, NORMAL_CONTENT);
  assertNoGuardRecord(gw.stateDir, ridOf(okB), 'unlisted tool');

  // The same conversation with "*": blocked at the calculator result.
  const eC = await expectInjectionBlocked(() => chat('all', two), 'messages[2].content');
  assertGuardRecord(await waitForGuardRecord(gw, ridOf(eC), 'GUARD.VIOLATION_ENFORCE'),
    { ...exp, agent: 'all', param: 'messages[2].content', tool: 'calculator' }, '"*" scans calculator');
  // ... and the web_fetch one with "*" when it is the injected one (messages[3]).
  const eC2 = await expectInjectionBlocked(() => chat('all',
    toolConversation([['call_w', 'web_fetch'], ['call_c', 'calculator']], [['call_c', '42'], ['call_w', PAGE_ATTACK]])), 'messages[3].content');
  assertGuardRecord(await waitForGuardRecord(gw, ridOf(eC2), 'GUARD.VIOLATION_ENFORCE'),
    { ...exp, agent: 'all', param: 'messages[3].content', tool: 'web_fetch' }, '"*" scans web_fetch');

  // Tool results are off unless tools are listed.
  const okN = await chat('noscan', toolConversation([['call_w', 'web_fetch']], [['call_w', PAGE_ATTACK]]));
  assertNoGuardRecord(gw.stateDir, ridOf(okN), 'no toolResults');

  // scan.prompts defaults to true when only toolResults is given.
  const eP = await expectInjectionBlocked(() => chat('web', [{ role: 'user', content: ATTACK }]), 'messages[0].content');
  assertGuardRecord(await waitForGuardRecord(gw, ridOf(eP), 'GUARD.VIOLATION_ENFORCE'),
    { ...exp, target: 'prompt', agent: 'web', param: 'messages[0].content' }, 'prompt default');

  // System, developer and assistant messages are not scanned.
  const okS = await chat('all', toolConversation([['call_w', 'web_fetch']], [['call_w', PAGE_OK]], { system: ATTACK }));
  assertNoGuardRecord(gw.stateDir, ridOf(okS), 'system message');
  const okD = await chat('all', [{ role: 'developer', content: ATTACK }, { role: 'user', content: 'Hi' }]);
  assertNoGuardRecord(gw.stateDir, ridOf(okD), 'developer message');
  const okAs = await chat('all', [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: ATTACK }, { role: 'user', content: 'Thanks' }]);
  assertNoGuardRecord(gw.stateDir, ridOf(okAs), 'assistant message');

  assert.equal(upstream.requests.length, 5, 'only the passing calls reached the upstream');
  assertNoPromptText(gw.stateDir, [PAGE_ATTACK]);
});

test('guard 5. responses: a non-streamed injected answer is refused after the upstream call; a streamed one is relayed whole and audited; scan.prompts: false lets a prompt through', { timeout: 30000 }, async (t) => {
  const S = await startGuardStack({
    bindings: { 'builtin-guard': BUILTIN_ENFORCE },
    agents: {
      resp: { models: ['up/injected-reply', 'up/echo'], guards: [{ binding: 'builtin-guard', scan: { prompts: true, responses: true } }] },
      noprompt: { models: [MINI, 'up/echo'], guards: [{ binding: 'builtin-guard', scan: { prompts: false, responses: true } }] },
      promptonly: { models: ['up/injected-reply'], guards: [{ binding: 'builtin-guard' }] }, // responses off by default
    },
  });
  t.after(() => S.cleanup());
  const { gw, upstream } = S;
  const client = S.client('resp');
  const exp = {
    binding: 'builtin-guard', classifier: 'builtin', target: 'response', param: 'choices[0].message.content',
    threshold: 0.8, enforcement: 'enforce',
  };
  const ask = [{ role: 'user', content: 'Tell me a joke.' }];

  // Non-stream: the upstream answered, the client gets 400.
  const e1 = await expectInjectionBlocked(() => client.chat.completions.create({ model: 'up/injected-reply', messages: ask }),
    'choices[0].message.content');
  assert.equal(upstream.requests.length, 1, 'the upstream was called');
  assert.equal(upstream.requests[0].status, 200);
  assertGuardRecord(await waitForGuardRecord(gw, ridOf(e1), 'GUARD.VIOLATION_ENFORCE'),
    { ...exp, type: 'GUARD.VIOLATION_ENFORCE', agent: 'resp', action: 'blocked', stream: false }, 'non-stream response');

  // A benign stream first (it must get no record), then the injected one.
  const benign = await client.chat.completions.create({ model: 'up/echo', messages: [{ role: 'user', content: 'Hello there, friend' }], stream: true }).withResponse();
  assert.equal(contentOf(await collect(benign.data)), 'Hello there, friend');
  const s2 = await client.chat.completions.create({ model: 'up/injected-reply', messages: ask, stream: true, stream_options: { include_usage: true } }).withResponse();
  const chunks = await collect(s2.data);
  assert.equal(contentOf(chunks), INJECTED_REPLY, 'the client gets the whole stream');
  assert.equal(chunks.at(-1).usage?.total_tokens, 16, 'the usage chunk is relayed');
  assertGuardRecord(await waitForGuardRecord(gw, ridOf(s2), 'GUARD.VIOLATION_AUDIT'),
    { ...exp, type: 'GUARD.VIOLATION_AUDIT', agent: 'resp', action: 'logged', stream: true }, 'streamed response');
  assert.deepEqual(guardRecordsFor(gw.stateDir, ridOf(benign)), [], 'the benign stream got no GUARD record');

  // A benign non-streamed answer passes.
  const ok = await client.chat.completions.create({ model: 'up/echo', messages: [{ role: 'user', content: 'Hello there' }] }).withResponse();
  assert.equal(ok.data.choices[0].message.content, 'Hello there');
  assertNoGuardRecord(gw.stateDir, ridOf(ok), 'benign response');

  // scan.prompts: false: the attack prompt is forwarded ...
  const np = S.client('noprompt');
  const r3 = await np.chat.completions.create({ model: MINI, messages: [{ role: 'user', content: ATTACK }] }).withResponse();
  assert.equal(r3.data.choices[0].message.content, NORMAL_CONTENT);
  assertNoGuardRecord(gw.stateDir, ridOf(r3), 'prompts off');
  // ... but echoed back it is caught as a response.
  const before = upstream.requests.length;
  const e4 = await expectInjectionBlocked(() => np.chat.completions.create({ model: 'up/echo', messages: [{ role: 'user', content: ATTACK }] }),
    'choices[0].message.content');
  assert.equal(upstream.requests.length, before + 1, 'the prompt was forwarded');
  assertGuardRecord(await waitForGuardRecord(gw, ridOf(e4), 'GUARD.VIOLATION_ENFORCE'),
    { ...exp, type: 'GUARD.VIOLATION_ENFORCE', agent: 'noprompt', action: 'blocked', stream: false }, 'echoed attack');

  // Responses are not scanned by default.
  const r5 = await S.client('promptonly').chat.completions.create({ model: 'up/injected-reply', messages: ask }).withResponse();
  assert.equal(r5.data.choices[0].message.content, INJECTED_REPLY);
  assertNoGuardRecord(gw.stateDir, ridOf(r5), 'responses off');
  assertNoPromptText(gw.stateDir, [INJECTED_REPLY, ATTACK]);
});

test('guard 6. an Agent may tighten a binding (audit → enforce) but not loosen it: start refused, naming spec.guards[0].enforcement; a hot reload that loosens keeps the old config; an unknown binding is refused', { timeout: 30000 }, async (t) => {
  const S = await startGuardStack({
    bindings: { 'audit-guard': BUILTIN_AUDIT },
    agents: {
      tight: { models: [MINI], guards: [{ binding: 'audit-guard', enforcement: 'enforce' }] },
      plain: { models: [MINI], guards: [{ binding: 'audit-guard' }] },
    },
  });
  t.after(() => S.cleanup());
  const { gw } = S;
  const attack = (agent) => S.client(agent).chat.completions.create({ model: MINI, messages: [{ role: 'user', content: ATTACK }] }).withResponse();

  const e1 = await expectInjectionBlocked(() => attack('tight'), 'messages[0].content');
  assertGuardRecord(await waitForGuardRecord(gw, ridOf(e1), 'GUARD.VIOLATION_ENFORCE'), builtinPrompt({
    type: 'GUARD.VIOLATION_ENFORCE', agent: 'tight', binding: 'audit-guard', param: 'messages[0].content',
    enforcement: 'enforce', action: 'blocked',
  }), 'tightened');
  const r2 = await attack('plain');
  assertGuardRecord(await waitForGuardRecord(gw, ridOf(r2), 'GUARD.VIOLATION_AUDIT'), builtinPrompt({
    type: 'GUARD.VIOLATION_AUDIT', agent: 'plain', binding: 'audit-guard', param: 'messages[0].content',
    enforcement: 'audit', action: 'logged',
  }), 'binding default');
  assert.equal(S.upstream.requests.length, 1);

  // Loosening (binding enforce, agent audit): the gateway refuses to start.
  const loose = S.manifest(
    { 'audit-guard': { ...BUILTIN_AUDIT, enforcement: 'enforce' } },
    {
      tight: { models: [MINI], guards: [{ binding: 'audit-guard', enforcement: 'audit' }] },
      plain: { models: [MINI], guards: [{ binding: 'audit-guard' }] },
    });
  const f1 = await startExpectingFailure(loose);
  assert.equal(f1.started, false, `the gateway started on a loosening override:\n${f1.output}`);
  assert.notEqual(f1.code, 0, `exit code: ${f1.output}`);
  assert.ok(f1.output.includes('spec.guards[0].enforcement'), `the error names spec.guards[0].enforcement:\n${f1.output}`);

  // The same as a hot reload: rejected, the old config keeps serving.
  const mark = gw.mark();
  await gw.writeConfig(loose);
  let rejected = await gw.waitForLog((l) => byMsg('config reloaded')(l) || byMsg('config reload rejected')(l), 5000, mark);
  if (rejected.msg === 'config reload rejected' && !String(rejected.error).includes('spec.guards')) {
    // The watcher may have caught the file half-written; the whole file must be rejected too.
    rejected = await gw.waitForLog(byMsg('config reload rejected', (l) => String(l.error).includes('spec.guards')), 2000, mark)
      .catch(() => rejected);
  }
  assert.equal(rejected.msg, 'config reload rejected', `a loosening reload was applied: ${JSON.stringify(rejected)}`);
  assert.ok(String(rejected.error).includes('spec.guards[0].enforcement'), `reload error: ${JSON.stringify(rejected)}`);
  assert.ok(!gw.logs.slice(mark).some(byMsg('config reloaded')), 'the loosening config was applied');
  await expectInjectionBlocked(() => attack('tight'), 'messages[0].content');
  const r3 = await attack('plain'); // still audit (the rejected config would block it)
  assert.equal(r3.data.choices[0].message.content, NORMAL_CONTENT);

  // An Agent naming a GuardBinding that does not exist.
  const f2 = await startExpectingFailure(S.manifest({}, { a: { models: [MINI], guards: [{ binding: 'no-such-guard' }] } }));
  assert.equal(f2.started, false, `the gateway started with an unknown binding:\n${f2.output}`);
  assert.notEqual(f2.code, 0);
  assert.ok(f2.output.includes('no-such-guard'), `the error names the binding:\n${f2.output}`);
});

test('guard 7. embeddings: an injection in input is refused at its index; benign input passes', { timeout: 30000 }, async (t) => {
  const S = await startGuardStack({
    bindings: { 'builtin-guard': BUILTIN_ENFORCE },
    agents: { emb: { models: [EMBED], guards: [{ binding: 'builtin-guard' }] } },
  });
  t.after(() => S.cleanup());
  const client = S.client('emb');
  const exp = builtinPrompt({ type: 'GUARD.VIOLATION_ENFORCE', agent: 'emb', binding: 'builtin-guard', enforcement: 'enforce', action: 'blocked' });

  const e1 = await expectInjectionBlocked(() => client.embeddings.create({ model: EMBED, input: ATTACK }), ['input', 'input[0]']);
  const rec1 = await waitForGuardRecord(S.gw, ridOf(e1), 'GUARD.VIOLATION_ENFORCE');
  assert.ok(['input', 'input[0]'].includes(rec1.detail.param), `record param ${rec1.detail.param}`);
  assertGuardRecord(rec1, exp, 'string input');

  const e2 = await expectInjectionBlocked(() => client.embeddings.create({ model: EMBED, input: ['hello world', ATTACK] }), 'input[1]');
  assertGuardRecord(await waitForGuardRecord(S.gw, ridOf(e2), 'GUARD.VIOLATION_ENFORCE'), { ...exp, param: 'input[1]' }, 'list input');
  assert.equal(S.upstream.requests.length, 0, 'blocked embeddings never reach the upstream');

  const ok = await client.embeddings.create({ model: EMBED, input: BENIGN, encoding_format: 'float' }).withResponse();
  assert.deepEqual(ok.data.data[0].embedding, expectedEmbedding(BENIGN));
  assert.equal(S.upstream.requests.length, 1);
  assertNoGuardRecord(S.gw.stateDir, ridOf(ok), 'benign input');
  assertNoPromptText(S.gw.stateDir, [ATTACK]);
});

test('guard 8. metrics: pai_gateway_guard_checks_total{binding,target,verdict,enforcement} and the classifier duration histogram (promtool)', { timeout: 30000 }, async (t) => {
  const S = await startGuardStack({
    bindings: { 'builtin-guard': BUILTIN_ENFORCE, 'audit-guard': BUILTIN_AUDIT },
    agents: {
      a: { models: [MINI], guards: [{ binding: 'builtin-guard' }] },
      b: { models: [MINI], guards: [{ binding: 'audit-guard' }] },
    },
  });
  t.after(() => S.cleanup());
  const { gw } = S;
  const call = (agent, content) => S.client(agent).chat.completions.create({ model: MINI, messages: [{ role: 'user', content }] }).withResponse();
  const rids = [];
  rids.push(ridOf(await call('a', BENIGN)));
  rids.push(ridOf(await expectInjectionBlocked(() => call('a', ATTACK), 'messages[0].content')));
  rids.push(ridOf(await call('b', ATTACK)));
  for (const rid of rids) await waitForAccess(gw, rid);

  const { text, samples } = await scrapeText(gw);
  const { code, out } = await promtoolCheck(text);
  assert.equal(code, 0, `promtool check metrics failed (exit ${code}):\n${out}`);
  assert.match(text, /^# TYPE pai_gateway_guard_checks_total counter$/m);
  assert.match(text, /^# TYPE pai_gateway_guard_classifier_duration_seconds histogram$/m);

  const checks = (labels) => sumMetric(samples, 'pai_gateway_guard_checks_total', labels);
  assert.equal(checks({ binding: 'builtin-guard', target: 'prompt', verdict: 'pass', enforcement: 'enforce' }), 1, 'pass');
  assert.equal(checks({ binding: 'builtin-guard', target: 'prompt', verdict: 'violation', enforcement: 'enforce' }), 1, 'violation');
  assert.equal(checks({ binding: 'audit-guard', target: 'prompt', verdict: 'violation', enforcement: 'audit' }), 1, 'audit violation');
  assert.equal(checks({ binding: 'builtin-guard' }), 2, 'no other builtin-guard series');
  assert.equal(checks({ binding: 'audit-guard' }), 1, 'no other audit-guard series');
  assert.ok(!checks({ verdict: 'error' }), 'no error verdicts');

  const hist = (suffix, labels = {}) => sumMetric(samples, `pai_gateway_guard_classifier_duration_seconds${suffix}`,
    { binding: 'builtin-guard', classifier: 'builtin', ...labels });
  assert.equal(hist('_count'), 2, 'two classifications by builtin-guard');
  assert.equal(hist('_bucket', { le: '+Inf' }), 2);
  assert.ok(hist('_sum') >= 0 && hist('_sum') < 5, `_sum ${hist('_sum')}`);
  assert.equal(sumMetric(samples, 'pai_gateway_guard_classifier_duration_seconds_count', { binding: 'audit-guard', classifier: 'builtin' }), 1);
  // Bounded labels: no prompt text, no request id.
  assert.ok(!/previous instructions/i.test(text), '/metrics contains prompt text');
  for (const rid of rids) assert.ok(!text.includes(rid), `/metrics contains request id ${rid}`);
});

/** ~`bytes` bytes of varied benign prose. */
function benignText(bytes, tag) {
  const sentences = [
    'The committee reviewed the quarterly figures and approved the revised budget.',
    'Rainfall in the northern valleys was slightly above the ten-year average.',
    'Please remember to water the tomato plants on the balcony every evening.',
    'The library will extend its opening hours during the examination period.',
    'Our team shipped the new onboarding flow after two rounds of user testing.',
  ];
  let s = '';
  for (let i = 0; Buffer.byteLength(s) < bytes; i++) s += `${sentences[i % sentences.length]} (${tag} ${i}) `;
  return s;
}

test('guard 9. a 64 KiB prompt with the injection in the middle is caught; the same text without it passes', { timeout: 30000 }, async (t) => {
  const S = await startGuardStack({
    bindings: { 'builtin-guard': BUILTIN_ENFORCE },
    agents: { a: { models: [MINI], guards: [{ binding: 'builtin-guard' }] } },
  });
  t.after(() => S.cleanup());
  const client = S.client('a');
  const tag = randomBytes(4).toString('hex');
  const half = benignText(32 * 1024, tag);
  const long = `${half}${ATTACK} ${half}`;
  assert.ok(Buffer.byteLength(long) >= 64 * 1024);

  const e = await expectInjectionBlocked(() => client.chat.completions.create({ model: MINI, messages: [{ role: 'user', content: long }] }),
    'messages[0].content');
  assertGuardRecord(await waitForGuardRecord(S.gw, ridOf(e), 'GUARD.VIOLATION_ENFORCE'), builtinPrompt({
    type: 'GUARD.VIOLATION_ENFORCE', agent: 'a', binding: 'builtin-guard', param: 'messages[0].content',
    enforcement: 'enforce', action: 'blocked',
  }));
  assert.equal(S.upstream.requests.length, 0);

  const ok = await client.chat.completions.create({ model: MINI, messages: [{ role: 'user', content: `${half}${half}` }] }).withResponse();
  assert.equal(ok.data.choices[0].message.content, NORMAL_CONTENT);
  assertNoGuardRecord(S.gw.stateDir, ridOf(ok), 'long benign');
  assertNoPromptText(S.gw.stateDir, [tag]);
});

test('guard 10. a body that spells "messages" with a JSON escape is still scanned (every provider reads it as messages)', { timeout: 30000 }, async (t) => {
  const S = await startGuardStack({
    bindings: { 'builtin-guard': BUILTIN_ENFORCE },
    agents: { a: { models: [MINI], guards: [{ binding: 'builtin-guard' }] } },
  });
  t.after(() => S.cleanup());
  // Raw body: the SDK would never escape a key, an attacker can.
  const body = `{"model":"${MINI}","m\\u0065ssages":[{"role":"user","content":${JSON.stringify(ATTACK)}}]}`;
  const res = await fetch(`${S.gw.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${S.tokens.a}`, 'content-type': 'application/json' },
    body,
  });
  const json = await res.json();
  assert.equal(res.status, 400, JSON.stringify(json));
  assert.equal(json.error.code, 'prompt_injection_detected');
  assert.equal(json.error.param, 'messages[0].content');
  assert.equal(S.upstream.requests.length, 0, 'never forwarded');
});
