// End-to-end: the audit chain survives kill -9 in the middle of a burst (docs/audit.md,
// "Crash safety"). 200 concurrent calls (non-stream, stream, slow streams); the gateway is
// SIGKILLed once some of them have succeeded while others are still in flight. After a restart
// on the same state dir (a torn final record is removed) the chain verifies, offline and via
// /audit/verify, and every call the client saw succeed has its LLM_CALL record.
// Correctness does not depend on timing; timing only decides which calls were in flight.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { USER_MESSAGES, assertOpenAIErrorBody } from './lib/common.mjs';
import { byMsg } from './lib/gateway.mjs';
import { startBudgetStack, postChat, scrape, metricValue } from './lib/budget.mjs';
import {
  auditDir, chainPath, chainText, chainLines, checkpointsPath, readChain, readCheckpoints, readKeyFile,
  checkChainIndependently, auditVerify, verifyOffline, adminGet, recordsFor,
} from './lib/audit.mjs';

const N = 200;
const KILL_AFTER = 60; // successes seen by the client before the kill
const MINI = 'up/gpt-4o-mini';

/** Call i: the kinds are interleaved so that all of them are in flight together. */
function kindOf(i) {
  if (i % 20 === 19) return { model: 'up/slow-stream', stream: true }; // 10 s: in flight at the kill
  if (i % 4 === 1) return { model: MINI, stream: true };
  if (i % 4 === 3) return { model: 'up/slow-stream-short', stream: true }; // 0.5 s
  return { model: MINI, stream: false };
}

/**
 * One raw call with our own x-request-id. Success as the client sees it: a non-stream 200 with
 * its whole JSON body; a stream whose `data: [DONE]` event arrived (whatever happens after).
 * `onSuccess` runs synchronously as soon as success is seen.
 */
async function call(gw, token, i, onSuccess, { rid = `crash-${i}-${randomBytes(6).toString('hex')}`, kind = kindOf(i) } = {}) {
  const { model, stream } = kind;
  const out = { i, rid, model, stream, ok: false, echoed: null, error: null };
  try {
    const res = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-request-id': rid },
      body: JSON.stringify({ model, messages: USER_MESSAGES, stream }),
      signal: AbortSignal.timeout(60000),
    });
    out.status = res.status;
    out.echoed = res.headers.get('x-request-id');
    if (!stream || res.status !== 200) {
      const json = JSON.parse(await res.text());
      out.json = json;
      if (res.status === 200 && json.choices?.[0]?.message) {
        out.ok = true;
        onSuccess(out);
      }
      return out;
    }
    const dec = new TextDecoder();
    let text = '';
    for await (const chunk of res.body) {
      text += dec.decode(chunk, { stream: true });
      if (!out.ok && res.status === 200 && text.includes('data: [DONE]\n\n')) {
        out.ok = true;
        onSuccess(out);
      }
    }
  } catch (err) {
    out.error = err.cause?.code ?? err.message;
  }
  return out;
}

// Both durability modes (docs/audit.md, "Durability"): group (default: acknowledged once
// written, synced within 10 ms) and strict (acknowledged once synced) survive kill -9 alike.
for (const mode of ['group', 'strict']) {
test(`audit crash (--audit-sync ${mode}): SIGKILL during 200 concurrent calls; restart; the chain verifies and holds every call the client saw succeed`, { timeout: 120000 }, async (t) => {
  const S = await startBudgetStack({
    agents: { coder: { models: [MINI, 'up/slow-stream-short', 'up/slow-stream'] } },
    extraArgs: ['--audit-sync', mode],
  });
  t.after(() => S.cleanup());
  const gw1 = S.gw;
  const sd = gw1.stateDir;
  const key = readKeyFile(path.join(auditDir(sd), 'key'));

  let successes = 0;
  let killedAt = null;
  let killed;
  const onSuccess = () => {
    successes++;
    if (successes === KILL_AFTER && !killedAt) {
      killedAt = successes;
      killed = gw1.stop('SIGKILL'); // the signal is sent synchronously, here
    }
  };
  const outcomes = await Promise.all(Array.from({ length: N }, (_, i) => call(gw1, S.tokens.coder, i, onSuccess)));
  assert.ok(killedAt, `the kill was never triggered: ${successes} successes; errors: ${JSON.stringify(outcomes.filter((o) => o.error).slice(0, 3))}`);
  await killed;
  assert.equal(gw1.exitInfo.signal, 'SIGKILL');

  const ok = outcomes.filter((o) => o.ok);
  const failed = outcomes.filter((o) => !o.ok);
  assert.ok(ok.length >= KILL_AFTER, `${ok.length} successes`);
  assert.ok(failed.length >= 1, 'no call was in flight at the kill (the test proves nothing)');
  for (const o of ok) assert.equal(o.echoed, o.rid, 'the gateway echoes the client\'s x-request-id');

  // The crashed chain verifies as it is (a torn final line is not a record).
  const crashed = await verifyOffline(sd);
  assert.equal(crashed.code, 0, `after the crash: ${crashed.stdout}${crashed.stderr}`);
  assert.equal(crashed.json.ok, true);
  const before = readChain(sd);
  assert.equal(crashed.json.records, before.length);
  assert.ok(crashed.json.checkpoint_seq <= before.length);

  // Simulate a crash in the middle of a write: an incomplete final record.
  const head = before.at(-1);
  assert.ok(chainText(sd).endsWith('\n'));
  fs.appendFileSync(chainPath(sd), `{"seq":${head.seq + 1},"time":"2026-11-22T02:38:50.180Z","source":"gate`);
  const torn = await verifyOffline(sd);
  assert.equal(torn.code, 0, torn.stdout);
  assert.equal(torn.json.torn_tail, true, torn.stdout);
  assert.equal(torn.json.records, before.length);

  // Restart on the same state dir: the torn record is removed and the chain continues.
  const gw2 = await S.restart();
  await gw2.waitForLog((l) => typeof l === 'object' && /incomplete final record/.test(l.msg ?? ''), 5000);
  assert.ok(chainText(sd).endsWith('\n'), 'the torn record was removed');
  const v = await auditVerify(gw2);
  assert.deepEqual({ ok: v.ok, records: v.records, first_bad_seq: v.first_bad_seq, torn_tail: v.torn_tail },
    { ok: true, records: before.length, first_bad_seq: null, torn_tail: false }, JSON.stringify(v));

  // Every call the client saw succeed has exactly one LLM_CALL record with status 200.
  const calls = new Map();
  for (const r of before.filter((x) => x.type === 'LLM_CALL')) {
    assert.ok(!calls.has(r.detail.request_id), `two LLM_CALL records for ${r.detail.request_id}`);
    calls.set(r.detail.request_id, r);
  }
  const missing = ok.filter((o) => !calls.has(o.rid));
  assert.deepEqual(missing.map((o) => `${o.rid} ${o.model} stream=${o.stream}`), [],
    `${missing.length} of ${ok.length} acknowledged calls have no record (chain: ${before.length} records)`);
  for (const o of ok) {
    const r = calls.get(o.rid);
    assert.equal(r.detail.status, 200, JSON.stringify(r));
    assert.equal(r.detail.stream, o.stream);
    assert.equal(r.detail.model, o.model);
  }
  // Records of calls the client did not see succeed may exist; none is of a call never sent.
  const sent = new Set(outcomes.map((o) => o.rid));
  for (const rid of calls.keys()) assert.ok(sent.has(rid), `a record for an unknown request ${rid}`);

  // The chain goes on after the crash, and a clean stop checkpoints its head.
  const after = await postChat(gw2, S.tokens.coder, { model: MINI, messages: USER_MESSAGES });
  assert.equal(after.status, 200, after.text);
  assert.equal(await gw2.stop('SIGTERM'), 0, `exit after SIGTERM: ${JSON.stringify(gw2.exitInfo)}\n${gw2.logTail(5)}`);
  const all = checkChainIndependently(sd, [key]);
  assert.equal(all.length, before.length + 1);
  assert.equal(all.at(-1).detail.request_id, after.rid);
  const final = await verifyOffline(sd);
  assert.equal(final.code, 0, final.stdout);
  assert.deepEqual(final.json, {
    ok: true, records: all.length, first_bad_seq: null, reason: null, checkpoint_seq: all.length, torn_tail: false,
  });
  t.diagnostic(`${ok.length} of ${N} calls succeeded before the kill; ${before.length} records`);
});
}

test('audit crash checkpoints: SIGKILL during load, restart, no new call, clean stop; deleting the newest records of the crashed run is detected', { timeout: 120000 }, async (t) => {
  const S = await startBudgetStack({ agents: { coder: { models: [MINI] } } });
  t.after(() => S.cleanup());
  const gw1 = S.gw;
  const sd = gw1.stateDir;
  let successes = 0;
  let killed;
  const onSuccess = () => {
    if (++successes === 30) killed = gw1.stop('SIGKILL');
  };
  await Promise.all(Array.from({ length: 80 }, (_, i) => call(gw1, S.tokens.coder, i, onSuccess, { kind: { model: MINI, stream: i % 2 === 1 } })));
  assert.ok(killed, `the kill was never triggered: ${successes} successes`);
  await killed;
  assert.equal(gw1.exitInfo.signal, 'SIGKILL');
  const crashedRun = readChain(sd);
  assert.ok(crashedRun.length >= 30, `${crashedRun.length} records`);
  const head = crashedRun.at(-1).seq;
  // The crash may fall between the newest records' fsync and their checkpoint (written at most
  // once a second): make that the case, as a crash a moment earlier would have left it.
  const cps = readCheckpoints(sd).filter((c) => c.seq < head);
  fs.writeFileSync(checkpointsPath(sd), cps.map((c) => `${JSON.stringify(c)}\n`).join(''));
  const lastCovered = cps.reduce((m, c) => Math.max(m, c.seq), 0);
  assert.ok(lastCovered < head);

  // Restart, no new call, clean stop.
  const gw2 = await S.restart();
  assert.equal(await gw2.stop('SIGTERM'), 0, `exit after SIGTERM: ${JSON.stringify(gw2.exitInfo)}\n${gw2.logTail(5)}`);
  assert.equal(readChain(sd).length, crashedRun.length, 'no record was added');
  const intact = await verifyOffline(sd);
  assert.equal(intact.code, 0, intact.stdout);
  assert.equal(intact.json.checkpoint_seq, head, `the recovered head is checkpointed: ${intact.stdout}`);

  // Delete the newest records of the crashed run (those no checkpoint of that run covered).
  const keep = Math.max(lastCovered, head - 3);
  fs.writeFileSync(chainPath(sd), chainLines(sd).slice(0, keep).map((l) => `${l}\n`).join(''));
  const truncated = await verifyOffline(sd);
  assert.equal(truncated.code, 1, `the truncation went undetected: ${truncated.stdout}`);
  assert.equal(truncated.json.ok, false);
  assert.match(truncated.json.reason, /removed from the end/);
  t.diagnostic(`crashed run: ${head} records, last checkpoint of that run at ${lastCovered}; kept ${keep}`);
});

test('audit stop: a failed chain write (file size limit) stops the chain — 503 audit_unavailable, /readyz 503, healthy 0 — and no call is acknowledged without its records', { timeout: 120000 }, async (t) => {
  if (spawnSync('prlimit', ['--version']).error) return t.skip('prlimit (util-linux) is not on PATH');
  // RLIMIT_FSIZE with SIGXFSZ ignored: a write past the limit fails with EFBIG (the chain's
  // write(2) stops short, then fails). Above budget.db-shm's 32 KiB, so the gateway starts.
  const LIMIT = 48 * 1024;
  const S = await startBudgetStack({
    agents: { coder: { models: ['up/tools'] } },
    wrap: ['sh', '-c', `trap '' XFSZ; exec prlimit --fsize=${LIMIT} -- "$@"`, 'sh'],
  });
  t.after(() => S.cleanup());
  const gw1 = S.gw;
  const sd = gw1.stateDir;
  // Long request ids (the gateway keeps up to 128 characters): bigger records, fewer calls.
  const ridOf = (i) => `stop-${i}-`.padEnd(128, 'x');
  const outcomes = [];
  let i = 0;
  const BATCH = 8;
  while (!outcomes.some((o) => o.status === 503) && i < 50 * BATCH) {
    const batch = Array.from({ length: BATCH }, () => {
      const n = i++;
      return call(gw1, S.tokens.coder, n, () => {}, { rid: ridOf(n), kind: { model: 'up/tools', stream: n % 2 === 1 } });
    });
    outcomes.push(...await Promise.all(batch));
    // A stream cut short when its records cannot be made durable is fine (it was not acknowledged).
    // So is a call that got no answer because it was sent on a pooled connection the gateway
    // closed after such a stream (the client's keep-alive race, UND_ERR_SOCKET before any
    // status): it was not acknowledged either. Anything else is not.
    const raced = (o) => o.error === 'UND_ERR_SOCKET' && o.status === undefined;
    const err = outcomes.find((o) => !raced(o) &&
      ((o.error && !(o.stream && o.status === 200)) || (o.status !== 200 && o.status !== 503)));
    assert.ok(!err, `unexpected outcome ${JSON.stringify(err)}`);
  }
  const refused = outcomes.filter((o) => o.status === 503);
  assert.ok(refused.length > 0, `the chain never stopped after ${i} calls (${chainText(sd).length} bytes)`);
  for (const o of refused) assertOpenAIErrorBody(o.json, { code: 'audit_unavailable' });
  await gw1.waitForLog(byMsg('audit chain stopped'), 5000);

  // Stopped for good: new calls are refused, not ready, healthy 0.
  const late = await call(gw1, S.tokens.coder, i, () => {}, { rid: ridOf(i), kind: { model: 'up/tools', stream: false } });
  assert.equal(late.status, 503);
  assertOpenAIErrorBody(late.json, { code: 'audit_unavailable' });
  assert.equal((await adminGet(gw1, '/readyz')).status, 503, '/readyz after the chain stopped');
  const m = await scrape(gw1);
  assert.equal(metricValue(m, 'pai_gateway_audit_healthy'), 0, 'pai_gateway_audit_healthy');
  await gw1.stop('SIGKILL');

  // Without the limit the gateway starts again (a torn final record is removed), the chain
  // verifies, and every call the client saw succeed has its LLM_CALL and TOOL_CALL records.
  const gw2 = await S.restart();
  const v = await auditVerify(gw2);
  assert.equal(v.ok, true, JSON.stringify(v));
  const recs = readChain(sd);
  const acked = outcomes.filter((o) => o.ok);
  assert.ok(acked.length > 0);
  const missing = acked.filter((o) => recordsFor(recs, o.rid, 'LLM_CALL').length !== 1 || recordsFor(recs, o.rid, 'TOOL_CALL').length !== 1)
    .map((o) => `${o.rid.replace(/x+$/, '')} stream=${o.stream}`);
  assert.deepEqual(missing, [],
    `calls acknowledged (200 / [DONE]) although their records were not durable: ${missing.length} of ${acked.length}`);
});
